import type { Job } from 'bullmq';
import type { RedisClient } from '../queue/redis';
import type { Config } from '../config/config';
import { CATALOGUE, type ErrorCode, type HoldReason, readFailure } from '../errors';
import { DisclosureLedger, type Disclosure } from '../ledger/disclosure-ledger';
import { cancelJobId, deliveryQueueName, FULFILLMENTS_QUEUE, markerKeys, ORDERS_QUEUE, orderJobId, readFulfillmentJobId, type LabelRecoveryOutcome, type UnconfirmedLabel } from '../queue/names';
import type { FulfillmentJobData } from '../loop/fulfillments';
import { forgetPurchaseOrder, type PurchaseOrderList, purchaseOrderListKey, trimPurchaseOrderLists } from '../loop/confirm';
import { type OrderStage, readRecord } from '../queue/order-record';
import { type KeySpace, keySpaceOf } from '../queue/partitions';
import { PartitionedQueue } from './queues';
import { purchaseOrdersAwaitingLabels } from '../planning/plan';
import { deliveryTargets } from '../transports/factory';

/** One delivery of an order as an operator sees it. */
export interface DeliveryStatus {
  deliveryId: string;
  queue: string;
  state: string;
  attempts: number;
  failedReason?: string;
  /** The catalogue code of `failedReason`, when it names one. */
  code?: ErrorCode;
  /** Why the job completed without sending (`cancelled`, `delivered before`). */
  skipped?: string;
}

export interface OrderStatus {
  orderId: string;
  /** State of the order job, or `gone` once it completed and was removed. */
  state: string;
  heldReason?: string;
  /** Why the order is held, each reason with what an operator does about it (the error catalogue's words). */
  holds?: Array<HoldReason & { action: string }>;
  /**
   * What became of the version of the order accepted last: queued, waiting (for the store to
   * release it), held (for an operator), skipped (never ships) or planned.
   */
  stage?: OrderStage;
  /** Why it waits, is held or was skipped, each reason with what to do about it (the error catalogue's words). */
  reasons?: Array<{ code: string; message: string; action: string }>;
  /** The version accepted last (ms since 1970 of the store's change, or a count), and when its stage was written. */
  version?: string;
  stageAt?: string;
  /** When (and why) the order was cancelled. */
  cancelled?: { at?: string; reason?: string };
  deliveries: DeliveryStatus[];
  tracking: Array<{ shipmentId: string; carrier: string; trackingNumber: string; voidedAt?: string; lostAttemptAt?: string; labelRecovery?: LabelRecoveryOutcome }>;
  disclosures: number;
}

/** A confirming supplier's purchase orders not yet answered, and those it turned down. */
export interface ConfirmationLag {
  supplierId: string;
  expectWithinMs: number;
  /** Sent, neither acknowledged nor shipped yet. */
  awaiting: number;
  /** Of those, sent longer than `expectWithinMs` ago; the oldest order ids in `overdueOrders`. */
  overdue: number;
  overdueOrders: string[];
  /** When the oldest unanswered one was sent. */
  oldestSentAt?: string;
  /** Orders whose purchase order it rejected or backordered (newest first): for an operator. */
  rejected: string[];
  backordered: string[];
  rejectedTotal: number;
  backorderedTotal: number;
  /** Its confirmation files that could not be read (or moved), newest first, and how many are kept. */
  failedFiles: FailedConfirmationFile[];
  failedFilesTotal: number;
}

/** A supplier's confirmation file the pickup could not take (see `PickupFailure` in src/loop/pickup.ts). */
export interface FailedConfirmationFile {
  file: string;
  at: string;
  kind: 'unreadable' | 'error';
  problems: string[];
  movedTo?: string;
}

/** A fulfillment the store platform was to be told of, failed for good: kept on the `fulfillments` queue for replay. */
export interface FailedFulfillment {
  /** The job's id, `fulfil+<shipment id>+<event>`: what `dropship replay --fulfillment` takes. */
  fulfillmentId: string;
  orderId: string;
  shipmentId: string;
  /** The supplier or warehouse that shipped. */
  shipper?: string;
  failedAt?: string;
  attempts: number;
  failedReason?: string;
  /** The catalogue code of `failedReason`, when it names one. */
  code?: ErrorCode;
}

/** A purchase order taken off a supplier's lists by an operator (`dropship handled`), and the lists it was on. */
export interface HandledPurchaseOrder {
  supplierId: string;
  orderId: string;
  lists: PurchaseOrderList[];
}

/** `{ code }` of a failed delivery's reason, when it names one. */
function codeOf(failedReason: string | undefined): { code?: ErrorCode } {
  const failure = readFailure(failedReason);
  return failure?.kind === 'error' ? { code: failure.code } : {};
}

function failedFulfillmentOf(job: Job): FailedFulfillment {
  const data = (job.data ?? {}) as Partial<FulfillmentJobData>;
  const id = job.id ?? '';
  const read = readFulfillmentJobId(id);
  return {
    fulfillmentId: id,
    orderId: data.orderId ?? read?.orderId ?? '',
    shipmentId: data.shipmentId ?? read?.shipmentId ?? '',
    ...(data.shipper ? { shipper: data.shipper } : {}),
    ...(job.finishedOn ? { failedAt: new Date(job.finishedOn).toISOString() } : {}),
    attempts: job.attemptsMade,
    ...(job.failedReason ? { failedReason: job.failedReason } : {}),
    ...codeOf(job.failedReason),
  };
}

/** `{ holds }` of a held order's reason: each hold reason with its action. */
function holdsOf(failedReason: string | undefined): { holds?: Array<HoldReason & { action: string }> } {
  const failure = readFailure(failedReason);
  if (failure?.kind !== 'held') return {};
  return { holds: failure.reasons.map((r) => ({ ...r, action: CATALOGUE[r.code].action })) };
}

/** Reports progress of a long operation: done so far, of total. */
export type Progress = (done: number, total: number) => void;

/**
 * What operators do to a running pipeline, over the same Redis: look at one order, replay
 * failed work (after fixing its cause), purge what is old. Used by the CLI.
 */
export class Operations {
  private readonly queues = new Map<string, PartitionedQueue>();
  readonly ledger: DisclosureLedger;
  /** Where each order's jobs and keys are (`QUEUE_PARTITIONS`). */
  readonly keys: KeySpace;

  constructor(
    private readonly redis: RedisClient,
    /** The key prefix, or the partitioned key space the pipeline runs with. */
    prefix: string | KeySpace,
    private readonly config: Config,
  ) {
    this.keys = keySpaceOf(prefix);
    this.ledger = new DisclosureLedger(redis, { prefix: this.keys, retentionMs: config.store.retention.disclosuresMs });
  }

  /** The Redis connection, key space and configuration these operations use (for the console's queries). */
  get store(): { redis: RedisClient; keys: KeySpace; config: Config } {
    return { redis: this.redis, keys: this.keys, config: this.config };
  }

  /** A queue across every partition. */
  queue(name: string): PartitionedQueue {
    let q = this.queues.get(name);
    if (!q) {
      q = new PartitionedQueue(name, this.redis, this.keys);
      this.queues.set(name, q);
    }
    return q;
  }

  deliveryQueueNames(): string[] {
    return deliveryTargets(this.config).map((t) => deliveryQueueName(t.kind, t.recipient));
  }

  /** A fulfillment job by its id, in its order's partition of the `fulfillments` queue. */
  async findFulfillment(fulfillmentId: string): Promise<Job<FulfillmentJobData> | undefined> {
    const read = readFulfillmentJobId(fulfillmentId);
    if (read === undefined) return undefined;
    return (await this.queue(FULFILLMENTS_QUEUE).of(read.orderId).getJob(fulfillmentId)) as Job<FulfillmentJobData> | undefined;
  }

  /** Fulfillments failed for good, the newest `limit` across partitions, and how many there are. */
  async failedFulfillments(limit = 20): Promise<{ failed: FailedFulfillment[]; total: number }> {
    const q = this.queue(FULFILLMENTS_QUEUE);
    const [jobs, total] = await Promise.all([q.getFailed(0, limit - 1), q.getFailedCount()]);
    return { failed: jobs.map(failedFulfillmentOf), total };
  }

  /** Finds a delivery job by id in whichever recipient queue holds it. */
  async findDelivery(deliveryId: string): Promise<Job | undefined> {
    for (const name of this.deliveryQueueNames()) {
      const job = await this.queue(name).getJob(deliveryId);
      if (job) return job;
    }
    return undefined;
  }

  async orderStatus(orderId: string): Promise<OrderStatus> {
    const prefix = this.keys.forOrder(orderId);
    const orderJob = await this.queue(ORDERS_QUEUE).of(orderId).getJob(orderJobId(orderId));
    const cancelJob = await this.queue(ORDERS_QUEUE).of(orderId).getJob(cancelJobId(orderId));
    const disclosures = await this.ledger.forOrder(orderId);
    const trackingRaw = await this.redis.hgetall(markerKeys.tracking(prefix, orderId));
    const [cancelledRaw, manifestRaw] = await this.redis.mget(markerKeys.cancelled(prefix, orderId), markerKeys.manifest(prefix, orderId));
    const manifestDeliveries = manifestRaw ? (JSON.parse(manifestRaw) as { deliveries: Array<{ deliveryId: string; shipmentId?: string; kind?: string }> }).deliveries : [];
    const planned = manifestDeliveries.map((d) => d.deliveryId);
    // A purchase order waiting for its label has no job yet: its carrier request adds it once bought.
    const awaitingLabels = purchaseOrdersAwaitingLabels(manifestDeliveries);
    const waitsForLabel = (id: string) => awaitingLabels.has(id);
    const ids = new Set<string>([
      ...((orderJob?.returnvalue as { deliveries?: string[] } | null)?.deliveries ?? []),
      ...planned,
      ...((cancelJob?.returnvalue as { undo?: string[] } | null)?.undo ?? []),
      ...disclosures.map((d) => d.deliveryId),
    ]);
    // Deliveries whose jobs still exist but whose order job is gone: look for this order's ids.
    for (const name of this.deliveryQueueNames()) {
      for (const state of ['failed', 'delayed', 'waiting', 'active', 'waiting-children'] as const) {
        for (const job of await this.queue(name).of(orderId).getJobs([state], 0, 999)) {
          if (job.id?.startsWith(`${orderId}+`)) ids.add(job.id);
        }
      }
    }
    const deliveries: DeliveryStatus[] = [];
    for (const id of [...ids].sort()) {
      const job = await this.findDelivery(id);
      const delivered = disclosures.some((d) => d.deliveryId === id);
      const skipped = (job?.returnvalue as { skipped?: string } | null | undefined)?.skipped;
      deliveries.push({
        deliveryId: id,
        queue: job?.queueName ?? '(removed)',
        state: job ? await job.getState() : delivered ? 'delivered' : waitsForLabel(id) ? 'waiting for its label' : 'unknown',
        attempts: job?.attemptsMade ?? 0,
        ...(job?.failedReason ? { failedReason: job.failedReason } : {}),
        ...codeOf(job?.failedReason),
        ...(skipped ? { skipped } : {}),
      });
    }
    // An order waiting longer than completed jobs are kept has a record but no job: it is known.
    const record = await readRecord(this.redis, prefix, orderId);
    // An order that simply shipped was planned by the intake, with no order job (or its job
    // was removed after retention): its record says it was planned.
    const state = orderJob
      ? await orderJob.getState()
      : record?.stage === 'planned'
        ? 'completed'
        : ids.size > 0 || record !== undefined || (await this.redis.exists(markerKeys.orderSeen(prefix, orderId)))
        ? 'gone'
        : cancelledRaw
          ? 'cancelled before it arrived'
          : 'unknown';
    const cancelled = cancelledRaw ? (JSON.parse(cancelledRaw) as { at?: string; reason?: string }) : undefined;
    return {
      orderId,
      state,
      ...(record
        ? {
            stage: record.stage,
            ...(record.reasons.length > 0 ? { reasons: record.reasons.map((r) => ({ ...r, action: CATALOGUE[r.code].action })) } : {}),
            version: record.version,
            ...(record.at !== undefined ? { stageAt: record.at } : {}),
          }
        : {}),
      ...(orderJob?.failedReason ? { heldReason: orderJob.failedReason } : {}),
      ...holdsOf(orderJob?.failedReason),
      ...(cancelled ? { cancelled } : {}),
      deliveries,
      tracking: Object.entries(trackingRaw).map(([shipmentId, v]) => {
        const t = JSON.parse(v) as { carrier: string; trackingNumber: string; voidedAt?: string; lostAttemptAt?: string; labelRecovery?: LabelRecoveryOutcome };
        return {
          shipmentId,
          carrier: t.carrier,
          trackingNumber: t.trackingNumber,
          ...(t.voidedAt ? { voidedAt: t.voidedAt } : {}),
          ...(t.lostAttemptAt ? { lostAttemptAt: t.lostAttemptAt } : {}),
          ...(t.labelRecovery ? { labelRecovery: t.labelRecovery } : {}),
        };
      }),
      disclosures: disclosures.length,
    };
  }

  /**
   * Orders waiting for the store to release them (not paid yet), the oldest `limit`, each with
   * its reasons: they start on their own when a later event makes them ready.
   */
  async waitingOrders(limit = 100): Promise<Array<{ orderId: string; since: string; reasons: Array<{ code: string; message: string; action: string }> }>> {
    // Bounded like the held list: one command per partition for the page, one per order listed.
    const listed: Array<{ orderId: string; since: number; prefix: string }> = [];
    for (const prefix of this.keys.prefixes) {
      const entries = await this.redis.zrange(markerKeys.waitingOrders(prefix), '0', String(Math.max(0, limit - 1)), 'WITHSCORES');
      for (let i = 0; i + 1 < entries.length; i += 2) listed.push({ orderId: entries[i] ?? '', since: Number(entries[i + 1]), prefix });
    }
    listed.sort((a, b) => a.since - b.since);
    const out: Array<{ orderId: string; since: string; reasons: Array<{ code: string; message: string; action: string }> }> = [];
    for (const { orderId, since, prefix } of listed.slice(0, limit)) {
      const record = await readRecord(this.redis, prefix, orderId);
      // Listed, but no longer waiting (or expired): the index is cleaned as it is read.
      if (record?.stage !== 'waiting') {
        await this.redis.zrem(markerKeys.waitingOrders(prefix), orderId);
        continue;
      }
      out.push({ orderId, since: new Date(since).toISOString(), reasons: record.reasons.map((r) => ({ ...r, action: CATALOGUE[r.code].action })) });
    }
    return out;
  }

  /**
   * Labels bought after an attempt whose answer was lost (its worker died mid-request, or the
   * request timed out) when the carrier could not be asked about it first (`reason`): the
   * carrier may have sold a second label for the shipment, which nobody will use. Check the
   * carrier account around `lostAttemptAt` and void the extra one.
   */
  async unconfirmedLabels(): Promise<Array<UnconfirmedLabel & { deliveryId: string }>> {
    const all: Record<string, string> = {};
    for (const prefix of this.keys.prefixes) Object.assign(all, await this.redis.hgetall(markerKeys.unconfirmedLabels(prefix)));
    return Object.entries(all)
      .map(([deliveryId, v]) => ({ deliveryId, ...(JSON.parse(v) as UnconfirmedLabel) }))
      .sort((a, b) => a.lostAttemptAt.localeCompare(b.lostAttemptAt));
  }

  /**
   * For each supplier that confirms (`confirmations`): purchase orders sent and not yet
   * acknowledged or shipped, those older than its `expectWithin` (overdue, the oldest ids
   * listed), and those it rejected or backordered, for an operator. Entries older than the
   * retention (`retention.dedupe`) are dropped first. One transaction and ten reads per supplier.
   */
  async confirmationLag(now = Date.now(), list = 20): Promise<ConfirmationLag[]> {
    return Promise.all(
      this.config.suppliers
        .filter((s) => s.confirmations)
        .map(async (s) => {
          const awaiting = purchaseOrderListKey(this.keys, s.id, 'awaiting');
          const cutoff = now - s.confirmations!.expectWithinMs;
          const rejectedKey = purchaseOrderListKey(this.keys, s.id, 'rejected');
          const failuresKey = markerKeys.pickupFailures(this.keys.forSupplier(s.id), s.id);
          const backorderedKey = purchaseOrderListKey(this.keys, s.id, 'backordered');
          // Entries past retention leave the lists as they are read. By the real clock: `now`
          // may be a moment to come (what will be overdue then), and nothing is dropped early.
          await trimPurchaseOrderLists(this.redis, this.keys, this.config, s.id);
          const [count, overdue, oldest, overdueOrders, rejected, backordered, rejectedTotal, backorderedTotal, failedFiles, failedFilesTotal] = await Promise.all([
            this.redis.zcard(awaiting),
            this.redis.zcount(awaiting, '-inf', String(cutoff)),
            this.redis.zrange(awaiting, '0', '0', 'WITHSCORES'),
            this.redis.zrangebyscore(awaiting, '-inf', String(cutoff), 'LIMIT', 0, list),
            this.redis.zrevrange(rejectedKey, 0, list - 1),
            this.redis.zrevrange(backorderedKey, 0, list - 1),
            this.redis.zcard(rejectedKey),
            this.redis.zcard(backorderedKey),
            this.redis.lrange(failuresKey, 0, Math.min(list, 5) - 1),
            this.redis.llen(failuresKey),
          ]);
          const oldestAt = oldest[1] !== undefined ? new Date(Number(oldest[1])).toISOString() : undefined;
          return {
            supplierId: s.id,
            expectWithinMs: s.confirmations!.expectWithinMs,
            awaiting: count,
            overdue,
            overdueOrders,
            ...(oldestAt ? { oldestSentAt: oldestAt } : {}),
            rejected,
            backordered,
            rejectedTotal,
            backorderedTotal,
            failedFiles: failedFiles.map((raw) => JSON.parse(raw) as FailedConfirmationFile),
            failedFilesTotal,
          };
        }),
    );
  }

  /**
   * Takes labels off the unconfirmed list once an operator has checked the carrier account
   * (and voided any second label): the given delivery ids, or all. Returns those removed.
   */
  async acknowledgeLabels(deliveryIds: readonly string[] | 'all'): Promise<string[]> {
    const removed: string[] = [];
    for (const prefix of this.keys.prefixes) {
      const key = markerKeys.unconfirmedLabels(prefix);
      const listed = await this.redis.hkeys(key);
      const chosen = deliveryIds === 'all' ? listed : deliveryIds.filter((id) => listed.includes(id));
      if (chosen.length > 0) await this.redis.hdel(key, ...chosen);
      removed.push(...chosen);
    }
    return removed;
  }

  /**
   * Takes orders' purchase orders to `supplierId` off the lists an operator acts on
   * (unanswered, rejected, backordered) once someone has dealt with them (called the
   * supplier, shipped the lines from elsewhere, cancelled the order). Returns what was taken
   * off, and from which lists; an order on none is not in the answer. The orders' timelines
   * keep what the supplier said, and a later answer is recorded as usual.
   */
  async handled(orderIds: readonly string[], supplierId: string): Promise<HandledPurchaseOrder[]> {
    if (!this.config.suppliers.some((s) => s.id === supplierId && s.confirmations)) throw new Error(`no supplier "${supplierId}" that confirms is configured`);
    const out: HandledPurchaseOrder[] = [];
    for (const orderId of orderIds) {
      const lists = await forgetPurchaseOrder(this.redis, this.keys, supplierId, orderId);
      if (lists.length > 0) out.push({ supplierId, orderId, lists });
    }
    return out;
  }

  async disclosures(orderId: string): Promise<Disclosure[]> {
    return this.ledger.forOrder(orderId);
  }

  /**
   * Retries failed work: one delivery, every failed delivery of a recipient, one held order,
   * every held order, one fulfillment the store was to be told of, or every failed one. Held
   * orders are planned again with the workers' configuration, so restart the workers after
   * fixing it. Returns the ids retried.
   */
  async replay(
    target: { delivery: string } | { recipient: string } | { order: string } | { held: true } | { fulfillment: string } | { fulfillments: true },
    progress?: Progress,
  ): Promise<string[]> {
    let jobs: Job[];
    if ('fulfillment' in target) {
      const job = await this.findFulfillment(target.fulfillment);
      if (!job) throw new Error(`no fulfillment ${target.fulfillment} is kept (fulfillment ids read fulfil+ORDER+ORIGIN+N; dropship status ORDER_ID shows them)`);
      jobs = [job];
    } else if ('fulfillments' in target) {
      jobs = await this.queue(FULFILLMENTS_QUEUE).getFailed(0, -1);
    } else if ('delivery' in target) {
      const job = await this.findDelivery(target.delivery);
      if (!job) throw new Error(`no delivery ${target.delivery} is kept (delivered ones are removed after retention)`);
      jobs = [job];
    } else if ('order' in target) {
      const job = await this.queue(ORDERS_QUEUE).of(target.order).getJob(orderJobId(target.order));
      if (!job) throw new Error(`no order ${target.order} is kept`);
      jobs = [job];
    } else if ('recipient' in target) {
      const names = this.deliveryQueueNames().filter((n) => n === `po-${target.recipient}` || n === `carrier-${target.recipient}`);
      if (names.length === 0) throw new Error(`no supplier or carrier "${target.recipient}" is configured`);
      jobs = (await Promise.all(names.map((n) => this.queue(n).getFailed(0, -1)))).flat();
    } else {
      jobs = await this.queue(ORDERS_QUEUE).getFailed(0, -1);
    }
    const retried: string[] = [];
    for (const [i, job] of jobs.entries()) {
      if ((await job.getState()) === 'failed') {
        await job.retry('failed');
        retried.push(job.id ?? '');
      }
      progress?.(i + 1, jobs.length);
    }
    return retried;
  }

  /** Removes failed jobs older than `olderThanMs` from every queue; returns how many. */
  async purgeFailed(olderThanMs: number, progress?: Progress): Promise<number> {
    const names = [ORDERS_QUEUE, ...this.deliveryQueueNames(), FULFILLMENTS_QUEUE];
    let removed = 0;
    for (const [i, name] of names.entries()) {
      // clean() works in batches; repeat until a batch comes back short.
      for (;;) {
        const ids = await this.queue(name).clean(olderThanMs, 1000, 'failed');
        removed += ids.length;
        if (ids.length < 1000) break;
      }
      progress?.(i + 1, names.length);
    }
    return removed;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
