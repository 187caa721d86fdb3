import type { CarrierId } from '../core/shipment';
import type { CarrierRequestBuilder } from './carrier';
import { fedexCarrier } from './fedex/request';
import { upsCarrier } from './ups/request';

/**
 * Every carrier request builder by id. A new carrier is one new file implementing
 * `CarrierRequestBuilder`, added here; the `Record` makes a missing one a type error.
 * Options are checked by each builder's `optionsSchema` at start-up, hence `unknown` here.
 */
export const CARRIERS: Readonly<Record<CarrierId, CarrierRequestBuilder>> = Object.freeze({
  ups: upsCarrier,
  fedex: fedexCarrier,
});

/** The builder for `id`; throws for an id that names no carrier (e.g. from unchecked input). */
export function carrierById(id: CarrierId): CarrierRequestBuilder {
  const carrier = (CARRIERS as Partial<Record<string, CarrierRequestBuilder>>)[id];
  if (!carrier) throw new RangeError(`unknown carrier "${String(id)}"; known carriers are ${Object.keys(CARRIERS).join(', ')}`);
  return carrier;
}
