import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { csvFormat, type CsvOptions } from '../../src/formats/csv';
import type { DropShipOrder } from '../../src/formats/format';

/**
 * The CSV format writes its documents itself, as csv-stringify 6 wrote them before: same
 * quoting (RFC 4180 plus values with leading or trailing whitespace or a line break), same
 * escaping, same header and record delimiters. Suppliers' importers were set up against
 * those bytes, so they must not change: every document here is compared with what
 * csv-stringify writes for the same header and cells, with the options the format gave it.
 */

/** The header and cells of a rendered document, read back: a CSV parser would unquote; the cells are known here. */
function reference(headers: string[], rows: string[][], o: Pick<CsvOptions, 'header' | 'delimiter' | 'lineEnding' | 'quote'>): string {
  const keyed = rows.map((row) => Object.fromEntries(row.map((v, i) => [String(i), v])));
  return stringify(keyed, {
    header: o.header,
    columns: headers.map((header, i) => ({ key: String(i), header })),
    delimiter: o.delimiter,
    record_delimiter: o.lineEnding === 'crlf' ? 'windows' : 'unix',
    ...(o.quote === 'always' ? { quoted: true, quoted_empty: true } : { quoted_match: /^\s|\s$|[\r\n]/ }),
  });
}

/** Characters that make a CSV writer decide something: separators, quotes, whitespace of every kind, formula starts. */
const tricky = fc.constantFrom(',', ';', '|', '\t', '"', "'", '\r', '\n', '\r\n', ' ', '  ', '\u00a0', '\u2028', '\ufeff', '=', '+', '-', '@', 'é', 'Ω', '😀', 'a', 'Z', '0', '9');
const text = fc.array(tricky, { maxLength: 8 }).map((parts) => parts.join(''));
const csvOptions = fc.record({
  delimiter: fc.constantFrom(',', ';', '\t', '|', ' ', 'a'),
  lineEnding: fc.constantFrom('crlf' as const, 'lf' as const),
  header: fc.boolean(),
  quote: fc.constantFrom('needed' as const, 'always' as const),
});

function view(lines: Array<{ sku: string; name: string }>, city: string): DropShipOrder {
  return { supplierId: 's', order: { id: '7' }, customer: {}, shipTo: { city }, shipment: {}, lines };
}

describe('CSV writer', () => {
  it('writes what csv-stringify wrote for the same cells and options, byte for byte', () => {
    fc.assert(
      fc.property(csvOptions, fc.array(fc.record({ sku: text, name: text }), { minLength: 1, maxLength: 4 }), text, (o, lines, city) => {
        const options = csvFormat.optionsSchema.parse({ ...o, columns: ['order.id', 'shipTo.city', 'lines.sku', 'lines.name'], formulaGuard: { off: ['lines.sku'] } });
        const body = csvFormat.render(view(lines, city), options, { deliveryId: 'd', createdAt: '2026-11-20T15:04:05Z' });
        // The format's own cells: the formula guard on every column but the SKU.
        const guard = (v: string) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v);
        const rows = lines.map((l) => ['7', guard(city), l.sku, guard(l.name)]);
        expect(body).toBe(reference(['order_id', 'ship_to_city', 'sku', 'name'], rows, options));
      }),
      { numRuns: 500 },
    );
  });

  it('writes the default layout as csv-stringify did, header and empty columns included', () => {
    fc.assert(
      fc.property(csvOptions, fc.array(fc.record({ sku: text, name: text }), { minLength: 1, maxLength: 3 }), (o, lines) => {
        const options = csvFormat.optionsSchema.parse({ ...o, formulaGuard: { off: ['sku', 'name'] } });
        const body = csvFormat.render(view(lines, ''), options, { deliveryId: 'd', createdAt: '2026-11-20T15:04:05Z' });
        // Only columns with a value on some line: the order id always, SKU and name when any line has one.
        const columns: Array<[string, (l: { sku: string; name: string }) => string]> = [['order_id', () => '7']];
        if (lines.some((l) => l.sku !== '')) columns.push(['sku', (l) => l.sku]);
        if (lines.some((l) => l.name !== '')) columns.push(['name', (l) => l.name]);
        const rows = lines.map((l) => columns.map(([, read]) => read(l)));
        expect(body).toBe(reference(columns.map(([h]) => h), rows, options));
      }),
      { numRuns: 300 },
    );
  });

  it('reads options handed over without their defaults as csv-stringify did: no header, comma, LF', () => {
    const bare = {} as unknown as CsvOptions;
    const body = csvFormat.render(view([{ sku: 'A', name: 'x,y' }], ''), bare, { deliveryId: 'd', createdAt: '2026-11-20T15:04:05Z' });
    expect(body).toBe('7,A,"x,y"\n');
    expect(body).toBe(reference(['order_id', 'sku', 'name'], [['7', 'A', 'x,y']], { header: false, delimiter: ',', lineEnding: 'lf', quote: 'needed' } as CsvOptions));
  });
});
