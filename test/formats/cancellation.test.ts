import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { csvFormat } from '../../src/formats/csv';
import { cxmlFormat, payloadId } from '../../src/formats/cxml';
import { cancellationView, type RenderContext } from '../../src/formats/format';
import { JSON_CANCELLATION_SCHEMA, jsonFormat } from '../../src/formats/json';
import { x12Format } from '../../src/formats/x12-850';
import { planCancellation, planOrder } from '../../src/planning/plan';
import { defaultCancelFilename } from '../../src/config/load';
import { fixtureConfig, order } from '../support/orders';
import { CXML_OPTIONS, FULL, WITHHELD, X12_OPTIONS, copy } from './po-fixtures';
import { cxmlProblems, removeScratch, xpath } from './xmllint';
import { checkEnvelope, el, loadNodeX12, parseWithNodeX12, readX12 } from './x12-reader';

/**
 * A cancellation tells a supplier, in its own format, to stop a purchase order it already
 * has: cXML `type="delete"` referencing the original payload, X12 850 with BEG01 `01`, a JSON
 * document under its own schema, a CSV file under its own name. It repeats the order id, the
 * lines and the shipment, and nothing about the customer.
 */

const CANCEL: RenderContext = { deliveryId: '1001+creamery+po-cancel', createdAt: '2026-11-21T09:00:00Z', controlNumber: 43, purpose: 'cancellation', cancels: '1001+creamery+po' };

afterAll(() => removeScratch());

describe('the cancellation view', () => {
  it('keeps the order id, lines and shipment, and drops the customer, the ship-to, messages, line properties and the label', () => {
    const view = cancellationView(copy(FULL));
    expect(view).toEqual({
      supplierId: 'creamery',
      order: { id: '1001', placedAt: FULL.order.placedAt, currency: 'EUR' },
      customer: {},
      shipTo: {},
      shipment: { id: '1001+creamery', carrier: 'ups', service: '11' },
      lines: FULL.lines.map(({ properties: _p, ...line }) => line),
    });
    const text = JSON.stringify(view);
    for (const personal of ['Zoë Ångström', 'zoe.angstrom', '+49', 'Hauptstraße', 'Alles Gute', 'HYPERLINK', 'Engraving', '1Z999AA10123456784']) {
      expect(text).not.toContain(personal);
    }
  });
});

describe('each format says "cancel" in its own terms', () => {
  it('json: a document valid against the cancellation schema, naming order, shipment and lines', () => {
    const schema = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'schemas', 'purchase-order-cancellation.v1.schema.json'), 'utf8')) as Record<string, unknown>;
    expect(schema.$id).toBe(JSON_CANCELLATION_SCHEMA);
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    for (const view of [FULL, WITHHELD].map((v) => cancellationView(copy(v)))) {
      const doc = JSON.parse(jsonFormat.render(view, { pretty: false }, CANCEL)) as Record<string, unknown>;
      expect(validate(doc) ? [] : validate.errors).toEqual([]);
      expect(doc.$schema).toBe(JSON_CANCELLATION_SCHEMA);
      expect(Object.keys(doc).sort()).toEqual(['$schema', 'lines', 'order', 'shipment', 'supplierId']);
    }
    // The schema is closed: a purchase order is not a valid cancellation.
    const po = JSON.parse(jsonFormat.render(copy(WITHHELD), { pretty: false }, { ...CANCEL, purpose: 'order' })) as unknown;
    expect(validate(po)).toBe(false);
  });

  it('cxml: a DTD-valid OrderRequest of type "delete" that references the original payload and carries no ShipTo', () => {
    const options = cxmlFormat.optionsSchema.parse(CXML_OPTIONS);
    const doc = cxmlFormat.render(cancellationView(copy(FULL)), options, CANCEL);
    expect(cxmlProblems([doc])).toBe('');
    expect(xpath(doc, '/cXML/Request/OrderRequest/OrderRequestHeader/@type')).toBe('delete');
    expect(xpath(doc, '/cXML/Request/OrderRequest/OrderRequestHeader/@orderID')).toBe('1001');
    const original = cxmlFormat.render(copy(FULL), options, { deliveryId: '1001+creamery+po', createdAt: '2026-11-20T15:04:05Z' });
    expect(xpath(doc, '/cXML/Request/OrderRequest/OrderRequestHeader/DocumentReference/@payloadID')).toBe(xpath(original, '/cXML/@payloadID'));
    expect(xpath(original, '/cXML/@payloadID')).toBe(payloadId('1001+creamery+po', options.payloadIdDomain));
    expect(xpath(doc, 'count(//ShipTo)')).toBe('0');
    expect(xpath(doc, 'count(//ItemOut)')).toBe(String(FULL.lines.length));
    // Its own payload id: a receiver that drops repeats does not drop it as the order.
    expect(xpath(doc, '/cXML/@payloadID')).not.toBe(xpath(original, '/cXML/@payloadID'));
  });

  it('x12-850: BEG01 "01" (cancellation) for the same BEG03, a valid envelope, no ship-to loop', () => {
    const options = x12Format.optionsSchema.parse(X12_OPTIONS);
    const edi = x12Format.render(cancellationView(copy(WITHHELD)), options, CANCEL);
    const doc = readX12(edi);
    checkEnvelope(doc);
    expect([el(doc, 'BEG', 1), el(doc, 'BEG', 2), el(doc, 'BEG', 3)]).toEqual(['01', 'DS', '1002']);
    expect(doc.segments.some((s) => s.tag === 'N1')).toBe(false);
    expect(doc.segments.filter((s) => s.tag === 'PO1')).toHaveLength(2);
    const lib = loadNodeX12();
    if (lib) expect(parseWithNodeX12(lib, edi).segments.find((s) => s.tag === 'BEG')?.elements[0]).toBe('01');
  });

  it('csv: the supplier’s columns for the cancelled lines, with no address', () => {
    const options = csvFormat.optionsSchema.parse({});
    const body = csvFormat.render(cancellationView(copy(WITHHELD)), options, CANCEL);
    const rows = body.trimEnd().split('\r\n');
    expect(rows).toHaveLength(1 + WITHHELD.lines.length);
    expect(body).toContain('VC-CHEVRE');
    expect(body).not.toContain('Sample Street');
    expect(body).not.toContain('Ada Example');
  });
});

describe('planCancellation', () => {
  it('renders the supplier’s cancellation from the manifest, under the cancellation file name, with the fields it carries', () => {
    const config = fixtureConfig();
    const plan = planOrder(order({ id: '7001' }), config, { now: '2026-11-21T08:00:00Z' });
    if (plan.status !== 'planned') throw new Error('expected a planned order');
    const creamery = config.suppliers.find((s) => s.id === 'creamery')!;
    expect(creamery.delivery.cancelFilename).toBe('{orderId}-{supplierId}-cancel.csv');
    const cancellation = planCancellation(plan.manifest, '7001+creamery+po', creamery, { now: '2026-11-21T09:00:00Z' });
    expect(cancellation).toMatchObject({
      deliveryId: '7001+creamery+po-cancel',
      orderId: '7001',
      recipient: 'creamery',
      kind: 'dropship',
      purpose: 'cancellation',
      filename: '7001-creamery-cancel.csv',
      format: 'csv',
    });
    expect(cancellation?.fields).toEqual(['lines.name', 'lines.quantity', 'lines.sku', 'order.id', 'shipment.carrier', 'shipment.service']);
    expect(cancellation?.body).not.toContain(order({ id: '7001' }).shipTo?.line1 ?? 'no ship-to');
    // Another supplier's purchase order is not this supplier's to cancel.
    expect(planCancellation(plan.manifest, '7001+oliveco+po', creamery, { now: '2026-11-21T09:00:00Z' })).toBeUndefined();
  });

  it('the manifest holds ids and cancellation views only: no customer, no address', () => {
    const o = order({ id: '7002' });
    const plan = planOrder(o, fixtureConfig());
    if (plan.status !== 'planned') throw new Error('expected a planned order');
    const text = JSON.stringify(plan.manifest);
    for (const value of [o.shipTo?.name, o.shipTo?.line1, o.customer.email, o.customer.phone, o.giftMessage]) {
      if (value) expect(text).not.toContain(value);
    }
    expect(plan.manifest.deliveries.map((d) => d.deliveryId).sort()).toEqual(plan.deliveries.map((d) => d.deliveryId).sort());
  });
});

describe('cancellation file names', () => {
  it.each([
    ['{orderId}-{supplierId}.csv', '{orderId}-{supplierId}-cancel.csv'],
    ['PO_{orderId}.{ext}', 'PO_{orderId}-cancel.{ext}'],
    ['{orderId}', '{orderId}-cancel'],
  ])('%s → %s', (template, expected) => {
    expect(defaultCancelFilename(template)).toBe(expected);
  });
});
