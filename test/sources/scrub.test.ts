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

  it('redacts card-like numbers in every string, ids included, and never mutates its input', () => {
    const input = deepFreeze<OrderInput>({
      ...base,
      id: '4111111111111111',
      giftMessage: 'Happy birthday! 4111 1111 1111 1111',
      notes: 'Use 5555-5555-5555-4444 please',
      shipTo: { ...base.shipTo!, line2: 'Door 378282246310005' },
      lines: [
        {
          id: '4242424242424242',
          sku: 'SKU-4242424242424242',
          name: 'Cheddar',
          quantity: 1,
          unitPrice: '12.50',
          properties: { Engraving: 'card 4111-1111-1111-1111', 'Ref 4111111111111111': 'x' },
        },
      ],
    });
    const copy = structuredClone(input);
    expect(scrubOrderInput(input)).toStrictEqual({
      ...base,
      id: '[redacted]',
      giftMessage: 'Happy birthday! [redacted]',
      notes: 'Use [redacted] please',
      shipTo: { ...base.shipTo!, line2: 'Door [redacted]' },
      lines: [
        {
          id: '[redacted]',
          sku: 'SKU-[redacted]',
          name: 'Cheddar',
          quantity: 1,
          unitPrice: '12.50',
          properties: { Engraving: 'card [redacted]', 'Ref [redacted]': 'x' },
        },
      ],
    });
    expect(input).toStrictEqual(copy);
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
