import { carrierById } from '../carriers';
import { carrierDeliveryId } from '../carriers/reference';
import type { Config, SupplierConfig } from '../config/config';
import { DropshipError } from '../errors';
import { formatById } from '../formats';
import { cancellationView, type DropShipOrder } from '../formats/format';
import type { DeliveryPayload } from '../transports/transport';
import type { FieldPath } from '../core/field-paths';
import { carrierShipment, dropShipOrder, viewFields } from '../core/minimise';
import type { Order } from '../core/order';
import type { Shipment } from '../core/shipment';
import { fulfilOf, whatShips } from '../core/readiness';
import { type HoldReason, splitOrder } from '../core/split';
import type { OrderReason, SkipCode, WaitCode } from '../errors';

/** One payload for one recipient, with what it discloses: the unit of delivery work. */
export interface PlannedDelivery extends DeliveryPayload {
  shipmentId: string;
  /** The transport kind named in config (`https` for carrier APIs). */
  transport: string;
  /** Sorted canonical paths whose values `body` carries. */
  fields: FieldPath[];
  /**
   * For a purchase order whose label the retailer buys: the carrier delivery it waits for,
   * and the allow-listed view to render again once the tracking number is known.
   */
  awaitsLabel?: { carrierDeliveryId: string; view: DropShipOrder; createdAt: string; controlNumber?: number };
  /**
   * For a purchase order of a supplier that takes batches: the view to collect into its next
   * batch file (the body is rendered when the batch is cut). With `awaitsLabel`, its view is
   * collected once the label is bought.
   */
  collect?: { view: DropShipOrder; createdAt: string };
}

/** What a bought label brings back from the carrier. */
export interface BoughtLabel {
  trackingNumber: string;
  /** Base64 label image, when the carrier returned one. */
  label?: string;
}

/**
 * What the pipeline keeps of a planned order so that it can be cancelled after its jobs are
 * gone: delivery ids and recipients, and what each purchase order's cancellation repeats
 * ({@link cancellationView}: order id, lines, shipment; no customer or address).
 */
export interface OrderManifest {
  orderId: string;
  deliveries: Array<{ deliveryId: string; shipmentId: string; recipient: string; kind: 'carrier' | 'dropship' }>;
  /** Purchase-order delivery id → the view its cancellation renders. */
  cancellations: Record<string, DropShipOrder>;
  /**
   * Each shipment with who ships it and its lines (ids, SKUs, quantities): what a supplier's
   * confirmation is checked against and what the store is told shipped. Absent in manifests
   * written before confirmations existed.
   */
  shipments?: ManifestShipment[];
  /** The store platform's own id of the order (Shopify `id`), when the source gave it. */
  storeOrderId?: string;
  /** The platform the order came from (its webhook), when it came from one: only that platform is told what shipped. */
  storePlatform?: 'shopify' | 'woocommerce';
}

/** One shipment of a planned order, as closing the loop needs it (no customer data). */
export interface ManifestShipment {
  shipmentId: string;
  origin: 'warehouse' | 'supplier';
  /** The supplier's id, or the warehouse's. */
  shipper: string;
  carrier: string;
  /** The carrier delivery that buys its label, when the store buys one. */
  labelDeliveryId?: string;
  /** The purchase order's delivery id, for a supplier's shipment. */
  purchaseOrderId?: string;
  /** The interchange control number the purchase order went out under (X12), when it has its own. */
  controlNumber?: number;
  lines: Array<{ lineId: string; sku: string; quantity: number; storeLineId?: string }>;
}

/**
 * The purchase orders among `deliveries` that wait for the label their shipment's carrier
 * request buys: they have no job until it is bought (the carrier's worker adds them).
 */
export function purchaseOrdersAwaitingLabels(deliveries: ReadonlyArray<{ deliveryId: string; shipmentId?: string; kind?: string }>): Set<string> {
  const labelled = new Set(deliveries.filter((d) => d.kind === 'carrier').map((d) => d.shipmentId));
  return new Set(deliveries.filter((d) => d.kind === 'dropship' && labelled.has(d.shipmentId)).map((d) => d.deliveryId));
}

export type OrderPlan =
  | { orderId: string; status: 'planned'; shipments: Shipment[]; deliveries: PlannedDelivery[]; manifest: OrderManifest }
  | { orderId: string; status: 'held'; reasons: HoldReason[] }
  /** Not ready to ship yet (store.yaml `fulfil`): a later event for the order starts it. */
  | { orderId: string; status: 'waiting'; reasons: OrderReason<WaitCode>[] }
  /** Never to ship: cancelled, refunded, a test order, or no line that ships. */
  | { orderId: string; status: 'skipped'; reasons: OrderReason<SkipCode>[] };

/**
 * An empty plain object (Object.prototype, JSON as `{}`) for keys that are new on every
 * call, such as delivery ids. A `{}` literal given such a key gets a hidden class of its own
 * in V8 (Node 20), and thousands of those made every later young-generation collection slow
 * (25 ms instead of under 1 ms in a planning benchmark). An object created without a
 * prototype starts in dictionary mode, and stays there once given its prototype back.
 */
function dictionary<V>(): Record<string, V> {
  return Object.setPrototypeOf(Object.create(null), Object.prototype) as Record<string, V>;
}

/** Batch id of a supplier's `n`th batch: `<supplierId>-batch-000042`. */
export function batchId(supplierId: string, n: number): string {
  return `${supplierId}-batch-${String(n).padStart(6, '0')}`;
}

const BATCH_PLACEHOLDER = /\{(batchId|supplierId|ext)\}/g;
const PLACEHOLDER = /\{(orderId|supplierId|shipmentId|ext)\}/g;

/** Renders a supplier's batch file-name template. */
export function renderBatchFilename(template: string, values: { batchId: string; supplierId: string; ext: string }): string {
  return template.replace(BATCH_PLACEHOLDER, (_, key: keyof typeof values) => values[key]);
}

/** Renders a supplier's file-name template; ids are already restricted to safe characters. */
export function renderFilename(template: string, values: { orderId: string; supplierId: string; shipmentId: string; ext: string }): string {
  return template.replace(PLACEHOLDER, (_, key: keyof typeof values) => values[key]);
}

/** What planning takes from the caller's world: a clock reading and allocated control numbers. */
export interface PlanContext {
  /** ISO 8601 time the documents are created. @defaultValue the order's `placedAt` */
  now?: string;
  /** Control number per supplier id, for formats that need one (X12). */
  controlNumbers?: Readonly<Record<string, number>>;
  /**
   * Leave the body of a purchase order that waits for its label empty: `attachLabel` renders
   * it from its view once the label is bought. The order worker queues them so (rendering
   * twice, and the same data twice in Redis, would only cost time). Likewise a purchase
   * order a supplier takes in batches is left unrendered, to be collected.
   * Without it (`preview`), a batched purchase order is shown as a batch of one, numbered 0.
   * @defaultValue false
   */
  deferLabelledBodies?: boolean;
}

function purchaseOrder(order: Order, shipment: Shipment, supplier: SupplierConfig, context: PlanContext): { delivery: PlannedDelivery; view: DropShipOrder } {
  const format = formatById(supplier.format);
  if (!format) throw new Error(`format ${supplier.format} is not registered (config was not loaded through loadConfig)`);
  const { po, fields: viewed } = dropShipOrder(order, shipment, supplier);
  const deliveryId = `${shipment.id}+po`;
  const controlNumber = context.controlNumbers?.[supplier.id];
  const createdAt = context.now ?? order.placedAt;
  const deferred = context.deferLabelledBodies === true && (supplier.labels === 'retailer' || supplier.batch !== undefined);
  const previewBatch = supplier.batch ? batchId(supplier.id, 0) : undefined;
  const renderContext = { deliveryId, createdAt, ...(controlNumber !== undefined ? { controlNumber } : {}) };
  // Every check that can hold the order runs here, before a label is bought or anything is
  // queued: a body rendered later (after the label, or in a batch) must not fail then. A
  // body rendered now, by a format whose check writes the document anyway (X12), comes from
  // that one writing.
  const rendersNow = !deferred && !(previewBatch !== undefined && format.renderBatch);
  const both = rendersNow ? format.checkAndRender?.(po, supplier.formatOptions, renderContext) : undefined;
  const checked = both ? both.check : format.check?.(po, supplier.formatOptions);
  if (checked && checked.problems.length > 0) throw new DropshipError('EINVALID_ORDER', checked.problems);
  const fields = checked ? viewed.filter((f) => !checked.unsent.includes(f)) : viewed;
  const waits: Pick<PlannedDelivery, 'awaitsLabel' | 'collect'> =
    supplier.labels === 'retailer'
      ? { awaitsLabel: { carrierDeliveryId: carrierDeliveryId(shipment.id), view: po, createdAt, ...(controlNumber !== undefined ? { controlNumber } : {}) } }
      : deferred
        ? { collect: { view: po, createdAt } }
        : {};
  // `awaitsLabel` or `collect` first, as before; Object.assign rather than `{ ...waits, ... }`:
  // V8 (Node 20) gives every object that gets new keys after such a spread a hidden class of
  // its own, a few microseconds and garbage per delivery.
  const delivery: PlannedDelivery = Object.assign(waits, {
    deliveryId,
    orderId: order.id,
    shipmentId: shipment.id,
    recipient: supplier.id,
    kind: 'dropship' as const,
    transport: supplier.delivery.transport,
    format: format.id,
    filename:
      previewBatch !== undefined
        ? renderBatchFilename(supplier.delivery.batchFilename, { batchId: previewBatch, supplierId: supplier.id, ext: format.fileExtension })
        : renderFilename(supplier.delivery.filename, {
            orderId: order.id,
            supplierId: supplier.id,
            shipmentId: shipment.id,
            ext: format.fileExtension,
          }),
    contentType: format.contentType,
    fields,
    body: deferred
      ? ''
      : previewBatch !== undefined && format.renderBatch
        ? format.renderBatch([{ po, context: renderContext }], supplier.formatOptions, { batchId: previewBatch, createdAt, ...(controlNumber !== undefined ? { controlNumber } : {}) })
        : (both?.body ?? format.render(po, supplier.formatOptions, renderContext)),
  });
  return { delivery, view: po };
}

function carrierRequest(order: Order, shipment: Shipment, config: Config): PlannedDelivery {
  const builder = carrierById(shipment.carrier);
  const request = builder.build(carrierShipment(order, shipment, config.store), config.store.carriers[shipment.carrier]);
  return {
    deliveryId: carrierDeliveryId(shipment.id),
    orderId: order.id,
    shipmentId: shipment.id,
    recipient: shipment.carrier,
    kind: 'carrier',
    transport: 'https',
    format: builder.format,
    filename: `${shipment.id}.${builder.format}.json`,
    contentType: 'application/json',
    fields: request.fields,
    body: request.body,
  };
}

/**
 * A purchase order waiting for its label, completed with what the carrier returned: the
 * tracking number and label join the view only where the supplier's allow-list names
 * `shipment.trackingNumber` / `shipment.label`, and the body is rendered from the view.
 */
export function attachLabel(delivery: PlannedDelivery, supplier: SupplierConfig, bought: BoughtLabel | undefined): PlannedDelivery {
  const waiting = delivery.awaitsLabel;
  if (!waiting) return delivery;
  const format = formatById(supplier.format);
  if (!format) throw new Error(`format ${supplier.format} is not registered`);
  const { view, fields } = viewWithLabel(delivery, waiting, supplier, bought);
  const context = {
    deliveryId: delivery.deliveryId,
    createdAt: waiting.createdAt,
    ...(waiting.controlNumber !== undefined ? { controlNumber: waiting.controlNumber } : {}),
  };
  // As labelledView, then render; in one writing for a format whose check writes the
  // document anyway (X12). With problems there is no body: render says what they are.
  const both = format.checkAndRender?.(view, supplier.formatOptions, context);
  for (const f of (both ? both.check : format.check?.(view, supplier.formatOptions))?.unsent ?? []) fields.delete(f);
  const body = both?.body ?? format.render(view, supplier.formatOptions, context);
  const { awaitsLabel: _done, ...rest } = delivery;
  return { ...rest, fields: [...fields].sort(), body };
}

/** The view with what the allow-list lets through of the bought label, and the fields it carries before the format leaves any out. */
function viewWithLabel(
  delivery: PlannedDelivery,
  waiting: NonNullable<PlannedDelivery['awaitsLabel']>,
  supplier: SupplierConfig,
  bought: BoughtLabel | undefined,
): { view: DropShipOrder; fields: Set<FieldPath> } {
  // A copy that gets keys: Object.assign, not a spread (see purchaseOrder).
  const shipment: DropShipOrder['shipment'] = Object.assign({}, waiting.view.shipment);
  const fields = new Set<FieldPath>(delivery.fields);
  if (bought && supplier.fields.includes('shipment.trackingNumber')) {
    shipment.trackingNumber = bought.trackingNumber;
    fields.add('shipment.trackingNumber');
  }
  if (bought?.label && supplier.fields.includes('shipment.label')) {
    shipment.label = bought.label;
    fields.add('shipment.label');
  }
  return { view: { ...waiting.view, shipment }, fields };
}

/**
 * The view of a purchase order as it goes out: with the tracking number and label of a
 * label bought for it where the allow-list names them, and the fields it then carries.
 */
export function labelledView(delivery: PlannedDelivery, supplier: SupplierConfig, bought: BoughtLabel | undefined): { view: DropShipOrder; fields: FieldPath[] } {
  const waiting = delivery.awaitsLabel;
  if (!waiting) {
    if (!delivery.collect) throw new Error(`delivery ${delivery.deliveryId} carries no view`);
    return { view: delivery.collect.view, fields: delivery.fields };
  }
  const { view, fields } = viewWithLabel(delivery, waiting, supplier, bought);
  // A tracking number the format cannot write unchanged is left out of the document; the
  // fields must not claim it. (Nothing in a label can make the document unwritable.)
  for (const f of formatById(supplier.format)?.check?.(view, supplier.formatOptions).unsent ?? []) fields.delete(f);
  return { view, fields: [...fields].sort() };
}

/**
 * The whole decision for one order, as data: whether it ships now (store.yaml `fulfil`:
 * waiting or skipped otherwise), its shipments of the lines that ship, and for each a carrier
 * request (unless the supplier ships on its own account) and, for drop-ship shipments, a
 * purchase order. Lines that do not ship (gift cards, digital, removed, `skipSkus`) appear
 * in none of them. Pure: `preview` prints it, the order worker enqueues it.
 */
export function planOrder(whole: Order, config: Config, context: PlanContext = {}): OrderPlan {
  const ships = whatShips(whole, fulfilOf(config.store));
  if (ships.status === 'waiting') return { orderId: whole.id, status: 'waiting', reasons: ships.reasons };
  if (ships.status === 'skipped') return { orderId: whole.id, status: 'skipped', reasons: ships.reasons };
  const order = ships.order;
  const split = splitOrder(order, config);
  if (split.held) return { orderId: order.id, status: 'held', reasons: split.held };
  const suppliers = new Map(config.suppliers.map((s) => [s.id, s]));
  const deliveries: PlannedDelivery[] = [];
  const cancellations = dictionary<DropShipOrder>();
  const held: HoldReason[] = [];
  for (const shipment of split.shipments) {
    const supplier = shipment.origin.kind === 'supplier' ? suppliers.get(shipment.origin.id) : undefined;
    if (!supplier || supplier.labels === 'retailer') {
      try {
        deliveries.push(carrierRequest(order, shipment, config));
      } catch (err) {
        // A ship-to the carrier cannot take (nothing printable, impossible weight) is for an
        // operator to fix, not for the queue to retry.
        if (!(err instanceof DropshipError)) throw err;
        held.push({ code: 'UNSHIPPABLE', message: `shipment ${shipment.id} cannot go by ${shipment.carrier}: ${err.problems.join('; ') || err.message}` });
      }
    }
    if (supplier) {
      try {
        const { delivery, view } = purchaseOrder(order, shipment, supplier, context);
        deliveries.push(delivery);
        cancellations[delivery.deliveryId] = cancellationView(view);
      } catch (err) {
        // A value the supplier's format cannot carry (an X12 order id too long): for an
        // operator to fix, not for the queue to retry.
        if (!(err instanceof DropshipError)) throw err;
        held.push({ code: 'UNSHIPPABLE', message: `purchase order ${shipment.id} cannot be written as ${supplier.format}: ${err.problems.join('; ') || err.message}` });
      }
    }
  }
  if (held.length > 0) return { orderId: order.id, status: 'held', reasons: held };
  const manifest: OrderManifest = {
    orderId: order.id,
    deliveries: deliveries.map((d) => ({ deliveryId: d.deliveryId, shipmentId: d.shipmentId, recipient: d.recipient, kind: d.kind })),
    cancellations,
    shipments: split.shipments.map((shipment) => manifestShipment(shipment, deliveries, context.controlNumbers)),
    ...(order.storeId !== undefined ? { storeOrderId: order.storeId } : {}),
    ...(order.state?.platform === 'shopify' || order.state?.platform === 'woocommerce' ? { storePlatform: order.state.platform } : {}),
  };
  return { orderId: order.id, status: 'planned', shipments: split.shipments, deliveries, manifest };
}

function manifestShipment(shipment: Shipment, deliveries: readonly PlannedDelivery[], controlNumbers: PlanContext['controlNumbers']): ManifestShipment {
  const label = deliveries.find((d) => d.shipmentId === shipment.id && d.kind === 'carrier');
  const po = deliveries.find((d) => d.shipmentId === shipment.id && d.kind === 'dropship');
  const controlNumber = shipment.origin.kind === 'supplier' ? controlNumbers?.[shipment.origin.id] : undefined;
  return {
    shipmentId: shipment.id,
    origin: shipment.origin.kind,
    shipper: shipment.origin.id,
    carrier: shipment.carrier,
    ...(label ? { labelDeliveryId: label.deliveryId } : {}),
    ...(po ? { purchaseOrderId: po.deliveryId } : {}),
    ...(po && controlNumber !== undefined ? { controlNumber } : {}),
    lines: shipment.lines.map((l) => ({ lineId: l.id, sku: l.sku, quantity: l.quantity, ...(l.storeLineId !== undefined ? { storeLineId: l.storeLineId } : {}) })),
  };
}

/** Delivery id of the cancellation of a purchase order. */
export function cancellationDeliveryId(purchaseOrderId: string): string {
  return `${purchaseOrderId}-cancel`;
}

/**
 * The cancellation of a purchase order already delivered: the supplier's format says
 * "cancel" in its own terms, over the same transport, named by `delivery.cancelFilename`.
 * Undefined when the manifest holds no such purchase order.
 */
export function planCancellation(
  manifest: OrderManifest,
  purchaseOrderId: string,
  supplier: SupplierConfig,
  context: { now: string; controlNumber?: number },
): PlannedDelivery | undefined {
  const view = manifest.cancellations[purchaseOrderId];
  const entry = manifest.deliveries.find((d) => d.deliveryId === purchaseOrderId && d.kind === 'dropship');
  if (!view || !entry || entry.recipient !== supplier.id) return undefined;
  const format = formatById(supplier.format);
  if (!format) throw new Error(`format ${supplier.format} is not registered`);
  const deliveryId = cancellationDeliveryId(purchaseOrderId);
  return {
    deliveryId,
    orderId: manifest.orderId,
    shipmentId: entry.shipmentId,
    recipient: supplier.id,
    kind: 'dropship',
    purpose: 'cancellation',
    transport: supplier.delivery.transport,
    format: format.id,
    filename: renderFilename(supplier.delivery.cancelFilename, {
      orderId: manifest.orderId,
      supplierId: supplier.id,
      shipmentId: entry.shipmentId,
      ext: format.fileExtension,
    }),
    contentType: format.contentType,
    fields: viewFields(view),
    body: format.render(view, supplier.formatOptions, {
      deliveryId,
      createdAt: context.now,
      purpose: 'cancellation',
      cancels: purchaseOrderId,
      ...(context.controlNumber !== undefined ? { controlNumber: context.controlNumber } : {}),
    }),
  };
}
