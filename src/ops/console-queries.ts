import type { Job } from 'bullmq';
import type { SupplierKeyStatus, UnusableSupplierKey } from '../config/keys';
import { CATALOGUE, isCode, readFailure, type Code } from '../errors';
import type { Disclosure } from '../ledger/disclosure-ledger';
import { cancelJobId, deliveryQueueName, FULFILLMENTS_QUEUE, fulfillmentJobId, markerKeys, ORDERS_QUEUE, orderJobId, type UnconfirmedLabel } from '../queue/names';
import { normaliseCarrier } from '../core/confirmation';
import { type LoopRecord, parseLoop } from '../loop/record';
import { type ManifestShipment, type OrderManifest, purchaseOrdersAwaitingLabels } from '../planning/plan';
import { readRecord } from '../queue/order-record';
import { deliveryTargets } from '../transports/factory';
import type { ConfirmationLag, FailedFulfillment, Operations } from './operations';

/**
 * What the operator console (`/console`) reads: one order's timeline, the held orders and
 * failed deliveries, the suppliers and carriers. Every query reads a bounded number of keys
 * (an order's own keys and its deliveries' jobs, one page of a failed set, one entry per
 * queue): nothing here scans Redis, so a store with a million orders answers as fast as one
 * with ten. Kept apart from `Operations` (used by the CLI) and built on it.
 */

/** A reason in the catalogue's words: what went wrong and what an operator does about it. */
export interface ReasonInWords {
  /** The catalogue code, or undefined for a reason written otherwise (BullMQ's own, an unexpected error). */
  code?: string;
  /** The catalogue's message for the code; the raw reason when no code is known. */
  message: string;
  /** This case: which line, which method, the receiver's answer (never personal data). */
  detail?: string;
  /** What to do about it (the catalogue's `action`), when the catalogue has one. */
  action?: string;
}

/** Where one delivery of an order is: the stages that exist today. */
export type DeliveryStage = 'planned' | 'waiting for its label' | 'retrying' | 'sending' | 'sent' | 'failed' | 'skipped' | 'unknown';

export interface TimelineDelivery {
  deliveryId: string;
  shipmentId: string;
  recipient: string;
  kind: 'carrier' | 'dropship';
  queue: string;
  transport?: string;
  format?: string;
  /** Canonical field paths the payload carries (or carried, once sent). */
  fields: string[];
  stage: DeliveryStage;
  /** When it reached its stage (ISO 8601), when known. */
  at?: string;
  attempts: number;
  trackingNumber?: string;
  /** Why it failed (or is being retried), in words. */
  reason?: ReasonInWords;
  /** Why it completed without sending (`cancelled`, `delivered before`). */
  skipped?: string;
  /** Kept for replay: a failed delivery can be replayed from the console. */
  replayable: boolean;
}

/**
 * What happened to a shipment after its documents went out: the supplier's answers, what
 * shipped (carrier, tracking), and the store's fulfillment. Ids, carriers, tracking numbers,
 * statuses and the supplier's reason only.
 */
export interface ShipmentEvent {
  /**
   * What came back, or (`fulfillment failed`, `fulfillment retrying`) what became of telling
   * the store of a shipment: its fulfillment job failed for good, or is being tried again.
   */
  stage: 'acknowledged' | 'rejected' | 'backordered' | 'shipped' | 'fulfilled' | 'fulfillment failed' | 'fulfillment retrying' | 'refused';
  at: string;
  /** The supplier (or warehouse) it came from. */
  by: string;
  carrier?: string;
  trackingNumbers?: string[];
  trackingUrl?: string;
  /** Units shipped in it. */
  units?: number;
  /** The supplier's reason (a rejection, a backorder), or why a confirmation was refused. */
  reason?: string;
  /** `api`, `sftp`, `cxml`, or `label` (a label the store bought). */
  channel?: string;
  reference?: string;
  /** The store's fulfillment id, or that the store had it already. */
  storeFulfillmentId?: string;
  alreadyFulfilled?: boolean;
  /** The fulfillment's job id (`fulfil+<shipment id>+<event>`): what `dropship replay --fulfillment` takes. */
  fulfillmentId?: string;
  /** Why telling the store failed (or is being retried), in the catalogue's words. */
  failure?: ReasonInWords;
  /** Attempts made to tell the store. */
  attempts?: number;
  /** A failed fulfillment, kept for replay. */
  replayable?: boolean;
  /** A fulfillment the store made of fewer units than shipped (`reason` says which lines). */
  partial?: { fulfilled: number; requested: number };
}

/**
 * Where a shipment stands, furthest first: fulfilled in the store → shipped → acknowledged (or
 * not) → sent; `fulfillment failed` when the store could not be told of what shipped (an
 * operator fixes it in the store and replays the fulfillment).
 */
export type ShipmentStage = 'fulfillment failed' | 'fulfilled' | 'partly fulfilled' | 'shipped' | 'partly shipped' | 'rejected' | 'backordered' | 'acknowledged' | 'sent' | 'planned';

export interface OrderTimeline {
  orderId: string;
  /** The order's stage: received (waiting to be planned), waiting (for the store to release it), skipped (never ships), held, failed, planned, cancelled, or unknown. */
  stage: string;
  /** When the order was received and when it reached its stage, when known. */
  receivedAt?: string;
  at?: string;
  /** Why it is held or failed, each reason in the catalogue's words. */
  reasons: ReasonInWords[];
  /** Kept for replay (held or failed). */
  replayable: boolean;
  cancelled?: { at?: string; reason?: string };
  shipments: Array<{ shipmentId: string; stage: ShipmentStage; deliveries: TimelineDelivery[]; events: ShipmentEvent[] }>;
  disclosures: Disclosure[];
  tracking: Array<{ shipmentId: string; carrier: string; trackingNumber: string; at?: string; voidedAt?: string }>;
}

export interface HeldEntry {
  orderId: string;
  /** `order` to plan, or `cancellation`. */
  what: 'order' | 'cancellation';
  failedAt?: string;
  attempts: number;
  reasons: ReasonInWords[];
}

/** An order waiting for the store to release it (not paid yet): it starts on its own. */
export interface WaitingEntry {
  orderId: string;
  since: string;
  reasons: ReasonInWords[];
}

export interface FailedDelivery {
  deliveryId: string;
  orderId: string;
  queue: string;
  recipient: string;
  failedAt?: string;
  attempts: number;
  reason: ReasonInWords;
}

/** A fulfillment the store was to be told of that failed for good, for the held and failed page: why, in the catalogue's words. */
export type FailedFulfillmentEntry = Omit<FailedFulfillment, 'failedReason' | 'code'> & { reason: ReasonInWords };

export interface HeldPage {
  held: HeldEntry[];
  /** Every failed job of the orders queue (held orders and failed cancellations). */
  heldTotal: number;
  page: number;
  pageSize: number;
  /** Orders waiting for the store to release them, the oldest `pageSize`. */
  waiting: WaitingEntry[];
  /** Failed deliveries, at most `pageSize` per queue, with each queue's total. */
  failedDeliveries: FailedDelivery[];
  failedTotals: Array<{ queue: string; total: number }>;
  /** Fulfillments the store could not be told of (the newest `pageSize`), and how many failed. */
  failedFulfillments: FailedFulfillmentEntry[];
  failedFulfillmentsTotal: number;
}

export interface RecipientSummary {
  /** A supplier that confirms: its purchase orders awaiting an answer, overdue, rejected or backordered. */
  confirmations?: ConfirmationLag;
  recipient: string;
  kind: 'carrier' | 'dropship';
  queue: string;
  transport: string;
  /** When it last had a payload (ISO 8601), from the disclosure ledger. */
  lastDeliveryAt?: string;
  failures: number;
  /** Waiting, delayed or being sent now. */
  pending: number;
  key?: { fingerprint: string; expiresAt: string | null; daysUntilExpiry: number | null };
  keyProblem?: string;
}

/** Reasons of a failed job in words; a code the catalogue has always shows its words. */
export function reasonsInWords(failedReason: string | undefined): ReasonInWords[] {
  if (!failedReason) return [];
  const failure = readFailure(failedReason);
  if (failure?.kind === 'held') {
    return failure.reasons.map((r) => words(r.code, r.message));
  }
  if (failure?.kind === 'error') return [words(failure.code, failure.detail)];
  // A reason written by a newer worker (a code this reader's parser does not split out), or
  // BullMQ's own: a leading catalogue code still gets its words; anything else shows as is.
  const m = /^(?:held: )?([A-Z][A-Z_]*)(?:[: ]\s*([\s\S]*))?$/.exec(failedReason);
  const code = m?.[1];
  if (code !== undefined && isCode(code)) return [words(code, m?.[2] ?? '')];
  return [{ message: failedReason }];
}

function words(code: Code, detail: string): ReasonInWords {
  const entry: { message: string; action?: string } = CATALOGUE[code];
  const trimmed = detail.trim();
  return {
    code,
    message: entry.message,
    ...(trimmed && trimmed !== entry.message ? { detail: trimmed } : {}),
    ...(entry.action ? { action: entry.action } : {}),
  };
}

const iso = (ms: number | undefined): string | undefined => (ms ? new Date(ms).toISOString() : undefined);

/** The order id of an orders-queue job id (`order+1001`, `cancel+1001`). */
function orderIdOf(jobId: string): { orderId: string; what: 'order' | 'cancellation' } {
  if (jobId.startsWith('cancel+')) return { orderId: jobId.slice('cancel+'.length), what: 'cancellation' };
  return { orderId: jobId.startsWith('order+') ? jobId.slice('order+'.length) : jobId, what: 'order' };
}

/** Clear ids a delivery job carries (the payload itself is sealed). */
interface DeliveryIds {
  shipmentId?: string;
  recipient?: string;
  kind?: 'carrier' | 'dropship';
  transport?: string;
  format?: string;
  fields?: string[];
}

export class ConsoleQueries {
  constructor(
    private readonly ops: Operations,
    private readonly options: {
      /** Supplier PGP keys as checked at start-up; their days to expiry are counted again on each read. */
      keys?: readonly SupplierKeyStatus[];
      unusableKeys?: readonly UnusableSupplierKey[];
      /** The clock, in ms. @defaultValue Date.now */
      now?: () => number;
    } = {},
  ) {}

  /** Whether anything is known about the order: its job, its plan, its disclosures, or its seen marker. */
  async exists(orderId: string): Promise<boolean> {
    const { redis, keys } = this.ops.store;
    const prefix = keys.forOrder(orderId);
    const n = await redis.exists(
      `${prefix}:${ORDERS_QUEUE}:${orderJobId(orderId)}`,
      markerKeys.manifest(prefix, orderId),
      markerKeys.orderSeen(prefix, orderId),
      markerKeys.cancelled(prefix, orderId),
      markerKeys.order(prefix, orderId),
      `${prefix}:disclosures:${orderId}`,
    );
    return n > 0;
  }

  /**
   * The id of the order the store calls `name` (Shopify's "#1001", or with the store's own
   * prefix), as recorded when the order came in; "1001" also finds "#1001". One or two keys
   * per partition: the name is kept in its order's partition, which the name does not tell.
   */
  async orderIdByName(name: string): Promise<string | undefined> {
    const { redis, keys } = this.ops.store;
    const candidates = name.startsWith('#') ? [name] : [name, `#${name}`];
    for (const prefix of keys.prefixes) {
      const found = (await redis.mget(...candidates.map((n) => markerKeys.orderName(prefix, n)))).find((id): id is string => id !== null);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** One order's timeline: a fixed number of keys, plus one job per delivery of the order. */
  async timeline(orderId: string): Promise<OrderTimeline | undefined> {
    const { redis, keys } = this.ops.store;
    const prefix = keys.forOrder(orderId);
    const orders = this.ops.queue(ORDERS_QUEUE).of(orderId);
    const [orderJob, cancelJob, disclosures, trackingRaw, [cancelledRaw, manifestRaw, seen], record, loopRaw] = await Promise.all([
      orders.getJob(orderJobId(orderId)),
      orders.getJob(cancelJobId(orderId)),
      this.ops.ledger.forOrder(orderId),
      redis.hgetall(markerKeys.tracking(prefix, orderId)),
      redis.mget(markerKeys.cancelled(prefix, orderId), markerKeys.manifest(prefix, orderId), markerKeys.orderSeen(prefix, orderId)),
      readRecord(redis, prefix, orderId),
      redis.hgetall(markerKeys.loop(prefix, orderId)),
    ]);
    if (!orderJob && !cancelJob && !manifestRaw && !seen && !cancelledRaw && !record && disclosures.length === 0) return undefined;

    // Every delivery of the order, with the queue that holds it: from the plan, the ledger and
    // the order job's result, so each is one lookup in a known queue.
    const planned = new Map<string, { shipmentId: string; recipient: string; kind: 'carrier' | 'dropship' }>();
    const manifest = manifestRaw ? (JSON.parse(manifestRaw) as OrderManifest) : undefined;
    for (const d of manifest?.deliveries ?? []) planned.set(d.deliveryId, d);
    const manifestShipments = manifest?.shipments ?? [];
    const loop = parseLoop(loopRaw);
    // A shipment the store has not acknowledged: its fulfillment job says why (failed, or
    // being retried). One job per such shipment, in the order's partition.
    const fulfillments = new Map<number, { job: Job; state: string }>();
    await Promise.all(
      loop.events.map(async (e) => {
        if (e.kind !== 'shipped' || e.fulfilled) return;
        const job = await this.ops.queue(FULFILLMENTS_QUEUE).of(orderId).getJob(fulfillmentJobId(e.shipmentId, e.n));
        if (job) fulfillments.set(e.n, { job, state: await job.getState() });
      }),
    );
    for (const d of disclosures) if (!planned.has(d.deliveryId)) planned.set(d.deliveryId, { shipmentId: shipmentOf(d.deliveryId), recipient: d.recipient, kind: d.kind });
    const tracking = Object.entries(trackingRaw).map(([shipmentId, v]) => {
      const t = JSON.parse(v) as { carrier: string; trackingNumber: string; at?: string; voidedAt?: string };
      return { shipmentId, carrier: t.carrier, trackingNumber: t.trackingNumber, ...(t.at ? { at: t.at } : {}), ...(t.voidedAt ? { voidedAt: t.voidedAt } : {}) };
    });

    const awaitingLabels = purchaseOrdersAwaitingLabels([...planned.entries()].map(([deliveryId, p]) => ({ deliveryId, ...p })));
    const deliveries = await Promise.all(
      [...planned.entries()].map(async ([deliveryId, p]): Promise<TimelineDelivery> => {
        const queue = deliveryQueueName(p.kind, p.recipient);
        // Every delivery of the order is in its partition.
        const job = await this.ops.queue(queue).of(orderId).getJob(deliveryId);
        const disclosed = disclosures.find((d) => d.deliveryId === deliveryId);
        const ids = (job?.data ?? {}) as DeliveryIds;
        const state = job ? await job.getState() : undefined;
        const skipped = (job?.returnvalue as { skipped?: string } | null | undefined)?.skipped;
        // A purchase order waiting for its label is added by its carrier request once bought.
        const waitsForLabel = !job && !disclosed && awaitingLabels.has(deliveryId);
        const stage = waitsForLabel ? 'waiting for its label' : stageOf(state, job, Boolean(disclosed), skipped);
        const reasons = reasonsInWords(job?.failedReason);
        const track = p.kind === 'carrier' ? tracking.find((t) => t.shipmentId === p.shipmentId && !t.voidedAt) : undefined;
        const transport = disclosed?.transport ?? ids.transport;
        const format = disclosed?.format ?? ids.format;
        const at = disclosed?.deliveredAt ?? iso(job?.finishedOn ?? job?.processedOn ?? job?.timestamp);
        return {
          deliveryId,
          shipmentId: p.shipmentId,
          recipient: p.recipient,
          kind: p.kind,
          queue,
          ...(transport ? { transport } : {}),
          ...(format ? { format } : {}),
          fields: disclosed?.fields ?? ids.fields ?? [],
          stage,
          ...(at ? { at } : {}),
          attempts: job?.attemptsMade ?? 0,
          ...(track ? { trackingNumber: track.trackingNumber } : {}),
          ...(reasons[0] && (stage === 'failed' || stage === 'retrying') ? { reason: reasons[0] } : {}),
          ...(skipped ? { skipped } : {}),
          replayable: state === 'failed',
        };
      }),
    );
    const shipments = new Map<string, TimelineDelivery[]>();
    for (const d of deliveries.sort((a, b) => a.deliveryId.localeCompare(b.deliveryId))) {
      shipments.set(d.shipmentId, [...(shipments.get(d.shipmentId) ?? []), d]);
    }

    const orderState = orderJob ? await orderJob.getState() : undefined;
    const cancelled = cancelledRaw ? (JSON.parse(cancelledRaw) as { at?: string; reason?: string }) : undefined;
    // Not ready to ship (waiting for the store) or never to ship (skipped): the order's record
    // says so and why; its job completed without planning anything.
    const decided = orderState !== 'failed' && (record?.stage === 'waiting' || record?.stage === 'skipped') && planned.size === 0 ? record : undefined;
    const reasons = orderState === 'failed' ? reasonsInWords(orderJob?.failedReason) : decided ? decided.reasons.map((r) => words(r.code, r.message)) : [];
    const held = orderJob?.failedReason?.startsWith('held: ') ?? false;
    const stage = decided
      ? decided.stage
      : orderState === 'failed'
        ? held
          ? 'held'
          : 'failed'
        : cancelled
          ? 'cancelled'
          : orderState === 'completed' || planned.size > 0
            ? 'planned'
            : orderState === 'waiting' || orderState === 'delayed' || orderState === 'active' || orderState === 'prioritized'
              ? 'received'
              : (orderState ?? (seen ? 'planned' : 'unknown'));
    // An order the intake planned itself has no order job: its record says when.
    const receivedAt = iso(orderJob?.timestamp) ?? (orderJob ? undefined : record?.at);
    const at = cancelled?.at ?? iso(orderJob?.finishedOn) ?? (orderJob ? undefined : record?.at);
    return {
      orderId,
      stage,
      ...(receivedAt ? { receivedAt } : {}),
      ...(at ? { at } : {}),
      reasons,
      replayable: orderState === 'failed',
      ...(cancelled ? { cancelled } : {}),
      shipments: [...shipments.entries()].map(([shipmentId, ds]) => {
        const manifested = manifestShipments.find((m) => m.shipmentId === shipmentId);
        const events = shipmentEvents(loop, shipmentId, manifested, tracking, fulfillments);
        return { shipmentId, stage: shipmentStage(ds, events, manifested, loop.shipped), deliveries: ds, events };
      }),
      disclosures,
      tracking,
    };
  }

  /**
   * Held orders (one page of the orders queue's failed set, newest first) and failed
   * deliveries (the newest `pageSize` of each recipient's queue, with its total).
   */
  async held(page = 1, pageSize = 50): Promise<HeldPage> {
    const waiting: WaitingEntry[] = (await this.ops.waitingOrders(pageSize)).map((w) => ({ orderId: w.orderId, since: w.since, reasons: w.reasons.map((r) => words(r.code as Code, r.message)) }));
    const orders = this.ops.queue(ORDERS_QUEUE);
    const start = (Math.max(1, page) - 1) * pageSize;
    const [jobs, heldTotal] = await Promise.all([orders.getFailed(start, start + pageSize - 1), orders.getFailedCount()]);
    const held: HeldEntry[] = jobs.map((job) => {
      const failedAt = iso(job.finishedOn);
      return { ...orderIdOf(job.id ?? ''), ...(failedAt ? { failedAt } : {}), attempts: job.attemptsMade, reasons: reasonsInWords(job.failedReason) };
    });
    const queues = this.ops.deliveryQueueNames();
    const perQueue = await Promise.all(
      queues.map(async (queue) => {
        const q = this.ops.queue(queue);
        const [failed, total] = await Promise.all([q.getFailed(0, pageSize - 1), q.getFailedCount()]);
        return { queue, total, failed };
      }),
    );
    const failedDeliveries = perQueue.flatMap(({ queue, failed }) =>
      failed.map((job): FailedDelivery => {
        const data = (job.data ?? {}) as DeliveryIds & { orderId?: string };
        const failedAt = iso(job.finishedOn);
        return {
          deliveryId: job.id ?? '',
          orderId: data.orderId ?? (job.id ?? '').split('+')[0] ?? '',
          queue,
          recipient: data.recipient ?? queue.replace(/^(po|carrier)-/, ''),
          ...(failedAt ? { failedAt } : {}),
          attempts: job.attemptsMade,
          reason: reasonsInWords(job.failedReason)[0] ?? { message: 'failed' },
        };
      }),
    );
    const fulfillments = await this.ops.failedFulfillments(pageSize);
    const failedFulfillments = fulfillments.failed.map(
      ({ failedReason, code: _code, ...f }): FailedFulfillmentEntry => ({ ...f, reason: reasonsInWords(failedReason)[0] ?? { message: 'failed' } }),
    );
    return {
      held,
      heldTotal,
      page: Math.max(1, page),
      pageSize,
      waiting,
      failedDeliveries,
      failedTotals: perQueue.map(({ queue, total }) => ({ queue, total })),
      failedFulfillments,
      failedFulfillmentsTotal: fulfillments.total,
    };
  }

  /** Every supplier and carrier: its last delivery, failures, pending work, PGP key and confirmation lag. */
  async recipients(): Promise<RecipientSummary[]> {
    const config = this.ops.store.config;
    const lastDelivered = await this.ops.ledger.lastByRecipient();
    const now = this.options.now?.() ?? Date.now();
    const lag = await this.ops.confirmationLag(now, 5);
    return Promise.all(
      deliveryTargets(config).map(async (t): Promise<RecipientSummary> => {
        const queue = deliveryQueueName(t.kind, t.recipient);
        const q = this.ops.queue(queue);
        const counts = await q.getJobCounts('failed', 'waiting', 'delayed', 'active', 'waiting-children');
        const lastDeliveryAt = lastDelivered[`${t.kind}:${t.recipient}`];
        const supplier = t.kind === 'dropship' ? config.suppliers.find((s) => s.id === t.recipient) : undefined;
        const key = this.options.keys?.find((k) => k.supplierId === t.recipient);
        const keyProblem = this.options.unusableKeys?.find((k) => k.supplierId === t.recipient)?.problem;
        return {
          recipient: t.recipient,
          kind: t.kind,
          queue,
          transport: supplier ? supplier.delivery.transport : 'https',
          ...(lastDeliveryAt ? { lastDeliveryAt } : {}),
          failures: counts.failed ?? 0,
          pending: (counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.active ?? 0) + (counts['waiting-children'] ?? 0),
          ...(key ? { key: { fingerprint: key.fingerprint, expiresAt: key.expiresAt, daysUntilExpiry: daysUntil(key.expiresAt, now) } } : {}),
          ...(keyProblem ? { keyProblem } : {}),
          ...(supplier?.confirmations ? { confirmations: lag.find((l) => l.supplierId === supplier.id)! } : {}),
        };
      }),
    );
  }

  /** Labels that may have been bought twice (`Operations.unconfirmedLabels`). */
  unconfirmedLabels(): Promise<Array<UnconfirmedLabel & { deliveryId: string }>> {
    return this.ops.unconfirmedLabels();
  }

  /** Replays a held or failed order, a failed delivery or a failed fulfillment; returns the job ids retried. */
  replay(target: { order: string } | { delivery: string } | { fulfillment: string }): Promise<string[]> {
    return this.ops.replay(target);
  }

  /** The order job's data (sealed), or the intake's copy of an order it planned itself, for the unmasked console. */
  async orderJobData(orderId: string): Promise<unknown> {
    const job = await this.ops.queue(ORDERS_QUEUE).of(orderId).getJob(orderJobId(orderId));
    if (job) return job.data;
    const { redis, keys } = this.ops.store;
    const sealed = await redis.get(markerKeys.orderCopy(keys.forOrder(orderId), orderId));
    return sealed === null ? undefined : { orderId, sealed };
  }
}

/** Whole days from `now` to `expiresAt` (as the key check counts them), or null for a key that never expires. */
function daysUntil(expiresAt: string | null, now: number): number | null {
  return expiresAt === null ? null : Math.floor((Date.parse(expiresAt) - now) / 86_400_000);
}

/** A delivery id is `<shipmentId>+po` or `<shipmentId>+carrier`: its shipment, when the plan is gone. */
function shipmentOf(deliveryId: string): string {
  const cut = deliveryId.lastIndexOf('+');
  return cut > 0 ? deliveryId.slice(0, cut) : deliveryId;
}

function stageOf(state: string | undefined, job: Job | undefined, disclosed: boolean, skipped: string | undefined): DeliveryStage {
  if (skipped) return 'skipped';
  if (disclosed || state === 'completed') return 'sent';
  switch (state) {
    case 'failed':
      return 'failed';
    case 'waiting-children':
      return 'waiting for its label';
    case 'active':
      return 'sending';
    case 'delayed':
      return (job?.attemptsMade ?? 0) > 0 ? 'retrying' : 'planned';
    case 'waiting':
    case 'prioritized':
    case 'waiting-children-retry':
      return 'planned';
    default:
      return 'unknown';
  }
}

/** A shipment's events from the order's loop; a warehouse label with nothing recorded (no store platform) shipped when bought. */
function shipmentEvents(
  loop: LoopRecord,
  shipmentId: string,
  shipment: ManifestShipment | undefined,
  tracking: OrderTimeline['tracking'],
  fulfillments: ReadonlyMap<number, { job: Job; state: string }>,
): ShipmentEvent[] {
  const out: ShipmentEvent[] = [];
  for (const e of loop.events) {
    if (e.kind === 'refused') {
      if (shipment?.origin === 'supplier' && shipment.shipper === e.supplierId) {
        out.push({ stage: 'refused', at: e.at, by: e.supplierId, reason: `${e.what} refused: ${e.problems.join('; ')}`, channel: e.channel, ...(e.reference ? { reference: e.reference } : {}) });
      }
      continue;
    }
    if (e.shipmentId !== shipmentId) continue;
    const ref = e.reference ? { reference: e.reference } : {};
    if (e.kind === 'acknowledged') {
      out.push({ stage: e.status === 'accepted' ? 'acknowledged' : e.status, at: e.at, by: e.supplierId, ...(e.reason ? { reason: e.reason } : {}), channel: e.channel, ...ref });
      continue;
    }
    out.push({
      stage: 'shipped',
      at: e.shippedAt ?? e.at,
      by: e.shipper,
      carrier: e.carrier,
      trackingNumbers: e.trackingNumbers,
      ...(e.trackingUrl ? { trackingUrl: e.trackingUrl } : {}),
      units: Object.values(e.lines).reduce((a, b) => a + b, 0),
      channel: e.channel,
      ...ref,
    });
    if (e.fulfilled) {
      out.push({
        stage: 'fulfilled',
        at: e.fulfilled.at,
        by: e.shipper,
        trackingNumbers: e.trackingNumbers,
        ...(e.fulfilled.storeFulfillmentId ? { storeFulfillmentId: e.fulfilled.storeFulfillmentId } : {}),
        ...(e.fulfilled.alreadyFulfilled ? { alreadyFulfilled: true } : {}),
        // The store fulfilled fewer units than shipped (it had the rest fulfilled already).
        ...(e.fulfilled.partial ? { partial: e.fulfilled.partial, reason: e.fulfilled.detail ?? `fulfilled in part: ${e.fulfilled.partial.fulfilled} of ${e.fulfilled.partial.requested} units` } : {}),
      });
      continue;
    }
    const f = fulfillments.get(e.n);
    const retrying = f?.state === 'delayed' && f.job.attemptsMade > 0;
    if (f && (f.state === 'failed' || retrying)) {
      const failure = reasonsInWords(f.job.failedReason)[0];
      const at = iso(f.job.finishedOn ?? f.job.processedOn ?? f.job.timestamp);
      out.push({
        stage: f.state === 'failed' ? 'fulfillment failed' : 'fulfillment retrying',
        at: at ?? '',
        by: e.shipper,
        trackingNumbers: e.trackingNumbers,
        fulfillmentId: f.job.id ?? fulfillmentJobId(e.shipmentId, e.n),
        ...(failure ? { failure } : {}),
        attempts: f.job.attemptsMade,
        ...(f.state === 'failed' ? { replayable: true } : {}),
      });
    }
  }
  if (shipment?.origin === 'warehouse' && !out.some((e) => e.stage === 'shipped')) {
    const label = tracking.find((t) => t.shipmentId === shipmentId && !t.voidedAt);
    if (label) out.push({ stage: 'shipped', at: label.at ?? '', by: shipment.shipper, carrier: normaliseCarrier(label.carrier).company, trackingNumbers: [label.trackingNumber], units: shipment.lines.reduce((a, l) => a + l.quantity, 0), channel: 'label' });
  }
  return out;
}

/** The furthest a shipment got. */
function shipmentStage(deliveries: readonly TimelineDelivery[], events: readonly ShipmentEvent[], shipment: ManifestShipment | undefined, shipped: Record<string, number>): ShipmentStage {
  const lines = shipment?.lines ?? [];
  const all = lines.length > 0 && lines.every((l) => (shipped[l.lineId] ?? 0) >= l.quantity);
  const shippedEvents = events.filter((e) => e.stage === 'shipped');
  const fulfilled = events.filter((e) => e.stage === 'fulfilled').length;
  const fulfilledInPart = events.some((e) => e.stage === 'fulfilled' && e.partial !== undefined);
  // What shipped that the store refused (or never heard of) is what an operator must act on.
  if (events.some((e) => e.stage === 'fulfillment failed')) return 'fulfillment failed';
  if (shippedEvents.length > 0) {
    const whole = all || (shipment?.origin === 'warehouse' && shippedEvents.some((e) => e.channel === 'label'));
    if (fulfilled > 0) return fulfilled === shippedEvents.length && whole && !fulfilledInPart ? 'fulfilled' : 'partly fulfilled';
    return whole ? 'shipped' : 'partly shipped';
  }
  const answer = [...events].reverse().find((e) => e.stage === 'acknowledged' || e.stage === 'rejected' || e.stage === 'backordered');
  if (answer) return answer.stage as ShipmentStage;
  return deliveries.length > 0 && deliveries.every((d) => d.stage === 'sent') ? 'sent' : 'planned';
}
