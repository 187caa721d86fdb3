import { Queue } from 'bullmq';
import { buildApi } from '../../src/api/server';
import { PipelineMetrics } from '../../src/telemetry/metrics';
import { createRedis } from '../../src/queue/redis';
import { DeliveryError } from '../../src/transports/transport';
import { fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

let redis: TestRedis;
beforeAll(async () => {
  redis = await TestRedis.start();
});
afterAll(async () => {
  await redis.stop();
});

function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inner = line.slice(name.length + 1, line.indexOf('}'));
    if (want.every((w) => inner.split(',').includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('/metrics', () => {
  it('counts completed, retried and failed jobs, delivery latency, queue depth and key expiry', async () => {
    const connection = createRedis(redis.url);
    const names = ['orders', 'carrier-ups', 'po-creamery', 'po-oliveco'];
    const queues = names.map((n) => new Queue(n, { connection, prefix: 'm' }));
    const metrics = new PipelineMetrics({
      queues,
      keys: [{ supplierId: 'creamery', fingerprint: 'ABC', expiresAt: new Date(Date.now() + 12.5 * 86_400_000).toISOString(), daysUntilExpiry: 12 }],
      unusableKeys: [{ supplierId: 'oliveco', problem: 'suppliers/oliveco.yaml: pgp.publicKeyFile: has been revoked' }],
    });
    const h = await PipelineHarness.start(fixtureConfig(), redis.url, { prefix: 'm', metrics });
    const api = buildApi({ ready: async () => undefined, metrics: metrics.registry, env: { METRICS_TOKEN: 'scrape-token' } });
    try {
      h.recorder('creamery').then(DeliveryError.retryable('ECONNECTION', 'refused'));
      h.recorder('oliveco').then(DeliveryError.permanent('EREJECTED', 'HTTP 400'));
      await h.postOrder(orderPayload({ id: '9101' }));
      await waitFor('deliveries', () => h.recorder('creamery').delivered.length === 1 && h.recorder('ups').delivered.length === 2);
      await waitFor('olive failed', async () => (await queues[3]!.getFailedCount()) === 1);

      expect((await api.inject({ url: '/metrics' })).statusCode).toBe(401);
      expect((await api.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong-token' } })).statusCode).toBe(401);
      // Without a token, only this host may scrape.
      const open = buildApi({ ready: async () => undefined, metrics: metrics.registry, env: {} });
      try {
        const remote = await open.inject({ url: '/metrics', remoteAddress: '203.0.113.5' });
        expect([remote.statusCode, remote.json().message]).toEqual([401, 'Set METRICS_TOKEN to serve metrics to other hosts']);
        expect((await open.inject({ url: '/metrics', remoteAddress: '127.0.0.1' })).statusCode).toBe(200);
      } finally {
        await open.close();
      }
      const res = await api.inject({ url: '/metrics', headers: { authorization: 'Bearer scrape-token' } });
      expect(res.statusCode).toBe(200);
      const text = res.body;
      expect(sample(text, 'dropship_jobs_completed_total', { queue: 'po-creamery', recipient: 'creamery' })).toBe(1);
      expect(sample(text, 'dropship_jobs_retried_total', { queue: 'po-creamery', recipient: 'creamery' })).toBe(1);
      expect(sample(text, 'dropship_jobs_failed_total', { queue: 'po-oliveco', recipient: 'oliveco' })).toBe(1);
      expect(sample(text, 'dropship_jobs_completed_total', { queue: 'carrier-ups', recipient: 'ups' })).toBe(2);
      expect(sample(text, 'dropship_delivery_latency_seconds_count', { transport: 'recording', recipient: 'ups' })).toBe(2);
      expect(sample(text, 'dropship_queue_jobs', { queue: 'po-oliveco', state: 'failed' })).toBe(1);
      expect(sample(text, 'dropship_queue_oldest_waiting_seconds', { queue: 'orders' })).toBe(0);
      // The order simply ships: the intake planned it, and no order job ran.
      expect(text).toMatch(/^dropship_orders_planned_at_intake_total 1$/m);
      expect(sample(text, 'dropship_jobs_completed_total', { queue: 'orders', recipient: 'orders' })).toBeUndefined();
      expect(sample(text, 'dropship_supplier_pgp_key_days_until_expiry', { supplier: 'creamery' })).toBe(12);
      expect(sample(text, 'dropship_supplier_pgp_key_unusable', { supplier: 'oliveco' })).toBe(1);
    } finally {
      await api.close();
      await h.stop();
      await Promise.all(queues.map((q) => q.close()));
      connection.disconnect();
    }
  });
});
