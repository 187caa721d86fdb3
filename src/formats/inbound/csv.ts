import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import type { ConfirmedLine } from '../../core/confirmation';
import { DropshipError } from '../../errors';
import { checkConfirmation, type ConfirmationFormat, MAX_CONFIRMATION_DOCUMENT_CHARS, type ReadConfirmation } from './format';

/**
 * A supplier's CSV file of shipments (and acknowledgements), with its own column names,
 * which the supplier's `confirmations.csv.columns` maps.
 *
 * - One row per shipped line. Rows with the same order id, carrier and tracking number are
 *   one shipment with their lines. A row with neither SKU nor quantity names no line: its
 *   shipment covers every line left (then no other row of it may name a line).
 * - With a `status` column, a row whose status is filled (accepted, rejected, backordered,
 *   any case) is an acknowledgement row; rows with the same order id, status and reason are
 *   one acknowledgement with their lines. A row with an empty status is a shipment row.
 * - `shippedAt`: an ISO 8601 date-time, or a date (YYYY-MM-DD, read as midnight UTC).
 * - The first row is the header; a BOM and CRLF line ends are fine. Rows are numbered as in
 *   the file, the header being row 1 (a quoted line break does not start a row).
 * Problems name the row and the column (as the supplier calls it and as configured), never
 * the value.
 */

const Column = z.string().trim().min(1, 'must name a column of the header').max(200, 'must be at most 200 characters');

export const CsvConfirmationOptions = z
  .object({
    /** The header names, in the supplier's file, of each value. */
    columns: z
      .object({
        orderId: Column,
        sku: Column,
        quantity: Column,
        carrier: Column,
        trackingNumber: Column,
        shippedAt: Column.optional(),
        status: Column.optional(),
        reason: Column.optional(),
      })
      .strict(),
    /** The field delimiter: a single character other than a quote or a line break. @defaultValue "," */
    delimiter: z
      .string()
      .length(1, 'must be a single character')
      .refine((c) => !/["\r\n]/.test(c), 'must not be a quote or a line break')
      .default(','),
  })
  .strict()
  .superRefine((o, ctx) => {
    const seen = new Map<string, string>();
    for (const [key, name] of Object.entries(o.columns)) {
      if (name === undefined) continue;
      const other = seen.get(name);
      if (other !== undefined) ctx.addIssue({ code: 'custom', path: ['columns', key], message: `names the same column as columns.${other}` });
      else seen.set(name, key);
    }
  });
export type CsvConfirmationOptions = z.infer<typeof CsvConfirmationOptions>;

type Key = keyof CsvConfirmationOptions['columns'];

const STATUSES = ['accepted', 'rejected', 'backordered'] as const;

interface Group {
  kind: 'shipment' | 'acknowledgement';
  firstRow: number;
  orderId: string;
  carrier?: string;
  trackingNumber?: string;
  status?: string;
  reason?: string;
  shippedAt?: string;
  lines: ConfirmedLine[];
  linelessRows: number[];
}

function dateTime(value: string): string {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value;
}

/** "row 6: trackingNumbers.0 must be ..." → "row 6, column "Tracking #" (trackingNumber): must be ...". */
function columnOf(problem: string, columns: CsvConfirmationOptions['columns']): string {
  const m = /^(row \d+): (orderId|carrier|trackingNumbers\.\d+|shippedAt|status|reason|lines\.\d+\.(?:sku|quantity)) (.*)$/s.exec(problem);
  if (!m) return problem;
  const field = m[2] as string;
  const key: Key = field.startsWith('trackingNumbers') ? 'trackingNumber' : field.startsWith('lines') ? (field.endsWith('sku') ? 'sku' : 'quantity') : (field as Key);
  const where = field.startsWith('lines') ? ` (line ${Number(field.split('.')[1]) + 1} of the rows from it)` : '';
  return `${m[1]}${where}, column ${JSON.stringify(columns[key])} (${key}): ${m[3]}`;
}

export const csvConfirmationFormat: ConfirmationFormat<CsvConfirmationOptions> = {
  id: 'csv',
  optionsBlock: 'csv',
  parseOptions(raw) {
    const parsed = CsvConfirmationOptions.safeParse(raw);
    if (parsed.success) return { ok: true, options: parsed.data };
    return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : 'options'}: ${i.message}`) };
  },
  read(text, options) {
    if (text.length > MAX_CONFIRMATION_DOCUMENT_CHARS) {
      throw new DropshipError('EINVALID_CONFIRMATION', [`the file is ${text.length} characters; at most ${MAX_CONFIRMATION_DOCUMENT_CHARS} are read`]);
    }
    let records: string[][];
    try {
      records = parse(text, { bom: true, delimiter: options.delimiter, relax_column_count: true, skip_empty_lines: true, trim: true }) as string[][];
    } catch (error) {
      // csv-parse's messages quote the text around the fault: give only where and what kind.
      const e = error as { code?: string; lines?: number };
      throw new DropshipError('EINVALID_CONFIRMATION', [`the file is not valid CSV${e.lines !== undefined ? ` (near line ${e.lines})` : ''}${e.code ? `: ${e.code}` : ''}`]);
    }
    const problems: string[] = [];
    const [header, ...rows] = records;
    if (header === undefined) throw new DropshipError('EINVALID_CONFIRMATION', ['the file is empty: it has no header row']);
    const index = new Map<Key, number>();
    for (const [key, name] of Object.entries(options.columns) as Array<[Key, string | undefined]>) {
      if (name === undefined) continue;
      const at = header.indexOf(name);
      if (at < 0) problems.push(`the header has no column ${JSON.stringify(name)} (columns.${key})`);
      else if (header.indexOf(name, at + 1) >= 0) problems.push(`the header has column ${JSON.stringify(name)} (columns.${key}) more than once`);
      else index.set(key, at);
    }
    if (problems.length > 0) throw new DropshipError('EINVALID_CONFIRMATION', problems);
    if (rows.length === 0) throw new DropshipError('EINVALID_CONFIRMATION', ['the file has a header and no rows']);

    const groups = new Map<string, Group>();
    rows.forEach((row, i) => {
      const rowNumber = i + 2;
      const where = (key: Key) => `row ${rowNumber}, column ${JSON.stringify(options.columns[key])} (${key})`;
      const cell = (key: Key): string | undefined => {
        const at = index.get(key);
        const value = at === undefined ? undefined : row[at];
        return value === undefined || value === '' ? undefined : value;
      };
      if (row.length !== header.length) problems.push(`row ${rowNumber}: has ${row.length} cells, the header ${header.length}`);
      const orderId = cell('orderId');
      if (orderId === undefined) problems.push(`${where('orderId')}: is empty`);
      const statusCell = cell('status');
      const status = statusCell?.toLowerCase();
      const badStatus = status !== undefined && !(STATUSES as readonly string[]).includes(status);
      if (badStatus) problems.push(`${where('status')}: must be one of ${STATUSES.join(', ')}`);
      const kind = status === undefined ? 'shipment' : 'acknowledgement';
      const carrier = cell('carrier');
      const trackingNumber = cell('trackingNumber');
      if (kind === 'shipment') {
        if (carrier === undefined) problems.push(`${where('carrier')}: is empty`);
        if (trackingNumber === undefined) problems.push(`${where('trackingNumber')}: is empty`);
      }
      const sku = cell('sku');
      const quantityCell = cell('quantity');
      let line: ConfirmedLine | undefined;
      if (sku !== undefined || quantityCell !== undefined) {
        if (sku === undefined) problems.push(`${where('sku')}: is empty while the quantity is given`);
        const quantity = quantityCell !== undefined && /^\d{1,9}$/.test(quantityCell) ? Number(quantityCell) : undefined;
        if (quantity === undefined) problems.push(`${where('quantity')}: ${quantityCell === undefined ? 'is empty while the SKU is given' : 'must be a whole number'}`);
        if (sku !== undefined && quantity !== undefined) line = { sku, quantity };
      }
      if (orderId === undefined || badStatus || (kind === 'shipment' && (carrier === undefined || trackingNumber === undefined))) return;
      const reason = cell('reason');
      const key = kind === 'shipment' ? JSON.stringify(['s', orderId, carrier, trackingNumber]) : JSON.stringify(['a', orderId, status, reason ?? '']);
      let group = groups.get(key);
      if (!group) {
        group = {
          kind,
          firstRow: rowNumber,
          orderId,
          lines: [],
          linelessRows: [],
          ...(kind === 'shipment' ? { carrier, trackingNumber } : { status }),
          ...(kind === 'acknowledgement' && reason !== undefined ? { reason } : {}),
        } as Group;
        groups.set(key, group);
      }
      if (line) group.lines.push(line);
      else group.linelessRows.push(rowNumber);
      const shipped = cell('shippedAt');
      if (kind === 'shipment' && shipped !== undefined) {
        if (group.shippedAt === undefined) group.shippedAt = dateTime(shipped);
        else if (group.shippedAt !== dateTime(shipped)) problems.push(`${where('shippedAt')}: differs from row ${group.firstRow} of the same shipment`);
      }
    });

    const confirmations: ReadConfirmation[] = [];
    for (const group of groups.values()) {
      const where = `row ${group.firstRow}`;
      if (group.lines.length > 0 && group.linelessRows.length > 0) {
        problems.push(`row ${group.linelessRows[0]}: names no SKU and quantity, while other rows of the same ${group.kind} (row ${group.firstRow}) name lines`);
        continue;
      }
      const lines = group.lines.length > 0 ? { lines: group.lines } : {};
      const checked =
        group.kind === 'shipment'
          ? checkConfirmation('shipment', { orderId: group.orderId, carrier: group.carrier, trackingNumbers: [group.trackingNumber], ...lines, ...(group.shippedAt !== undefined ? { shippedAt: group.shippedAt } : {}) }, where)
          : checkConfirmation('acknowledgement', { orderId: group.orderId, status: group.status, ...lines, ...(group.reason !== undefined ? { reason: group.reason } : {}) }, where);
      if (checked.ok) confirmations.push({ confirmation: checked.confirmation, reference: where });
      else problems.push(...checked.problems.map((p) => columnOf(p, options.columns)));
    }
    if (problems.length > 0) throw new DropshipError('EINVALID_CONFIRMATION', problems);
    return { confirmations };
  },
};
