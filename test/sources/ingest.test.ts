import fc from 'fast-check';
import { DropshipError } from '../../src/errors';
import { ingestOrder, parseJsonBody } from '../../src/sources/ingest';

function errorOf(run: () => unknown): DropshipError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DropshipError);
    return error as DropshipError;
  }
  throw new Error('expected a DropshipError');
}

describe('parseJsonBody', () => {
  it('parses strings and UTF-8 buffers, with or without a byte order mark', () => {
    expect(parseJsonBody('{"name":"Zoë"}')).toEqual({ name: 'Zoë' });
    expect(parseJsonBody(Buffer.from('{"name":"山田"}', 'utf8'))).toEqual({ name: '山田' });
    expect(parseJsonBody(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[1]')]))).toEqual([1]);
    expect(parseJsonBody('\uFEFF{"a":1}')).toEqual({ a: 1 });
  });

  it.each([
    ['{"card": "4111 1111 1111 1111", }', 'body: expected a property name in double quotes at line 1, column 33'],
    ['{"card": "4111 1111 1111 1111"', 'body: unexpected end of input at line 1, column 31'],
    ['{"card": "4111 1111 1111 1111', 'body: unterminated string starting at line 1, column 10'],
    ['{\n  "card": 4111111111111111,\n  "cvv": 123x\n}', 'body: expected "," or "}" at line 3, column 13'],
    ['{"note": "tab\there"}', 'body: unescaped control character in a string at line 1, column 14'],
    ['{"note": "\\q 4111111111111111"}', 'body: invalid escape in a string at line 1, column 11'],
    ['[4111111111111111, 01]', 'body: expected "," or "]" at line 1, column 21'],
    ['{"a": -}', 'body: invalid number at line 1, column 7'],
    ["{'card': '4111111111111111'}", 'body: expected a property name in double quotes at line 1, column 2'],
    ['{"a": 1} {"card": "4111111111111111"}', 'body: unexpected data after the JSON value at line 1, column 10'],
    ['{"a" 4111111111111111}', 'body: expected ":" after a property name at line 1, column 6'],
    ['[tru', 'body: unexpected character at line 1, column 2'],
    ['[', 'body: unexpected end of input at line 1, column 2'],
    ['   ', 'body: is empty'],
  ])('rejects %j naming only the place and the reason', (body, problem) => {
    const error = errorOf(() => parseJsonBody(body));
    expect(error.code).toBe('EINVALID_JSON');
    expect(error.statusCode).toBe(400);
    expect(error.problems).toEqual([problem]);
    expect(error.message).not.toMatch(/4111|card|cvv|note|tab/);
  });

  it('rejects invalid UTF-8 with the byte offset', () => {
    const cases: [number[], number][] = [
      [[0x7b, 0x22, 0xff, 0x22, 0x7d], 2], // never valid
      [[0x5b, 0x22, 0xc3, 0x22, 0x5d], 2], // truncated sequence
      [[0x5b, 0x22, 0x61, 0xc0, 0xaf, 0x22, 0x5d], 3], // overlong "/"
      [[0x5b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x5d], 2], // UTF-16 surrogate
      [[0x5b, 0x22, 0xf4, 0x90, 0x80, 0x80, 0x22, 0x5d], 2], // beyond U+10FFFF
    ];
    for (const [bytes, offset] of cases) {
      const error = errorOf(() => parseJsonBody(Buffer.from(bytes)));
      expect(error.code).toBe('EINVALID_JSON');
      expect(error.problems).toEqual([`body: is not valid UTF-8 (invalid byte sequence at byte ${offset})`]);
    }
  });

  it('parses what JSON.parse parses', () => {
    fc.assert(
      fc.property(fc.json(), (json) => {
        expect(parseJsonBody(json)).toEqual(JSON.parse(json));
        expect(parseJsonBody(Buffer.from(json, 'utf8'))).toEqual(JSON.parse(json));
      }),
    );
  });

  it('locates every syntax error JSON.parse finds, and never quotes the input', () => {
    const jsonish = fc.string({
      unit: fc.constantFrom('{', '}', '[', ']', '"', ':', ',', ' ', '\n', '\\', 'u', '0', '1', '9', '-', '.', 'e', 't', 'r', 'n', 'l', 'X'),
      maxLength: 24,
    });
    fc.assert(
      fc.property(jsonish, (body) => {
        let valid = true;
        try {
          JSON.parse(body);
        } catch {
          valid = false;
        }
        if (valid) return;
        const error = errorOf(() => parseJsonBody(body));
        expect(error.problems).toHaveLength(1);
        expect(error.problems[0]).toMatch(/^body: (is empty|[A-Za-z ":,{}\]]+ at line \d+, column \d+)$/);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('ingestOrder', () => {
  const canonical = {
    id: '42',
    placedAt: '2024-01-01T00:00:00Z',
    currency: 'USD',
    lines: [{ id: '1', name: 'Thing', quantity: 1, unitPrice: '3.00' }],
  };

  it('detects the source when none is named, and keeps the event id', () => {
    expect(ingestOrder(canonical, { eventId: 'evt-1' }).source).toStrictEqual({ kind: 'canonical', eventId: 'evt-1' });
  });

  it('uses the named source even when the shape is not detectable', () => {
    const { id: _id, ...withoutId } = canonical;
    const error = errorOf(() => ingestOrder(withoutId, { source: 'canonical' }));
    expect(error.code).toBe('EINVALID_ORDER');
    expect(error.problems).toEqual(['id: Invalid input: expected string, received undefined']);
  });

  it('rejects a payload of no known shape', () => {
    const error = errorOf(() => ingestOrder({ items: [], ip: '203.0.113.5' }));
    expect(error.code).toBe('EUNKNOWN_SOURCE');
    expect(error.statusCode).toBe(400);
    expect(error.message).not.toContain('203.0.113.5');
  });

  it('rejects an unknown source name', () => {
    const error = errorOf(() => ingestOrder(canonical, { source: 'magento' as 'canonical' }));
    expect(error.code).toBe('EUNKNOWN_SOURCE');
    expect(error.problems).toEqual(['source: must be one of shopify, woocommerce, canonical']);
  });

  it('redacts a card number in the event id', () => {
    expect(ingestOrder(canonical, { eventId: '4111111111111111' }).source.eventId).toBe('[redacted]');
  });
});
