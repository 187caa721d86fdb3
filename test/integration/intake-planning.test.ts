import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import type { Config } from '../../src/config/config';
import { planOrder } from '../../src/planning/plan';
import { previewOrder } from '../../src/planning/preview';
import { OrderIntake, PLAN_RECOVERY_MS, type IntakePlanner } from '../../src/queue/intake';
import { deliveryQueueName, markerKeys, ORDERS_QUEUE, orderJobId } from '../../src/queue/names';
import { readRecord } from '../../src/queue/order-record';
import { KeySpace } from '../../src/queue/partitions';
import { createRedis, type RedisClient } from '../../src/queue/redis';
import { ingestOrder } from '../../src/sources/ingest';
import { createIntakePlanner } from '../../workers/intake-planner';
import { fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness, TEST_CIPHER } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

/**
 * Issue #15, "planning at intake": an order that simply ships is planned by the intake itself
 * (the pure core), recorded as planned and its deliveries queued before the 202, with no order
 * job. Anything else still goes to the order worker. An intake that dies between recording
 * the plan and queueing every delivery leaves the order in the planning index, where an order
 * worker finds it and plans it again: every delivery lands, once.
 */

let redis: TestRedis;
let client: RedisClient;
let config: Config;
let n = 0;
const prefix = () => `ip${++n}`;

beforeAll(async () => {
  redis = await TestRedis.start();
  client = createRedis(redis.url);
  config = fixtureConfig();
});
afterAll(async () => {
  client.disconnect();
  await redis.stop();
});

const queueNames = (c: Config) => [ORDERS_QUEUE, ...new Set(previewOrder(orderPayload(), c).deliveries.map((d) => deliveryQueueName(d.kind, d.recipient)))];

async function jobCounts(p: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const name of queueNames(config)) {
    const q = new Queue(name, { connection: client, prefix: p });
    const c = await q.getJobCounts('waiting', 'waiting-children', 'active', 'completed', 'failed', 'delayed', 'prioritized');
    counts[name] = Object.values(c).reduce((a, b) => a + b, 0);
    await q.close();
  }
  return counts;
}

describe('planning at intake', () => {
  it('plans an order that simply ships as it is accepted: no order job, its deliveries queued before the 202', async () => {
    const p = prefix();
    const h = await PipelineHarness.start(config, redis.url, { prefix: p, workers: false });
    try {
      expect((await h.postOrder(orderPayload({ id: 'IP1' }))).statusCode).toBe(202);
      const plan = planOrder(ingestOrder(orderPayload({ id: 'IP1' }), { source: 'canonical' }).order, config, { deferLabelledBodies: true });
      const deliveries = plan.status === 'planned' ? plan.deliveries : [];
      const counts = await jobCounts(p);
      expect(counts[ORDERS_QUEUE]).toBe(0);
      // Each delivery on its queue, but the purchase order waiting for the label the store buys:
      // its carrier request carries it, and adds it once the label is bought.
      const perQueue = new Map<string, number>();
      for (const d of deliveries) {
        const name = deliveryQueueName(d.kind, d.recipient);
        perQueue.set(name, (perQueue.get(name) ?? 0) + (d.awaitsLabel ? 0 : 1));
      }
      expect(deliveries.filter((d) => d.awaitsLabel).map((d) => d.deliveryId)).toEqual(['IP1+creamery+po']);
      for (const [name, count] of perQueue) expect([name, counts[name]]).toEqual([name, count]);
      const record = await readRecord(client, p, 'IP1');
      expect(record).toMatchObject({ stage: 'planned', planned: '0', version: '0' });
      // The record holds no sealed order (its copy is kept apart); the planning index is empty.
      expect(record?.data).toBeUndefined();
      expect(await client.zcard(markerKeys.planning(p))).toBe(0);
      expect(await client.exists(markerKeys.manifest(p, 'IP1'))).toBe(1);
      // The copy for the unmasked console lives as long as a completed order job would.
      const ttl = await client.pttl(markerKeys.orderCopy(p, 'IP1'));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(config.store.retention.completedJobsMs);
      // The same order again is a duplicate, and queues nothing more.
      expect((await h.postOrder(orderPayload({ id: 'IP1' }))).json()).toEqual({ orderId: 'IP1', duplicate: true });
      expect(await jobCounts(p)).toEqual(counts);
    } finally {
      await h.stop();
    }
  });

  it('leaves an order that waits to the order worker, as before', async () => {
    const p = prefix();
    const h = await PipelineHarness.start(config, redis.url, { prefix: p, workers: false });
    try {
      const pending = JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'sources', 'shopify-order-pending.json'), 'utf8')) as Record<string, unknown>;
      expect((await h.postShopify(pending, 'wh-ip-1')).statusCode).toBe(202);
      const q = new Queue(ORDERS_QUEUE, { connection: client, prefix: p });
      expect(await q.getJobState(orderJobId('1003'))).toBe('waiting');
      await q.close();
      expect((await readRecord(client, p, '1003'))?.stage).toBe('queued');
    } finally {
      await h.stop();
    }
  });

  /** A planner whose process "dies" after the plan is recorded, before its deliveries are added. */
  const dyingPlanner = (): IntakePlanner => {
    const real = createIntakePlanner({ connection: client, config, cipher: TEST_CIPHER });
    return {
      plan(order, at) {
        const planned = real.plan(order, at);
        if (!planned) return undefined;
        return {
          ...planned,
          queue: () => Promise.reject(new Error('the intake process died')),
        };
      },
      close: () => real.close(),
    };
  };

  it('an intake that died after recording the plan: an order worker plans it again, and every delivery lands once', async () => {
    const p = prefix();
    const keys = KeySpace.of(p);
    const intake = new OrderIntake(client, { prefix: keys, completedJobsMs: 60_000, dedupeMs: 60_000, cipher: TEST_CIPHER, planner: dyingPlanner() });
    await expect(intake.submit(ingestOrder(orderPayload({ id: 'IP2' }), { source: 'canonical' }))).rejects.toThrow('the intake process died');
    await intake.close();
    expect(await client.zrange(markerKeys.planning(p), '0', '-1')).toEqual(['IP2']);

    const h = await PipelineHarness.start(config, redis.url, { prefix: p, unsettledPlans: { everyMs: 100, afterMs: 0 } });
    try {
      const expected = previewOrder(orderPayload({ id: 'IP2' }), config).deliveries;
      await waitFor('every delivery', () => h.delivered().length === expected.length);
      await waitFor('the planning index emptied', async () => (await client.zcard(markerKeys.planning(p))) === 0);
      expect(h.delivered().map((d) => `${d.recipient}\n${d.body}`).sort()).toEqual(expected.map((d) => `${d.recipient}\n${d.body}`).sort());
      await new Promise((r) => setTimeout(r, 300));
      expect(new Set(h.delivered().map((d) => d.deliveryId)).size).toBe(expected.length);
      expect(h.delivered()).toHaveLength(expected.length);
      expect((await readRecord(client, p, 'IP2'))?.stage).toBe('planned');
    } finally {
      await h.stop();
    }
  });

  it('keeps the copy a recovery plans from past a short completed-job retention, and gives it that retention back once queued', async () => {
    const p = prefix();
    const keys = KeySpace.of(p);
    const short = 400;
    const dying = new OrderIntake(client, { prefix: keys, completedJobsMs: short, dedupeMs: 60_000, cipher: TEST_CIPHER, planner: dyingPlanner() });
    await expect(dying.submit(ingestOrder(orderPayload({ id: 'IP3' }), { source: 'canonical' }))).rejects.toThrow('the intake process died');
    await dying.close();
    expect(await client.pttl(markerKeys.orderCopy(p, 'IP3'))).toBeGreaterThan(PLAN_RECOVERY_MS - 10_000);
    // Well past the retention, the recovery still finds what to plan the order from.
    await new Promise((r) => setTimeout(r, short * 2));
    const h = await PipelineHarness.start(config, redis.url, { prefix: p, unsettledPlans: { everyMs: 100, afterMs: 0 } });
    try {
      const expected = previewOrder(orderPayload({ id: 'IP3' }), config).deliveries;
      await waitFor('every delivery', () => h.delivered().length === expected.length);
      await waitFor('the planning index emptied', async () => (await client.zcard(markerKeys.planning(p))) === 0);
    } finally {
      await h.stop();
    }

    // An order whose deliveries were queued keeps its copy no longer than completed jobs.
    const intake = new OrderIntake(client, { prefix: keys, completedJobsMs: short, dedupeMs: 60_000, cipher: TEST_CIPHER, planner: createIntakePlanner({ connection: client, config, cipher: TEST_CIPHER }) });
    try {
      await intake.submit(ingestOrder(orderPayload({ id: 'IP4' }), { source: 'canonical' }));
      const ttl = await client.pttl(markerKeys.orderCopy(p, 'IP4'));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(short);
    } finally {
      await intake.close();
    }
  });

  it('does not plan again an order it knows, when a later event of the store brings it', async () => {
    const p = prefix();
    const real = createIntakePlanner({ connection: client, config, cipher: TEST_CIPHER });
    let plans = 0;
    const counting: IntakePlanner = {
      plan: (order, at) => {
        plans += 1;
        return real.plan(order, at);
      },
      close: () => real.close(),
    };
    const intake = new OrderIntake(client, { prefix: KeySpace.of(p), completedJobsMs: 60_000, dedupeMs: 60_000, cipher: TEST_CIPHER, planner: counting });
    try {
      const event = (eventId: string) => {
        const e = ingestOrder(orderPayload({ id: 'IP5' }), { source: 'canonical' });
        return { ...e, source: { ...e.source, eventId } };
      };
      expect(await intake.submit(event('created'))).toEqual({ orderId: 'IP5', duplicate: false });
      expect(plans).toBe(1);
      // The store's next event for the same order (paid, updated): the same version, not planned again.
      expect(await intake.submit(event('paid'))).toEqual({ orderId: 'IP5', duplicate: true });
      expect(plans).toBe(1);
    } finally {
      await intake.close();
    }
  });
});
