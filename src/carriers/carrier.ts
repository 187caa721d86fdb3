import type { z } from 'zod';
import type { FieldPath } from '../core/field-paths';
import type { CarrierId, ShipFrom } from '../core/shipment';

/**
 * Everything a carrier may learn about a shipment (privacy promise 3): ship-to, package,
 * service. Built by the core from the order; a builder sees nothing else.
 */
export interface CarrierShipment {
  shipmentId: string;
  carrier: CarrierId;
  /** The carrier's own service code, from the store's shipping-method map. */
  service: string;
  /** The warehouse or the supplier; store data, not customer data. */
  shipper: ShipFrom;
  shipTo: {
    name: string;
    company?: string;
    line1: string;
    line2?: string;
    city: string;
    region?: string;
    postalCode?: string;
    country: string;
    /** Absent when the order has none or the customer is contact-restricted. */
    phone?: string;
  };
  /** Total package weight in grams (sum of line weights, defaults for lines without one). */
  weightGrams: number;
}

/** A built carrier API request, before any network call. */
export interface CarrierRequest {
  /** The JSON body exactly as it will be POSTed. */
  body: string;
  /** Canonical paths whose values the body carries. */
  fields: FieldPath[];
}

/** One carrier's request builder: registers itself in `carriers/index.ts`. */
export interface CarrierRequestBuilder<Options = unknown> {
  readonly id: CarrierId;
  /** The wire format name shown by `preview` (e.g. `ups-ship`). */
  readonly format: string;
  /** Validates this carrier's section of `config/store.yaml` (`carriers.<id>`). */
  readonly optionsSchema: z.ZodType<Options>;
  build(shipment: CarrierShipment, options: Options): CarrierRequest;
}
