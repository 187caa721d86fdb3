import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import type { Config } from '../../src/config/config';
import { Order, type OrderInput } from '../../src/core/order';

export const FIXTURE_CONFIG_DIR = path.join(__dirname, '..', 'fixtures', 'config');

let cached: Config | undefined;
/** The fixture configuration: warehouse, `creamery` (csv, VC-*), `oliveco` (json, OLV-*, own labels). */
export function fixtureConfig(): Config {
  cached ??= loadConfig(FIXTURE_CONFIG_DIR);
  return cached;
}

/** Test card numbers (public test PANs, Luhn-valid). */
export const TEST_CARDS = ['4111111111111111', '5555555555554444', '378282246310005', '6011111111111117'];

/** A canonical order payload with synthetic data: one warehouse line, two creamery, one olive line. */
export function orderPayload(overrides: Partial<OrderInput> = {}): OrderInput {
  return {
    id: '1001',
    placedAt: '2026-11-20T15:04:05Z',
    currency: 'USD',
    shippingMethod: 'standard',
    giftMessage: 'Happy birthday, Sam!',
    notes: 'Leave at the side door',
    customer: { name: 'Ada Example', email: 'ada@example.com', phone: '+1 503 555 0199', contactRestricted: false },
    shipTo: {
      name: 'Ada Example',
      company: 'Example Co',
      line1: '12 Sample Street',
      line2: 'Apt 4',
      city: 'Portland',
      region: 'OR',
      postalCode: '97205',
      country: 'US',
      phone: '+1 503 555 0199',
    },
    billTo: { name: 'Ada Billing', line1: '99 Billing Blvd', city: 'Salem', region: 'OR', postalCode: '97301', country: 'US' },
    payment: { brand: 'visa', last4: '1111' },
    lines: [
      { id: 'l1', sku: 'LARDER-JAM', name: 'Fig jam', quantity: 2, unitPrice: '8.50', weight: 300 },
      { id: 'l2', sku: 'VC-CHEVRE', name: 'Chèvre log', quantity: 1, unitPrice: '12.00', weight: 250 },
      { id: 'l3', sku: 'BUTTER-42', name: 'Cultured butter', quantity: 3, unitPrice: '6.25' },
      { id: 'l4', sku: 'OLV-EVOO', name: 'Olive oil', quantity: 1, unitPrice: '24.00', weight: 1000, properties: { Engraving: 'A & S' } },
    ],
    ...overrides,
  };
}

/** The validated canonical order for `orderPayload(overrides)`. */
export function order(overrides: Partial<OrderInput> = {}): Order {
  return Order.parse(orderPayload(overrides));
}
