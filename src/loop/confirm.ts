import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../queue/redis';
import { type KeySpace, keySpaceOf } from '../queue/partitions';
import type { Config } from '../config/config';
import { allocateShipment, checkAcknowledgedLines, type Confirmation, type ConfirmationOrigin, normaliseCarrier, type SentLine } from '../core/confirmation';
import type { ManifestShipment, OrderManifest } from '../planning/plan';
import { markerKeys } from '../queue/names';
import { enqueueFulfillment, type FulfillmentJobData, type FulfillmentJobResult } from './fulfillments';
import type { LoopEvent, LoopStore } from './record';

/**
 * Takes a supplier's confirmation (from the API, a file on its SFTP server, cXML) into the
 * order's loop: checks that the supplier was sent a purchase order for the order, that the
 * lines it names were on it and that no more ships than was sent; records it once; and, for
 * a shipment, queues the fulfillment the store is told of. The same confirmation again
 * changes nothing (and queues nothing new).
 */

/** What became of a confirmation. */
export type ConfirmOutcome =
  /** Recorded (`duplicate`: it had been, as event `n`). */
  | { status: 'recorded'; n: number; duplicate: boolean; fulfillment?: string }
  /** No purchase order of this supplier for this order was sent: the same answer whether or not the order exists. */
  | { status: 'not-found' }
  /** It contradicts what was sent or already confirmed; recorded as refused. */
  | { status: 'conflict'; problems: string[] };

export interface ConfirmDeps {
  redis: RedisClient;
  /** A plain prefix, or the partitions: an order's keys live in its partition, a supplier's in its own. */
  prefix: string | KeySpace;
  config: Config;
  loop: LoopStore;
  /** The fulfillments queue of an order (its partition's), when a store platform is configured (`store.platform`). */
  fulfillments?: Queue<FulfillmentJobData, FulfillmentJobResult> | ((orderId: string) => Queue<FulfillmentJobData, FulfillmentJobResult>);
  now?: () => Date;
}

/**
 * A confirming supplier's lists of purchase orders, for operators (`dropship status`, the
 * console's suppliers page, `dropship_purchase_orders_unanswered`): `awaiting` (sent, neither
 * acknowledged nor shipped; score: when sent), `rejected` and `backordered` (score: when the
 * supplier said so). Each lives in the supplier's partition (its hash tag on a cluster), so
 * one transaction reaches all three.
 */
export const PURCHASE_ORDER_LISTS = ['awaiting', 'rejected', 'backordered'] as const;
export type PurchaseOrderList = (typeof PURCHASE_ORDER_LISTS)[number];

/** The key of one of a supplier's lists. */
export function purchaseOrderListKey(keys: KeySpace, supplierId: string, list: PurchaseOrderList): string {
  const prefix = keys.forSupplier(supplierId);
  return list === 'awaiting' ? markerKeys.unconfirmed(prefix, supplierId) : markerKeys.attention(prefix, supplierId, list);
}

/**
 * How long an entry stays on a list: as long as the order's manifest and delivered marks
 * (`retention.dedupe`). After that the supplier can no longer confirm the order (it is not
 * found), so an entry could never leave the list otherwise.
 */
export function listRetentionMs(config: Config): number {
  return config.store.retention.dedupeMs;
}

/** Drops the entries older than the retention from a supplier's three lists (one transaction, one slot). */
export async function trimPurchaseOrderLists(redis: RedisClient, keys: KeySpace, config: Config, supplierId: string, now = Date.now()): Promise<void> {
  const cutoff = String(now - listRetentionMs(config));
  const multi = redis.multi();
  for (const list of PURCHASE_ORDER_LISTS) multi.zremrangebyscore(purchaseOrderListKey(keys, supplierId, list), '-inf', cutoff);
  await multi.exec();
}

/** Takes an order off a supplier's lists (all three, or those named); returns the lists it was on. */
export async function forgetPurchaseOrder(redis: RedisClient, keys: KeySpace, supplierId: string, orderId: string, lists: readonly PurchaseOrderList[] = PURCHASE_ORDER_LISTS): Promise<PurchaseOrderList[]> {
  const multi = redis.multi();
  for (const list of lists) multi.zrem(purchaseOrderListKey(keys, supplierId, list), orderId);
  const replies = (await multi.exec()) ?? [];
  return lists.filter((_, i) => Number(replies[i]?.[1] ?? 0) > 0);
}

/**
 * A cancelled order ships nothing: its purchase orders are no longer awaited, nor anything
 * for an operator to act on. Takes it off the lists of each confirming supplier its manifest
 * sent a purchase order to. Run after the order's cancelled mark is set (see `afterDelivery`).
 */
export async function forgetCancelledOrder(redis: RedisClient, prefix: string | KeySpace, config: Config, orderId: string): Promise<void> {
  const keys = keySpaceOf(prefix);
  const raw = await redis.get(markerKeys.manifest(keys.forOrder(orderId), orderId));
  if (!raw) return;
  const manifest = JSON.parse(raw) as Pick<OrderManifest, 'deliveries'>;
  const suppliers = new Set(manifest.deliveries.filter((d) => d.kind === 'dropship').map((d) => d.recipient));
  for (const s of config.suppliers) if (s.confirmations && suppliers.has(s.id)) await forgetPurchaseOrder(redis, keys, s.id, orderId);
}

/** A stable digest of what a confirmation says: the same content again is the same confirmation. */
export function confirmationDigest(supplierId: string, confirmation: Confirmation): string {
  const sortedLines = confirmation.lines ? [...confirmation.lines].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : a.quantity - b.quantity)) : null;
  const canonical =
    confirmation.kind === 'shipment'
      ? [supplierId, 'shipment', confirmation.orderId, confirmation.carrier.trim().toLowerCase(), [...confirmation.trackingNumbers].sort(), sortedLines]
      : [supplierId, 'acknowledgement', confirmation.orderId, confirmation.status, sortedLines, confirmation.reason ?? null];
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 32);
}

/** Every line of the order that ships, with what was sent: the caps no line may ship beyond. */
function capsOf(manifest: OrderManifest): Record<string, number> {
  const caps: Record<string, number> = {};
  for (const s of manifest.shipments ?? []) for (const l of s.lines) caps[l.lineId] = (caps[l.lineId] ?? 0) + l.quantity;
  return caps;
}

export class ConfirmationIntake {
  private readonly keys: KeySpace;

  constructor(private readonly deps: ConfirmDeps) {
    this.keys = keySpaceOf(deps.prefix);
  }

  private now(): string {
    return (this.deps.now?.() ?? new Date()).toISOString();
  }

  /** The supplier's shipment of the order, if it was sent its purchase order. */
  async sentShipment(supplierId: string, orderId: string): Promise<{ manifest: OrderManifest; shipment: ManifestShipment } | undefined> {
    const { redis } = this.deps;
    const prefix = this.keys.forOrder(orderId);
    const raw = await redis.get(markerKeys.manifest(prefix, orderId));
    if (!raw) return undefined;
    const manifest = JSON.parse(raw) as OrderManifest;
    const shipment = manifest.shipments?.find((s) => s.origin === 'supplier' && s.shipper === supplierId && s.purchaseOrderId !== undefined);
    if (!shipment?.purchaseOrderId) return undefined;
    // Planned is not sent: a supplier cannot confirm a purchase order it has not received.
    if ((await redis.exists(markerKeys.delivered(prefix, shipment.purchaseOrderId))) === 0) return undefined;
    return { manifest, shipment };
  }

  async confirm(supplierId: string, confirmation: Confirmation, origin: ConfirmationOrigin & { controlNumber?: number }): Promise<ConfirmOutcome> {
    const found = await this.sentShipment(supplierId, confirmation.orderId);
    if (!found) return { status: 'not-found' };
    const { manifest, shipment } = found;
    const at = this.now();
    const refuse = async (problems: string[]): Promise<ConfirmOutcome> => {
      await this.deps.loop.refused(manifest.orderId, {
        kind: 'refused',
        at,
        supplierId,
        what: confirmation.kind,
        problems,
        channel: origin.channel,
        ...(origin.reference ? { reference: origin.reference } : {}),
      });
      return { status: 'conflict', problems };
    };
    if (origin.controlNumber !== undefined && shipment.controlNumber !== undefined && origin.controlNumber !== shipment.controlNumber) {
      return refuse([`it answers interchange ${origin.controlNumber}, but the purchase order went out as interchange ${shipment.controlNumber}`]);
    }
    const sent: SentLine[] = shipment.lines.map((l) => ({ lineId: l.lineId, sku: l.sku, quantity: l.quantity }));
    const digest = confirmationDigest(supplierId, confirmation);
    const caps = capsOf(manifest);
    const ref = origin.reference ? { reference: origin.reference } : {};

    if (confirmation.kind === 'acknowledgement') {
      const loop = await this.deps.loop.read(manifest.orderId);
      // The same acknowledgement again is answered as before, whatever happened since.
      const before = loop.seen[digest];
      if (before !== undefined) return { status: 'recorded', n: before, duplicate: true };
      const contradictions = checkAcknowledgedLines(sent, confirmation.lines);
      if (confirmation.status === 'rejected' && shipment.lines.some((l) => (loop.shipped[l.lineId] ?? 0) > 0)) {
        contradictions.push({ kind: 'over-quantity', message: 'the purchase order is rejected, but some of it was confirmed as shipped' });
      }
      if (contradictions.length > 0) return refuse(contradictions.map((c) => c.message));
      const event: LoopEvent = {
        kind: 'acknowledged',
        at,
        supplierId,
        shipmentId: shipment.shipmentId,
        status: confirmation.status,
        ...(confirmation.reason ? { reason: confirmation.reason } : {}),
        ...(confirmation.lines ? { lines: confirmation.lines } : {}),
        channel: origin.channel,
        ...ref,
      };
      const applied = await this.deps.loop.apply(manifest.orderId, {
        digest,
        increments: {},
        caps,
        event,
        ack: { supplierId, status: confirmation.status, at, ...(confirmation.reason ? { reason: confirmation.reason } : {}) },
      });
      if (applied.result === 'conflict') throw new Error('an acknowledgement ships nothing and cannot conflict');
      if (applied.result === 'applied') await this.markAnswered(supplierId, manifest.orderId, confirmation.status, at);
      return { status: 'recorded', n: applied.n, duplicate: applied.result === 'duplicate' };
    }

    // A shipment: take its units from what is left, under the script's guard; another
    // confirmation taking the same units first makes this one re-read and try again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const loop = await this.deps.loop.read(manifest.orderId);
      const before = loop.seen[digest];
      if (before !== undefined) {
        // Seen before (a re-sent file, a repeated POST): nothing changes; its fulfillment is
        // queued again under the same id, in case the first time stopped before it was.
        const event = loop.events.find((e) => e.n === before);
        const fulfillment = event?.kind === 'shipped' ? await this.fulfil(manifest, shipment, before, event, isComplete(loop.shipped, caps)) : undefined;
        return { status: 'recorded', n: before, duplicate: true, ...(fulfillment ? { fulfillment } : {}) };
      }
      const allocation = allocateShipment(sent, loop.shipped, confirmation.lines);
      if (!allocation.ok) return refuse(allocation.contradictions.map((c) => c.message));
      const carrier = normaliseCarrier(confirmation.carrier, confirmation.trackingNumbers[0]);
      const event: LoopEvent = {
        kind: 'shipped',
        at,
        shipper: supplierId,
        shipmentId: shipment.shipmentId,
        carrier: carrier.company,
        trackingNumbers: confirmation.trackingNumbers,
        ...(carrier.trackingUrl ? { trackingUrl: carrier.trackingUrl } : {}),
        lines: allocation.quantities,
        ...(confirmation.shippedAt ? { shippedAt: confirmation.shippedAt } : {}),
        channel: origin.channel,
        ...ref,
      };
      const applied = await this.deps.loop.apply(manifest.orderId, { digest, increments: allocation.quantities, caps, event });
      if (applied.result === 'conflict') continue;
      if (applied.result === 'applied') await this.markAnswered(supplierId, manifest.orderId, 'shipped', at);
      const fulfillment = await this.fulfil(manifest, shipment, applied.n, event, applied.complete);
      return { status: 'recorded', n: applied.n, duplicate: applied.result === 'duplicate', ...(fulfillment ? { fulfillment } : {}) };
    }
    return refuse(['other confirmations of the same lines kept arriving at the same time; send it again']);
  }

  /**
   * After a delivery landed: a purchase order to a supplier that confirms is awaited (overdue
   * after `expectWithin`); a label the store bought for its own warehouse, or for a supplier
   * that never confirms, is what shipped, and the store is told (when a platform is
   * configured). Nothing to do, and no Redis command, otherwise.
   */
  async afterDelivery(d: { deliveryId: string; orderId: string; shipmentId: string; recipient: string; kind: 'carrier' | 'dropship'; purpose?: string }, trackingNumber: string | undefined): Promise<void> {
    if (d.purpose === 'cancellation') return;
    const { redis, config } = this.deps;
    const prefix = this.keys.forOrder(d.orderId);
    const supplier = d.kind === 'dropship' ? config.suppliers.find((s) => s.id === d.recipient) : undefined;
    if (supplier?.confirmations) {
      const key = purchaseOrderListKey(this.keys, supplier.id, 'awaiting');
      const now = Date.now();
      // Entries past retention leave the list as it is written (one round trip, one slot).
      await redis.pipeline().zadd(key, 'NX', now, d.orderId).zremrangebyscore(key, '-inf', now - listRetentionMs(config)).exec();
      // The order cancelled after this delivery landed: its cancellation may have cleared the
      // list just before the line above. It set its mark first, so the mark is seen here.
      if ((await redis.exists(markerKeys.cancelled(prefix, d.orderId))) > 0) await redis.zrem(key, d.orderId);
      return;
    }
    if (!this.deps.fulfillments) return;
    const raw = await redis.get(markerKeys.manifest(prefix, d.orderId));
    if (!raw) return;
    const manifest = JSON.parse(raw) as OrderManifest;
    const shipment = manifest.shipments?.find((s) => s.shipmentId === d.shipmentId);
    if (!shipment) return;
    let tracking = trackingNumber;
    if (d.kind === 'carrier') {
      // A supplier's label ships when the supplier has its purchase order, not before.
      if (shipment.origin !== 'warehouse') return;
    } else {
      // A supplier that never confirms, shipping on the store's label: it shipped once it has the order.
      if (shipment.labelDeliveryId === undefined) return;
      const recorded = await redis.hget(markerKeys.tracking(prefix, d.orderId), d.shipmentId);
      tracking = recorded ? (JSON.parse(recorded) as { trackingNumber?: string }).trackingNumber : undefined;
    }
    if (!tracking) return;
    const carrier = normaliseCarrier(shipment.carrier, tracking);
    const lines = Object.fromEntries(shipment.lines.map((l) => [l.lineId, l.quantity]));
    const event: Extract<LoopEvent, { kind: 'shipped' }> = {
      kind: 'shipped',
      at: this.now(),
      shipper: shipment.shipper,
      shipmentId: shipment.shipmentId,
      carrier: carrier.company,
      trackingNumbers: [tracking],
      ...(carrier.trackingUrl ? { trackingUrl: carrier.trackingUrl } : {}),
      lines,
      channel: 'label',
    };
    const applied = await this.deps.loop.apply(manifest.orderId, { digest: `label:${shipment.shipmentId}:${tracking}`, increments: lines, caps: capsOf(manifest), event });
    // A conflict means a supplier already confirmed these lines: they are told of already.
    if (applied.result === 'conflict') return;
    await this.fulfil(manifest, shipment, applied.n, event, applied.complete);
  }

  /** The purchase order is answered: no longer overdue; a rejection or backorder needs an operator. */
  private async markAnswered(supplierId: string, orderId: string, status: string, at: string): Promise<void> {
    const { redis, config } = this.deps;
    // The supplier's keys share its partition's tag: one transaction, one slot.
    const multi = redis.multi().zrem(purchaseOrderListKey(this.keys, supplierId, 'awaiting'), orderId);
    for (const s of ['rejected', 'backordered'] as const) {
      const key = purchaseOrderListKey(this.keys, supplierId, s);
      // Written: entries past retention leave it.
      if (s === status) multi.zadd(key, Date.parse(at), orderId).zremrangebyscore(key, '-inf', Date.now() - listRetentionMs(config));
      else multi.zrem(key, orderId);
    }
    await multi.exec();
  }

  /** Queues the store's fulfillment of a shipped event (when a store platform is configured and the order has the store's ids). */
  async fulfil(manifest: OrderManifest, shipment: ManifestShipment, n: number, event: Extract<LoopEvent, { kind: 'shipped' }>, complete: boolean): Promise<string | undefined> {
    const fulfillments = this.deps.fulfillments;
    if (!fulfillments || manifest.storeOrderId === undefined) return undefined;
    const queue = typeof fulfillments === 'function' ? fulfillments(manifest.orderId) : fulfillments;
    // An order from another platform's webhook (a WooCommerce order while Shopify is told) is not the store's to hear of.
    const platform = this.deps.config.store.platform?.id;
    if (manifest.storePlatform !== undefined && platform !== undefined && manifest.storePlatform !== platform) return undefined;
    const byId = new Map(shipment.lines.map((l) => [l.lineId, l]));
    const lines = Object.entries(event.lines).flatMap(([lineId, quantity]) => {
      const storeLineId = byId.get(lineId)?.storeLineId;
      return storeLineId !== undefined ? [{ storeLineId, quantity }] : [];
    });
    if (lines.length === 0) return undefined;
    return enqueueFulfillment(
      queue,
      {
        orderId: manifest.orderId,
        shipmentId: shipment.shipmentId,
        event: n,
        shipper: event.shipper,
        storeOrderId: manifest.storeOrderId,
        lines,
        tracking: { company: event.carrier, numbers: event.trackingNumbers, ...(event.trackingUrl ? { url: event.trackingUrl } : {}) },
        orderComplete: complete,
      },
      FULFILLMENT_RETRY,
    );
  }
}

/** A store that is down is retried for about a day (exponential from 10 s, capped by attempts). */
const FULFILLMENT_RETRY = { attempts: 14, backoffMs: 10_000 };

function isComplete(shipped: Record<string, number>, caps: Record<string, number>): boolean {
  return Object.entries(caps).every(([line, cap]) => (shipped[line] ?? 0) >= cap);
}
