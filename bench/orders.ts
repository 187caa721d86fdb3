import path from 'node:path';
import type { Config } from '../src/config/config';
import { loadConfig } from '../src/config/load';
import type { OrderEvent, OrderInput } from '../src/core/order';
import { planOrder } from '../src/planning/plan';
import { ingestOrder } from '../src/sources/ingest';

/**
 * Synthetic orders for the benchmarks: made-up names on example.com / 555 numbers, no real
 * personal data and no card numbers. Shaped for the fixture configuration (a warehouse,
 * `creamery` for VC-* and BUTTER-42 with retailer labels, `oliveco` for OLV-* with its own
 * labels), so every order makes exactly four deliveries: a carrier request for the
 * warehouse shipment, a carrier request and a PO for creamery, a PO for oliveco.
 */

/** The fixture configuration is data: loaded by path, not through test/ code. */
export const FIXTURE_CONFIG_DIR = path.join(__dirname, '..', 'test', 'fixtures', 'config');

let cached: Config | undefined;
export function benchConfig(): Config {
  cached ??= loadConfig(FIXTURE_CONFIG_DIR);
  return cached;
}

export const DELIVERIES_PER_ORDER = 4;

const FIRST = ['Ada', 'Ben', 'Cleo', 'Dev', 'Eli', 'Fay', 'Gus', 'Hana', 'Ivo', 'Jun', 'Kai', 'Lena'];
const LAST = ['Example', 'Sample', 'Testington', 'Placeholder', 'Demo', 'Fixture'];
const STREETS = ['Sample Street', 'Example Avenue', 'Test Lane', 'Mock Road', 'Synthetic Way'];
const CITIES: Array<[string, string, string]> = [
  ['Portland', 'OR', '97205'],
  ['Seattle', 'WA', '98101'],
  ['Boise', 'ID', '83702'],
  ['Denver', 'CO', '80202'],
  ['Austin', 'TX', '78701'],
];
const WAREHOUSE = [
  ['LARDER-JAM', 'Fig jam', '8.50', 300],
  ['LARDER-HONEY', 'Wildflower honey', '11.00', 450],
  ['LARDER-TEA', 'Breakfast tea', '6.75', 120],
] as const;
const CREAMERY = [
  ['VC-CHEVRE', 'Chèvre log', '12.00', 250],
  ['VC-BRIE', 'Small brie', '14.50', 300],
  ['BUTTER-42', 'Cultured butter', '6.25', undefined],
] as const;
const OLIVE = [
  ['OLV-EVOO', 'Olive oil', '24.00', 1000],
  ['OLV-TAPENADE', 'Black tapenade', '9.80', 200],
] as const;

function pick<T>(list: readonly T[], i: number): T {
  return list[i % list.length]!;
}

/** A deterministic synthetic canonical order payload; `i` varies names, lines and method. */
export function syntheticOrder(id: string, i: number): OrderInput {
  const name = `${pick(FIRST, i)} ${pick(LAST, i * 7 + 3)}`;
  const [city, region, postalCode] = pick(CITIES, i * 3 + 1);
  const phone = `+1 503 555 ${String(100 + (i % 900)).padStart(4, '0')}`;
  const lines: OrderInput['lines'] = [];
  let n = 0;
  const add = (p: readonly [string, string, string, number | undefined], quantity: number, properties?: Record<string, string>) => {
    n++;
    lines.push({
      id: `l${n}`,
      sku: p[0],
      name: p[1],
      quantity,
      unitPrice: p[2],
      ...(p[3] !== undefined ? { weight: p[3] } : {}),
      ...(properties ? { properties } : {}),
    });
  };
  for (let k = 0; k <= i % 2; k++) add(pick(WAREHOUSE, i + k), 1 + ((i + k) % 3));
  for (let k = 0; k <= (i >> 1) % 3; k++) add(pick(CREAMERY, i + k), 1 + (k % 2));
  add(pick(OLIVE, i), 1, i % 4 === 0 ? { Engraving: `For ${pick(FIRST, i + 5)}` } : undefined);
  return {
    id,
    placedAt: new Date(Date.UTC(2026, 10, 20, 15, 4, 5) + i * 60_000).toISOString(),
    currency: 'USD',
    // Both carriers in use, so both carrier queues get work.
    shippingMethod: i % 3 === 2 ? 'express' : 'standard',
    ...(i % 5 === 0 ? { giftMessage: `Happy birthday, ${pick(FIRST, i + 2)}!` } : {}),
    ...(i % 7 === 0 ? { notes: 'Leave at the side door' } : {}),
    customer: { name, email: `customer${i}@example.com`, phone, contactRestricted: i % 11 === 0 },
    shipTo: {
      name,
      ...(i % 6 === 0 ? { company: 'Example Co' } : {}),
      line1: `${10 + (i % 90)} ${pick(STREETS, i)}`,
      ...(i % 4 === 1 ? { line2: `Apt ${1 + (i % 20)}` } : {}),
      city,
      region,
      postalCode,
      country: 'US',
      phone,
    },
    billTo: { name, line1: `${20 + (i % 70)} Billing Blvd`, city: 'Salem', region: 'OR', postalCode: '97301', country: 'US' },
    payment: { brand: 'visa', last4: String(1000 + (i % 9000)) },
    lines,
  };
}

/** `count` raw JSON order bodies (as an HTTP server would receive them). */
export function rawOrders(count: number, idPrefix = 'P'): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.from(JSON.stringify(syntheticOrder(`${idPrefix}${i + 1}`, i))));
}

/**
 * `count` scrubbed, validated order events with ids `${idPrefix}${i}`, checked to plan to
 * exactly four deliveries each.
 */
export function orderEvents(count: number, idPrefix: string, config: Config = benchConfig()): OrderEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const event = ingestOrder(syntheticOrder(`${idPrefix}${i + 1}`, i), { source: 'canonical' });
    if (i < 50) {
      const plan = planOrder(event.order, config);
      const made = plan.status === 'planned' ? plan.deliveries.length : 0;
      if (made !== DELIVERIES_PER_ORDER) {
        throw new Error(`synthetic order ${event.order.id} plans ${made} deliveries (${plan.status}), expected ${DELIVERIES_PER_ORDER}`);
      }
    }
    return event;
  });
}
