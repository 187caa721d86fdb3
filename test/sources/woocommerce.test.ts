import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DropshipError } from '../../src/errors';
import { ingestOrder } from '../../src/sources/ingest';
import { woocommerceSource } from '../../src/sources/woocommerce';

type Json = Record<string, unknown>;

function fixture(name: string): Json {
  return JSON.parse(readFileSync(join(__dirname, '../fixtures/sources', name), 'utf8')) as Json;
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

describe('WooCommerce order webhook (REST API v3 order)', () => {
  const payload = fixture('woocommerce-order-created.json');

  it('maps to the canonical order', () => {
    expect(ingestOrder(payload, { source: 'woocommerce' })).toStrictEqual({
      source: { kind: 'woocommerce' },
      order: {
        id: '727',
        storeId: '727',
        // date_created_gmt is UTC without an offset.
        placedAt: '2024-05-02T13:30:00Z',
        currency: 'EUR',
        shippingMethod: 'flat_rate',
        giftMessage: 'Til lykke! 🎉',
        notes: 'Ring twice, please.',
        customer: { name: 'Søren Eksempel', email: 'soren@example.com', phone: '+45 55 55 01 00', contactRestricted: false },
        shipTo: {
          name: 'Søren Eksempel',
          company: 'Example ApS',
          line1: 'Eksempelvej 1',
          line2: 'Bagdør, kode [redacted]',
          city: 'København',
          postalCode: '1050',
          country: 'DK',
        },
        billTo: {
          name: 'Søren Eksempel',
          line1: 'Eksempelvej 1',
          city: 'København',
          postalCode: '1050',
          country: 'DK',
          phone: '+45 55 55 01 00',
        },
        lines: [
          {
            id: '315',
            storeLineId: '315',
            sku: 'TEA-GRN',
            name: 'Te – Grøn & Mint',
            quantity: 2,
            unitPrice: '10.00',
            properties: { Size: 'Large', Engraving: 'Tak [redacted]' },
            requiresShipping: true,
          },
          // price is total ÷ quantity as a float: six decimals at most.
          { id: '316', storeLineId: '316', sku: '', name: 'Honning 500 g', quantity: 3, unitPrice: '8.333333', properties: {}, requiresShipping: true },
        ],
        // `status`, which store.yaml `fulfil` decides on; `date_modified_gmt` as the version.
        state: { platform: 'woocommerce', status: 'processing' },
        version: Date.parse('2024-05-02T13:30:05Z'),
      },
    });
  });

  it('carries no card, browser, payment or marketing data', () => {
    const json = JSON.stringify(ingestOrder(payload));
    for (const needle of [
      '4111',
      '5555',
      '198.51.100.23',
      'ExampleBrowser',
      'Stripe',
      'ch_synthetic0001',
      'cus_synthetic',
      'newsletter',
      'synthetic-cart-hash',
      'wc_order_synthetic0001',
      'CVV',
      '_reduced_stock',
      'shop.example.com',
    ]) {
      expect(json).not.toContain(needle);
    }
  });

  it('treats an all-blank shipping object as no shipping address', () => {
    const blank = { first_name: '', last_name: '', company: '', address_1: '', address_2: '', city: '', state: 'CA', postcode: '', country: 'US', phone: '' };
    const order = ingestOrder({ ...payload, shipping: blank }).order;
    expect(order.shipTo).toBeUndefined();
    expect(order.billTo?.line1).toBe('Eksempelvej 1');
  });

  it('drops a billing address without a street (digital orders)', () => {
    const billing = { ...(payload.billing as Json), address_1: '', city: '', postcode: '' };
    const order = ingestOrder({ ...payload, billing }).order;
    expect(order.billTo).toBeUndefined();
    expect(order.customer).toEqual({ name: 'Søren Eksempel', email: 'soren@example.com', phone: '+45 55 55 01 00', contactRestricted: false });
  });

  it('reads contact restriction and a gift message from order meta data', () => {
    const meta = [
      { id: 1, key: '_contact_restricted', value: 'yes' },
      { id: 2, key: '_gift_message', value: 'Card 4111 1111 1111 1111 enclosed' },
    ];
    const order = ingestOrder({ ...payload, meta_data: meta }).order;
    expect(order.customer.contactRestricted).toBe(true);
    expect(order.giftMessage).toBe('Card [redacted] enclosed');
  });

  it('uses id when number is missing, and date_created only when it has an offset', () => {
    const { number: _number, date_created_gmt: _gmt, ...rest } = payload;
    expect(ingestOrder({ ...rest, date_created: '2024-05-02T15:30:00+02:00' }).order).toMatchObject({
      id: '727',
      placedAt: '2024-05-02T15:30:00+02:00',
    });
    // Store-local time without an offset is not a usable instant.
    expect(problemsOf(() => ingestOrder(rest))).toEqual(['placedAt: must be an ISO 8601 date-time']);
  });

  it('lists every problem by canonical path, with no values', () => {
    const [first] = payload.line_items as Json[];
    const broken = {
      ...payload,
      currency: 'euro',
      billing: { ...(payload.billing as Json), email: 'soren-at-example' },
      line_items: [{ ...first, quantity: -2, price: -10 }, { ...first, name: '', sku: null, quantity: '3' }],
    };
    const problems = problemsOf(() => ingestOrder(broken));
    expect(problems).toEqual([
      'currency: must be an ISO 4217 currency code such as "USD"',
      'customer.email: must be an email address',
      'lines[0].quantity: must be at least 1',
      'lines[0].unitPrice: must be a non-negative decimal amount such as "12.50"',
      'lines[1].name: must not be empty',
      'lines[1].quantity: must be a number',
    ]);
    expect(problems.join('\n')).not.toMatch(/euro|soren-at-example|-10|-2/);
  });

  it('rejects a payload that is not an object or has no line_items array', () => {
    expect(problemsOf(() => woocommerceSource.toOrderInput('order'))).toEqual(['order: a WooCommerce order must be a JSON object']);
    expect(problemsOf(() => woocommerceSource.toOrderInput({ id: 1, line_items: null }))).toEqual(['line_items: must be an array']);
  });
});
