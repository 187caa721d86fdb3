import { FlowProducer, Queue, Worker, type FlowJob } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../src/config/config';
import type { CancelEvent, Order, OrderEvent } from '../src/core/order';
import { splitOrder } from '../src/core/split';
import { heldOrder } from '../src/errors/unrecoverable';
import { formatById } from '../src/formats';
import { planOrder, type PlannedDelivery } from '../src/planning/plan';
import { CANCEL_JOB, deliveryJobName, deliveryQueueName, markerKeys, ORDERS_QUEUE } from '../src/queue/names';
import type { OrderJobData } from '../src/queue/intake';
import { deliveryJobOptions } from '../src/queue/retry';
import { type DataCipher, openJobData, sealDelivery } from '../src/queue/sealing';
import type { Cancellations } from './cancellation';
import { nextControlNumber } from './control-numbers';

export interface OrderWorkerDeps {
  /** BullMQ's connection for this worker and the queues it adds to. */
  connection: Redis;
  /**
   * A plain connection for the worker's own reads and markers: a pipeline on a BullMQ
   * connection copies all of BullMQ's scripts first.
   */
  records: Redis;
  prefix: string;
  config: Config;
  /** Opens order jobs and seals the deliveries they add. */
  cipher: DataCipher;
  /** Marks cancelled orders and undoes what they already sent. */
  cancellations: Cancellations;
  concurrency?: number;
  /** Lock and stall timings; lower them where dead workers must be noticed sooner. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

/** What an order or cancel job leaves behind when done: ids only, no personal data. */
export interface OrderJobResult {
  deliveries: string[];
  /** The order was cancelled: nothing was queued (order job), or these undo jobs were (cancel job). */
  cancelled?: true;
  undo?: string[];
}

/**
 * The flows of one order: a purchase order whose label the retailer buys is the parent of
 * its carrier request (it runs once the label is bought); everything else stands alone.
 * (Exported for the `pipeline` bench, which replays these jobs with no work around them.)
 */
export function flowsOf(deliveries: PlannedDelivery[], config: Config, cipher: DataCipher): FlowJob[] {
  const job = (d: PlannedDelivery) => ({
    name: deliveryJobName(d.kind),
    queueName: deliveryQueueName(d.kind, d.recipient),
    data: sealDelivery(cipher, d),
    opts: deliveryJobOptions(d, config),
  });
  const carriers = new Map(deliveries.filter((d) => d.kind === 'carrier').map((d) => [d.deliveryId, d]));
  const flows: FlowJob[] = [];
  for (const d of deliveries) {
    if (d.kind === 'carrier') continue;
    const carrier = d.awaitsLabel ? carriers.get(d.awaitsLabel.carrierDeliveryId) : undefined;
    if (carrier) {
      carriers.delete(carrier.deliveryId);
      flows.push({ ...job(d), children: [job(carrier)] });
    } else {
      flows.push(job(d));
    }
  }
  for (const c of carriers.values()) flows.push(job(c));
  return flows;
}

/**
 * The next control number of each supplier in this order whose format needs one, from a
 * counter in Redis: atomic across workers and kept across restarts. A re-run of the order
 * takes new numbers, but its deliveries keep the ids (and bodies) of the first run.
 */
async function allocateControlNumbers(connection: Redis, prefix: string, config: Config, order: Order, numbered: ReadonlySet<string>): Promise<Record<string, number>> {
  // Most configurations number nothing: no split needed to find out.
  if (numbered.size === 0) return {};
  const split = splitOrder(order, config);
  const ids = [...new Set((split.shipments ?? []).filter((s) => s.origin.kind === 'supplier').map((s) => s.origin.id))].filter((id) => numbered.has(id));
  const numbers: Record<string, number> = {};
  for (const id of ids) numbers[id] = await nextControlNumber(connection, prefix, id);
  return numbers;
}

/**
 * Thin order worker: plan the order (pure core), then hand every delivery to its
 * recipient's queue under its deterministic id (all sent at once, without waiting for one
 * another), so a re-run after a crash adds nothing twice. A held order fails permanently with its reasons and stays for
 * replay.
 */
export function createOrderWorker(deps: OrderWorkerDeps): Worker<OrderJobData | CancelEvent, OrderJobResult> {
  const { connection, records, prefix, config, cipher, cancellations } = deps;
  // Suppliers whose documents carry a control number per order (a batch takes its own when cut).
  const numbered = new Set(config.suppliers.filter((s) => s.batch === undefined && formatById(s.format)?.needsControlNumber === true).map((s) => s.id));
  const flows = new FlowProducer({ connection, prefix });
  // A delivery that waits for nothing is added on its own queue: one script call, not a
  // flow's MULTI (which copies every BullMQ script onto a new pipeline object first).
  const queues = new Map<string, Queue>();
  const queue = (name: string): Queue => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection, prefix });
      queues.set(name, q);
    }
    return q;
  };

  const worker = new Worker<OrderJobData | CancelEvent, OrderJobResult>(
    ORDERS_QUEUE,
    async (job) => {
      if (job.name === CANCEL_JOB) {
        const event = job.data as CancelEvent;
        const now = new Date().toISOString();
        await cancellations.markCancelled(event, now);
        return { deliveries: [], cancelled: true, undo: await cancellations.undoDelivered(event.orderId, now) };
      }
      const order = openJobData<OrderEvent>(cipher, job.data, 'order').order;
      const plan = planOrder(order, config, {
        now: new Date(job.timestamp).toISOString(),
        deferLabelledBodies: true,
        controlNumbers: await allocateControlNumbers(connection, prefix, config, order, numbered),
      });
      if (plan.status === 'held') throw heldOrder(plan.reasons);
      // One round trip: was the order cancelled, which deliveries already landed (this order
      // replayed after its jobs were removed; they are not added again), and the manifest a
      // later cancellation reads, stored before any delivery can run.
      const [[, cancelled], [, delivered]] = (await records
        .pipeline()
        .get(markerKeys.cancelled(prefix, plan.orderId))
        .mget(...plan.deliveries.map((d) => markerKeys.delivered(prefix, d.deliveryId)))
        .set(markerKeys.manifest(prefix, plan.orderId), JSON.stringify(plan.manifest), 'PX', config.store.retention.dedupeMs)
        .exec()) as [[Error | null, string | null], [Error | null, (string | null)[]]];
      const seen = () => records.set(markerKeys.orderSeen(prefix, plan.orderId), '1', 'PX', config.store.retention.dedupeMs);
      if (cancelled !== null) {
        await seen();
        return { deliveries: [], cancelled: true };
      }
      const pending = plan.deliveries.filter((_, i) => delivered[i] === null);
      if (pending.length > 0) {
        // Each job under its deterministic id: a re-run after a crash between these adds
        // adds only the missing ones.
        const all = flowsOf(pending, config, cipher);
        const trees = all.filter((f) => f.children !== undefined);
        await Promise.all([
          ...(trees.length > 0 ? [flows.addBulk(trees)] : []),
          ...all.filter((f) => f.children === undefined).map((f) => queue(f.queueName).add(f.name, f.data, f.opts)),
        ]);
      }
      await seen();
      return { deliveries: plan.deliveries.map((d) => d.deliveryId) };
    },
    // A job whose worker died twice in a row runs again rather than failing for good.
    {
      connection,
      prefix,
      concurrency: deps.concurrency ?? 8,
      autorun: false,
      maxStalledCount: 5,
      ...(deps.lockDurationMs ? { lockDuration: deps.lockDurationMs } : {}),
      ...(deps.stalledIntervalMs ? { stalledInterval: deps.stalledIntervalMs } : {}),
    },
  );
  worker.on('closed', () => {
    void flows.close();
    for (const q of queues.values()) void q.close();
  });
  return worker;
}
