import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { DropshipError } from '../../src/errors';
import { ingestOrder } from '../../src/sources/ingest';
import { CANONICAL_ORDER_SCHEMA_ID, generatedSchemas } from '../../scripts/schemas';

/**
 * `schemas/canonical-order.v1.schema.json`: the canonical order as `POST /orders` accepts it,
 * generated from the zod schema by `npm run schemas` (docs/canonical-order.md).
 */

const ROOT = path.join(__dirname, '..', '..');
const read = (file: string): unknown => JSON.parse(readFileSync(path.join(ROOT, file), 'utf8'));

const SCHEMA_FILE = 'schemas/canonical-order.v1.schema.json';
const VALID = ['examples/orders/canonical-order.json', 'test/fixtures/sources/canonical-order.json'];
const INVALID = 'test/fixtures/sources/canonical-order-invalid.json';

const schema = read(SCHEMA_FILE) as Record<string, unknown>;
const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
addFormats(ajv);
const validate = ajv.compile(schema);

describe('the canonical order schema', () => {
  it('is what `npm run schemas` generates from the code now (run it after changing src/core/order.ts)', () => {
    const generated = generatedSchemas().find((s) => s.file === SCHEMA_FILE);
    expect(generated).toBeDefined();
    expect(readFileSync(path.join(ROOT, SCHEMA_FILE), 'utf8')).toBe(generated!.text);
  });

  it('is a versioned draft 2020-12 schema', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBe(CANONICAL_ORDER_SCHEMA_ID);
  });

  it.each(VALID)('accepts %s, as the service does', (file) => {
    const order = read(file);
    expect(validate(order) ? [] : validate.errors).toEqual([]);
    expect(() => ingestOrder(order, { source: 'canonical' })).not.toThrow();
  });

  it('accepts a correction with state, version and replace, as the service does, and refuses a state it does not know', () => {
    const order = { ...(read(VALID[0]!) as Record<string, unknown>), state: { status: 'waiting', test: false }, version: 3, replace: true };
    expect(validate(order) ? [] : validate.errors).toEqual([]);
    expect(ingestOrder(order, { source: 'canonical' })).toMatchObject({ replace: true, order: { state: { platform: 'canonical', status: 'waiting' }, version: 3 } });
    const unknown = { ...order, state: { status: 'shipped' } };
    expect(validate(unknown)).toBe(false);
    expect(() => ingestOrder(unknown, { source: 'canonical' })).toThrow(DropshipError);
    expect(() => ingestOrder({ ...order, replace: 'yes' }, { source: 'canonical' })).toThrow(/replace: must be true or false/);
  });

  it('refuses the invalid fixture for the reasons the service gives', () => {
    const order = read(INVALID);
    expect(validate(order)).toBe(false);
    const paths = new Set((validate.errors ?? []).map((e) => e.instancePath));
    for (const p of ['/id', '/placedAt', '/currency', '/customer/email', '/shipTo/name', '/lines/1/quantity', '/lines/2/quantity', '/lines/2/weight']) {
      expect(paths).toContain(p);
    }
    expect(() => ingestOrder(order, { source: 'canonical' })).toThrow(DropshipError);
  });
});
