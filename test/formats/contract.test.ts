import { FIELD_PATHS, type FieldPath, isNeverDisclosed } from '../../src/core/field-paths';
import { dropShipOrder } from '../../src/core/minimise';
import type { Shipment } from '../../src/core/shipment';
import { formatById, formatIds } from '../../src/formats';
import type { PurchaseOrderFormat } from '../../src/formats/format';
import { order } from '../support/orders';
import { CONTEXT, CXML_OPTIONS, X12_OPTIONS, copy } from './po-fixtures';

/**
 * One contract every registered purchase-order format keeps (docs/architecture.md: one suite for all
 * of a kind): it renders what the minimised view holds and nothing else, the same way
 * every time, and validates its own options strictly.
 */

const OPTIONS: Record<string, Record<string, unknown>> = { json: {}, csv: {}, cxml: CXML_OPTIONS, 'x12-850': X12_OPTIONS };

const ORDER = order({
  giftMessage: 'Gift QGIFTMSG',
  notes: 'Notes QNOTESXX',
  customer: { name: 'Cust QCUSTNAM', email: 'qcustmail@example.com', phone: '+1 503 555 0142', contactRestricted: false },
  shipTo: { name: 'Ship QSHIPNAM', company: 'Co QCOMPANY', line1: '1 QLINEONE St', line2: 'QLINETWO', city: 'Portland', region: 'OR', postalCode: '97205', country: 'US', phone: '+1 503 555 0177' },
  billTo: { name: 'Bill QBILLNAM', line1: '9 QBILLSTR Blvd', city: 'QBILLCTY', region: 'OR', postalCode: '97399', country: 'US', phone: '+1 503 555 0188' },
  payment: { brand: 'QBRANDXX', last4: '4242' },
});

const SHIPMENT: Shipment = {
  id: `${ORDER.id}+creamery`,
  orderId: ORDER.id,
  origin: { kind: 'supplier', id: 'creamery' },
  carrier: 'ups',
  service: '03',
  shipFrom: { name: 'Test Creamery', line1: '2 Dairy Lane', city: 'Websterville', region: 'VT', postalCode: '05678', country: 'US', phone: '+1 802 555 0102' },
  lines: ORDER.lines.filter((l) => l.sku.startsWith('VC-') || l.sku === 'BUTTER-42'),
};

const ALL_DISCLOSABLE = FIELD_PATHS.filter((p) => !isNeverDisclosed(p));
const NARROW: FieldPath[] = ['order.id', 'shipTo.name', 'shipTo.line1', 'shipTo.city', 'shipTo.postalCode', 'shipTo.country', 'lines.sku', 'lines.quantity'];

function renderAs(id: string, fields: readonly FieldPath[]): string {
  const format = formatById(id) as PurchaseOrderFormat;
  const { po } = dropShipOrder(ORDER, SHIPMENT, { id: 'creamery', fields: [...fields] });
  return format.render(po, format.optionsSchema.parse(copy(OPTIONS[id])), CONTEXT);
}

describe.each(formatIds())('purchase-order format %s', (id) => {
  const format = formatById(id) as PurchaseOrderFormat;

  it('is registered with an extension, a content type and options for this suite', () => {
    expect(format.id).toBe(id);
    expect(format.fileExtension).toMatch(/^[a-z0-9]+$/);
    expect(format.contentType).toMatch(/^[a-z]+\/[a-z0-9.+-]+/);
    expect(OPTIONS[id]).toBeDefined();
  });

  it('rejects unknown options', () => {
    expect(format.optionsSchema.safeParse({ ...OPTIONS[id], unknownOption: true }).success).toBe(false);
  });

  it('never carries billing or payment data, nor lines of other suppliers, even with everything else allowed', () => {
    const body = renderAs(id, ALL_DISCLOSABLE);
    for (const marker of ['QBILLNAM', 'QBILLSTR', 'QBILLCTY', '97399', '555 0188', 'QBRANDXX', '4242', 'LARDER-JAM', 'Fig jam', 'OLV-EVOO', 'Olive oil', 'A & S']) {
      expect(body).not.toContain(marker);
    }
    for (const marker of ['QSHIPNAM', 'VC-CHEVRE', 'BUTTER-42']) expect(body).toContain(marker);
  });

  it('carries nothing the allow-list withholds', () => {
    const body = renderAs(id, NARROW);
    for (const marker of ['QGIFTMSG', 'QNOTESXX', 'QCUSTNAM', 'qcustmail', '555 0142', '555 0177', 'QCOMPANY', 'QLINETWO', '12.00', '6.25', 'Chèvre', 'Chevre', 'Cultured']) {
      expect(body).not.toContain(marker);
    }
    for (const marker of ['QSHIPNAM', 'QLINEONE', '97205', 'VC-CHEVRE']) expect(body).toContain(marker);
  });

  it('check (when it has one) agrees with render: render refuses exactly the views check finds problems in', () => {
    if (!format.check) return;
    const o = format.optionsSchema.parse(copy(OPTIONS[id]));
    const { po } = dropShipOrder(ORDER, SHIPMENT, { id: 'creamery', fields: [...ALL_DISCLOSABLE] });
    expect(format.check(copy(po), o)).toEqual({ problems: [], unsent: [] });
    expect(() => format.render(copy(po), o, CONTEXT)).not.toThrow();
    const broken = { ...po, shipTo: { ...po.shipTo, city: 'x'.repeat(200) }, lines: po.lines.map((l) => ({ ...l, sku: ` ${l.sku ?? ''}` })) };
    const { problems } = format.check(copy(broken), o);
    if (problems.length === 0) {
      expect(() => format.render(copy(broken), o, CONTEXT)).not.toThrow();
    } else {
      expect(() => format.render(copy(broken), o, CONTEXT)).toThrow(expect.objectContaining({ code: 'EINVALID_ORDER', problems }));
    }
  });

  it('checkAndRender (when it has one) says what check says and writes what render writes', () => {
    if (!format.checkAndRender) return;
    const o = format.optionsSchema.parse(copy(OPTIONS[id]));
    const { po } = dropShipOrder(ORDER, SHIPMENT, { id: 'creamery', fields: [...ALL_DISCLOSABLE] });
    // Writable; with a code the format leaves out (unsent); and with problems.
    const views = [
      po,
      { ...po, shipTo: { ...po.shipTo, region: 'Not a region code at all', phone: 'x'.repeat(300) } },
      { ...po, shipTo: { ...po.shipTo, city: 'x'.repeat(200) }, lines: po.lines.map((l) => ({ ...l, sku: ` ${l.sku ?? ''}` })) },
    ];
    for (const [i, view] of views.entries()) {
      for (const context of [CONTEXT, { ...CONTEXT, controlNumber: 7 + i }, { deliveryId: 'd', createdAt: '2026-01-02T03:04:05Z' }]) {
        const both = format.checkAndRender(copy(view), o, context);
        const check = format.check?.(copy(view), o) ?? { problems: [], unsent: [] };
        expect(both.check).toEqual(check);
        if (check.problems.length > 0) expect(both.body).toBeUndefined();
        else expect(both.body).toBe(format.render(copy(view), o, context));
      }
    }
    const findings = views.map((v) => format.checkAndRender!(copy(v), o, CONTEXT).check);
    expect(findings.map((c) => [c.problems.length > 0, c.unsent.length > 0])).toEqual([[false, false], [false, true], [true, expect.any(Boolean)]]);
  });

  it('renders the same view identically every time, and leaves the view untouched', () => {
    const { po } = dropShipOrder(ORDER, SHIPMENT, { id: 'creamery', fields: [...ALL_DISCLOSABLE] });
    const before = JSON.stringify(po);
    const o = format.optionsSchema.parse(copy(OPTIONS[id]));
    const first = format.render(po, o, CONTEXT);
    expect(format.render(copy(po), format.optionsSchema.parse(copy(OPTIONS[id])), { ...CONTEXT })).toBe(first);
    expect(JSON.stringify(po)).toBe(before);
    expect(first.endsWith('\n')).toBe(true);
  });
});
