import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { RedisClient as Redis } from '../../../src/queue/redis';
import { planOrder, type PlannedDelivery } from '../../../src/planning/plan';
import { OrderIntake } from '../../../src/queue/intake';
import { deliveryQueueName, ORDERS_QUEUE } from '../../../src/queue/names';
import { createRedis } from '../../../src/queue/redis';
import { deliveryJobOptions } from '../../../src/queue/retry';
import { deliveryTargets } from '../../../src/transports/factory';
import { fixtureConfig, order } from '../../support/orders';
import { waitFor } from '../../support/wait';
import { createDataCipher, generateDataKey, sealDelivery } from '../../../src/queue/sealing';

export type Counted = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed';

export interface SeededQueues {
  /** Every queue the pipeline has for the fixture configuration, as the CLI builds them. */
  queues: Queue[];
  /** What each queue holds once seeded. */
  counts: Record<string, Record<Counted, number>>;
  /** A purchase order the supplier rejected for good (to be retried from the dashboard). */
  rejected: PlannedDelivery;
  /** A second rejected purchase order (left failed: the read-only board must not retry it). */
  rejectedToo: PlannedDelivery;
}

function plan(orderId: string): PlannedDelivery[] {
  const p = planOrder(order({ id: orderId }), fixtureConfig());
  if (p.status !== 'planned') throw new Error(`fixture order ${orderId} was not planned: ${p.status}`);
  return p.deliveries;
}

const queueOf = (d: PlannedDelivery) => deliveryQueueName(d.kind, d.recipient);

/**
 * Fills the pipeline's queues the way a day of work leaves them: orders taken in through
 * `OrderIntake` (one still waiting), deliveries of order 8001 sent except the creamery's
 * purchase order (rejected: failed for good), order 8002's oliveco purchase order rejected
 * too, its carrier requests backing off (delayed) and its creamery purchase order waiting.
 */
export async function seedQueues(redisUrl: string, prefix: string, connection: Redis): Promise<SeededQueues> {
  const config = fixtureConfig();
  const names = [ORDERS_QUEUE, ...deliveryTargets(config).map((t) => deliveryQueueName(t.kind, t.recipient))];
  const queues = new Map(names.map((name) => [name, new Queue(name, { connection, prefix })]));
  const queue = (name: string): Queue => {
    const q = queues.get(name);
    if (!q) throw new Error(`no queue ${name}`);
    return q;
  };

  const first = plan('8001');
  const second = plan('8002');
  const rejected = first.find((d) => d.kind === 'dropship' && d.recipient === 'creamery');
  const rejectedToo = second.find((d) => d.kind === 'dropship' && d.recipient === 'oliveco');
  if (!rejected || !rejectedToo) throw new Error('the fixture orders have no creamery / oliveco purchase order');
  const failing = new Set([rejected.deliveryId, rejectedToo.deliveryId]);

  // Processed now, by stand-in workers: orders 8001 and 8002, all of 8001's deliveries, 8002's rejected PO.
  const cipher = createDataCipher(generateDataKey());
  const intake = new OrderIntake(connection, { prefix, completedJobsMs: 86_400_000, dedupeMs: 86_400_000, cipher });
  for (const id of ['8001', '8002']) await intake.submit({ source: { kind: 'shopify', eventId: `evt-${id}` }, order: order({ id }) });
  // Queued as the order worker queues them: ids in clear, the payload sealed.
  for (const d of [...first, rejectedToo]) await queue(queueOf(d)).add(d.kind, sealDelivery(cipher, d), deliveryJobOptions(d, config));
  const expectedDone = new Map<string, number>([[ORDERS_QUEUE, 2]]);
  for (const d of [...first, rejectedToo]) expectedDone.set(queueOf(d), (expectedDone.get(queueOf(d)) ?? 0) + 1);

  const standIn = async (job: Job) => {
    const d = job.data as Partial<PlannedDelivery>;
    if (d.deliveryId && failing.has(d.deliveryId)) {
      throw new UnrecoverableError(`EREJECTED: ${d.recipient} answered HTTP 400 (unknown SKU) for ${d.filename}`);
    }
    return d.deliveryId ? { delivered: d.deliveryId } : { deliveries: 4 };
  };
  const workerConnections: Redis[] = [];
  const workers = [...expectedDone.keys()].map((name) => {
    const c = createRedis(redisUrl);
    workerConnections.push(c);
    return new Worker(name, standIn, { connection: c, prefix });
  });
  try {
    for (const [name, n] of expectedDone) {
      await waitFor(`${name} to process ${n} jobs`, async () => {
        const c = await queue(name).getJobCounts('completed', 'failed');
        return (c.completed ?? 0) + (c.failed ?? 0) === n;
      });
    }
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    for (const c of workerConnections) c.disconnect();
  }

  // Left in the queues: a new order, 8002's carrier requests backing off, its creamery PO waiting.
  await intake.submit({ source: { kind: 'woocommerce', eventId: 'evt-8003' }, order: order({ id: '8003' }) });
  for (const d of second) {
    if (d === rejectedToo) continue;
    const opts = deliveryJobOptions(d, config);
    await queue(queueOf(d)).add(d.kind, d, d.kind === 'carrier' ? { ...opts, delay: 30 * 60_000 } : opts);
  }
  await intake.close();

  const counts: SeededQueues['counts'] = {};
  for (const [name, q] of queues) {
    const c = await q.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
    counts[name] = { waiting: c.waiting ?? 0, active: c.active ?? 0, delayed: c.delayed ?? 0, completed: c.completed ?? 0, failed: c.failed ?? 0 };
  }
  return { queues: [...queues.values()], counts, rejected, rejectedToo };
}
