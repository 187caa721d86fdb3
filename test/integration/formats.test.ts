import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/load';
import { previewOrder } from '../../src/planning/preview';
import { x12Format } from '../../src/formats/x12-850';
import { CXML_OPTIONS, X12_OPTIONS } from '../formats/po-fixtures';
import { FIXTURE_CONFIG_DIR, orderPayload } from '../support/orders';
import { PipelineHarness } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

const SECRET = 'cxml-shared-secret-for-tests';
let redis: TestRedis;
let dir: string;
let config: Config;

const supplier = (id: string, skus: string[], format: string, formatOptions: unknown) => ({
  id,
  name: id,
  skus,
  shipFrom: { name: id, line1: '5 Mill Road', city: 'Albany', region: 'NY', postalCode: '12207', country: 'US', phone: '+1 518 555 0104' },
  labels: 'supplier',
  fields: ['order.id', 'order.placedAt', 'shipTo.name', 'shipTo.line1', 'shipTo.city', 'shipTo.region', 'shipTo.postalCode', 'shipTo.country', 'lines.sku', 'lines.name', 'lines.quantity'],
  format,
  formatOptions,
  delivery: { transport: 'outbox', dir: '/tmp/unused' },
});

beforeAll(async () => {
  redis = await TestRedis.start();
  dir = mkdtempSync(path.join(os.tmpdir(), 'dropship-formats-'));
  cpSync(FIXTURE_CONFIG_DIR, dir, { recursive: true });
  writeFileSync(path.join(dir, 'suppliers', 'mill.yaml'), stringify(supplier('mill', ['MILL-*'], 'x12-850', X12_OPTIONS)));
  writeFileSync(path.join(dir, 'suppliers', 'orchard.yaml'), stringify(supplier('orchard', ['ORCH-*'], 'cxml', CXML_OPTIONS)));
  config = loadConfig(dir);
});
afterAll(async () => {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

const lines = [
  { id: 'm', sku: 'MILL-FLOUR', name: 'Stone-ground flour', quantity: 2, unitPrice: '7.00' },
  { id: 'o', sku: 'ORCH-CIDER', name: 'Dry cider', quantity: 1, unitPrice: '11.00' },
];

describe('X12 and cXML suppliers through the pipeline', () => {
  it('numbers X12 interchanges per supplier, rising across orders and restarts, and adds the cXML secret only when sending', async () => {
    const start = () => PipelineHarness.start(config, redis.url, { prefix: 'fmt', env: { CREAMERY_CXML_SECRET: SECRET } });
    let h = await start();
    const isa13 = (body: string) => body.split('*')[13];
    try {
      await h.postOrder(orderPayload({ id: 'F1', lines }));
      await h.postOrder(orderPayload({ id: 'F2', lines }));
      await waitFor('two X12 POs', () => h.recorder('mill').delivered.length === 2);
      await waitFor('two cXML POs', () => h.recorder('orchard').delivered.length === 2);
      const byOrder = new Map(h.recorder('mill').delivered.map((d) => [d.orderId, isa13(d.body)]));
      expect([...byOrder.values()].sort()).toEqual(['000000001', '000000002']);
      for (const d of h.recorder('orchard').delivered) expect(d.body).toContain(`<SharedSecret>${SECRET}</SharedSecret>`);
      expect((await redis.dump()).join('\n')).not.toContain(SECRET);
      // preview shows the document without the secret
      expect(previewOrder(orderPayload({ id: 'F9', lines }), config).deliveries.find((d) => d.recipient === 'orchard')?.body).not.toContain('SharedSecret');
    } finally {
      await h.stop();
    }
    h = await start();
    try {
      await h.postOrder(orderPayload({ id: 'F3', lines }));
      await waitFor('third X12 PO', () => h.recorder('mill').delivered.length === 1);
      expect(isa13(h.recorder('mill').delivered[0]!.body)).toBe('000000003');
    } finally {
      await h.stop();
    }
  });

  it('preview: a non-Latin address to an X12 basic-charset supplier is held with the fields it cannot write; with transliterate: true it goes out in ASCII', () => {
    const mill = (o: Record<string, unknown>): Config => ({
      ...config,
      suppliers: config.suppliers.map((s) => (s.id === 'mill' ? { ...s, formatOptions: x12Format.optionsSchema.parse({ ...X12_OPTIONS, charset: 'basic', ...o }) } : s)),
    });
    const payload = orderPayload({
      id: 'F7',
      lines: [lines[0]!],
      shipTo: { name: 'Зоя Иванова', line1: 'ул. Тверская 7', city: 'Москва', postalCode: '125009', country: 'RU' },
    });
    const held = previewOrder(payload, mill({ transliterate: false }));
    expect(held.deliveries).toEqual([]);
    expect(held.held).toEqual([
      {
        code: 'UNSHIPPABLE',
        message: [
          'purchase order F7+mill cannot be written as x12-850: shipTo.name has characters X12 charset "basic" cannot carry (formatOptions.transliterate: true writes them in ASCII where a standard spelling exists)',
          'shipTo.line1 has characters X12 charset "basic" cannot carry (formatOptions.transliterate: true writes them in ASCII where a standard spelling exists)',
          'shipTo.city has characters X12 charset "basic" cannot carry (formatOptions.transliterate: true writes them in ASCII where a standard spelling exists)',
        ].join('; '),
      },
    ]);
    const sent = previewOrder(payload, mill({ transliterate: true }));
    const edi = sent.deliveries.find((d) => d.recipient === 'mill')?.body ?? '';
    expect(edi).toContain('N1*ST*ZOYA IVANOVA~');
    expect(edi).toContain('N3*UL. TVERSKAYA 7~');
    expect(edi).toContain('N4*MOSKVA**125009*RU~');
  });

  it('holds the order of a supplier whose format cannot carry the order id', () => {
    const plan = previewOrder(orderPayload({ id: `X${'1'.repeat(30)}`, lines }), config);
    expect(plan.held?.[0]?.code).toBe('UNSHIPPABLE');
    expect(plan.held?.[0]?.message).toMatch(/^purchase order .* cannot be written as x12-850: /);
  });
});
