import { carrierById } from '../carriers';
import type { Config, SupplierConfig } from '../config/config';
import { DropshipError } from '../errors';
import { formatById } from '../formats';
import type { DeliveryPayload } from '../transports/transport';
import type { FieldPath } from './field-paths';
import { carrierShipment, dropShipOrder } from './minimise';
import type { Order } from './order';
import type { Shipment } from './shipment';
import { type HoldReason, splitOrder } from './split';

/** One payload for one recipient, with what it discloses: the unit of delivery work. */
export interface PlannedDelivery extends DeliveryPayload {
  shipmentId: string;
  /** The transport kind named in config (`https` for carrier APIs). */
  transport: string;
  /** Sorted canonical paths whose values `body` carries. */
  fields: FieldPath[];
}

export type OrderPlan =
  | { orderId: string; status: 'planned'; shipments: Shipment[]; deliveries: PlannedDelivery[] }
  | { orderId: string; status: 'held'; reasons: HoldReason[] };

/** Renders a supplier's file-name template; ids are already restricted to safe characters. */
export function renderFilename(template: string, values: { orderId: string; supplierId: string; shipmentId: string; ext: string }): string {
  return template.replace(/\{(orderId|supplierId|shipmentId|ext)\}/g, (_, key: keyof typeof values) => values[key]);
}

/** What planning takes from the caller's world: a clock reading and allocated control numbers. */
export interface PlanContext {
  /** ISO 8601 time the documents are created. @defaultValue the order's `placedAt` */
  now?: string;
  /** Control number per supplier id, for formats that need one (X12). */
  controlNumbers?: Readonly<Record<string, number>>;
}

function purchaseOrder(order: Order, shipment: Shipment, supplier: SupplierConfig, context: PlanContext): PlannedDelivery {
  const format = formatById(supplier.format);
  if (!format) throw new Error(`format ${supplier.format} is not registered (config was not loaded through loadConfig)`);
  const { po, fields } = dropShipOrder(order, shipment, supplier);
  const deliveryId = `${shipment.id}+po`;
  const controlNumber = context.controlNumbers?.[supplier.id];
  return {
    deliveryId,
    orderId: order.id,
    shipmentId: shipment.id,
    recipient: supplier.id,
    kind: 'dropship',
    transport: supplier.delivery.transport,
    format: format.id,
    filename: renderFilename(supplier.delivery.filename, {
      orderId: order.id,
      supplierId: supplier.id,
      shipmentId: shipment.id,
      ext: format.fileExtension,
    }),
    contentType: format.contentType,
    fields,
    body: format.render(po, supplier.formatOptions, {
      deliveryId,
      createdAt: context.now ?? order.placedAt,
      ...(controlNumber !== undefined ? { controlNumber } : {}),
    }),
  };
}

function carrierRequest(order: Order, shipment: Shipment, config: Config): PlannedDelivery {
  const builder = carrierById(shipment.carrier);
  const request = builder.build(carrierShipment(order, shipment, config.store), config.store.carriers[shipment.carrier]);
  return {
    deliveryId: `${shipment.id}+carrier`,
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
 * The whole decision for one order, as data: its shipments, and for each a carrier request
 * (unless the supplier ships on its own account) and, for drop-ship shipments, a purchase
 * order. Pure: `preview` prints it, the order worker enqueues it.
 */
export function planOrder(order: Order, config: Config, context: PlanContext = {}): OrderPlan {
  const split = splitOrder(order, config);
  if (split.held) return { orderId: order.id, status: 'held', reasons: split.held };
  const suppliers = new Map(config.suppliers.map((s) => [s.id, s]));
  const deliveries: PlannedDelivery[] = [];
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
    if (supplier) deliveries.push(purchaseOrder(order, shipment, supplier, context));
  }
  if (held.length > 0) return { orderId: order.id, status: 'held', reasons: held };
  return { orderId: order.id, status: 'planned', shipments: split.shipments, deliveries };
}
