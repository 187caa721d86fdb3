import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { buildApi } from '../../src/api/server';
import { pipelineQueueNames } from '../../src/app/start';
import type { Config } from '../../src/config/config';
import { createOrderProducer } from '../../src/app/producer';
import { parseLoop } from '../../src/loop/record';
import { ConsoleQueries } from '../../src/ops/console-queries';
import { Operations } from '../../src/ops/operations';
import type { FulfillmentRequest, StorePlatform } from '../../src/stores/store';
import { previewOrder } from '../../src/planning/preview';
import { keySlot } from '../../src/queue/key-slot';
import { markerKeys, metaKeys } from '../../src/queue/names';
import { LocalRedisCluster } from '../../testkit/redis-cluster';
import { FIXTURE_CONFIG_DIR, fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness, TEST_CIPHER } from '../support/pipeline';
import { waitFor } from '../support/wait';

/**
 * The pipeline on a real Redis Cluster (3 primaries, a replica each, on loopback): orders
 * spread over 6 partitions land on every primary, every delivery arrives once, no command
 * crosses slots (a CROSSSLOT error would fail a job or an answer), a batch collects orders
 * of several partitions, the CLI reads it all, and intake refuses (503) an order no replica
 * confirmed.
 */

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(ROOT, 'src', 'cli', 'dropship.ts');
const PARTITIONS = 6;

let cluster: LocalRedisCluster;
let config: Config;

beforeAll(async () => {
  cluster = await LocalRedisCluster.start({ primaries: 3, replicas: 1 });
  config = fixtureConfig();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

/** Every key on one node. */
async function keysOn(address: string): Promise<string[]> {
  const [host, port] = address.split(':');
  const node = new Redis({ host: host!, port: Number(port), maxRetriesPerRequest: 1 });
  try {
    return await node.keys('*');
  } finally {
    node.disconnect();
  }
}

/** Jobs that failed, in every queue of every partition: a CROSSSLOT error would be one. */
async function failedJobs(h: PipelineHarness): Promise<string[]> {
  const ops = new Operations(h.pipeline.redis, h.pipeline.keys, config);
  try {
    const names = ['orders', ...ops.deliveryQueueNames()];
    const failed = await Promise.all(names.map(async (n) => (await ops.queue(n).getFailed(0, -1)).map((j) => `${n} ${j.id}: ${j.failedReason}`)));
    return failed.flat();
  } finally {
    await ops.close();
  }
}

describe('the pipeline on a Redis Cluster, 6 partitions', () => {
  it('spreads orders over every primary and delivers each payload once, with no command across slots', async () => {
    const h = await PipelineHarness.start(config, cluster.url, { prefix: 'cl', partitions: PARTITIONS });
    try {
      const { keys } = h.pipeline;
      expect(keys.prefixes).toHaveLength(PARTITIONS);
      // The slots as the cluster computes them, for every partition's keys.
      for (const p of keys.prefixes) expect(await h.pipeline.redis.cluster('KEYSLOT', markerKeys.order(p, 'x'))).toBe(keySlot(p));
      // The partitions' hash tags are served by different primaries: two on each of three.
      const owners = await Promise.all(keys.prefixes.map((p) => cluster.primaryOf(keySlot(p))));
      expect(new Set(owners).size).toBe(3);
      expect((await cluster.primaries()).map((p) => owners.filter((o) => o === p.address).length)).toEqual([2, 2, 2]);

      const ids = Array.from({ length: 24 }, (_, i) => `cl-${1000 + i}`);
      expect(new Set(ids.map((id) => keys.indexOf(id))).size).toBe(PARTITIONS);
      const expected = ids.flatMap((id) => previewOrder(orderPayload({ id }), config).deliveries.map((d) => `${d.recipient} ${d.body}`));
      for (const id of ids) {
        const res = await h.postOrder(orderPayload({ id }));
        expect([res.statusCode, res.json()]).toEqual([202, { orderId: id, duplicate: false }]);
      }
      // Sent again: recognised as the same order, in its own partition.
      expect((await h.postOrder(orderPayload({ id: ids[0]! }))).json()).toEqual({ orderId: ids[0], duplicate: true });

      await waitFor('every delivery', () => h.delivered().length >= expected.length, 60_000);
      const got = h.delivered().map((d) => `${d.recipient} ${d.body}`);
      expect(got.sort()).toEqual(expected.sort());
      // Once each: no delivery id twice.
      expect(new Set(h.delivered().map((d) => d.deliveryId)).size).toBe(expected.length);
      expect(await failedJobs(h)).toEqual([]);

      // Each order's keys are in its partition's slot, on that partition's primary.
      for (const id of ids) {
        const prefix = keys.forOrder(id);
        expect(await h.pipeline.redis.exists(markerKeys.order(prefix, id), markerKeys.manifest(prefix, id), `${prefix}:disclosures:${id}`)).toBe(3);
      }
      // Every primary holds orders' keys; every key of the run is hash-tagged but the few
      // single keys about the whole deployment (the partition count, rate limits).
      for (const primary of await cluster.primaries()) {
        const held = (await keysOn(primary.address)).filter((k) => k.startsWith('cl:'));
        expect(held.filter((k) => /^cl:\{p[\d.]+\}:order:/.test(k)).length).toBeGreaterThan(0);
        expect(held.filter((k) => !k.startsWith('cl:{') && k !== metaKeys.partitions('cl') && !k.startsWith('cl:ratelimit:'))).toEqual([]);
      }
      expect(await h.pipeline.redis.get(metaKeys.partitions('cl'))).toBe(String(PARTITIONS));

      // The dashboard over every partition's queues (as `dropship start` gives it), each told apart by its tag.
      const queues = keys.prefixes.flatMap((prefix) => pipelineQueueNames(config).map((name) => new Queue(name, { connection: h.pipeline.redis, prefix })));
      const board = buildApi({ ready: async () => undefined, dashboard: { queues, auth: { user: 'ops', password: 'correct horse battery' } } });
      try {
        await board.ready();
        const authorization = `Basic ${Buffer.from('ops:correct horse battery').toString('base64')}`;
        const listed = await board.inject({ url: '/admin/queues/api/queues?page=1', headers: { authorization } });
        expect(listed.statusCode).toBe(200);
        const names = (listed.json() as { queues: Array<{ name: string; counts: Record<string, number> }> }).queues;
        expect(names).toHaveLength(PARTITIONS * pipelineQueueNames(config).length);
        // Every delivery completed in its partition's queue; the orders simply shipped, so the
        // intake planned them and no order job ran.
        const completed = (pick: (name: string) => boolean) => names.filter((q) => pick(q.name)).reduce((n, q) => n + (q.counts.completed ?? 0), 0);
        expect(completed((name) => !name.endsWith('-orders'))).toBe(expected.length);
        expect(completed((name) => name.endsWith('-orders'))).toBe(0);
      } finally {
        await board.close();
        await Promise.all(queues.map((q) => q.close()));
      }
    } finally {
      await h.stop();
    }
  }, 120_000);

  it('cuts one batch from orders of several partitions and records each order in its own', async () => {
    const batching: Config = { ...config, suppliers: config.suppliers.map((s) => (s.id === 'oliveco' ? { ...s, batch: { everyMs: 3_600_000, maxOrders: 6 } } : s)) };
    const h = await PipelineHarness.start(batching, cluster.url, { prefix: 'clb', partitions: PARTITIONS });
    try {
      const ids = Array.from({ length: 6 }, (_, i) => `clb-${2000 + i}`);
      expect(new Set(ids.map((id) => h.pipeline.keys.indexOf(id))).size).toBeGreaterThan(2);
      for (const id of ids) expect((await h.postOrder(orderPayload({ id, lines: [orderPayload().lines[3]!] }))).statusCode).toBe(202);
      await waitFor('the batch file', () => h.recorder('oliveco').delivered.length === 1, 60_000);
      const ops = new Operations(h.pipeline.redis, h.pipeline.keys, batching);
      try {
        await waitFor('every disclosure', async () => (await Promise.all(ids.map((id) => ops.disclosures(id)))).every((d) => d.length === 1));
        for (const id of ids) expect((await ops.disclosures(id))[0]).toMatchObject({ recipient: 'oliveco', batchId: h.recorder('oliveco').delivered[0]!.deliveryId });
      } finally {
        await ops.close();
      }
      expect(await failedJobs(h)).toEqual([]);
    } finally {
      await h.stop();
    }
  }, 120_000);

  it('answers `dropship status` from the cluster (REDIS_CLUSTER_NODES), the partitions read from Redis', async () => {
    const h = await PipelineHarness.start(config, cluster.url, { prefix: 'cls', partitions: PARTITIONS });
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'dropship-cluster-cli-'));
    try {
      const producer = createOrderProducer({ redisUrl: cluster.url, config, prefix: 'cls', cipher: TEST_CIPHER });
      try {
        expect(await producer.submit(orderPayload({ id: 'cls-3001' }))).toEqual({ orderId: 'cls-3001', duplicate: false });
      } finally {
        await producer.close();
      }
      const expected = previewOrder(orderPayload({ id: 'cls-3001' }), config).deliveries.length;
      await waitFor('delivered', () => h.delivered().length === expected, 60_000);
      const run = (...args: string[]) =>
        spawnSync(TSX, [CLI, ...args, '--config', FIXTURE_CONFIG_DIR], {
          cwd: tmp,
          encoding: 'utf8',
          env: { ...process.env, REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.seeds, QUEUE_PREFIX: 'cls', DROPSHIP_DATA_KEY: 'unused-for-status', NO_COLOR: '1' },
          timeout: 60_000,
        });
      const one = run('status', 'cls-3001', '--json');
      expect([one.status, one.stderr]).toEqual([0, '']);
      const timeline = JSON.parse(one.stdout) as { shipments: Array<{ deliveries: Array<{ stage: string }> }> };
      expect(timeline.shipments.flatMap((s) => s.deliveries.map((d) => d.stage))).toEqual(Array(expected).fill('sent'));
      const all = run('status', '--json');
      expect([all.status, all.stderr]).toEqual([0, '']);
      expect(all.stdout).toContain('"orders"');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      await h.stop();
    }
  }, 120_000);

  it('cancels delivered orders of every partition: labels voided, suppliers told, in the order\'s partition', async () => {
    const h = await PipelineHarness.start(config, cluster.url, { prefix: 'clc', partitions: PARTITIONS });
    // Labels with tracking numbers, which the voids name.
    h.recorder('ups').respond = (p) => ({ carrier: 'ups', trackingNumber: `1Z${p.deliveryId.replace(/\W/g, '').toUpperCase()}`, label: 'R0lGODlh' });
    try {
      const ids = Array.from({ length: 6 }, (_, i) => `clc-${4000 + i}`);
      expect(new Set(ids.map((id) => h.pipeline.keys.indexOf(id))).size).toBeGreaterThan(2);
      for (const id of ids) expect((await h.postOrder(orderPayload({ id }))).statusCode).toBe(202);
      await waitFor('everything delivered', () => h.recorder('creamery').delivered.length === ids.length && h.recorder('oliveco').delivered.length === ids.length, 60_000);
      await waitFor('labels bought', () => h.recorder('ups').delivered.length === 2 * ids.length, 60_000);
      for (const id of ids) expect((await h.cancelOrder(id, { reason: 'customer' })).json()).toEqual({ orderId: id, cancelled: true, duplicate: false });
      await waitFor(
        'voids and cancellations',
        () => h.recorder('ups').voided.length === 2 * ids.length && h.recorder('creamery').delivered.length === 2 * ids.length && h.recorder('oliveco').delivered.length === 2 * ids.length,
        60_000,
      );
      expect(h.recorder('creamery').delivered.filter((d) => d.purpose === 'cancellation').map((d) => d.deliveryId).sort()).toEqual(ids.map((id) => `${id}+creamery+po-cancel`));
      const ops = new Operations(h.pipeline.redis, h.pipeline.keys, config);
      try {
        for (const id of ids) {
          const status = await ops.orderStatus(id);
          expect(status.cancelled).toEqual({ at: expect.any(String), reason: 'customer' });
          expect(status.tracking.map((t) => t.voidedAt)).toEqual([expect.any(String), expect.any(String)]);
        }
      } finally {
        await ops.close();
      }
      expect(await failedJobs(h)).toEqual([]);
    } finally {
      await h.stop();
    }
  }, 120_000);

  it('closes the loop on the cluster: confirmations, each order\'s loop in its partition, a supplier\'s sets in its own, fulfillments once', async () => {
    const withConfirmations = structuredClone(config);
    for (const s of withConfirmations.suppliers) if (s.id === 'creamery') s.confirmations = { https: { auth: { bearerTokenEnv: 'CREAMERY_TOKEN' } }, expectWithinMs: 3_600_000 };
    const told: FulfillmentRequest[] = [];
    const store: StorePlatform = { id: 'shopify', fulfil: async (r) => (told.push(r), { storeFulfillmentId: `gid://shopify/Fulfillment/${told.length}` }), close: async () => undefined };
    const h = await PipelineHarness.start(withConfirmations, cluster.url, { prefix: 'lp', partitions: PARTITIONS, store, apiEnv: { CREAMERY_TOKEN: 'creamery-token' } });
    // Labels with tracking numbers: the warehouse's shipment is fulfilled once its label is bought.
    h.recorder('ups').respond = (p) => ({ carrier: 'ups', trackingNumber: `1Z${p.deliveryId.replace(/\W/g, '').toUpperCase()}`, label: 'R0lGODlh' });
    try {
      const ids = Array.from({ length: 12 }, (_, i) => `lp-${2000 + i}`);
      const partitionsUsed = new Set(ids.map((id) => h.pipeline.keys.indexOf(id)));
      expect(partitionsUsed.size).toBeGreaterThan(2);
      for (const id of ids) {
        const order = orderPayload({ id, storeId: `9${id.slice(3)}` });
        expect((await h.postOrder({ ...order, lines: order.lines.map((l, i) => ({ ...l, storeLineId: `${id.slice(3)}0${i}` })) })).statusCode).toBe(202);
      }
      await waitFor('purchase orders delivered', () => h.recorder('creamery').delivered.length === ids.length, 60_000);
      const post = (what: string, body: unknown) =>
        h.api.inject({ method: 'POST', url: `/suppliers/creamery/${what}`, payload: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: 'Bearer creamery-token' } });
      const ops = new Operations(h.pipeline.redis, h.pipeline.keys, withConfirmations);
      const creameryLag = async () => (await ops.confirmationLag()).find((l) => l.supplierId === 'creamery');
      await waitFor('awaited', async () => (await creameryLag())?.awaiting === ids.length);
      for (const [i, id] of ids.entries()) {
        expect((await post('acknowledgements', { orderId: id, status: i === 0 ? 'backordered' : 'accepted' })).statusCode).toBe(202);
        // The supplier's sets share its partition's slot: one transaction moves an order between them.
        if (i === 0) expect(await creameryLag()).toMatchObject({ awaiting: ids.length - 1, backordered: [id] });
        expect((await post('shipments', { orderId: id, carrier: 'UPS', trackingNumbers: [`1Z999AA1${String(i).padStart(10, '0')}`] })).statusCode).toBe(202);
      }
      // Each order's warehouse label and the creamery's shipment: two fulfillments per order, once each.
      await waitFor('fulfillments', () => told.length === ids.length * 2, 60_000);
      expect(new Set(told.map((r) => `${r.orderId} ${r.tracking.numbers[0]}`)).size).toBe(ids.length * 2);
      try {
        for (const id of ids) {
          const loop = parseLoop(await h.pipeline.redis.hgetall(markerKeys.loop(h.pipeline.keys.forOrder(id), id)));
          expect(loop.shipped).toEqual({ l1: 2, l2: 1, l3: 3 });
        }
        // Shipped, the backorder no longer needs anyone.
        expect(await creameryLag()).toMatchObject({ awaiting: 0, overdue: 0, backordered: [], rejected: [] });
        const timeline = await new ConsoleQueries(ops).timeline(ids[3]!);
        expect(timeline?.shipments.find((sh) => sh.shipmentId === `${ids[3]}+creamery`)?.stage).toBe('fulfilled');
        const fulfillments = await Promise.all(h.pipeline.keys.prefixes.map((p) => new Queue('fulfillments', { connection: h.pipeline.redis, prefix: p })));
        try {
          const failed = (await Promise.all(fulfillments.map((q) => q.getFailed(0, -1)))).flat();
          expect(failed.map((j) => j.failedReason)).toEqual([]);
        } finally {
          await Promise.all(fulfillments.map((q) => q.close()));
        }
      } finally {
        await ops.close();
      }
      expect(await failedJobs(h)).toEqual([]);
    } finally {
      await h.stop();
    }
  }, 180_000);

  it('refuses to start with another partition count while jobs of the old layout remain', async () => {
    const first = await PipelineHarness.start(config, cluster.url, { prefix: 'clp', partitions: 3, workers: false });
    try {
      expect((await first.postOrder(orderPayload({ id: 'clp-1' }))).statusCode).toBe(202);
    } finally {
      await first.stop();
    }
    // The order's deliveries were queued as it was accepted (no worker ran them): two labels and
    // a purchase order; the other purchase order waits in its label's job.
    await expect(PipelineHarness.start(config, cluster.url, { prefix: 'clp', partitions: PARTITIONS })).rejects.toThrow(
      /QUEUE_PARTITIONS is 6, but the queues were laid out for 3 partitions and still hold 3 unfinished or failed jobs/,
    );
  }, 60_000);

  // Last: it kills the replicas.
  it('answers 503 ENOT_DURABLE, not 202, when no replica confirms the order', async () => {
    const h = await PipelineHarness.start(config, cluster.url, { prefix: 'clw', partitions: PARTITIONS, workers: false, durability: { replicas: 1, timeoutMs: 300 } });
    try {
      expect((await h.postOrder(orderPayload({ id: 'clw-1' }))).statusCode).toBe(202);
      await cluster.killReplicas();
      const res = await h.postOrder(orderPayload({ id: 'clw-2' }));
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json()).toMatchObject({ error: 'ENOT_DURABLE' });
    } finally {
      await h.stop();
    }
  }, 60_000);
});
