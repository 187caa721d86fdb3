import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DropshipError } from '../../src/errors';
import { ingestOrder } from '../../src/sources/ingest';
import { shopifySource } from '../../src/sources/shopify';

type Json = Record<string, unknown>;

function fixture(name: string): Json {
  return JSON.parse(readFileSync(join(__dirname, '../fixtures/sources', name), 'utf8')) as Json;
}

/** The result carries none of `needles`; card numbers are also looked for with separators removed. */
function expectAbsent(result: unknown, needles: readonly string[]): void {
  const json = JSON.stringify(result);
  const digits = json.replace(/\D/g, '');
  for (const needle of needles) {
    expect(json).not.toContain(needle);
    const needleDigits = needle.replace(/[ -]/g, '');
    if (/^\d{13,19}$/.test(needleDigits)) expect(digits).not.toContain(needleDigits);
  }
}

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DropshipError);
    return (error as DropshipError).problems;
  }
  throw new Error('expected a DropshipError');
}

describe('Shopify orders/create (current API shape)', () => {
  const payload = fixture('shopify-order-create.json');

  it('maps to the canonical order, card numbers redacted, removed lines skipped', () => {
    expect(ingestOrder(payload, { source: 'shopify', eventId: 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043' })).toStrictEqual({
      source: { kind: 'shopify', eventId: 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043' },
      order: {
        id: '1001',
        name: '#1001',
        storeId: '5800000000001',
        placedAt: '2024-05-01T10:15:00-04:00',
        currency: 'USD',
        shippingMethod: 'Standard',
        giftMessage: 'Happy birthday, Grace! (paid with [redacted])',
        notes: 'Leave at the side door. Card for the deposit: [redacted]',
        customer: { name: 'Ada Example', email: 'ada@example.com', phone: '+1 202-555-0143', contactRestricted: false },
        shipTo: {
          name: 'Grace Exämple',
          company: 'Example Dairy Co.',
          line1: '12 Example Lane',
          line2: 'Suite 200, ref [redacted]',
          city: 'Springfield',
          region: 'IL',
          postalCode: '62704',
          country: 'US',
          phone: '+1 202-555-0177',
        },
        billTo: {
          name: 'Ada Example',
          line1: '1 Example Street',
          city: 'Springfield',
          region: 'IL',
          postalCode: '62701',
          country: 'US',
          phone: '+1 202-555-0143',
        },
        lines: [
          {
            id: '1',
            storeLineId: '13600000000001',
            sku: 'VC-CHED-200',
            name: 'Salt & Pepper Cheddar - 200 g',
            quantity: 2,
            unitPrice: '12.50',
            weight: 200,
            properties: { Engraving: 'For Grace', 'Gift note': 'Use card [redacted] for the deposit' },
            requiresShipping: true,
          },
          { id: '2', storeLineId: '13600000000002', sku: '', name: 'Crème fraîche 250 ml', quantity: 1, unitPrice: '8.00', properties: {}, requiresShipping: true },
          { id: '4', storeLineId: '13600000000004', sku: 'BUTTER-42', name: 'Cultured Butter', quantity: 3, unitPrice: '10.00', weight: 250, properties: {}, requiresShipping: true },
        ],
        // What store.yaml `fulfil` decides on, and `updated_at` as the version.
        state: { platform: 'shopify', financialStatus: 'paid', cancelled: false, test: false },
        version: Date.parse('2024-05-01T10:15:03-04:00'),
      },
    });
  });

  it('carries no card, browser or marketing data', () => {
    expectAbsent(ingestOrder(payload, { source: 'shopify' }), [
      '4111 1111 1111 1111',
      '4111-1111-1111-1111',
      '5555-5555-5555-4444',
      '378282246310005',
      '4242 4242 4242 4242',
      '203.0.113.42',
      'ExampleBrowser',
      'synthetic-session-hash',
      'synthetic-cart-token',
      'synthetic-checkout-token',
      'utm_',
      'newsletter',
      'search.example.net',
      'synthetic-bundle-1',
      'card_number',
      'marketing',
      'shopify_payments',
    ]);
  });

  it('takes the price from price_set when the plain price is missing', () => {
    const [first] = payload.line_items as Json[];
    const { price: _price, ...withoutPrice } = first as Json;
    const order = ingestOrder({ ...payload, line_items: [withoutPrice] }, { source: 'shopify' }).order;
    expect(order.lines[0]?.unitPrice).toBe('12.50');
  });

  it('falls back to the shipping line title, then to the default method', () => {
    const titled = { ...payload, shipping_lines: [{ code: null, title: 'Standard Shipping' }] };
    expect(ingestOrder(titled, { source: 'shopify' }).order.shippingMethod).toBe('Standard Shipping');
    expect(ingestOrder({ ...payload, shipping_lines: [] }, { source: 'shopify' }).order.shippingMethod).toBe('default');
  });

  it('keeps the lines of an order whose lines were all removed, as lines that do not ship', () => {
    // Before #13 such an order was refused (no lines); it is an order with nothing to ship,
    // which is recorded as skipped (NOTHING_TO_SHIP), not an invalid payload.
    const removed = (payload.line_items as Json[]).map((l) => ({ ...l, current_quantity: 0 }));
    const lines = ingestOrder({ ...payload, line_items: removed }, { source: 'shopify' }).order.lines;
    expect(lines.map((l) => [l.id, l.quantity, l.requiresShipping])).toEqual([
      ['1', 2, false],
      ['2', 1, false],
      ['3', 1, false],
      ['4', 3, false],
    ]);
  });

  it('takes updated_at as the version even when its milliseconds pass the Luhn check (it is a time, not a card)', () => {
    // 2024-05-03T13:20:00Z is 1714742400000 ms, a Luhn-valid 13-digit number.
    expect(ingestOrder({ ...payload, updated_at: '2024-05-03T09:20:00-04:00' }, { source: 'shopify' }).order.version).toBe(1714742400000);
  });

  it('keeps an order id that passes the Luhn check: an id is an identifier, not free text', () => {
    // Before, the id was redacted and the order refused; a numeric id passes the Luhn check one time in ten.
    const { order_number: _ignored, ...withoutNumber } = payload;
    expect(ingestOrder({ ...withoutNumber, id: 5451234567899 }, { source: 'shopify' }).order.id).toBe('5451234567899');
    expect(ingestOrder({ ...payload, order_number: '4111111111111111' }, { source: 'shopify' }).order.id).toBe('4111111111111111');
  });

  it('does not modify the payload', () => {
    const before = JSON.stringify(payload);
    shopifySource.toOrderInput(payload);
    ingestOrder(payload, { source: 'shopify' });
    expect(JSON.stringify(payload)).toBe(before);
  });
});

describe('Shopify orders/create (older API shape)', () => {
  const payload = fixture('shopify-order-legacy.json');

  it('maps price strings, payment_details brand and last four, a customer tag, a gift_message note attribute', () => {
    expect(ingestOrder(payload).order).toStrictEqual({
      id: '1002',
      storeId: '450789469',
      name: '#1002',
      // No processed_at in this payload: created_at is the order date.
      placedAt: '2019-03-12T16:09:54-04:00',
      currency: 'CAD',
      shippingMethod: 'Express',
      giftMessage: 'Enjoy the socks!',
      customer: { name: 'Bo Example', email: 'bo@example.com', phone: '+1 613-555-0110', contactRestricted: true },
      shipTo: { name: 'Bo Example', line1: '5 Sample Road', city: 'Ottawa', region: 'ON', postalCode: 'K1A 0B1', country: 'CA' },
      billTo: {
        name: 'Bo Example',
        line1: '5 Sample Road',
        city: 'Ottawa',
        region: 'ON',
        postalCode: 'K1A 0B1',
        country: 'CA',
        phone: '+1 613-555-0110',
      },
      payment: { brand: 'Visa', last4: '1111' },
      lines: [
        { id: '1', storeLineId: '466157049', sku: 'SOCK-L', name: 'Wool Socks - Large', quantity: 1, unitPrice: '19.00', weight: 150, properties: {}, requiresShipping: true },
        // gift_card: true never ships.
        { id: '2', storeLineId: '518995019', sku: '', name: 'Gift Card', quantity: 1, unitPrice: '50.00', properties: { Recipient: 'Cy Example' }, requiresShipping: false },
      ],
      state: { platform: 'shopify', financialStatus: 'authorized', cancelled: false, test: true },
      version: Date.parse('2019-03-12T16:09:55-04:00'),
    });
  });

  it('keeps nothing of payment_details but brand and last four, and no browser data', () => {
    const result = ingestOrder(payload);
    expectAbsent(result, ['411111', '198.51.100.7', 'ExampleBrowser', 'bogus', 'example.org', 'synthetic-legacy-cart', 'wholesale']);
    expect(JSON.stringify(result)).not.toMatch(/avs|cvv|bin/i);
  });
});

describe('Shopify digital-only order (no shipping address, no customer, no order_number)', () => {
  const payload = fixture('shopify-order-digital.json');

  it('leaves shipTo out, drops the partial billing address, and uses the numeric id', () => {
    expect(ingestOrder(payload).order).toStrictEqual({
      id: '5800000000003',
      storeId: '5800000000003',
      placedAt: '2024-06-10T08:00:00+09:00',
      currency: 'JPY',
      shippingMethod: 'default',
      customer: { name: '山田 テスト', email: 'zoe@example.com', contactRestricted: true },
      // requires_shipping: false never ships.
      lines: [{ id: '1', storeLineId: '13600000000031', sku: '', name: 'E-book: Café Stories – Vol. 2', quantity: 1, unitPrice: '1500', properties: {}, requiresShipping: false }],
      state: { platform: 'shopify', cancelled: false, test: false },
    });
  });

  it('carries no browser data', () => {
    expectAbsent(ingestOrder(payload), ['203.0.113.99', 'ExampleBrowser', 'ja-JP', 'manual']);
  });

  it('reads contact-restricted only from a yes value', () => {
    const no = { ...payload, note_attributes: [{ name: 'Contact Restricted', value: 'no' }] };
    expect(ingestOrder(no).order.customer.contactRestricted).toBe(false);
  });
});

describe('Shopify payload problems', () => {
  const payload = fixture('shopify-order-create.json');

  it('lists every problem by canonical path, with no values', () => {
    const [first, second] = payload.line_items as Json[];
    const broken = {
      ...payload,
      currency: 'dollars',
      processed_at: 'last tuesday',
      shipping_address: { ...(payload.shipping_address as Json), country_code: null, country: 'Atlantis', city: '' },
      line_items: [
        { ...first, current_quantity: 1.5 },
        { ...second, name: null, title: null, price: 'free', price_set: null },
      ],
    };
    const problems = problemsOf(() => ingestOrder(broken, { source: 'shopify' }));
    expect(problems).toEqual([
      'placedAt: must be an ISO 8601 date-time',
      'currency: must be an ISO 4217 currency code such as "USD"',
      'shipTo.city: must not be empty',
      'shipTo.country: must be an ISO 3166-1 alpha-2 country code such as "US"',
      'lines[0].quantity: must be a whole number',
      'lines[1].name: must not be empty',
      'lines[1].unitPrice: must be a non-negative decimal amount such as "12.50"',
    ]);
    for (const value of ['dollars', 'last tuesday', 'Atlantis', 'free', '1.5']) {
      expect(problems.join('\n')).not.toContain(value);
    }
  });

  it('rejects a payload that is not an object or has no line_items array', () => {
    expect(problemsOf(() => shopifySource.toOrderInput([]))).toEqual(['order: a Shopify order must be a JSON object']);
    expect(problemsOf(() => shopifySource.toOrderInput({ order_number: 1 }))).toEqual(['line_items: must be an array']);
  });
});

describe('the REST Admin API envelope { "order": { ... } }', () => {
  const payload = fixture('shopify-order-create.json');

  it('is read as the order inside it, as `GET /orders/{id}.json` returns it', () => {
    expect(shopifySource.detect({ order: payload })).toBe(true);
    expect(ingestOrder({ order: payload })).toStrictEqual(ingestOrder(payload, { source: 'shopify' }));
    expect(ingestOrder({ order: payload }, { source: 'shopify' })).toStrictEqual(ingestOrder(payload, { source: 'shopify' }));
  });

  it('names a cancellation in it, as in a webhook body', () => {
    const cancelled = { ...payload, cancelled_at: '2024-05-04T09:00:00-04:00', cancel_reason: 'customer' };
    expect(shopifySource.cancellation?.({ order: cancelled })).toEqual({ orderId: '1001', reason: 'customer' });
  });

  it('is not mistaken for an order when the object beside it is not one', () => {
    expect(shopifySource.detect({ order: { id: 1 } })).toBe(false);
    expect(shopifySource.detect({ order: 'x' })).toBe(false);
  });
});

describe('Shopify cancellations: the body decides, not the (unsigned) topic', () => {
  const payload = fixture('shopify-order-create.json');

  it('an order with cancelled_at is cancelled, with its reason', () => {
    expect(shopifySource.cancellation?.({ ...payload, cancelled_at: '2024-05-04T09:00:00-04:00', cancel_reason: 'fraud' })).toEqual({ orderId: '1001', reason: 'fraud' });
  });

  it('an order without cancelled_at (null, empty or missing) cancels nothing', () => {
    expect(shopifySource.cancellation?.({ ...payload, cancelled_at: null, cancel_reason: null })).toBeUndefined();
    expect(shopifySource.cancellation?.({ ...payload, cancelled_at: '' })).toBeUndefined();
    const { cancelled_at: _gone, ...without } = { ...payload, cancelled_at: null };
    expect(shopifySource.cancellation?.(without)).toBeUndefined();
  });
});
