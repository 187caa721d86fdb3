import type { CarrierShipment } from '../carriers/carrier';
import type { StoreConfig, SupplierConfig } from '../config/config';
import type { DropShipOrder } from '../formats/format';
import { CONTACT_FIELDS, FIELD_PATHS, type FieldPath, sortedFields } from './field-paths';
import type { Order } from './order';
import type { Shipment } from './shipment';

function present(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false;
  if (typeof value === 'object') {
    // Whether it has an own enumerable key (Object.keys(value).length > 0), without the array.
    for (const key in value) if (Object.hasOwn(value, key)) return true;
    return false;
  }
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

/** Section → key → its canonical path (`shipTo` → `city` → `shipTo.city`), built once rather than joined per value. */
const PATHS = new Map<string, Map<string, FieldPath>>();
for (const path of FIELD_PATHS) {
  const dot = path.indexOf('.');
  const section = path.slice(0, dot);
  if (!PATHS.has(section)) PATHS.set(section, new Map());
  PATHS.get(section)!.set(path.slice(dot + 1), path);
}

function pathOf(section: Section | 'lines', key: string): FieldPath {
  return PATHS.get(section)?.get(key) ?? (`${section}.${key}` as FieldPath);
}

const LINE_KEYS = ['sku', 'name', 'quantity', 'unitPrice', 'weight', 'properties'] as const;
const LINE_PATHS = LINE_KEYS.map((key) => pathOf('lines', key));

/**
 * A supplier's allow-list as a set, for its customers and for contact-restricted ones
 * (without {@link CONTACT_FIELDS}): built once per allow-list, not per purchase order.
 */
const allowedSets = new WeakMap<readonly string[], { open: ReadonlySet<FieldPath>; restricted: ReadonlySet<FieldPath> }>();

function allowedFields(fields: readonly FieldPath[], contactRestricted: boolean): ReadonlySet<FieldPath> {
  let sets = allowedSets.get(fields);
  if (!sets) {
    const restricted = new Set<FieldPath>(fields);
    for (const f of CONTACT_FIELDS) restricted.delete(f);
    sets = { open: new Set<FieldPath>(fields), restricted };
    allowedSets.set(fields, sets);
  }
  return contactRestricted ? sets.restricted : sets.open;
}

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
  const allowed = allowedFields(supplier.fields, Boolean(order.customer.contactRestricted));
  const fields: FieldPath[] = [];

  const pick = <S extends Section>(section: S, source: Record<string, unknown> | undefined): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    if (!source) return out;
    for (const key of Object.keys(source)) {
      const path = pathOf(section, key);
      const value = source[key];
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
      for (let i = 0; i < LINE_KEYS.length; i++) {
        const key = LINE_KEYS[i]!;
        const path = LINE_PATHS[i]!;
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
