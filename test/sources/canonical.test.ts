import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DropshipError } from '../../src/errors';
import { canonicalSource } from '../../src/sources/canonical';
import { ingestOrder } from '../../src/sources/ingest';

type Json = Record<string, unknown>;

function fixture(name: string): Json {
  return JSON.parse(readFileSync(join(__dirname, '../fixtures/sources', name), 'utf8')) as Json;
}

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DropshipError);
    expect((error as DropshipError).code).toBe('EINVALID_ORDER');
    return (error as DropshipError).problems;
  }
  throw new Error('expected a DropshipError');
}

describe('canonical order JSON', () => {
  const payload = fixture('canonical-order.json');

  it('keeps the canonical fields, money as decimal text, and nothing else', () => {
    expect(ingestOrder(payload, { source: 'canonical' })).toStrictEqual({
      source: { kind: 'canonical' },
      order: {
        id: 'A-1001',
        placedAt: '2024-05-03T08:00:00Z',
        currency: 'GBP',
        shippingMethod: 'express',
        giftMessage: 'Many happy returns!',
        notes: 'Fragile: glass jar.',
        customer: { name: 'Ada Example', email: 'ada@example.com', phone: '+44 20 7946 0000', contactRestricted: true },
        shipTo: {
          name: 'Ada Example',
          company: 'Example Ltd',
          line1: '1 Example Street',
          line2: 'Flat 2',
          city: 'London',
          region: 'Greater London',
          postalCode: 'SW1A 1AA',
          country: 'GB',
          phone: '+44 20 7946 0000',
        },
        billTo: { name: 'Ada Example', line1: '1 Example Street', city: 'London', postalCode: 'SW1A 1AA', country: 'GB' },
        payment: { brand: 'Mastercard', last4: '4444' },
        lines: [
          {
            id: '1',
            sku: 'VC-CHED-200',
            name: 'Cheddar 200 g',
            quantity: 1,
            unitPrice: '12.5',
            weight: 250,
            properties: { Engraving: 'For Ada' },
            requiresShipping: true,
          },
          { id: '2', sku: 'BUTTER-42', name: 'Cultured Butter', quantity: 2, unitPrice: '4.25', properties: {}, requiresShipping: true },
        ],
      },
    });
  });

  it('does not copy browser, marketing, loyalty or card fields', () => {
    const input = JSON.stringify(canonicalSource.toOrderInput(payload));
    for (const key of ['browserIp', 'userAgent', 'utm', 'acceptsMarketing', 'loyaltyId', 'latitude', 'costPrice', 'bin', 'cvv', 'expiry']) {
      expect(input).not.toContain(`"${key}"`);
    }
    expect(input).not.toMatch(/203\.0\.113\.9|ExampleBrowser|LOYAL-0001|555555|12\/30/);
  });

  it('applies the schema defaults to a minimal order', () => {
    const minimal = {
      id: '42',
      placedAt: '2024-01-01T00:00:00Z',
      currency: 'USD',
      lines: [{ id: '1', name: 'Thing', quantity: 1, unitPrice: 3 }],
    };
    expect(ingestOrder(minimal).order).toStrictEqual({
      id: '42',
      placedAt: '2024-01-01T00:00:00Z',
      currency: 'USD',
      shippingMethod: 'default',
      customer: { contactRestricted: false },
      lines: [{ id: '1', sku: '', name: 'Thing', quantity: 1, unitPrice: '3', properties: {}, requiresShipping: true }],
    });
  });

  it('treats null as absent', () => {
    const order = ingestOrder({ ...payload, giftMessage: null, shipTo: null, payment: null }).order;
    expect(order.giftMessage).toBeUndefined();
    expect(order.shipTo).toBeUndefined();
    expect(order.payment).toBeUndefined();
  });

  it('lists every problem as path: reason, quoting no value', () => {
    const problems = problemsOf(() => ingestOrder(fixture('canonical-order-invalid.json')));
    expect(problems).toEqual([
      'id: must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit, not ending with "." and without ".."',
      'placedAt: must be an ISO 8601 date-time',
      'currency: must be an ISO 4217 currency code such as "USD"',
      'customer.email: must be an email address',
      'shipTo.name: must not be empty',
      'shipTo.country: must be an ISO 3166-1 alpha-2 country code such as "US"',
      'lines[1].name: must not be empty',
      'lines[1].quantity: must be at least 1',
      'lines[1].unitPrice: must be a non-negative decimal amount such as "12.50"',
      'lines[2].quantity: must be a whole number',
      'lines[2].unitPrice: must be a non-negative decimal amount such as "12.50"',
      'lines[2].weight: must not be negative',
    ]);
    expect(problems.join('\n')).not.toMatch(/bad id!|yesterday|usd|not-an-email|USA|abc|1\.5|-5/);
  });

  it('reports nested values where text is expected without carrying them', () => {
    const nested = {
      ...payload,
      notes: { text: 'secret 4111 1111 1111 1111' },
      lines: [{ id: '1', name: ['Cheddar'], quantity: 1, unitPrice: '1.00', properties: { Engraving: { deep: 'x' } } }],
    };
    expect(canonicalSource.toOrderInput(nested)).toMatchObject({ notes: {}, lines: [{ name: [], properties: { Engraving: {} } }] });
    expect(problemsOf(() => ingestOrder(nested))).toEqual([
      'notes: Invalid input: expected string, received object',
      'lines[0].name: Invalid input: expected string, received array',
      'lines[0].properties.Engraving: Invalid input: expected string, received object',
    ]);
  });

  it('names property keys that are not identifiers in brackets', () => {
    const odd = { ...payload, lines: [{ id: '1', name: 'Cheddar', quantity: 1, unitPrice: '1.00', properties: { 'Gift note': 7 } }] };
    expect(problemsOf(() => ingestOrder(odd))).toEqual([
      'lines[0].properties["Gift note"]: Invalid input: expected string, received number',
    ]);
  });
});
