import { createDataCipher, generateDataKey, sealJob } from '../../src/queue/sealing';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { RedisClient as Redis } from '../../src/queue/redis';
import type { FastifyInstance } from 'fastify';
import { dashboardAuthFromEnv, maskJobData, unmaskJobData } from '../../src/api/dashboard';
import { buildApi } from '../../src/api/server';
import { planOrder } from '../../src/planning/plan';
import { createRedis } from '../../src/queue/redis';
import { fixtureConfig, order } from '../support/orders';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const AUTH = basic('ops', 'correct horse battery');

let redis: TestRedis;
let queue: Queue;
let connections: Redis[] = [];
let app: FastifyInstance;
let readOnlyApp: FastifyInstance;

beforeAll(async () => {
  redis = await TestRedis.start();
  connections = [createRedis(redis.url), createRedis(redis.url)];
  queue = new Queue('po-creamery', { connection: connections[0]!, prefix: 'dash' });
  const plan = planOrder(order({ id: '8001' }), fixtureConfig());
  if (plan.status !== 'planned') throw new Error('expected a plan');
  const po = plan.deliveries.find((d) => d.recipient === 'creamery')!;
  await queue.add('dropship', po, { jobId: po.deliveryId });
  // Make it a failed job, as a permanent delivery failure leaves it.
  const worker = new Worker('po-creamery', async () => {
    throw new UnrecoverableError('EREJECTED: HTTP 400');
  }, { connection: connections[1]!, prefix: 'dash' });
  await waitFor('failed', async () => (await queue.getFailedCount()) === 1);
  await worker.close();
  const auth = { user: 'ops', password: 'correct horse battery' };
  app = buildApi({ ready: async () => undefined, dashboard: { queues: [queue], auth } });
  readOnlyApp = buildApi({ ready: async () => undefined, dashboard: { queues: [queue], auth, readOnly: true } });
  await Promise.all([app.ready(), readOnlyApp.ready()]);
});

afterAll(async () => {
  await app.close();
  await readOnlyApp.close();
  await queue.close();
  for (const c of connections) c.disconnect();
  await redis.stop();
});

describe('the queue dashboard', () => {
  it('refuses every request without valid credentials', async () => {
    for (const url of ['/admin/queues', '/admin/queues/api/queues']) {
      expect((await app.inject({ url })).statusCode).toBe(401);
      expect((await app.inject({ url, headers: { authorization: basic('ops', 'wrong') } })).statusCode).toBe(401);
    }
  });

  it('serves the board and the queues to an authenticated operator, with personal data masked', async () => {
    const page = await app.inject({ url: '/admin/queues', headers: { authorization: AUTH } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<html');
    const api = await app.inject({ url: '/admin/queues/api/queues?activeQueue=po-creamery&status=failed&page=1', headers: { authorization: AUTH } });
    expect(api.statusCode).toBe(200);
    expect(api.body).toContain('8001+creamery+po');
    expect(api.body).not.toContain('Ada Example');
    expect(api.body).not.toContain('12 Sample Street');
    expect(api.body).toMatch(/bytes hidden/);
  });

  it('refuses write requests that do not come from the dashboard page (CSRF)', async () => {
    const url = '/admin/queues/api/queues/po-creamery/8001%2Bcreamery%2Bpo/retry';
    const crossSite = await app.inject({ method: 'PUT', url, headers: { authorization: AUTH, origin: 'https://evil.example' } });
    expect(crossSite.statusCode).toBe(403);
    const noOrigin = await app.inject({ method: 'PUT', url, headers: { authorization: AUTH } });
    expect(noOrigin.statusCode).toBe(403);
    // From the page itself the CSRF check lets it through; the board, read-only since replay
    // moved to the console, then refuses the retry itself (it offers no button for it either).
    const sameOrigin = await app.inject({ method: 'PUT', url, headers: { authorization: AUTH, origin: 'http://localhost:80', host: 'localhost:80' } });
    expect(sameOrigin.statusCode).toBe(405);
    expect(sameOrigin.body).not.toContain('ECSRF');
    expect(await (await queue.getJob('8001+creamery+po'))?.getState()).toBe('failed');
  });

  it('refuses actions that could lose kept jobs or overwrite payloads', async () => {
    const headers = { authorization: AUTH, origin: 'http://localhost:80', host: 'localhost:80' };
    for (const [method, url] of [
      ['PATCH', '/admin/queues/api/queues/po-creamery/8001%2Bcreamery%2Bpo/update-data'],
      ['POST', '/admin/queues/api/queues/po-creamery/add'],
      ['PUT', '/admin/queues/api/queues/po-creamery/empty'],
      ['PUT', '/admin/queues/api/queues/po-creamery/obliterate'],
      ['PUT', '/admin/queues/api/queues/po-creamery/clean/failed'],
    ] as const) {
      const res = await app.inject({ method, url, headers, payload: {} });
      expect([url, res.statusCode]).toEqual([url, 403]);
    }
  });

  it('offers no write actions in read-only mode', async () => {
    const res = await readOnlyApp.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/po-creamery/8001%2Bcreamery%2Bpo/retry',
      headers: { authorization: AUTH, origin: 'http://localhost:80', host: 'localhost:80' },
    });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
  });

  it('takes credentials from the environment and never runs open', () => {
    expect(dashboardAuthFromEnv({})).toBeUndefined();
    expect(dashboardAuthFromEnv({ DASHBOARD_TOKEN: 't0ken-of-some-length' })).toEqual({ token: 't0ken-of-some-length' });
    expect(() => dashboardAuthFromEnv({ DASHBOARD_USER: 'ops' })).toThrow('DASHBOARD_USER and DASHBOARD_PASSWORD must both be set');
    expect(() => dashboardAuthFromEnv({ DASHBOARD_USER: 'ops', DASHBOARD_PASSWORD: 'short' })).toThrow('at least 12 characters');
  });

  it('masks order jobs down to ids and counts', () => {
    expect(maskJobData({ source: { kind: 'shopify' }, order: { id: '9', placedAt: 'x', shippingMethod: 'standard', lines: [{}, {}], shipTo: { name: 'Ada' } } })).toEqual({
      source: { kind: 'shopify' },
      order: { id: '9', placedAt: 'x', shippingMethod: 'standard', lines: 2 },
      masked: 'customer and address data hidden (set DASHBOARD_UNMASK=true to show)',
    });
  });

  it('shows sealed job data as its ciphertext, and opens it only when unmasked with the key', () => {
    const cipher = createDataCipher(generateDataKey());
    const data = sealJob(cipher, { source: { kind: 'canonical' }, order: { id: '9', shipTo: { name: 'Ada Example' } } }, { source: { kind: 'canonical' }, orderId: '9' }, 'order');
    const masked = maskJobData(data) as Record<string, unknown>;
    expect(masked).toEqual({ source: { kind: 'canonical' }, orderId: '9', sealed: expect.stringMatching(/^dsk1\.[0-9a-f]{8}\./), note: expect.stringContaining('AES-256-GCM') });
    expect(JSON.stringify(masked)).not.toContain('Ada');
    expect(unmaskJobData(data, cipher, 'order')).toEqual({ source: { kind: 'canonical' }, orderId: '9', order: { id: '9', shipTo: { name: 'Ada Example' } } });
    const other = unmaskJobData(data, createDataCipher(generateDataKey()), 'order') as Record<string, unknown>;
    expect(other.unreadable).toMatch(/which this process does not hold/);
    expect(JSON.stringify(other)).not.toContain('Ada');
  });
});
