import { keySlot, SLOTS } from './key-slot';

/** Queue of accepted order events, one job per order. */
export const ORDERS_QUEUE = 'orders';

/**
 * One delivery queue per recipient, so a slow or failing supplier only ever waits on
 * itself (each queue has its own worker and concurrency).
 */
export function deliveryQueueName(kind: 'carrier' | 'dropship', recipient: string): string {
  return kind === 'carrier' ? `carrier-${recipient}` : `po-${recipient}`;
}

/** Job id of an order: the order id, so the same order twice is one job. */
export function orderJobId(orderId: string): string {
  return `order+${orderId}`;
}

/** Job id of an order's cancellation (on the orders queue): one per order. */
export function cancelJobId(orderId: string): string {
  return `cancel+${orderId}`;
}

/** Job names on the orders queue: an order to plan, and an order's cancellation. */
export const ORDER_JOB = 'order';
export const CANCEL_JOB = 'cancel';

/**
 * Job name of a planned delivery on its recipient's queue: its kind (`carrier`, `dropship`).
 * The worker tells it from the other jobs of the queue by their names.
 */
export function deliveryJobName(kind: 'carrier' | 'dropship'): string {
  return kind;
}

/** Job name on a carrier's queue: a bought label to void (its order was cancelled). */
export const VOID_JOB = 'void';

/** Job names on a batching supplier's queue: the timer's cut, and a cut batch to deliver. */
export const CUT_JOB = 'cut';
export const BATCH_JOB = 'batch';

/**
 * Keys outside BullMQ: short markers, never personal data. They outlive job retention so
 * a replayed event or delivery is recognised after its job is gone.
 */
export const markerKeys = {
  orderSeen: (prefix: string, orderId: string) => `${prefix}:seen:order:${orderId}`,
  /** The store's name for an order (Shopify's "#1001") → its id, for operators who search by name. */
  orderName: (prefix: string, name: string) => `${prefix}:order-name:${name}`,
  /**
   * The order's record (a hash, see `OrderRecord` in src/queue/order-record.ts): the version
   * accepted last, what became of it (queued, waiting, held, skipped, planned) and why, the
   * version planned and its sealed fingerprint; while it is not planned, its sealed data.
   */
  order: (prefix: string, orderId: string) => `${prefix}:order:${orderId}`,
  /** Orders waiting for the store to release them (score: when they started waiting, ms). */
  waitingOrders: (prefix: string) => `${prefix}:orders:waiting`,
  eventSeen: (prefix: string, source: string, eventId: string) => `${prefix}:seen:event:${source}:${eventId}`,
  delivered: (prefix: string, deliveryId: string) => `${prefix}:delivered:${deliveryId}`,
  /** Set when a purchase order was collected into its supplier's open batch. */
  collected: (prefix: string, deliveryId: string) => `${prefix}:collected:${deliveryId}`,
  /** Interchange control number counter of one supplier (X12). */
  controlNumber: (prefix: string, supplierId: string) => `${prefix}:control-number:${supplierId}`,
  /**
   * Tracking numbers per order: shipment id → `{ carrier, trackingNumber, shipmentNumber?,
   * at, voidedAt? }`.
   */
  tracking: (prefix: string, orderId: string) => `${prefix}:tracking:${orderId}`,
  /** Set when an order is cancelled: `{ at, reason? }`. Deliveries not yet made are then skipped. */
  cancelled: (prefix: string, orderId: string) => `${prefix}:cancelled:${orderId}`,
  /** The order's `OrderManifest` (ids, recipients, cancellation views; no customer data). */
  manifest: (prefix: string, orderId: string) => `${prefix}:manifest:${orderId}`,
  /**
   * Set while a label is being bought (`{ at }`): found again by a re-run, it means an earlier
   * attempt ended without an answer (its worker died, or the request timed out) and the
   * carrier may have sold a label no one heard of.
   */
  labelAttempt: (prefix: string, deliveryId: string) => `${prefix}:label-attempt:${deliveryId}`,
  /** Labels that may have been bought twice: delivery id → `UnconfirmedLabel`, for an operator to check. */
  unconfirmedLabels: (prefix: string) => `${prefix}:labels:unconfirmed`,
};

/** A label bought after an attempt whose answer was lost: the carrier may hold a second one. */
export interface UnconfirmedLabel {
  orderId: string;
  shipmentId: string;
  carrier: string;
  /** When the attempt without an answer started. */
  lostAttemptAt: string;
  /** When the next attempt started. */
  at: string;
}

/**
 * Partitions (Redis Cluster, `QUEUE_PARTITIONS`). Each order belongs to one partition
 * ({@link partitionIndex}); every queue and every key of a partition shares one hash tag, so
 * an order's flows, scripts and transactions never cross slots, while partitions spread over
 * the cluster's primaries. Every name above takes the partition's prefix
 * ({@link partitionPrefix}); with one partition on a single node that is the plain prefix,
 * the same keys as before partitions existed.
 */

/** FNV-1a (32 bits) of `text`: a stable hash, the same in every process and release. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The partition (0 ≤ n < count) of an order id, or of a supplier id for its batches. */
export function partitionIndex(id: string, count: number): number {
  return count <= 1 ? 0 : fnv1a(id) % count;
}

/**
 * The hash tag of partition `n` of `count`: the first of `p<n>`, `p<n>.1`, `p<n>.2`, … whose
 * hash slot lies in the n-th of `count` equal ranges of the 16384 slots. Primaries that split
 * the slots evenly (as `redis-cli --cluster create` does) then serve equal shares of the
 * partitions when `count` is a multiple of their number.
 */
export function partitionTag(n: number, count: number): string {
  const from = Math.floor((n * SLOTS) / count);
  const to = Math.floor(((n + 1) * SLOTS) / count);
  for (let k = 0; ; k++) {
    const tag = k === 0 ? `p${n}` : `p${n}.${k}`;
    const slot = keySlot(tag);
    if (slot >= from && slot < to) return tag;
  }
}

/**
 * The BullMQ prefix (and marker-key prefix) of partition `n`: `<prefix>:{<tag>}`, or the plain
 * prefix on a single node with one partition (`tagged` false).
 */
export function partitionPrefix(prefix: string, n: number, count: number, tagged: boolean): string {
  return tagged ? `${prefix}:{${partitionTag(n, count)}}` : prefix;
}

/** Keys about the whole deployment (single keys, any slot), under the plain prefix. */
export const metaKeys = {
  /** The partition count the queues were laid out with (`QUEUE_PARTITIONS`). */
  partitions: (prefix: string) => `${prefix}:meta:partitions`,
};
