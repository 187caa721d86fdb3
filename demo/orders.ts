import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { OrderInput } from '../src/core/order';

/** Where the sample payloads of the README live. */
export const EXAMPLES_DIR = path.resolve(__dirname, '..', 'examples', 'orders');

/** An order as the demo sends it: which endpoint, and the exact body. */
export interface DemoOrder {
  /** What to call it in the output (a file name, or "generated"). */
  label: string;
  endpoint: '/orders' | '/webhooks/shopify' | '/webhooks/woocommerce';
  body: string;
}

const ENDPOINTS: Record<string, DemoOrder['endpoint']> = {
  'canonical-order.json': '/orders',
  'shopify-orders-create.json': '/webhooks/shopify',
  'woocommerce-order-created.json': '/webhooks/woocommerce',
};

/** The sample payloads in `examples/orders/`, each for the endpoint its shape belongs to. */
export function sampleOrders(dir: string = EXAMPLES_DIR): DemoOrder[] {
  return Object.entries(ENDPOINTS).map(([file, endpoint]) => ({
    label: file,
    endpoint,
    body: readFileSync(path.join(dir, file), 'utf8'),
  }));
}

const FIRST = ['Ada', 'Ben', 'Cleo', 'Dev', 'Eli', 'Fay', 'Gus', 'Hana', 'Ivo', 'Jun'];
const LAST = ['Example', 'Sample', 'Testington', 'Placeholder', 'Demo'];
const CITIES: Array<[string, string, string]> = [
  ['Portland', 'OR', '97205'],
  ['Seattle', 'WA', '98101'],
  ['Boise', 'ID', '83702'],
  ['Denver', 'CO', '80202'],
  ['Austin', 'TX', '78701'],
];
type Product = readonly [sku: string, name: string, price: string, grams: number];
const WAREHOUSE: Product[] = [
  ['LARDER-JAM', 'Fig & walnut jam', '8.50', 300],
  ['LARDER-HONEY', 'Wildflower honey', '11.00', 450],
];
const CREAMERY: Product[] = [
  ['VC-CHEVRE', 'Chèvre log', '12.00', 250],
  ['BUTTER-42', 'Cultured butter', '6.25', 250],
];
const CHOCOLATE: Product[] = [['CHOC-DARK70', 'Dark chocolate 70%', '6.25', 100]];
const OLIVES: Product[] = [['OLV-EVOO', 'Arbequina olive oil', '24.00', 1000]];
const CHARCUTERIE: Product[] = [['HV-SALAMI', 'Hudson Valley salami', '14.00', 300]];
const METHODS = ['standard', 'express', 'ups-2day'];

const pick = <T>(list: readonly T[], i: number): T => list[i % list.length] as T;

/**
 * A made-up canonical order (example.com addresses, 555 numbers, no card data). Order `i`
 * mixes the warehouse with one to three drop-ship suppliers and a UPS or FedEx service.
 */
export function generatedOrder(id: string, i: number, options: { edi?: boolean } = {}): OrderInput {
  const name = `${pick(FIRST, i)} ${pick(LAST, i * 3 + 1)}`;
  const [city, region, postalCode] = pick(CITIES, i);
  const phone = `+1 503 555 ${String(100 + i).padStart(4, '0')}`;
  const products: Product[] = [pick(WAREHOUSE, i)];
  if (i % 3 !== 2) products.push(pick(CREAMERY, i));
  if (i % 2 === 0) products.push(pick(CHOCOLATE, i));
  if (i % 3 !== 1) products.push(pick(OLIVES, i));
  // The EDI supplier's salami, in the demo's own orders (the chaos runs leave it out).
  if (options.edi === true && i % 4 === 1) products.push(pick(CHARCUTERIE, i));
  return {
    id,
    placedAt: new Date(Date.UTC(2026, 10, 21, 9, 0, 0) + i * 60_000).toISOString(),
    currency: 'USD',
    shippingMethod: pick(METHODS, i),
    ...(i % 4 === 0 ? { giftMessage: `Enjoy, ${pick(FIRST, i + 3)}!` } : {}),
    customer: { name, email: `customer${i}@example.com`, phone, contactRestricted: i % 5 === 4 },
    shipTo: { name, line1: `${10 + i} Sample Street`, city, region, postalCode, country: 'US', phone },
    billTo: { name, line1: `${20 + i} Billing Blvd`, city: 'Salem', region: 'OR', postalCode: '97301', country: 'US' },
    payment: { brand: 'visa', last4: String(1000 + i) },
    lines: products.map(([sku, productName, unitPrice, weight], n) => ({
      id: String(n + 1),
      sku,
      name: productName,
      quantity: 1 + ((i + n) % 3),
      unitPrice,
      weight,
    })),
  };
}

/** `count` generated orders with ids `prefix + (1 + n)`, as canonical JSON for `POST /orders`. */
export function generatedOrders(count: number, prefix = 'D'): DemoOrder[] {
  return Array.from({ length: count }, (_, n) => ({
    label: 'generated',
    endpoint: '/orders' as const,
    body: JSON.stringify(generatedOrder(`${prefix}${1001 + n}`, n, { edi: true })),
  }));
}
