import type { Address, OrderLine } from './order';

export type CarrierId = 'ups' | 'fedex';

/** A ship-from address: the warehouse's or a supplier's. Carriers need a phone for it. */
export type ShipFrom = Address & { phone: string };

export type ShipmentOrigin = { kind: 'warehouse'; id: string } | { kind: 'supplier'; id: string };

/** One parcel of an order, leaving from one origin, on one carrier service. */
export interface Shipment {
  /** Deterministic: `<orderId>+<originId>`. */
  id: string;
  orderId: string;
  origin: ShipmentOrigin;
  carrier: CarrierId;
  service: string;
  shipFrom: ShipFrom;
  lines: OrderLine[];
}
