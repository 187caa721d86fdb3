import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import type { DropShipOrder } from '../../src/formats/format';
import { JSON_PO_SCHEMA, jsonFormat } from '../../src/formats/json';
import { CONTEXT, FULL, WITHHELD } from './po-fixtures';

const schema = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'schemas', 'purchase-order.v1.schema.json'), 'utf8')) as Record<string, unknown>;
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(schema);

/** Renders and validates; every JSON document of this file goes through here. */
function check(po: DropShipOrder, pretty = false): unknown {
  const doc = JSON.parse(jsonFormat.render(po, { pretty }, CONTEXT)) as unknown;
  if (!validate(doc)) throw new Error(`not valid against the schema: ${ajv.errorsText(validate.errors)}`);
  return doc;
}

describe('JSON purchase order schema', () => {
  it('is the versioned, documented schema json.ts names', () => {
    expect(schema.$id).toBe(JSON_PO_SCHEMA);
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    // Every property says what it is.
    const undocumented: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const n = node as Record<string, unknown>;
      if (n.properties && typeof n.properties === 'object') {
        for (const [key, sub] of Object.entries(n.properties as Record<string, Record<string, unknown>>)) {
          if (typeof sub.description !== 'string' || sub.description === '') undocumented.push(`${at}.${key}`);
          walk(sub, `${at}.${key}`);
        }
      }
      if (n.items) walk(n.items, `${at}[]`);
    };
    walk(schema, '$');
    expect(undocumented).toEqual([]);
  });

  it('validates the rendered documents of the fixed views, compact and pretty', () => {
    for (const po of [FULL, WITHHELD]) for (const pretty of [false, true]) expect(check(po, pretty)).toMatchObject({ $schema: JSON_PO_SCHEMA });
  });

  it('rejects what a purchase order must never carry: billing data, nulls, unknown keys, another schema', () => {
    const doc = check(WITHHELD) as Record<string, unknown>;
    const bad = [
      { ...doc, billTo: { line1: '99 Billing Blvd' } },
      { ...doc, payment: { last4: '1111' } },
      { ...doc, customer: { name: null } },
      { ...doc, lines: [{ sku: 'A', quantity: 1, cost: '1.00' }] },
      { ...doc, $schema: 'https://dropship-pipeline.dev/schemas/purchase-order/v2' },
      { ...doc, lines: [] },
      { ...doc, order: {} },
    ];
    for (const d of bad) expect(validate(d)).toBe(false);
  });

  it('validates every document rendered from any view the minimiser can build (property)', () => {
    const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
    // 'binary' counts code points, as JSON Schema's maxLength does.
    const text = (max: number) => fc.string({ unit: 'binary', minLength: 1, maxLength: max });
    const compact = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
    const view: fc.Arbitrary<DropShipOrder> = fc.record({
      supplierId: fc.stringMatching(/^[a-z0-9-]{1,20}$/),
      order: fc
        .record({
          id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/),
          placedAt: maybe(fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString())),
          currency: maybe(fc.stringMatching(/^[A-Z]{3}$/)),
          giftMessage: maybe(text(200)),
          notes: maybe(text(200)),
        })
        .map(compact),
      customer: fc
        .record({ name: maybe(text(200)), email: maybe(fc.constantFrom('ada@example.com', 'b.c+d@example.org')), phone: maybe(text(40)), contactRestricted: maybe(fc.boolean()) })
        .map(compact),
      shipTo: fc
        .record({
          name: maybe(text(200)),
          company: maybe(text(200)),
          line1: maybe(text(200)),
          line2: maybe(text(200)),
          city: maybe(text(100)),
          region: maybe(text(100)),
          postalCode: maybe(text(20)),
          country: maybe(fc.constantFrom('US', 'DE', 'JP')),
          phone: maybe(text(40)),
        })
        .map(compact),
      shipment: fc.record({ id: maybe(text(80)), carrier: maybe(fc.constantFrom('ups', 'fedex')), service: maybe(text(30)), trackingNumber: maybe(text(35)), label: maybe(fc.base64String()) }).map(compact),
      lines: fc.array(
        fc
          .record({
            sku: maybe(text(100)),
            name: maybe(text(500)),
            quantity: maybe(fc.integer({ min: 1, max: 100000 })),
            unitPrice: maybe(fc.stringMatching(/^\d{1,12}(\.\d{1,6})?$/)),
            weight: maybe(fc.double({ min: 0, max: 1_000_000, noNaN: true })),
            properties: maybe(fc.dictionary(text(20), text(1000), { minKeys: 1, maxKeys: 3 })),
          })
          .map(compact),
        { minLength: 1, maxLength: 4 },
      ),
    });
    fc.assert(
      fc.property(view, fc.boolean(), (po, pretty) => {
        check(po, pretty);
      }),
      { numRuns: 200 },
    );
  });
});
