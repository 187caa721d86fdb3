import type { Config, SupplierConfig } from '../config/config';
import type { HoldReason } from '../errors';
import type { Order, OrderLine } from './order';
import { compileSkuPatterns } from './sku-pattern';
import type { Shipment, ShipmentOrigin, ShipFrom } from './shipment';

/** Why an order cannot go out as it is; each code, its meaning and what to do: the error catalogue. */
export type { HoldReason };

export type SplitResult = { shipments: Shipment[]; held?: undefined } | { held: HoldReason[]; shipments?: undefined };

const matchers = new WeakMap<SupplierConfig, (sku: string) => boolean>();

function claims(supplier: SupplierConfig, sku: string): boolean {
  let match = matchers.get(supplier);
  if (!match) {
    match = compileSkuPatterns(supplier.skus);
    matchers.set(supplier, match);
  }
  return match(sku);
}

function describeLine(line: OrderLine, index: number): string {
  return line.sku === '' ? `line ${index + 1} (no SKU)` : `line ${index + 1} (SKU "${line.sku}")`;
}

/**
 * Splits an order into shipments, one per origin: each line goes to the supplier whose
 * `skus` claim it, else to the warehouse. Holds the whole order (never drops a line) when
 * a line has no home, two suppliers claim it, it has no ship-to, or its shipping method
 * maps to no carrier.
 */
export function splitOrder(order: Order, config: Pick<Config, 'store' | 'suppliers'>): SplitResult {
  const held: HoldReason[] = [];
  if (!order.shipTo) held.push({ code: 'NO_SHIP_TO', message: 'the order has no shipping address' });

  const methods = config.store.shipping.methods;
  // Own keys only: a method named "toString" must not find Object.prototype's.
  const lookup = (name: string | undefined) => (name !== undefined && Object.hasOwn(methods, name) ? methods[name] : undefined);
  const method = lookup(order.shippingMethod) ?? lookup(config.store.shipping.defaultMethod);
  if (!method) {
    held.push({
      code: 'UNKNOWN_SHIPPING_METHOD',
      message: `shipping method "${order.shippingMethod}" is not in store.yaml shipping.methods and no shipping.default is set`,
    });
  }

  const groups = new Map<string, { origin: ShipmentOrigin; shipFrom: ShipFrom; lines: OrderLine[] }>();
  const warehouse = config.store.warehouse;
  order.lines.forEach((line, i) => {
    const owners = config.suppliers.filter((s) => claims(s, line.sku));
    if (owners.length > 1) {
      held.push({ code: 'AMBIGUOUS_LINE', message: `${describeLine(line, i)} is claimed by suppliers ${owners.map((s) => s.id).join(' and ')}` });
      return;
    }
    const owner = owners[0];
    if (!owner && !warehouse) {
      held.push({ code: 'UNCLAIMED_LINE', message: `${describeLine(line, i)} is claimed by no supplier and there is no warehouse` });
      return;
    }
    const key = owner ? owner.id : warehouse!.id;
    let group = groups.get(key);
    if (!group) {
      group = owner
        ? { origin: { kind: 'supplier', id: owner.id }, shipFrom: owner.shipFrom, lines: [] }
        : { origin: { kind: 'warehouse', id: warehouse!.id }, shipFrom: warehouse!.address, lines: [] };
      groups.set(key, group);
    }
    group.lines.push(line);
  });

  if (held.length > 0 || !method) return { held };
  const shipments = [...groups.values()].map<Shipment>((g) => ({
    id: `${order.id}+${g.origin.id}`,
    orderId: order.id,
    origin: g.origin,
    carrier: method.carrier,
    service: method.service,
    shipFrom: g.shipFrom,
    lines: g.lines,
  }));
  return { shipments };
}
