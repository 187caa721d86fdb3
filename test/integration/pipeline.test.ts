import { Queue } from 'bullmq';
import type { Config } from '../../src/config/config';
import { previewOrder } from '../../src/planning/preview';
import { deliveryQueueName } from '../../src/queue/names';
import { DeliveryError } from '../../src/transports/transport';
import { cardLikeNumbers, containsAnyOf } from '../support/card-scan';
import { fixtureConfig, orderPayload, TEST_CARDS } from '../support/orders';
import { PipelineHarness } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

let redis: TestRedis;
let config: Config;
let n = 0;
/** Each test on its own key prefix, so tests never see each other's jobs. */
const prefix = () => `t${++n}`;

beforeAll(async () => {
  redis = await TestRedis.start();
  config = fixtureConfig();
});
afterAll(async () => {
  await redis.stop();
});

/** An order whose free text and extra fields are full of card and browser data. */
function cardLadenOrder(id: string) {
  return {
    ...orderPayload({ id }),
    notes: `Card ${TEST_CARDS[0]!.replace(/(\d{4})/g, '$1 ').trim()} please`,
    giftMessage: `Use 5555-5555-5555-4444 for this`,
    shipTo: { ...orderPayload().shipTo!, line2: `Unit ${TEST_CARDS[2]}` },
    lines: orderPayload().lines.map((l) => ({ ...l, properties: { ...(l.properties ?? {}), Note: `pay with ${TEST_CARDS[3]}`, card_number: TEST_CARDS[0]! } })),
    payment: { brand: 'visa', last4: '1111', number: TEST_CARDS[0], cvv: '123', avsResultCode: 'Y', expiry: '07/31', cvc: '9876', bin: '411111' },
    browser: { ip: '203.0.113.77', userAgent: 'Mozilla/5.0 (TestAgent)', referrer: 'https://ref.example/' },
  };
}

describe('the whole path: API → queues → workers → transports', () => {
  it('delivers exactly what preview shows, once, and keeps no card data in Redis', async () => {
    const h = await PipelineHarness.start(config, redis.url, { prefix: prefix() });
    try {
      const body = cardLadenOrder('2001');
      const res = await h.postOrder(body);
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({ orderId: '2001', duplicate: false });

      const expected = previewOrder(body, config).deliveries;
      await waitFor('all deliveries', () => h.delivered().length === expected.length);
      const got = h.delivered().map((d) => ({ recipient: d.recipient, kind: d.kind, format: d.format, body: d.body }));
      expect(got.sort((a, b) => (a.recipient + a.body).localeCompare(b.recipient + b.body))).toEqual(
        expected.map((d) => ({ recipient: d.recipient, kind: d.kind, format: d.format, body: d.body })).sort((a, b) => (a.recipient + a.body).localeCompare(b.recipient + b.body)),
      );

      const dump = (await redis.dump()).join('\n');
      expect(dump).toContain('2001+creamery+po'); // the scan does see the run's jobs
      expect(cardLikeNumbers(dump)).toEqual([]);
      expect(containsAnyOf(dump, TEST_CARDS)).toBe(false);
      for (const gone of ['203.0.113.77', 'TestAgent', 'ref.example', 'avsResultCode', '07/31', '9876', 'Ada Billing', '99 Billing Blvd']) {
        expect(dump).not.toContain(gone);
      }
      for (const d of h.delivered()) expect(cardLikeNumbers(d.body)).toEqual([]);
    } finally {
      await h.stop();
    }
  });

  it('treats the same order twice as one: duplicate events and webhook retries deliver once', async () => {
    const h = await PipelineHarness.start(config, redis.url, { prefix: prefix() });
    try {
      const body = orderPayload({ id: '2002' });
      expect((await h.postOrder(body)).json()).toEqual({ orderId: '2002', duplicate: false });
      expect((await h.postOrder(body)).json()).toEqual({ orderId: '2002', duplicate: true });
      await waitFor('deliveries', () => h.delivered().length === 4);
      // After its deliveries landed (the order recorded as planned), a replay is still recognised.
      expect(await h.pipeline.redis.hget(`${h.pipeline.prefix}:order:2002`, 'stage')).toBe('planned');
      expect((await h.postOrder(body)).json()).toEqual({ orderId: '2002', duplicate: true });
      await new Promise((r) => setTimeout(r, 300));
      expect(h.delivered().map((d) => d.deliveryId).sort()).toEqual(['2002+creamery+carrier', '2002+creamery+po', '2002+oliveco+po', '2002+warehouse+carrier']);
    } finally {
      await h.stop();
    }
  });

  it('retries a retryable failure with the supplier backoff and fails a permanent one at once, kept with its reason', async () => {
    const h = await PipelineHarness.start(config, redis.url, { prefix: prefix() });
    try {
      h.recorder('creamery').then(DeliveryError.retryable('ECONNECTION', 'connection refused by sftp.test:22'));
      h.recorder('oliveco').then(DeliveryError.permanent('EREJECTED', 'HTTP 400 from https://olive.test/po: bad sku'));
      await h.postOrder(orderPayload({ id: '2003' }));
      await waitFor('creamery retried and delivered', () => h.recorder('creamery').delivered.length === 1);
      expect(h.recorder('creamery').attempts).toEqual(['2003+creamery+po', '2003+creamery+po']);

      const olive = new Queue(deliveryQueueName('dropship', 'oliveco'), { connection: h.pipeline.redis, prefix: h.pipeline.prefix });
      await waitFor('olive failed', async () => (await olive.getFailedCount()) === 1);
      const [failed] = await olive.getFailed();
      expect(failed?.failedReason).toBe('EREJECTED: HTTP 400 from https://olive.test/po: bad sku');
      expect(failed?.attemptsMade).toBe(1);
      expect(h.recorder('oliveco').attempts).toEqual(['2003+oliveco+po']);

      // Replay after the cause is fixed: the kept job is retried and lands.
      await failed!.retry();
      await waitFor('olive replayed', () => h.recorder('oliveco').delivered.length === 1);
      await olive.close();
    } finally {
      await h.stop();
    }
  });

  it('honours Retry-After instead of the backoff', async () => {
    const h = await PipelineHarness.start(config, redis.url, { prefix: prefix() });
    try {
      h.recorder('creamery').then(DeliveryError.retryAfter('ERATE_LIMITED', 'HTTP 429', 120_000));
      const before = Date.now();
      await h.postOrder(orderPayload({ id: '2004' }));
      const q = new Queue(deliveryQueueName('dropship', 'creamery'), { connection: h.pipeline.redis, prefix: h.pipeline.prefix });
      await waitFor('delayed', async () => (await q.getDelayedCount()) === 1);
      const [job] = await q.getDelayed();
      const runAt = Number(await h.pipeline.redis.zscore(`${h.pipeline.prefix}:${q.name}:delayed`, job!.id!)) / 0x1000;
      expect(runAt - before).toBeGreaterThanOrEqual(120_000);
      await q.close();
    } finally {
      await h.stop();
    }
  });

  it('never lets a slow supplier delay the others', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = {
      kind: 'slow',
      instanceId: 'creamery',
      delivered: 0,
      async deliver() {
        await gate;
        this.delivered++;
        return { location: 'slow' };
      },
      async verify() {},
      async close() {},
    };
    const h = await PipelineHarness.start(config, redis.url, { prefix: prefix(), custom: (t) => (t.recipient === 'creamery' ? slow : undefined) });
    try {
      for (let i = 0; i < 6; i++) await h.postOrder(orderPayload({ id: `30${i}` }));
      await waitFor('olive and carriers', () => h.recorder('oliveco').delivered.length === 6 && h.recorder('ups').delivered.length === 12);
      expect(slow.delivered).toBe(0);
      release();
      await waitFor('creamery', () => slow.delivered === 6);
    } finally {
      release();
      await h.stop();
    }
  });

  it('is ready only while Redis answers and its workers run', async () => {
    const h = await PipelineHarness.start(config, redis.url, { prefix: prefix() });
    try {
      expect((await h.api.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready' });
      await h.pipeline.workers[1]!.close();
      const res = await h.api.inject({ url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json().reason).toMatch(/^workers not running: /);
    } finally {
      await h.stop();
    }
  });

  it('drains on stop: a delivery in flight finishes before the pipeline closes', async () => {
    const h = await PipelineHarness.start(config, redis.url, { prefix: prefix() });
    h.recorder('oliveco').then({ delayMs: 800 });
    await h.postOrder(orderPayload({ id: '2006' }));
    await waitFor('in flight', () => h.recorder('oliveco').attempts.length === 1);
    await h.stop();
    expect(h.recorder('oliveco').delivered.map((d) => d.deliveryId)).toEqual(['2006+oliveco+po']);
  });

  it('picks up the jobs of a crashed worker', async () => {
    const p = prefix();
    const hung = { kind: 'hung', instanceId: 'oliveco', deliver: () => new Promise<never>(() => undefined), verify: async () => {}, close: async () => {} };
    const first = await PipelineHarness.start(config, redis.url, { prefix: p, lockDurationMs: 1000, stalledIntervalMs: 500, custom: (t) => (t.recipient === 'oliveco' ? hung : undefined) });
    await first.postOrder(orderPayload({ id: '2007' }));
    await waitFor('creamery delivered by the first', () => first.recorder('creamery').delivered.length === 1);
    // Crash: the workers vanish without finishing or releasing their locks.
    await Promise.all(first.pipeline.workers.map((w) => w.close(true)));
    const second = await PipelineHarness.start(config, redis.url, { prefix: p, lockDurationMs: 1000, stalledIntervalMs: 500 });
    try {
      await waitFor('olive delivered by the second', () => second.recorder('oliveco').delivered.length === 1, 20_000);
      expect(second.recorder('creamery').delivered).toEqual([]);
    } finally {
      await second.stop();
      await first.stop().catch(() => undefined);
    }
  });
});

describe('webhooks through the pipeline', () => {
  it('accepts a signed Shopify orders/create once per webhook id, and a signed WooCommerce order', async () => {
    const { readFileSync } = await import('node:fs');
    const fixture = (name: string) => JSON.parse(readFileSync(`${__dirname}/../fixtures/sources/${name}`, 'utf8'));
    const h = await PipelineHarness.start(config, redis.url, { prefix: prefix() });
    try {
      const shopify = fixture('shopify-order-create.json');
      const first = await h.postShopify(shopify, 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043');
      expect(first.statusCode).toBe(202);
      expect(first.json().duplicate).toBe(false);
      const retry = await h.postShopify(shopify, 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043');
      expect(retry.json()).toEqual({ orderId: first.json().orderId, duplicate: true });

      const woo = await h.postWoo(fixture('woocommerce-order-created.json'), '9f1c');
      expect(woo.statusCode).toBe(202);
      const ids = [first.json().orderId, woo.json().orderId];
      await waitFor('both orders delivered', () => ids.every((id) => h.delivered().some((d) => d.orderId === id)));
      await new Promise((r) => setTimeout(r, 200));
      const shopifyDeliveries = h.delivered().filter((d) => d.orderId === ids[0]).map((d) => d.deliveryId);
      expect(new Set(shopifyDeliveries).size).toBe(shopifyDeliveries.length);
      expect(containsAnyOf(h.delivered().map((d) => d.body).join('\n'), TEST_CARDS)).toBe(false);
    } finally {
      await h.stop();
    }
  });
});

describe('Redis going away', () => {
  it('answers 503 while Redis is down, rather than accepting what it cannot keep, and recovers by itself', async () => {
    const own = await TestRedis.start({ appendOnly: true });
    // everysec may lose the last second to a SIGKILL; always-fsync makes "survived" deterministic.
    const admin = own.client();
    await admin.config('SET', 'appendfsync', 'always');
    admin.disconnect();
    const h = await PipelineHarness.start(config, own.url, { prefix: prefix(), workers: false });
    try {
      expect((await h.postOrder(orderPayload({ id: '7001' }))).statusCode).toBe(202);
      await own.server.kill();
      const down = await h.postOrder(orderPayload({ id: '7002' }));
      expect(down.statusCode).toBe(503);
      expect(down.json().error).toBe('EUNAVAILABLE');
      expect((await h.api.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);

      await own.restart();
      await waitFor('reconnected', async () => (await h.postOrder(orderPayload({ id: '7002' }))).statusCode === 202, 15_000);
      // The order accepted before the crash survived it (append-only file).
      expect((await h.postOrder(orderPayload({ id: '7001' }))).json()).toEqual({ orderId: '7001', duplicate: true });
    } finally {
      await h.stop();
      await own.stop();
    }
  });
});

describe('the API', () => {
  let h: PipelineHarness;
  beforeAll(async () => {
    h = await PipelineHarness.start(config, redis.url, { prefix: prefix(), workers: false });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('answers 400 listing every problem, without echoing values', async () => {
    const res = await h.postOrder({ ...orderPayload(), id: '../etc/passwd', currency: 'dollars', lines: [{ id: 'a', name: 'X', quantity: -1.5, unitPrice: 'free' }] });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error).toBe('EINVALID_ORDER');
    expect(body.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^id: /),
        expect.stringMatching(/^currency: /),
        expect.stringMatching(/^lines\[0\]\.quantity: /),
        expect.stringMatching(/^lines\[0\]\.unitPrice: /),
      ]),
    );
    expect(res.body).not.toContain('passwd');
    expect(res.body).not.toContain('dollars');
  });

  it('answers 400 for malformed JSON without quoting it', async () => {
    const res = await h.api.inject({ method: 'POST', url: '/orders', payload: `{"notes": "${TEST_CARDS[0]}", `, headers: { 'content-type': 'application/json' }, remoteAddress: '127.0.0.1' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('EINVALID_JSON');
    expect(res.body).not.toContain(TEST_CARDS[0]);
  });

  it('answers 413 for a body over the limit', async () => {
    const res = await h.api.inject({ method: 'POST', url: '/orders', payload: JSON.stringify({ notes: 'x'.repeat(2 * 1024 * 1024) }), headers: { 'content-type': 'application/json' }, remoteAddress: '127.0.0.1' });
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toBe('ETOO_LARGE');
  });

  it('refuses orders from other hosts when no API token is set', async () => {
    const res = await h.api.inject({ method: 'POST', url: '/orders', payload: JSON.stringify(orderPayload()), headers: { 'content-type': 'application/json' }, remoteAddress: '198.51.100.4' });
    expect(res.statusCode).toBe(401);
  });

  it('answers 401 to a webhook with a bad signature', async () => {
    expect((await h.postShopify({ id: 1 }, 'w-bad', 'wrong-secret')).statusCode).toBe(401);
    expect((await h.postWoo({ id: 1 }, 'd-bad', 'wrong-secret')).statusCode).toBe(401);
  });

  it('answers the WooCommerce ping and ignores topics it does not handle', async () => {
    const ping = await h.api.inject({ method: 'POST', url: '/webhooks/woocommerce', payload: 'webhook_id=17', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(ping.statusCode).toBe(200);
  });

  it('reports readiness from Redis', async () => {
    expect((await h.api.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    expect((await h.api.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
  });
});
