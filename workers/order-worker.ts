import { Queue, Worker } from 'bullmq';
import { KeySpace } from '../src/queue/partitions';
import type { RedisClient } from '../src/queue/redis';
import type { Config } from '../src/config/config';
import { changedPaths, orderFingerprint, type OrderFingerprint } from '../src/core/changes';
import type { CancelEvent, Order, OrderEvent } from '../src/core/order';
import { fulfilOf, whatShips } from '../src/core/readiness';
import type { OrderReason, SkipCode, WaitCode } from '../src/errors';
import { heldOrder } from '../src/errors/unrecoverable';
import { forgetCancelledOrder } from '../src/loop/confirm';
import { planOrder } from '../src/planning/plan';
import { CANCEL_JOB, markerKeys, ORDER_JOB, ORDERS_QUEUE, orderJobId } from '../src/queue/names';
import { type OrderJobData, orderJobOptions } from '../src/queue/intake';
import { commitOutcome, forgetPlan, type Outcome, readForPlanning, readRecord, settlePlanned, unsettledPlans } from '../src/queue/order-record';
import { type DataCipher, openJobData } from '../src/queue/sealing';
import type { Cancellations } from './cancellation';
import { nextControlNumber } from './control-numbers';
import { DeliveryQueues } from './delivery-queues';
import { numberedSuppliers, numberedSuppliersOf } from './intake-planner';


export interface OrderWorkerDeps {
  /** BullMQ's connection for this worker and the queues it adds to. */
  connection: RedisClient;
  /**
   * A plain connection for the worker's own reads and markers: a pipeline on a BullMQ
   * connection copies all of BullMQ's scripts first.
   */
  records: RedisClient;
  /** The prefix of the partition this worker serves (its orders queue, and every key of its orders). */
  prefix: string;
  /** The partitioned key space, for keys kept elsewhere (suppliers' control numbers). @defaultValue one partition, `prefix` */
  keys?: KeySpace;
  config: Config;
  /** Opens order jobs and seals the deliveries they add. */
  cipher: DataCipher;
  /** Marks cancelled orders and undoes what they already sent. */
  cancellations: Cancellations;
  concurrency?: number;
  /** Lock and stall timings; lower them where dead workers must be noticed sooner. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** How often the orders the intake planned but never confirmed queued are looked for. @defaultValue 10 s */
  unsettledSweepMs?: number;
  /** How old such an order must be to be planned again (longer than any intake takes). @defaultValue 30 s */
  unsettledAfterMs?: number;
}

const UNSETTLED_SWEEP_MS = 10_000;
const UNSETTLED_AFTER_MS = 30_000;

/** What an order or cancel job leaves behind when done: ids only, no personal data. */
export interface OrderJobResult {
  deliveries: string[];
  /** The order was cancelled: nothing was queued (order job), or these undo jobs were (cancel job). */
  cancelled?: true;
  undo?: string[];
  /** The order is not ready to ship yet (store.yaml `fulfil`): a later event for it starts it. */
  waiting?: OrderReason<WaitCode>[];
  /** The order never ships: cancelled, refunded, a test order, nothing to ship. */
  skipped?: OrderReason<SkipCode>[];
  /** A later version of an order already planned, with nothing changed in what it sends. */
  unchanged?: true;
}

/** Thrown when a newer version of the order came in while this one was planned: the job runs again for it. */
class Superseded extends Error {
  constructor(orderId: string) {
    super(`order ${orderId}: a newer version came in while this one was planned; planning that one`);
  }
}

/**
 * The next control number of each supplier in this order whose format needs one, from a
 * counter in Redis: atomic across workers and kept across restarts. A re-run of the order
 * takes new numbers, but its deliveries keep the ids (and bodies) of the first run.
 */
async function allocateControlNumbers(connection: RedisClient, keys: KeySpace, config: Config, order: Order, numbered: ReadonlySet<string>): Promise<Record<string, number>> {
  const numbers: Record<string, number> = {};
  for (const id of numberedSuppliersOf(order, config, numbered)) numbers[id] = await nextControlNumber(connection, keys.forSupplier(id), id);
  return numbers;
}

/**
 * Thin order worker: plan the newest version of the order (pure core), then hand every
 * delivery to its recipient's queue under its deterministic id (all sent at once, without
 * waiting for one another), so a re-run after a crash adds nothing twice. What became of
 * the version goes into the order's record first. A waiting or skipped order completes
 * with its reasons; a held order fails permanently with its reasons and stays for replay
 * (or for a corrected version to replace it). A version that changes an order already
 * planned is held as `CHANGED_AFTER_SENT`, never planned twice.
 */
export function createOrderWorker(deps: OrderWorkerDeps): Worker<OrderJobData | CancelEvent, OrderJobResult> {
  const { connection, records, prefix, config, cipher, cancellations } = deps;
  const keys = deps.keys ?? KeySpace.of(prefix);
  const numbered = numberedSuppliers(config);
  const deliveryQueues = new DeliveryQueues(connection, config, cipher);

  const worker = new Worker<OrderJobData | CancelEvent, OrderJobResult>(
    ORDERS_QUEUE,
    async (job) => {
      if (job.name === CANCEL_JOB) {
        const event = job.data as CancelEvent;
        const now = new Date().toISOString();
        await cancellations.markCancelled(event, now);
        // An order waiting (or held, or queued) is done with: it will never be planned.
        const record = await readRecord(records, prefix, event.orderId);
        if (record !== undefined && record.stage !== 'planned' && record.stage !== 'skipped') {
          const reasons = [{ code: 'CANCELLED' as const, message: `the order was cancelled${event.reason ? ` (${event.reason})` : ''} before it was planned` }];
          // A newer version accepted meanwhile is planned by its own run, which finds the cancellation.
          await commitOutcome(records, prefix, event.orderId, record.version, { stage: 'skipped', reasons, dropData: true }, config.store.retention.dedupeMs);
        }
        // Its purchase orders are no longer awaited from confirming suppliers (after the mark: see afterDelivery).
        await forgetCancelledOrder(records, keys, config, event.orderId);
        return { deliveries: [], cancelled: true, undo: await cancellations.undoDelivered(event.orderId, now) };
      }
      const orderId = (job.data as OrderJobData).orderId;
      const ttl = config.store.retention.dedupeMs;
      // The newest version accepted is in the order's record; an order queued before records
      // existed (or whose data was dropped once planned) has its own copy in the job.
      const { record, cancelled: cancelledBefore } = await readForPlanning(records, prefix, orderId);
      const version = record?.version ?? '0';
      const order = openJobData<OrderEvent>(cipher, record?.data !== undefined ? { sealed: record.data } : job.data, 'order').order;
      const commit = async (outcome: Outcome) => {
        if (!(await commitOutcome(records, prefix, orderId, version, outcome, ttl))) throw new Superseded(orderId);
      };
      if (record?.planned !== undefined && record.planned !== version) {
        // An earlier version was planned, and its deliveries queued or sent: a change is for
        // an operator, never a second set of payloads.
        const later = whatShips(order, fulfilOf(config.store));
        const before = cipher.open<OrderFingerprint>(record.fingerprint ?? '', 'order-fingerprint');
        const changed = later.status === 'ready' ? changedPaths(before, orderFingerprint(later.order)) : [];
        if (changed.length === 0) {
          // The same content (a payment captured, a tag added), or a store state that no longer
          // ships (a cancellation arrives as its own event): nothing to send again.
          await commit({ stage: 'planned', reasons: [], dropData: true });
          return { deliveries: [], unchanged: true };
        }
        const reasons = [{ code: 'CHANGED_AFTER_SENT' as const, message: `order ${orderId} changed after its deliveries were planned or sent (version ${record.planned}); changed: ${changed.join(', ')}` }];
        await commit({ stage: 'held', reasons });
        throw heldOrder(reasons);
      }
      const seen = (id: string) => records.set(markerKeys.orderSeen(prefix, id), '1', 'PX', ttl);
      if (cancelledBefore && record?.planned === undefined) {
        // Cancelled before it was ever planned (while it waited, or before it arrived): never planned.
        await commit({ stage: 'skipped', reasons: [{ code: 'CANCELLED', message: 'the order was cancelled before it was planned' }], dropData: true });
        await seen(orderId);
        return { deliveries: [], cancelled: true };
      }
      // Waiting and skipped orders are decided before anything is allocated for them.
      const ships = whatShips(order, fulfilOf(config.store));
      if (ships.status === 'waiting') {
        await commit({ stage: 'waiting', reasons: ships.reasons });
        return { deliveries: [], waiting: ships.reasons };
      }
      if (ships.status === 'skipped') {
        await commit({ stage: 'skipped', reasons: ships.reasons, dropData: true });
        await seen(orderId);
        return { deliveries: [], skipped: ships.reasons };
      }
      const plan = planOrder(order, config, {
        now: new Date(job.timestamp).toISOString(),
        deferLabelledBodies: true,
        controlNumbers: await allocateControlNumbers(connection, keys, config, ships.order, numbered),
      });
      if (plan.status !== 'planned') {
        // Held (waiting and skipped were decided above, from the same order and config).
        await commit({ stage: 'held', reasons: plan.reasons });
        throw heldOrder(plan.status === 'held' ? plan.reasons : []);
      }
      // What was planned, kept as a sealed fingerprint only: a later version is compared with it.
      const fingerprint = cipher.seal(orderFingerprint(ships.order), 'order-fingerprint');
      await commit({ stage: 'planned', reasons: [], planned: { fingerprint } });
      // One round trip: was the order cancelled, which deliveries already landed (this order
      // replayed after its jobs were removed; they are not added again), and the manifest a
      // later cancellation reads, stored before any delivery can run.
      const [[, cancelled], [, delivered]] = (await records
        .pipeline()
        .get(markerKeys.cancelled(prefix, plan.orderId))
        .mget(...plan.deliveries.map((d) => markerKeys.delivered(prefix, d.deliveryId)))
        .set(markerKeys.manifest(prefix, plan.orderId), JSON.stringify(plan.manifest), 'PX', config.store.retention.dedupeMs)
        .exec()) as [[Error | null, string | null], [Error | null, (string | null)[]]];
      if (cancelled !== null) {
        await settlePlanned(records, prefix, orderId, version, ttl);
        return { deliveries: [], cancelled: true };
      }
      const pending = plan.deliveries.filter((_, i) => delivered[i] === null);
      // Each job under its deterministic id: a re-run after a crash between these adds adds
      // only the missing ones.
      await deliveryQueues.add(prefix, pending);
      await settlePlanned(records, prefix, orderId, version, ttl);
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
  // Orders the intake planned but whose deliveries it never confirmed queued (its process died
  // between the two): each gets its order job, which plans it again and adds what is missing.
  const ordersQueue = new Queue<OrderJobData>(ORDERS_QUEUE, { connection, prefix });
  const recover = async () => {
    for (const left of await unsettledPlans(records, prefix, deps.unsettledAfterMs ?? UNSETTLED_AFTER_MS)) {
      if (left.sealed === undefined) {
        await forgetPlan(records, prefix, left.orderId);
        continue;
      }
      const source = left.source ? (JSON.parse(left.source) as OrderJobData['source']) : { kind: 'canonical' as const };
      await ordersQueue.add(ORDER_JOB, { source, orderId: left.orderId, sealed: left.sealed }, orderJobOptions(orderJobId(left.orderId), 5, config.store.retention.completedJobsMs));
    }
  };
  const sweep = setInterval(() => void recover().catch((error: unknown) => worker.emit('error', error instanceof Error ? error : new Error(String(error)))), deps.unsettledSweepMs ?? UNSETTLED_SWEEP_MS);
  sweep.unref();
  worker.on('closed', () => {
    clearInterval(sweep);
    void deliveryQueues.close();
    void ordersQueue.close();
  });
  return worker;
}
