import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { jsonConfirmationFormat } from '../../../src/formats/inbound/json';
import { CONFIRMATION_SCHEMA_ID, generatedSchemas } from '../../../scripts/schemas';
import { problemsOf } from './support';

const ROOT = path.join(__dirname, '..', '..', '..');
const SCHEMA_FILE = 'schemas/confirmation.v1.schema.json';
const schema = JSON.parse(readFileSync(path.join(ROOT, SCHEMA_FILE), 'utf8')) as Record<string, unknown>;
const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
addFormats(ajv);
const validate = ajv.compile(schema);

const DOCUMENT = {
  shipments: [
    { orderId: 'order-1001', carrier: 'UPS', trackingNumbers: ['1Z 999 AA1 0123456784'], lines: [{ sku: 'MUG-BLUE', quantity: 2 }], shippedAt: '2026-12-05T16:30:00Z' },
    { orderId: 'order-1002', carrier: 'FedEx', trackingNumbers: ['794698712345'] },
  ],
  acknowledgements: [{ orderId: 'order-1003', status: 'rejected', reason: 'Discontinued; card 4111 1111 1111 1111 on file' }],
};

describe('the JSON confirmation reader', () => {
  it('reads a document of shipments and acknowledgements into the exact confirmations, as the API would check them', () => {
    expect(jsonConfirmationFormat.id).toBe('json');
    expect(jsonConfirmationFormat.parseOptions).toBeUndefined();
    expect(jsonConfirmationFormat.read(`\uFEFF${JSON.stringify(DOCUMENT)}`, undefined)).toEqual({
      confirmations: [
        {
          reference: 'shipments[0]',
          confirmation: { kind: 'shipment', orderId: 'order-1001', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'], lines: [{ sku: 'MUG-BLUE', quantity: 2 }], shippedAt: '2026-12-05T16:30:00Z' },
        },
        { reference: 'shipments[1]', confirmation: { kind: 'shipment', orderId: 'order-1002', carrier: 'FedEx', trackingNumbers: ['794698712345'] } },
        { reference: 'acknowledgements[0]', confirmation: { kind: 'acknowledgement', orderId: 'order-1003', status: 'rejected', reason: expect.not.stringContaining('4111 1111 1111 1111') } },
      ],
    });
  });

  it('refuses what it cannot read, naming where, never the value', () => {
    expect(problemsOf(() => jsonConfirmationFormat.read('{"shipments": [', undefined))).toEqual(['the file is not valid JSON']);
    expect(problemsOf(() => jsonConfirmationFormat.read('[]', undefined))).toEqual([expect.stringMatching(/^the document must be an object with "shipments" and\/or "acknowledgements"/)]);
    expect(problemsOf(() => jsonConfirmationFormat.read('{}', undefined))).toEqual(['the document holds no shipment and no acknowledgement']);
    expect(problemsOf(() => jsonConfirmationFormat.read('{"shipments": {}, "orders": []}', undefined))).toEqual(['shipments: must be an array', expect.stringMatching(/Unrecognized key: "orders"/)]);
    const problems = problemsOf(() =>
      jsonConfirmationFormat.read(
        JSON.stringify({ shipments: [{ orderId: 'Jane Doe', carrier: 'UPS', trackingNumbers: [], lines: [{ sku: 'A', quantity: 1.5 }] }], acknowledgements: [{ orderId: 'o-1', status: 'maybe' }] }),
        undefined,
      ),
    );
    expect(problems).toEqual([
      'shipments[0]: orderId must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit, not ending with "." and without ".."',
      'shipments[0]: trackingNumbers must list at least one tracking number',
      'shipments[0]: lines.0.quantity must be a whole number',
      'acknowledgements[0]: status must be one of accepted, rejected, backordered',
    ]);
    expect(problems.join('\n')).not.toContain('Jane');
    const many = JSON.stringify({ shipments: Array.from({ length: 10_001 }, (_, i) => ({ orderId: `o-${i}`, carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'] })) });
    expect(problemsOf(() => jsonConfirmationFormat.read(many, undefined))).toEqual(['shipments: at most 10000 shipments']);
    const huge = JSON.stringify({ shipments: [{ orderId: 'o-1', carrier: 'x'.repeat(11 * 1024 * 1024), trackingNumbers: ['1Z999AA10123456784'] }] });
    expect(problemsOf(() => jsonConfirmationFormat.read(huge, undefined))).toEqual([`the file is ${huge.length} characters; at most ${10 * 1024 * 1024} are read`]);
  });
});

describe('the published confirmation schema (schemas/confirmation.v1.schema.json)', () => {
  it('is what `npm run schemas` generates from the code now (run it after changing src/core/confirmation.ts)', () => {
    const generated = generatedSchemas().find((s) => s.file === SCHEMA_FILE);
    expect(generated).toBeDefined();
    expect(readFileSync(path.join(ROOT, SCHEMA_FILE), 'utf8')).toBe(generated!.text);
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBe(CONFIRMATION_SCHEMA_ID);
  });

  it('accepts what the reader accepts, and refuses what the reader refuses for a reason a schema can say', () => {
    expect(validate(DOCUMENT) ? [] : validate.errors).toEqual([]);
    const wrong = { shipments: [{ orderId: 'o-1', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'], lines: [{ sku: 'A', quantity: 0 }] }], extra: true };
    expect(validate(wrong)).toBe(false);
    expect(() => jsonConfirmationFormat.read(JSON.stringify(wrong), undefined)).toThrow('The confirmation is invalid');
  });
});
