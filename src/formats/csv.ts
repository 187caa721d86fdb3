import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import type { DropShipOrder, PurchaseOrderFormat } from './format';

type Row = Record<string, string>;

/** Every column the CSV can have, in output order, with how to read it from the view. */
const COLUMNS: ReadonlyArray<[header: string, read: (po: DropShipOrder, line: DropShipOrder['lines'][number]) => unknown]> = [
  ['order_id', (po) => po.order.id],
  ['placed_at', (po) => po.order.placedAt],
  ['currency', (po) => po.order.currency],
  ['customer_name', (po) => po.customer.name],
  ['customer_email', (po) => po.customer.email],
  ['customer_phone', (po) => po.customer.phone],
  ['ship_to_name', (po) => po.shipTo.name],
  ['ship_to_company', (po) => po.shipTo.company],
  ['ship_to_line1', (po) => po.shipTo.line1],
  ['ship_to_line2', (po) => po.shipTo.line2],
  ['ship_to_city', (po) => po.shipTo.city],
  ['ship_to_region', (po) => po.shipTo.region],
  ['ship_to_postal_code', (po) => po.shipTo.postalCode],
  ['ship_to_country', (po) => po.shipTo.country],
  ['ship_to_phone', (po) => po.shipTo.phone],
  ['sku', (_po, l) => l.sku],
  ['name', (_po, l) => l.name],
  ['quantity', (_po, l) => l.quantity],
  ['unit_price', (_po, l) => l.unitPrice],
  ['weight_grams', (_po, l) => l.weight],
  ['properties', (_po, l) => (l.properties ? Object.entries(l.properties).map(([k, v]) => `${k}: ${v}`).join('; ') : undefined)],
  ['gift_message', (po) => po.order.giftMessage],
  ['notes', (po) => po.order.notes],
  ['shipment_id', (po) => po.shipment.id],
  ['carrier', (po) => po.shipment.carrier],
  ['service', (po) => po.shipment.service],
  ['tracking_number', (po) => po.shipment.trackingNumber],
];

/**
 * Neutralises spreadsheet formula injection (OWASP "CSV Injection"): a cell starting with
 * = + - @ tab or CR is prefixed with a single quote so spreadsheet programs read it as text.
 */
export function neutraliseFormula(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
}

const CsvOptions = z
  .object({
    /** Field delimiter. @defaultValue "," */
    delimiter: z.string().length(1, 'must be a single character').default(','),
    /** Record delimiter: RFC 4180 says CRLF. @defaultValue "crlf" */
    lineEnding: z.enum(['crlf', 'lf']).default('crlf'),
    /** Write a header row. @defaultValue true */
    header: z.boolean().default(true),
  })
  .strict();
export type CsvOptions = z.infer<typeof CsvOptions>;

/**
 * CSV purchase order: one row per line. Only columns whose values the allow-list let
 * through are written, so a withheld field leaves no empty column behind either.
 */
export const csvFormat: PurchaseOrderFormat<CsvOptions> = {
  id: 'csv',
  fileExtension: 'csv',
  contentType: 'text/csv; charset=utf-8',
  optionsSchema: CsvOptions,
  render(po: DropShipOrder, options: CsvOptions): string {
    const cells = po.lines.map((line) => COLUMNS.map(([, read]) => read(po, line)));
    const present = COLUMNS.map((_, i) => cells.some((row) => row[i] !== undefined && row[i] !== ''));
    const headers = COLUMNS.filter((_, i) => present[i]).map(([h]) => h);
    const rows: Row[] = cells.map((row) => {
      const out: Row = {};
      COLUMNS.forEach(([h], i) => {
        if (present[i]) out[h] = row[i] === undefined ? '' : neutraliseFormula(String(row[i]));
      });
      return out;
    });
    return stringify(rows, {
      header: options.header,
      columns: headers,
      delimiter: options.delimiter,
      record_delimiter: options.lineEnding === 'crlf' ? 'windows' : 'unix',
      quoted_match: /^\s|\s$/,
    });
  },
};
