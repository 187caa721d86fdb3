import { containsCardNumber } from '../../src/core/card-data';
import { formatById, formatIds } from '../../src/formats';
import type { DropShipOrder, PurchaseOrderFormat } from '../../src/formats/format';
import { jsonValues, parseCsv, x12Values, xmlValues } from '../abuse/judge';
import { cardLikeNumbers } from '../support/card-scan';
import { CONTEXT, CXML_OPTIONS, FULL as FULL_VIEW, X12_FULL, X12_OPTIONS, copy } from './po-fixtures';

/**
 * Identifiers go out unchanged, and free text split across fields is never glued into a card
 * number, in every purchase-order format (docs/privacy.md, promise 1).
 */

const OPTIONS: Record<string, Record<string, unknown>> = { json: {}, csv: {}, cxml: CXML_OPTIONS, 'x12-850': X12_OPTIONS };

function render(id: string, po: DropShipOrder): string {
  const format = formatById(id) as PurchaseOrderFormat;
  return format.render(po, format.optionsSchema.parse(copy(OPTIONS[id])), CONTEXT);
}

/** Each value as the supplier's reader sees it: a cell, an element, character data, a JSON string. */
function valuesOf(id: string, body: string): string[] {
  if (id === 'csv') return parseCsv(body).flat();
  if (id === 'x12-850') return x12Values(body);
  if (id === 'cxml') return xmlValues(body);
  return jsonValues(body);
}

// Each passes the Luhn check, as one identifier in ten does.
const ORDER_ID = '7334567890123409'; // a marketplace order number
const EAN13_SKU = '4006381333924'; // an EAN-13 barcode, valid as EAN and as Luhn
const FEDEX_TRACKING = '961200000001233'; // a 15-digit FedEx Ground tracking number

describe.each(formatIds())('purchase-order format %s', (id) => {
  // X12 holds what it cannot write faithfully (a 51-character city, an emoji): its full view fits it.
  const FULL = id === 'x12-850' ? X12_FULL : FULL_VIEW;
  it('carries a Luhn-valid order id, EAN-13 SKU and FedEx tracking number unchanged', () => {
    const po: DropShipOrder = {
      ...copy(FULL),
      order: { ...FULL.order, id: ORDER_ID },
      shipment: { ...FULL.shipment, carrier: 'fedex', trackingNumber: FEDEX_TRACKING },
      lines: FULL.lines.map((l, i) => (i === 0 ? { ...l, sku: EAN13_SKU } : l)),
    };
    const values = valuesOf(id, render(id, po));
    expect(values).toContain(ORDER_ID);
    expect(values).toContain(EAN13_SKU);
    expect(values).toContain(FEDEX_TRACKING);
    expect(values.join('\n')).not.toContain('[redacted]');
  });

  it('never glues a card number split across free-text fields into one value', () => {
    // 4111 1111 | 1111 1111: each half was scrubbed on its own and is no card number.
    const po: DropShipOrder = {
      ...copy(FULL),
      order: { ...FULL.order, giftMessage: 'Card 4111 1111', notes: '1111 1111 thanks' },
      shipTo: { ...FULL.shipTo, line1: '12 Main St Apt 4111 1111', line2: '1111 1111 rear' },
      lines: FULL.lines.map((l) => ({ ...l, name: 'Tea 4111 1111', properties: { 'Ref 4111 1111': '1111 1111', Other: '4111 1111' } })),
    };
    const glued = valuesOf(id, render(id, po)).filter((v) => containsCardNumber(v) || cardLikeNumbers(v).length > 0);
    expect(glued).toEqual([]);
  });
});
