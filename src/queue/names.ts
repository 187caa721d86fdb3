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

/** Queue of fulfillments to tell the store about (one job per shipment confirmed or label bought). */
export const FULFILLMENTS_QUEUE = 'fulfillments';
export const FULFIL_JOB = 'fulfil';

/** Queue of scheduled pickups of suppliers' confirmation files (one scheduler per supplier). */
export const PICKUPS_QUEUE = 'confirmation-pickups';
export const PICKUP_JOB = 'pickup';

/** Job id of a fulfillment: the shipment and the number of the confirmation it tells of. */
export function fulfillmentJobId(shipmentId: string, seq: number): string {
  return `fulfil+${shipmentId}+${seq}`;
}

/**
 * The shipment and order of a {@link fulfillmentJobId} (`fulfil+<order id>+<origin>+<n>`: a
 * shipment id is the order id and its origin), or undefined for an id of another shape.
 */
export function readFulfillmentJobId(fulfillmentId: string): { shipmentId: string; orderId: string } | undefined {
  const parts = fulfillmentId.split('+');
  if (parts[0] !== 'fulfil' || parts.length < 4 || !/^\d+$/.test(parts.at(-1) ?? '')) return undefined;
  return { shipmentId: parts.slice(1, -1).join('+'), orderId: parts.slice(1, -2).join('+') };
}

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
  /**
   * Orders planned by the intake whose deliveries it has not yet confirmed queued (score: when
   * accepted, ms). An entry left behind (its intake died between the two) is planned again by
   * an order worker; see `OrderIntake`.
   */
  planning: (prefix: string) => `${prefix}:orders:planning`,
  /**
   * The sealed order as accepted, for the unmasked console, kept as long as a completed order
   * job would have been (`retention.completedJobsMs`): an order planned by the intake has none.
   */
  orderCopy: (prefix: string, orderId: string) => `${prefix}:order-copy:${orderId}`,
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
   * Set while a label is being bought (`{ at, since? }`, `since` the first attempt that got no
   * answer when there was one): found again by a re-run, it means an earlier
   * attempt ended without an answer (its worker died, or the request timed out) and the
   * carrier may have sold a label no one heard of: the carrier is asked by the label's
   * reference before one is bought again.
   */
  labelAttempt: (prefix: string, deliveryId: string) => `${prefix}:label-attempt:${deliveryId}`,
  /**
   * Labels that may have been bought twice (the carrier could not be asked about a lost
   * attempt's label before one was bought again): delivery id → `UnconfirmedLabel`, for an
   * operator to check.
   */
  unconfirmedLabels: (prefix: string) => `${prefix}:labels:unconfirmed`,
  /**
   * What came back about an order (a hash, see src/loop/record.ts): quantities shipped per
   * line, each supplier's latest acknowledgement, the confirmations seen (for exactly once),
   * the timeline's events, the fulfillments the store acknowledged. Ids, SKUs, carriers and
   * tracking numbers only.
   */
  loop: (prefix: string, orderId: string) => `${prefix}:loop:${orderId}`,
  /** A supplier's purchase orders sent and not yet acknowledged or shipped (score: sent at, ms). */
  unconfirmed: (prefix: string, supplierId: string) => `${prefix}:po:unconfirmed:${supplierId}`,
  /** A supplier's purchase orders it rejected or backordered, for an operator (score: at, ms; member: order id). */
  attention: (prefix: string, supplierId: string, status: 'rejected' | 'backordered') => `${prefix}:po:${status}:${supplierId}`,
  /**
   * A supplier's confirmation file claimed by a pickup run (`file`: `<name>:<size>:<mtime ms>`;
   * value: the run's token; it expires after the lease, renewed while the file is worked on, and
   * is deleted once the file is done or left), the sha256 of files already processed, and the supplier's recent failed files
   * (a capped list of `PickupFailure`, newest first; see src/loop/pickup.ts), and how many runs
   * failed on a file (`file` as for the claim) for another reason than its content or the link.
   */
  pickupClaim: (prefix: string, supplierId: string, file: string) => `${prefix}:pickup:claim:${supplierId}:${file}`,
  pickupSeen: (prefix: string, supplierId: string, sha256: string) => `${prefix}:pickup:seen:${supplierId}:${sha256}`,
  pickupFailures: (prefix: string, supplierId: string) => `${prefix}:pickup:failed:${supplierId}`,
  pickupAttempts: (prefix: string, supplierId: string, file: string) => `${prefix}:pickup:attempts:${supplierId}:${file}`,
};

/**
 * After a label purchase whose answer was lost, what the carrier said when asked before one
 * was bought again: the label it had sold was taken as it was (`reused`), the shipments it
 * held were cancelled and the label bought again (`cancelled`), or it held none (`none found`).
 */
export type LabelRecoveryOutcome = 'reused' | 'cancelled' | 'none found';

/** A label bought after an attempt whose answer was lost, the carrier not asked or not answering: it may hold a second one. */
export interface UnconfirmedLabel {
  orderId: string;
  shipmentId: string;
  carrier: string;
  /** When the attempt without an answer started. */
  lostAttemptAt: string;
  /** When the next attempt started. */
  at: string;
  /** Why the carrier was not asked, or could not answer, whether it sold the label then. */
  reason?: string;
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
