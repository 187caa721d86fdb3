import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import { redactCardNumbers } from '../core/card-data';
import type { FieldPath } from '../core/field-paths';
import type { BatchItem, DropShipOrder, PurchaseOrderFormat } from './format';

type Row = Record<string, string>;
type Line = DropShipOrder['lines'][number];

interface Column {
  /** Header in the default layout, and the column's name in `columns`. */
  name: string;
  /** The canonical field whose value the column carries. */
  field: FieldPath;
  read: (po: DropShipOrder, line: Line, options: CsvOptions) => unknown;
  /** Part of the default layout (when `columns` is not set). */
  inDefault: boolean;
}

const column = (name: string, field: FieldPath, read: Column['read'], inDefault = true): Column => ({ name, field, read, inDefault });

/** Every column the CSV can have, in default output order, with how to read it from the view. */
const COLUMNS: readonly Column[] = [
  column('order_id', 'order.id', (po) => po.order.id),
  column('placed_at', 'order.placedAt', (po, _l, o) => (po.order.placedAt === undefined ? undefined : formatDateTime(po.order.placedAt, o.dateFormat))),
  column('currency', 'order.currency', (po) => po.order.currency),
  column('customer_name', 'customer.name', (po) => po.customer.name),
  column('customer_email', 'customer.email', (po) => po.customer.email),
  column('customer_phone', 'customer.phone', (po) => po.customer.phone),
  column('ship_to_name', 'shipTo.name', (po) => po.shipTo.name),
  column('ship_to_company', 'shipTo.company', (po) => po.shipTo.company),
  column('ship_to_line1', 'shipTo.line1', (po) => po.shipTo.line1),
  column('ship_to_line2', 'shipTo.line2', (po) => po.shipTo.line2),
  column('ship_to_city', 'shipTo.city', (po) => po.shipTo.city),
  column('ship_to_region', 'shipTo.region', (po) => po.shipTo.region),
  column('ship_to_postal_code', 'shipTo.postalCode', (po) => po.shipTo.postalCode),
  column('ship_to_country', 'shipTo.country', (po) => po.shipTo.country),
  column('ship_to_phone', 'shipTo.phone', (po) => po.shipTo.phone),
  column('sku', 'lines.sku', (_po, l) => l.sku),
  column('name', 'lines.name', (_po, l) => l.name),
  column('quantity', 'lines.quantity', (_po, l) => l.quantity),
  column('unit_price', 'lines.unitPrice', (_po, l) => l.unitPrice),
  column('weight_grams', 'lines.weight', (_po, l) => l.weight),
  // Names and values were scrubbed one by one; joined, the end of one and the start of the
  // next could read as one card number ("Ref 4111 1111: 1111 1111"), so the join is scrubbed too.
  column('properties', 'lines.properties', (_po, l) => (l.properties ? redactCardNumbers(Object.entries(l.properties).map(([k, v]) => `${k}: ${v}`).join('; ')) : undefined)),
  column('gift_message', 'order.giftMessage', (po) => po.order.giftMessage),
  column('notes', 'order.notes', (po) => po.order.notes),
  column('shipment_id', 'shipment.id', (po) => po.shipment.id),
  column('carrier', 'shipment.carrier', (po) => po.shipment.carrier),
  column('service', 'shipment.service', (po) => po.shipment.service),
  column('tracking_number', 'shipment.trackingNumber', (po) => po.shipment.trackingNumber),
  // Only on request: not in the default layout, which existing suppliers already import.
  column('customer_contact_restricted', 'customer.contactRestricted', (po) => po.customer.contactRestricted, false),
];

const BY_NAME = new Map<string, Column>(COLUMNS.flatMap((c) => [[c.name, c], [c.field, c]] as Array<[string, Column]>));

/**
 * Neutralises spreadsheet formula injection (OWASP "CSV Injection"): a cell starting with
 * = + - @ tab or CR is prefixed with a single quote so spreadsheet programs read it as text.
 */
export function neutraliseFormula(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
}

const DATE_TOKENS = /yyyy|MM|dd|HH|mm|ss/g;

/**
 * An ISO 8601 date-time written with a pattern of `yyyy MM dd HH mm ss` and the separators
 * `- / . : _ , T` and space, in the wall-clock time and offset it was written with (no time
 * zone conversion). `iso` leaves it as it is.
 */
export function formatDateTime(iso: string, pattern: string): string {
  if (pattern === 'iso') return iso;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(iso);
  if (!m) return iso;
  const parts: Record<string, string> = { yyyy: m[1] ?? '', MM: m[2] ?? '', dd: m[3] ?? '', HH: m[4] ?? '', mm: m[5] ?? '', ss: m[6] ?? '00' };
  return pattern.replace(DATE_TOKENS, (token) => parts[token] ?? token);
}

const ColumnSpec = z.union([
  z.string(),
  z
    .object({
      /** A canonical field path (`shipTo.city`) or a column name (`ship_to_city`). */
      field: z.string(),
      /** The header to write for it. */
      header: z.string().min(1, 'must not be empty'),
    })
    .strict(),
]);

const CsvOptions = z
  .object({
    /** Field delimiter. @defaultValue "," */
    delimiter: z
      .string()
      .length(1, 'must be a single character')
      .refine((d) => !/["\r\n]/.test(d), 'must not be a double quote or a line break')
      .default(','),
    /** Record delimiter: RFC 4180 says CRLF. @defaultValue "crlf" */
    lineEnding: z.enum(['crlf', 'lf']).default('crlf'),
    /** Write a header row. @defaultValue true */
    header: z.boolean().default(true),
    /**
     * The supplier's own layout: each entry a canonical field path (`shipTo.city`), a
     * column name (`ship_to_city`), or `{ field, header }` to rename it. Every listed
     * column is written in this order; a column whose field the allow-list withholds
     * stays, empty, so a fixed import layout never shifts. Unset: every column that has a
     * value, in the default order, and no empty columns. @defaultValue unset
     */
    columns: z
      .array(ColumnSpec)
      .min(1, 'must list at least one column')
      .superRefine((specs, ctx) => {
        specs.forEach((spec, i) => {
          const field = typeof spec === 'string' ? spec : spec.field;
          if (!BY_NAME.has(field)) {
            ctx.addIssue({ code: 'custom', path: [i], message: `"${field}" is not a CSV column (known: ${COLUMNS.map((c) => c.field).join(', ')}, or their column names)` });
          }
        });
      })
      .optional(),
    /**
     * How `placed_at` is written: `iso` as received, or a pattern of `yyyy MM dd HH mm ss`
     * and separators, e.g. `yyyy-MM-dd` or `MM/dd/yyyy`. @defaultValue "iso"
     */
    dateFormat: z
      .string()
      .regex(/^(?:iso|(?:yyyy|MM|dd|HH|mm|ss|[-/.:_, T])+)$/, 'must be "iso" or a pattern of yyyy, MM, dd, HH, mm, ss and - / . : _ , T or space')
      .default('iso'),
    /** `needed`: quote only values that need it (RFC 4180); `always`: every value. @defaultValue "needed" */
    quote: z.enum(['needed', 'always']).default('needed'),
    /**
     * Spreadsheet formula neutralisation (a cell starting with = + - @ tab or CR gets a
     * leading `'`), on for every column by default. `off` lists the columns, by field path or
     * column name, that a machine importer reads as data ("+1 802 555 0100", "-SKU-1"): those
     * cells are written as they are. Only for a supplier that never opens the file in a
     * spreadsheet program. @defaultValue `{ off: [] }`
     */
    formulaGuard: z
      .object({
        off: z.array(z.string()).superRefine((refs, ctx) => {
          refs.forEach((ref, i) => {
            if (!BY_NAME.has(ref)) ctx.addIssue({ code: 'custom', path: [i], message: `"${ref}" is not a CSV column (a field path such as shipTo.phone, or a column name such as ship_to_phone)` });
          });
        }),
      })
      .strict()
      .default({ off: [] }),
  })
  .strict();
export type CsvOptions = z.infer<typeof CsvOptions>;

/** The canonical fields a `columns` list asks for, e.g. for checking it against an allow-list. */
export function csvColumnFields(columns: NonNullable<CsvOptions['columns']>): FieldPath[] {
  return columns.flatMap((spec) => {
    const c = BY_NAME.get(typeof spec === 'string' ? spec : spec.field);
    return c ? [c.field] : [];
  });
}

function cell(value: unknown, guard = true): string {
  if (value === undefined) return '';
  return guard ? neutraliseFormula(String(value)) : String(value);
}

function csvRows(pos: readonly DropShipOrder[], options: CsvOptions): string {
  // Options written before `columns`, `dateFormat`, `quote` and `formulaGuard` existed mean the defaults.
  const o: CsvOptions = { ...options, dateFormat: options.dateFormat ?? 'iso', quote: options.quote ?? 'needed', formulaGuard: options.formulaGuard ?? { off: [] } };
  const unguarded = new Set(o.formulaGuard.off.map((ref) => BY_NAME.get(ref)));
  let selected: Array<{ header: string; column: Column }>;
  if (o.columns) {
    selected = o.columns.flatMap((spec) => {
      const c = BY_NAME.get(typeof spec === 'string' ? spec : spec.field);
      return c ? [{ header: typeof spec === 'string' ? c.name : spec.header, column: c }] : [];
    });
  } else {
    const defaults = COLUMNS.filter((c) => c.inDefault);
    selected = defaults
      .filter((c) => pos.some((po) => po.lines.some((line) => cell(c.read(po, line, o)) !== '')))
      .map((c) => ({ header: c.name, column: c }));
  }
  // Keys are positions, so two columns may share a header or a field.
  const keys = selected.map((_, i) => String(i));
  const rows: Row[] = pos.flatMap((po) =>
    po.lines.map((line) => Object.fromEntries(selected.map((s, i) => [String(i), cell(s.column.read(po, line, o), !unguarded.has(s.column))]))),
  );
  return stringify(rows, {
    header: o.header,
    columns: selected.map((s, i) => ({ key: keys[i] ?? String(i), header: s.header })),
    delimiter: o.delimiter,
    record_delimiter: o.lineEnding === 'crlf' ? 'windows' : 'unix',
    ...(o.quote === 'always' ? { quoted: true, quoted_empty: true } : { quoted_match: /^\s|\s$|[\r\n]/ }),
  });
}

/**
 * CSV purchase order: one row per line. By default only columns whose values the
 * allow-list let through are written, so a withheld field leaves no empty column behind;
 * with `columns`, exactly the supplier's layout, withheld fields empty.
 */
export const csvFormat: PurchaseOrderFormat<CsvOptions> = {
  id: 'csv',
  fileExtension: 'csv',
  contentType: 'text/csv; charset=utf-8',
  optionsSchema: CsvOptions,
  render(po: DropShipOrder, options: CsvOptions): string {
    return csvRows([po], options);
  },
  /** One file, one header, the rows of every purchase order in the batch in order. */
  renderBatch(items: readonly BatchItem[], options: CsvOptions): string {
    return csvRows(items.map((i) => i.po), options);
  },
};
