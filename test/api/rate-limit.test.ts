import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import { buildApi, type ApiOptions } from '../../src/api/server';
import type { RateLimit, RateLimitedEntry } from '../../src/config/config';
import { PipelineMetrics } from '../../src/telemetry/metrics';
import { fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

/**
 * Rate limits per entry point and client address (issue "the API enforces body limits and
 * rate limits per source"), counted in a real redis-server.
 */

const TOKEN = 'rate-limit-test-token';
const GENEROUS: RateLimit = { max: 1000, windowMs: 60_000 };

let redis: TestRedis;
const connections: Redis[] = [];
const apps: FastifyInstance[] = [];
let n = 0;

beforeAll(async () => {
  redis = await TestRedis.start();
});
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  for (const c of connections.splice(0)) c.disconnect();
});
afterAll(async () => {
  await redis.stop();
});

/** An API on the test Redis that accepts every valid order, with `limits` over generous ones. */
function api(limits: Partial<Record<RateLimitedEntry, RateLimit>>, options: { prefix?: string } & Partial<ApiOptions> = {}): FastifyInstance {
  const connection = redis.client();
  connections.push(connection);
  const { prefix = `rl${++n}`, ...rest } = options;
  const app = buildApi({
    submit: async (event) => ({ orderId: event.order.id, duplicate: false }),
    cancel: async (event) => ({ orderId: event.orderId, duplicate: false }),
    ready: async () => undefined,
    env: { API_TOKEN: TOKEN, SHOPIFY_WEBHOOK_SECRET: 'shopify-secret', WOOCOMMERCE_WEBHOOK_SECRET: 'woo-secret' },
    rateLimit: { redis: connection, prefix, limits: { orders: GENEROUS, shopify: GENEROUS, woocommerce: GENEROUS, dashboard: GENEROUS, suppliers: GENEROUS, ...limits } },
    ...rest,
  });
  apps.push(app);
  return app;
}

let orderIds = 0;
function postOrder(app: FastifyInstance, remoteAddress = '127.0.0.1', headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/orders',
    payload: JSON.stringify(orderPayload({ id: `rl-${++orderIds}` })),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
    remoteAddress,
  });
}

function cancelOrder(app: FastifyInstance, remoteAddress = '127.0.0.1'): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/orders/rl-1/cancel', headers: { authorization: `Bearer ${TOKEN}` }, remoteAddress });
}

/** A webhook without a valid signature: 401 while under the limit, so it still counts. */
function postWebhook(app: FastifyInstance, source: 'shopify' | 'woocommerce', remoteAddress = '127.0.0.1'): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: `/webhooks/${source}`, payload: '{}', headers: { 'content-type': 'application/json' }, remoteAddress });
}

async function statuses(times: number, send: () => Promise<LightMyRequestResponse>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < times; i++) out.push((await send()).statusCode);
  return out;
}

describe('over the limit', () => {
  it('answers 429 ERATE_LIMITED with Retry-After, in the API error shape', async () => {
    const app = api({ orders: { max: 3, windowMs: 60_000 } });
    expect(await statuses(3, () => postOrder(app))).toEqual([202, 202, 202]);
    const refused = await postOrder(app);
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toEqual({ error: 'ERATE_LIMITED', message: expect.stringMatching(/^Too many requests to the order API from this address; try again in /), problems: [] });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect(refused.headers['x-ratelimit-limit']).toBe('3');
    expect(refused.headers['x-ratelimit-remaining']).toBe('0');
  });

  it('counts POST /orders and POST /orders/:id/cancel as one entry point', async () => {
    const app = api({ orders: { max: 3, windowMs: 60_000 } });
    expect(await statuses(2, () => postOrder(app))).toEqual([202, 202]);
    expect((await cancelOrder(app)).statusCode).toBe(202);
    expect((await cancelOrder(app)).statusCode).toBe(429);
    expect((await postOrder(app)).statusCode).toBe(429);
  });

  it('counts requests that are then refused (bad signature, no token), so guessing is limited too', async () => {
    const app = api({ orders: { max: 2, windowMs: 60_000 }, shopify: { max: 2, windowMs: 60_000 } });
    expect(await statuses(3, () => postWebhook(app, 'shopify'))).toEqual([401, 401, 429]);
    expect(await statuses(3, () => postOrder(app, '127.0.0.1', { authorization: 'Bearer wrong' }))).toEqual([401, 401, 429]);
  });

  it('keeps its counts in Redis under <prefix>:ratelimit:<entry>:<client>, expiring with the window', async () => {
    const app = api({}, { prefix: 'rlkeys' });
    await postOrder(app, '203.0.113.7');
    await postWebhook(app, 'woocommerce', '2001:db8:1:2:3:4:5:6');
    const client = redis.client();
    try {
      expect((await client.keys('rlkeys:*')).sort()).toEqual(['rlkeys:ratelimit:orders:203.0.113.7', 'rlkeys:ratelimit:woocommerce:2001:db8:1:2::']);
      const ttl = await client.pttl('rlkeys:ratelimit:orders:203.0.113.7');
      expect(ttl > 0 && ttl <= 60_000).toBe(true);
    } finally {
      client.disconnect();
    }
  });
});

describe('isolation', () => {
  it('gives each source its own count: a flood on the Shopify webhook limits neither /orders nor WooCommerce', async () => {
    const app = api({ orders: { max: 2, windowMs: 60_000 }, shopify: { max: 2, windowMs: 60_000 }, woocommerce: { max: 2, windowMs: 60_000 } });
    expect(await statuses(5, () => postWebhook(app, 'shopify'))).toEqual([401, 401, 429, 429, 429]);
    expect(await statuses(2, () => postOrder(app))).toEqual([202, 202]);
    expect((await postWebhook(app, 'woocommerce')).statusCode).toBe(401);
  });

  it('gives each client address its own count', async () => {
    const app = api({ orders: { max: 2, windowMs: 60_000 } });
    expect(await statuses(3, () => postOrder(app, '203.0.113.1'))).toEqual([202, 202, 429]);
    expect(await statuses(2, () => postOrder(app, '203.0.113.2'))).toEqual([202, 202]);
    expect((await postOrder(app, '203.0.113.1')).statusCode).toBe(429);
  });

  it('counts the addresses of one IPv6 /64 as one client', async () => {
    const app = api({ orders: { max: 2, windowMs: 60_000 } });
    expect((await postOrder(app, '2001:db8:0:1::1')).statusCode).toBe(202);
    expect((await postOrder(app, '2001:db8:0:1::2')).statusCode).toBe(202);
    expect((await postOrder(app, '2001:db8:0:1:ffff::3')).statusCode).toBe(429);
    expect((await postOrder(app, '2001:db8:0:2::1')).statusCode).toBe(202);
  });

  it('does not limit /healthz and /readyz', async () => {
    const app = api({ dashboard: { max: 1, windowMs: 60_000 } });
    expect(await statuses(5, () => app.inject({ url: '/healthz' }))).toEqual([200, 200, 200, 200, 200]);
    expect(await statuses(5, () => app.inject({ url: '/readyz' }))).toEqual([200, 200, 200, 200, 200]);
  });
});

describe('several API processes on one Redis', () => {
  it('share one count per source and client', async () => {
    const first = api({ orders: { max: 3, windowMs: 60_000 } }, { prefix: 'rlshared' });
    const second = api({ orders: { max: 3, windowMs: 60_000 } }, { prefix: 'rlshared' });
    expect(await statuses(2, () => postOrder(first))).toEqual([202, 202]);
    expect((await postOrder(second)).statusCode).toBe(202);
    expect((await postOrder(second)).statusCode).toBe(429);
    expect((await postOrder(first)).statusCode).toBe(429);
  });
});

describe('the window', () => {
  it('lets the client in again once its window is over', async () => {
    const app = api({ orders: { max: 1, windowMs: 1000 } });
    expect((await postOrder(app)).statusCode).toBe(202);
    const refused = await postOrder(app);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    await waitFor('a new window', async () => (await postOrder(app)).statusCode === 202, 10_000);
  });
});

describe('the dashboard and /metrics', () => {
  it('count every request before authentication, so password guesses run into the limit', async () => {
    const metrics = new PipelineMetrics({ queues: [], keys: [] });
    const app = api(
      { dashboard: { max: 3, windowMs: 60_000 } },
      { dashboard: { queues: [], auth: { user: 'operator', password: 'correct horse battery' } }, metrics: metrics.registry, env: { METRICS_TOKEN: 'scrape-token' } },
    );
    const basic = (password: string) => `Basic ${Buffer.from(`operator:${password}`).toString('base64')}`;
    const guess = () => app.inject({ url: '/admin/queues', headers: { authorization: basic('wrong guess 1') } });
    expect(await statuses(2, guess)).toEqual([401, 401]);
    expect((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
    const locked = await app.inject({ url: '/admin/queues', headers: { authorization: basic('correct horse battery') } });
    expect(locked.statusCode).toBe(429);
    // bull-board answers errors in its own shape; the status and the message are the limit's.
    expect(locked.body).toContain('Too many requests to the dashboard and /metrics from this address');
    expect(locked.headers['retry-after']).toBeDefined();
    expect((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer scrape-token' } })).statusCode).toBe(429);
  });
});

describe('/metrics', () => {
  it('counts refusals by source in dropship_api_rate_limited_total', async () => {
    const metrics = new PipelineMetrics({ queues: [], keys: [] });
    const connection = redis.client();
    connections.push(connection);
    const app = buildApi({
      submit: async (event) => ({ orderId: event.order.id, duplicate: false }),
      ready: async () => undefined,
      metrics: metrics.registry,
      env: {},
      rateLimit: {
        redis: connection,
        prefix: `rl${++n}`,
        limits: { orders: GENEROUS, shopify: { max: 1, windowMs: 60_000 }, woocommerce: GENEROUS, dashboard: GENEROUS, suppliers: GENEROUS },
        onLimited: (source) => metrics.rateLimited(source),
      },
    });
    apps.push(app);
    expect(await statuses(3, () => postWebhook(app, 'shopify'))).toEqual([503, 429, 429]);
    const text = (await app.inject({ url: '/metrics' })).body;
    expect(text).toContain('dropship_api_rate_limited_total{source="shopify"} 2');
    expect(text).not.toContain('dropship_api_rate_limited_total{source="orders"}');
  });
});

describe('behind a trusted proxy', () => {
  it('counts the client X-Forwarded-For names, and believes it only from the proxy', async () => {
    const app = api({ orders: { max: 2, windowMs: 60_000 } }, { trustProxy: ['127.0.0.1'] });
    const via = (client: string) => postOrder(app, '127.0.0.1', { 'x-forwarded-for': client });
    expect(await statuses(3, () => via('198.51.100.1'))).toEqual([202, 202, 429]);
    expect((await via('198.51.100.2')).statusCode).toBe(202);
    // Not from the proxy: the header is the client's own claim, and the socket address counts.
    const spoofed = () => postOrder(app, '203.0.113.9', { 'x-forwarded-for': '198.51.100.3' });
    expect(await statuses(2, spoofed)).toEqual([202, 202]);
    expect((await via('198.51.100.3')).statusCode).toBe(202);
  });

  it('refuses orders from a client outside loopback without API_TOKEN, though the proxy is on loopback', async () => {
    const app = api({}, { trustProxy: ['loopback'], env: {} });
    expect((await postOrder(app, '127.0.0.1', { 'x-forwarded-for': '198.51.100.1' })).statusCode).toBe(401);
    expect((await postOrder(app, '127.0.0.1')).statusCode).toBe(202);
  });
});

describe('Redis going away', () => {
  it('still answers 503 for orders (the limit is skipped, not a 500)', async () => {
    const own = await TestRedis.start();
    const h = await PipelineHarness.start(fixtureConfig(), own.url, { prefix: 'rldown', workers: false });
    try {
      expect((await h.postOrder(orderPayload({ id: 'rl-down-1' }))).statusCode).toBe(202);
      await own.server.kill();
      const down = await h.postOrder(orderPayload({ id: 'rl-down-2' }));
      expect(down.statusCode).toBe(503);
      expect(down.json().error).toBe('EUNAVAILABLE');
      expect((await h.postShopify(orderPayload(), 'rl-down-webhook', 'wrong secret')).statusCode).toBe(401);
      await own.restart();
      await waitFor('reconnected', async () => (await h.postOrder(orderPayload({ id: 'rl-down-2' }))).statusCode === 202);
    } finally {
      await h.stop();
      await own.stop();
    }
  });
});
