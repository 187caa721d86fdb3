import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Order } from '../../src/core/order';
import { scrubOrderInput } from '../../src/core/scrub';
import { DropshipError } from '../../src/errors';
import { detectSource, ORDER_SOURCE_KINDS, ORDER_SOURCES, sourceByKind } from '../../src/sources/index';

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(join(__dirname, '../fixtures/sources', name), 'utf8'));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

const SAMPLES = {
  canonical: ['canonical-order.json'],
  shopify: ['shopify-order-create.json', 'shopify-order-legacy.json', 'shopify-order-digital.json'],
  woocommerce: ['woocommerce-order-created.json'],
} as const;

const CANONICAL_KEYS = new Set([
  'id', 'placedAt', 'currency', 'shippingMethod', 'giftMessage', 'notes', 'customer', 'shipTo', 'billTo', 'payment', 'lines',
  'name', 'email', 'phone', 'contactRestricted', 'company', 'line1', 'line2', 'city', 'region', 'postalCode', 'country',
  'brand', 'last4', 'sku', 'quantity', 'unitPrice', 'weight', 'properties', 'requiresShipping',
  // The store's state of the order and its version (#13: which orders ship, corrections).
  'state', 'platform', 'financialStatus', 'cancelled', 'test', 'status', 'version',
  // The store's own ids of the order and its lines (#14: the store is told what shipped).
  'storeId', 'storeLineId',
]);

/** Every key of the mapped input, outside line properties (whose names are the store's). */
function keysOutsideProperties(value: unknown, keys: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => keysOutsideProperties(v, keys));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      keys.push(k);
      if (k !== 'properties') keysOutsideProperties(v, keys);
    }
  }
  return keys;
}

describe('source registry', () => {
  it('finds sources by kind', () => {
    expect(ORDER_SOURCE_KINDS).toEqual(['shopify', 'woocommerce', 'canonical']);
    for (const kind of ORDER_SOURCE_KINDS) expect(sourceByKind(kind)?.kind).toBe(kind);
    expect(sourceByKind('magento')).toBeUndefined();
  });

  it.each(Object.entries(SAMPLES).flatMap(([kind, files]) => files.map((file) => [file, kind])))(
    'detects %s as %s',
    (file, kind) => {
      expect(detectSource(fixture(file))?.kind).toBe(kind);
    },
  );

  it('detects WooCommerce by billing.first_name alone', () => {
    expect(detectSource({ line_items: [], billing: { first_name: 'Ada' } })?.kind).toBe('woocommerce');
    expect(detectSource({ line_items: [], _links: {} })?.kind).toBe('woocommerce');
    expect(detectSource({ line_items: [], admin_graphql_api_id: 'gid://shopify/Order/1' })?.kind).toBe('shopify');
  });

  it.each([null, 42, 'order', [], {}, { lines: [] }, { id: 1, lines: {} }, { line_items: [] }, { line_items: {}, order_number: 1 }])(
    'detects nothing in %j',
    (payload) => {
      expect(detectSource(payload)).toBeUndefined();
    },
  );
});

describe.each(ORDER_SOURCES.map((source) => [source.kind, source] as const))('order source contract: %s', (kind, source) => {
  const samples = SAMPLES[kind].map((file) => fixture(file));

  it('recognises its own samples and no other source does', () => {
    for (const sample of samples) {
      expect(source.detect(sample)).toBe(true);
      for (const other of ORDER_SOURCES.filter((s) => s !== source)) expect(other.detect(sample)).toBe(false);
    }
  });

  it('maps its samples to valid orders without changing them', () => {
    for (const sample of samples) {
      const frozen = deepFreeze(sample);
      const result = Order.safeParse(scrubOrderInput(source.toOrderInput(frozen), { source: kind }));
      expect(result.error?.issues ?? []).toEqual([]);
    }
  });

  it('copies only canonical fields', () => {
    for (const sample of samples) {
      const unknownKeys = keysOutsideProperties(source.toOrderInput(sample)).filter((k) => !CANONICAL_KEYS.has(k));
      expect(unknownKeys).toEqual([]);
    }
  });

  it.each([null, 'order', 7, [1, 2]])('rejects %j as not an order object', (payload) => {
    expect(() => source.toOrderInput(payload)).toThrow(DropshipError);
    try {
      source.toOrderInput(payload);
    } catch (error) {
      expect((error as DropshipError).code).toBe('EINVALID_ORDER');
    }
  });
});
