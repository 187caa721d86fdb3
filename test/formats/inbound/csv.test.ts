import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import type { Confirmation } from '../../../src/core/confirmation';
import { type CsvConfirmationOptions, csvConfirmationFormat } from '../../../src/formats/inbound/csv';
import { problemsOf } from './support';

const COLUMNS = { orderId: 'PO Number', sku: 'Item', quantity: 'Qty Shipped', carrier: 'Carrier', trackingNumber: 'Tracking #', shippedAt: 'Ship Date', status: 'Status', reason: 'Note' };

function options(raw: unknown = { columns: COLUMNS }): CsvConfirmationOptions {
  const parsed = csvConfirmationFormat.parseOptions!(raw);
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  return parsed.options;
}
const read = (text: string, o = options()) => csvConfirmationFormat.read(text, o);

const HEADER = 'PO Number,Item,Qty Shipped,Carrier,Tracking #,Ship Date,Status,Note';

describe('the CSV confirmation reader', () => {
  it('checks its options with zod, naming every problem', () => {
    expect(csvConfirmationFormat.id).toBe('csv');
    expect(options()).toEqual({ columns: COLUMNS, delimiter: ',' });
    const bad = csvConfirmationFormat.parseOptions!({ columns: { orderId: 'PO', sku: '', quantity: 'PO', carrier: 'Carrier', extra: 'x' }, delimiter: '"' });
    expect(bad).toEqual({
      ok: false,
      problems: [
        'columns.sku: must name a column of the header',
        'columns.trackingNumber: Invalid input: expected string, received undefined',
        'columns: Unrecognized key: "extra"',
        'delimiter: must not be a quote or a line break',
      ],
    });
    expect(csvConfirmationFormat.parseOptions!({ columns: { ...COLUMNS, quantity: 'PO Number' } })).toEqual({ ok: false, problems: ['columns.quantity: names the same column as columns.orderId'] });
  });

  it('groups rows by order, carrier and tracking number into shipments with lines; a status makes acknowledgements', () => {
    const csv = [
      `\uFEFF${HEADER}`,
      'order-1001,MUG-BLUE,2,UPS,1Z999AA10123456784,2026-12-05T16:30:00Z,,',
      'order-1001,TEA-1,1,UPS,1Z999AA10123456784,2026-12-05T16:30:00Z,,',
      'order-1001,SPOON,4,UPS,1Z 999 AA1 0123456785,,,',
      'order-1002,,,FedEx,794698712345,2026-12-06,,',
      'order-1003,MUG-BLUE,1,,,,Backordered,"Back in stock, 12 Jan"',
      'order-1003,TEA-1,1,,,,accepted,',
      '',
    ].join('\r\n');
    const expected: Array<{ confirmation: Confirmation; reference: string }> = [
      {
        reference: 'row 2',
        confirmation: {
          kind: 'shipment',
          orderId: 'order-1001',
          carrier: 'UPS',
          trackingNumbers: ['1Z999AA10123456784'],
          lines: [
            { sku: 'MUG-BLUE', quantity: 2 },
            { sku: 'TEA-1', quantity: 1 },
          ],
          shippedAt: '2026-12-05T16:30:00Z',
        },
      },
      { reference: 'row 4', confirmation: { kind: 'shipment', orderId: 'order-1001', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456785'], lines: [{ sku: 'SPOON', quantity: 4 }] } },
      { reference: 'row 5', confirmation: { kind: 'shipment', orderId: 'order-1002', carrier: 'FedEx', trackingNumbers: ['794698712345'], shippedAt: '2026-12-06T00:00:00Z' } },
      { reference: 'row 6', confirmation: { kind: 'acknowledgement', orderId: 'order-1003', status: 'backordered', lines: [{ sku: 'MUG-BLUE', quantity: 1 }], reason: 'Back in stock, 12 Jan' } },
      { reference: 'row 7', confirmation: { kind: 'acknowledgement', orderId: 'order-1003', status: 'accepted', lines: [{ sku: 'TEA-1', quantity: 1 }] } },
    ];
    expect(read(csv).confirmations).toEqual(expected);
  });

  it('takes another delimiter and columns in any order, ignoring columns it was not told about', () => {
    const o = options({ columns: { orderId: 'po', sku: 'sku', quantity: 'qty', carrier: 'carrier', trackingNumber: 'tracking' }, delimiter: ';' });
    const csv = 'tracking;extra;qty;sku;po;carrier\n1Z999AA10123456784;whatever;3;MUG-BLUE;order-1;UPS\n';
    expect(read(csv, o).confirmations).toEqual([
      { reference: 'row 2', confirmation: { kind: 'shipment', orderId: 'order-1', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'], lines: [{ sku: 'MUG-BLUE', quantity: 3 }] } },
    ]);
  });

  describe('refuses a file it cannot read, naming the row and column, never the value', () => {
    it('missing columns', () => {
      expect(problemsOf(() => read('PO Number,Item,Carrier\norder-1,A,UPS\n'))).toEqual([
        'the header has no column "Qty Shipped" (columns.quantity)',
        'the header has no column "Tracking #" (columns.trackingNumber)',
        'the header has no column "Ship Date" (columns.shippedAt)',
        'the header has no column "Status" (columns.status)',
        'the header has no column "Note" (columns.reason)',
      ]);
    });

    it('wrong types and empty cells', () => {
      const csv = [
        HEADER,
        'Jane Doe 12 Main St,MUG,2,UPS,1Z999AA10123456784,,,',
        'order-2,MUG,two,UPS,1Z999AA10123456784,,,',
        'order-3,MUG,1,,,,,',
        'order-4,MUG,1,,,,shipped,',
        'order-5,MUG,1,UPS,1Z?,yesterday,,',
        'order-6,,3,UPS,1Z999AA10123456784,,,',
        'order-7,MUG,1,UPS,1Z999AA10123456784',
      ].join('\n');
      const problems = problemsOf(() => read(csv));
      expect(problems).toEqual([
        'row 3, column "Qty Shipped" (quantity): must be a whole number',
        'row 4, column "Carrier" (carrier): is empty',
        'row 4, column "Tracking #" (trackingNumber): is empty',
        'row 5, column "Status" (status): must be one of accepted, rejected, backordered',
        'row 7, column "Item" (sku): is empty while the quantity is given',
        'row 8: has 5 cells, the header 8',
        'row 2, column "PO Number" (orderId): must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit, not ending with "." and without ".."',
        'row 6, column "Tracking #" (trackingNumber): must be 4-64 letters and digits',
        'row 6, column "Ship Date" (shippedAt): must be an ISO 8601 date-time',
      ]);
      expect(problems.join('\n')).not.toMatch(/Jane|Main St|two|yesterday|1Z\?/);
    });

    it('a row without lines in a shipment whose other rows name lines', () => {
      const csv = [HEADER, 'order-1,MUG,2,UPS,1Z999AA10123456784,,,', 'order-1,,,UPS,1Z999AA10123456784,,,'].join('\n');
      expect(problemsOf(() => read(csv))).toEqual(['row 3: names no SKU and quantity, while other rows of the same shipment (row 2) name lines']);
    });

    it('an empty file, a header alone, broken quoting, a huge file', () => {
      expect(problemsOf(() => read(''))).toEqual(['the file is empty: it has no header row']);
      expect(problemsOf(() => read(`${HEADER}\r\n`))).toEqual(['the file has a header and no rows']);
      const broken = problemsOf(() => read(`${HEADER}\norder-1,"MUG,2,UPS,SECRET-VALUE,,,\n`));
      expect(broken).toEqual([expect.stringMatching(/^the file is not valid CSV/)]);
      expect(broken.join('')).not.toContain('SECRET');
      const huge = `${HEADER}\n${'order-1,MUG,1,UPS,1Z999AA10123456784,,,\n'.repeat(300_000)}`;
      expect(problemsOf(() => read(huge))).toEqual([`the file is ${huge.length} characters; at most ${10 * 1024 * 1024} are read`]);
    });
  });

  it('reads back what it is given: generated confirmations written as CSV (property)', () => {
    const alnum = (min: number, max: number) => fc.stringMatching(new RegExp(`^[A-Za-z0-9]{${min},${max}}$`));
    const line = fc.record({ sku: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ,"/-]{0,20}[A-Za-z0-9]$/), quantity: fc.integer({ min: 1, max: 100_000 }) });
    const shipment = fc.record({
      kind: fc.constant('shipment' as const),
      orderId: alnum(1, 20),
      carrier: fc.stringMatching(/^[A-Za-z0-9](?:[A-Za-z0-9 ,]{0,20}[A-Za-z0-9])?$/),
      tracking: alnum(4, 30),
      lines: fc.option(fc.array(line, { minLength: 1, maxLength: 4 }), { nil: undefined }),
      shippedAt: fc.option(fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString()), { nil: undefined }),
    });
    const acknowledgement = fc.record({
      kind: fc.constant('acknowledgement' as const),
      orderId: alnum(1, 20),
      status: fc.constantFrom('accepted', 'rejected', 'backordered'),
      lines: fc.option(fc.array(line, { minLength: 1, maxLength: 4 }), { nil: undefined }),
      reason: fc.option(fc.stringMatching(/^[A-Za-z](?:[A-Za-z ,."']{0,40}[A-Za-z.])?$/), { nil: undefined }),
    });
    const names = fc.uniqueArray(fc.stringMatching(/^[A-Za-z][A-Za-z #_]{0,12}[A-Za-z#]$/), { minLength: 8, maxLength: 8, selector: (s) => s.trim() });
    const key = (c: { kind: string; orderId: string; tracking?: string; carrier?: string; status?: string; reason?: string | undefined }) =>
      c.kind === 'shipment' ? `s|${c.orderId}|${c.carrier}|${c.tracking}` : `a|${c.orderId}|${c.status}|${c.reason ?? ''}`;
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.oneof(shipment, acknowledgement), { minLength: 1, maxLength: 6, selector: key }),
        names,
        fc.constantFrom(',', ';', '\t', '|'),
        fc.boolean(),
        fc.constantFrom('\n', '\r\n'),
        (confirmations, headerNames, delimiter, bom, eol) => {
          const [orderId, sku, quantity, carrier, trackingNumber, shippedAt, status, reason] = headerNames as [string, string, string, string, string, string, string, string];
          const o = options({ columns: { orderId, sku, quantity, carrier, trackingNumber, shippedAt, status, reason }, delimiter });
          const rows: string[][] = [[orderId, sku, quantity, carrier, trackingNumber, shippedAt, status, reason]];
          for (const c of confirmations) {
            const lines = c.lines ?? [undefined];
            for (const l of lines) {
              rows.push(
                c.kind === 'shipment'
                  ? [c.orderId, l?.sku ?? '', l ? String(l.quantity) : '', c.carrier, c.tracking, c.shippedAt ?? '', '', '']
                  : [c.orderId, l?.sku ?? '', l ? String(l.quantity) : '', '', '', '', c.status, c.reason ?? ''],
              );
            }
          }
          const csv = (bom ? '\uFEFF' : '') + stringify(rows, { delimiter, record_delimiter: eol === '\n' ? 'unix' : 'windows' });
          const expected = confirmations.map((c) =>
            c.kind === 'shipment'
              ? { kind: 'shipment', orderId: c.orderId, carrier: c.carrier, trackingNumbers: [c.tracking], ...(c.lines ? { lines: c.lines } : {}), ...(c.shippedAt ? { shippedAt: c.shippedAt } : {}) }
              : { kind: 'acknowledgement', orderId: c.orderId, status: c.status, ...(c.lines ? { lines: c.lines } : {}), ...(c.reason !== undefined ? { reason: c.reason } : {}) },
          );
          expect(read(csv, o).confirmations.map((r) => r.confirmation)).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });
});
