import { DropshipError } from '../../src/errors';
import { ingestOrder } from '../../src/sources/ingest';
import { limitText } from '../../src/core/text-limits';
import { orderPayload } from '../support/orders';

/**
 * Length limits apply before card scrubbing: an over-long field is refused by its length and
 * never read by the scanner. Measured by what the scanner is handed, not by timing.
 */
const scanned: number[] = [];
jest.mock('../../src/core/card-data', () => {
  const actual = jest.requireActual<typeof import('../../src/core/card-data')>('../../src/core/card-data');
  return {
    ...actual,
    redactCardNumbers: (text: string) => {
      scanned.push(text.length);
      return actual.redactCardNumbers(text);
    },
    containsCardNumber: (text: string) => {
      scanned.push(text.length);
      return actual.containsCardNumber(text);
    },
  };
});

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DropshipError);
    return [...(error as DropshipError).problems];
  }
  throw new Error('expected a DropshipError');
}

const MB = 1024 * 1024;

beforeEach(() => {
  scanned.length = 0;
});

describe('length limits come before scrubbing', () => {
  it('refuses a 1 MB note by its length without the card scanner reading it, and still reports every other problem', () => {
    const payload = { ...orderPayload(), notes: `card 4111 1111 1111 1111 ${'x'.repeat(MB)}`, currency: 'dollars' };
    expect(problemsOf(() => ingestOrder(payload, { source: 'canonical' }))).toEqual([
      'notes: must be at most 5000 characters',
      'currency: must be an ISO 4217 currency code such as "USD"',
    ]);
    expect(scanned.length).toBeGreaterThan(0); // the rest of the order was scrubbed
    expect(Math.max(...scanned)).toBeLessThan(1000);
  });

  it('applies each field’s own limit, and a cap of 5000 to text with no limit of its own (a property name)', () => {
    const line = { ...orderPayload().lines[0]!, name: 'n'.repeat(501), properties: { ['k'.repeat(MB)]: 'v', Engraving: 'e'.repeat(1001) } };
    const payload = { ...orderPayload(), giftMessage: 'g'.repeat(2001), shipTo: { ...orderPayload().shipTo!, line1: 'l'.repeat(MB) }, lines: [line] };
    expect(problemsOf(() => ingestOrder(payload, { source: 'canonical' }))).toEqual([
      'giftMessage: must be at most 2000 characters',
      'shipTo.line1: must be at most 200 characters',
      'lines[0].name: must be at most 500 characters',
      'lines[0].properties[…]: must be at most 5000 characters',
      'lines[0].properties.Engraving: must be at most 1000 characters',
    ]);
    expect(Math.max(...scanned)).toBeLessThan(1000);
  });

  it('counts text as the schema does, after trimming: padding alone does not make a field too long', () => {
    const padded = `${' '.repeat(MB)}Leave at the side door${' '.repeat(MB)}`;
    expect(ingestOrder({ ...orderPayload(), notes: padded }, { source: 'canonical' }).order.notes).toBe('Leave at the side door');
  });

  it('names a property by its scrubbed name, and never quotes a long one', () => {
    const { overLong } = limitText({ ...orderPayload(), lines: [{ ...orderPayload().lines[0]!, properties: { 'Ref 4111111111111111': 'v'.repeat(1001) } }] });
    expect(overLong).toEqual([{ path: ['lines', 0, 'properties', 'Ref [redacted]'], max: 1000 }]);
  });
});
