import { scrubOrderInput } from '../../src/core/scrub';
import type { OrderInput } from '../../src/core/order';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

const base: OrderInput = {
  id: '1001',
  placedAt: '2024-05-01T10:15:00Z',
  currency: 'USD',
  customer: { name: 'Ada Example', email: 'ada@example.com', phone: '+1 202-555-0143' },
  shipTo: { name: 'Ada Example', line1: '1 Example Street', city: 'Springfield', country: 'US', phone: '+1 202-555-0177' },
  lines: [{ id: '1', sku: 'VC-1', name: 'Cheddar', quantity: 1, unitPrice: '12.50', properties: { Engraving: 'For Ada' } }],
};

describe('scrubOrderInput', () => {
  it('returns an equal copy when there is nothing to scrub', () => {
    const input = deepFreeze(structuredClone(base));
    const output = scrubOrderInput(input);
    expect(output).toStrictEqual(base);
    expect(output).not.toBe(input);
    expect(output.lines[0]).not.toBe(input.lines[0]);
  });

  it('redacts card-like numbers in free text, and never mutates its input', () => {
    // Before, ids and SKUs were scrubbed as well; they are identifiers now (see the next test).
    const input = deepFreeze<OrderInput>({
      ...base,
      giftMessage: 'Happy birthday! 4111 1111 1111 1111',
      notes: 'Use 5555-5555-5555-4444 please',
      customer: { ...base.customer, name: 'Ada 4111111111111111' },
      shipTo: { ...base.shipTo!, company: 'Co 4111111111111111', line2: 'Door 378282246310005', city: 'City 6011111111111117' },
      lines: [
        {
          ...base.lines[0]!,
          name: 'Cheddar 4111.1111.1111.1111',
          properties: { Engraving: 'card 4111-1111-1111-1111', 'Ref 4111111111111111': 'x' },
        },
      ],
    });
    const copy = structuredClone(input);
    expect(scrubOrderInput(input)).toStrictEqual({
      ...base,
      giftMessage: 'Happy birthday! [redacted]',
      notes: 'Use [redacted] please',
      customer: { ...base.customer, name: 'Ada [redacted]' },
      shipTo: { ...base.shipTo!, company: 'Co [redacted]', line2: 'Door [redacted]', city: 'City [redacted]' },
      lines: [{ ...base.lines[0]!, name: 'Cheddar [redacted]', properties: { Engraving: 'card [redacted]', 'Ref [redacted]': 'x' } }],
    });
    expect(input).toStrictEqual(copy);
  });

  it('never touches identifiers: order id, line ids and SKUs go out as they came, Luhn-valid or not', () => {
    const input = deepFreeze<OrderInput>({
      ...base,
      id: '4111111111111111', // a marketplace order number may pass the Luhn check
      lines: [
        { ...base.lines[0]!, id: '4242424242424242', sku: '4006381333924' }, // an EAN-13 barcode that is also Luhn-valid
        { ...base.lines[0]!, id: '2', sku: 'SKU-4242424242424242' },
        { ...base.lines[0]!, id: '3', sku: '5012345678924 / 500 G' },
      ],
    });
    expect(scrubOrderInput(input)).toStrictEqual(input);
  });

  it('keeps a phone number with an extension, even when all its digits together pass the Luhn check', () => {
    // 1 802 555 0100 and 1004: the 15 digits together pass the Luhn check; the number alone does not.
    for (const phone of ['+1 802 555 0100 ext. 1004', '+1 802 555 0100 x1004', '+1-802-555-0100;ext=1004', '(802) 555-0100 #1004', '+1 802 555 0100 extension 1004']) {
      const output = scrubOrderInput({ ...base, customer: { phone }, shipTo: { ...base.shipTo!, phone } });
      expect([output.customer?.phone, output.shipTo?.phone]).toEqual([phone, phone]);
    }
  });

  it('still drops a phone field holding a card number, with or without an "extension"', () => {
    for (const phone of ['4111 1111 1111 1111 x12', '4111-1111-1111-1111', '+1 802 555 0100 x 4111 1111 1111 1111', '٤١١١ ١١١١ ١١١١ ١١١١']) {
      expect(scrubOrderInput({ ...base, customer: { phone } }).customer).not.toHaveProperty('phone');
    }
  });

  it('redacts a card number sent as a JSON number', () => {
    const input = { ...base, lines: [{ ...base.lines[0]!, quantity: 4111111111111111 }] };
    expect(scrubOrderInput(input).lines[0]?.quantity).toBe('[redacted]');
  });

  it('drops a phone whose digits look like a card number, wherever the separators are', () => {
    const input = deepFreeze<OrderInput>({
      ...base,
      customer: { ...base.customer, phone: '(4111) 1111.1111.1111' },
      shipTo: { ...base.shipTo!, phone: '+4111 1111 1111 1111' },
      billTo: { ...base.shipTo!, phone: '5555-5555-5555-4444' },
    });
    const output = scrubOrderInput(input);
    expect(output.customer).toStrictEqual({ name: 'Ada Example', email: 'ada@example.com' });
    expect(output.shipTo).not.toHaveProperty('phone');
    expect(output.billTo).not.toHaveProperty('phone');
    expect(JSON.stringify(output)).not.toMatch(/4111|5555/);
  });

  it('keeps ordinary phone numbers', () => {
    const output = scrubOrderInput({ ...base, customer: { phone: '+44 20 7946 0000' } });
    expect(output.customer?.phone).toBe('+44 20 7946 0000');
  });

  it('drops line properties named like card or browser data', () => {
    const properties = { cvv: '123', 'Card-Number': 'x', browser_ip: '203.0.113.1', user_agent: 'ua', Engraving: 'For Ada' };
    const output = scrubOrderInput({ ...base, lines: [{ ...base.lines[0]!, properties }] });
    expect(output.lines[0]?.properties).toStrictEqual({ Engraving: 'For Ada' });
  });

  it('drops private (underscore) properties for Shopify only', () => {
    const input = { ...base, lines: [{ ...base.lines[0]!, properties: { _bundle: 'b-1', Engraving: 'For Ada' } }] };
    expect(scrubOrderInput(input, { source: 'shopify' }).lines[0]?.properties).toStrictEqual({ Engraving: 'For Ada' });
    expect(scrubOrderInput(input, { source: 'canonical' }).lines[0]?.properties).toStrictEqual({ _bundle: 'b-1', Engraving: 'For Ada' });
  });

  it('keeps a "__proto__" key from becoming a prototype', () => {
    const properties = JSON.parse('{"__proto__": {"polluted": "yes"}, "Engraving": "For Ada"}') as Record<string, string>;
    const output = scrubOrderInput({ ...base, lines: [{ ...base.lines[0]!, properties }] });
    expect(output.lines[0]?.properties).toStrictEqual({ Engraving: 'For Ada' });
    expect(Object.getPrototypeOf(output.lines[0]?.properties)).toBe(Object.prototype);
  });
});
