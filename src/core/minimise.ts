import type { CarrierShipment } from '../carriers/carrier';
import type { StoreConfig, SupplierConfig } from '../config/config';
import type { DropShipOrder } from '../formats/format';
import { CONTACT_FIELDS, type FieldPath, sortedFields } from './field-paths';
import type { Order } from './order';
import type { Shipment } from './shipment';

function present(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/**
 * What a carrier may see of a shipment (privacy promise 3): ship-to, package weight and
 * service. Contact-restricted customers' phone numbers are withheld (promise 6).
 */
export function carrierShipment(order: Order, shipment: Shipment, store: StoreConfig): CarrierShipment {
  const to = order.shipTo;
  if (!to) throw new Error('carrierShipment needs an order with a ship-to; splitOrder holds orders without one');
  const weightGrams = shipment.lines.reduce(
    (sum, l) => sum + (l.weight ?? store.shipping.defaultLineWeightGrams) * l.quantity,
    0,
  );
  const phone = order.customer.contactRestricted ? undefined : to.phone;
  return {
    shipmentId: shipment.id,
    carrier: shipment.carrier,
    service: shipment.service,
    shipper: shipment.shipFrom,
    shipTo: {
      name: to.name,
      line1: to.line1,
      city: to.city,
      country: to.country,
      ...(to.company ? { company: to.company } : {}),
      ...(to.line2 ? { line2: to.line2 } : {}),
      ...(to.region ? { region: to.region } : {}),
      ...(to.postalCode ? { postalCode: to.postalCode } : {}),
      ...(phone ? { phone } : {}),
    },
    weightGrams,
  };
}

type Section = 'order' | 'customer' | 'shipTo' | 'shipment';

/**
 * The purchase order one supplier may see (privacy promises 2 and 6): only its own lines
 * (the shipment's), only fields on its allow-list, never contact data of a contact-
 * restricted customer. Returns the view and the sorted paths whose values it carries.
 */
export function dropShipOrder(
  order: Order,
  shipment: Shipment,
  supplier: Pick<SupplierConfig, 'id' | 'fields'>,
): { po: DropShipOrder; fields: FieldPath[] } {
  const allowed = new Set<FieldPath>(supplier.fields);
  if (order.customer.contactRestricted) for (const f of CONTACT_FIELDS) allowed.delete(f);
  const fields: FieldPath[] = [];

  const pick = <S extends Section>(section: S, source: Record<string, unknown> | undefined): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    if (!source) return out;
    for (const [key, value] of Object.entries(source)) {
      const path = `${section}.${key}` as FieldPath;
      if (allowed.has(path) && present(value)) {
        out[key] = value;
        fields.push(path);
      }
    }
    return out;
  };

  const shipmentFacts = { id: shipment.id, carrier: shipment.carrier, service: shipment.service };
  const po: DropShipOrder = {
    supplierId: supplier.id,
    order: pick('order', {
      id: order.id,
      placedAt: order.placedAt,
      currency: order.currency,
      giftMessage: order.giftMessage,
      notes: order.notes,
    }),
    customer: pick('customer', order.customer),
    shipTo: pick('shipTo', order.shipTo),
    shipment: pick('shipment', shipmentFacts),
    lines: shipment.lines.map((line) => {
      const out: DropShipOrder['lines'][number] = {};
      for (const key of ['sku', 'name', 'quantity', 'unitPrice', 'weight', 'properties'] as const) {
        const path = `lines.${key}` as FieldPath;
        if (allowed.has(path) && present(line[key])) {
          (out as Record<string, unknown>)[key] = line[key];
          fields.push(path);
        }
      }
      return out;
    }),
  };
  return { po, fields: sortedFields(fields) };
}

/** The sorted canonical paths whose values a (possibly reduced) purchase-order view carries. */
export function viewFields(po: DropShipOrder): FieldPath[] {
  const fields: FieldPath[] = [];
  for (const section of ['order', 'customer', 'shipTo', 'shipment'] as const) {
    for (const [key, value] of Object.entries(po[section])) if (present(value)) fields.push(`${section}.${key}` as FieldPath);
  }
  for (const line of po.lines) {
    for (const [key, value] of Object.entries(line)) if (present(value)) fields.push(`lines.${key}` as FieldPath);
  }
  return sortedFields(fields);
}
