import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Config, SupplierConfig } from '../../src/config/config';
import { JSON_BATCH_SCHEMA } from '../../src/formats/json';
import { sha256Hex } from '../../src/ledger/disclosure-ledger';
import { markerKeys } from '../../src/queue/names';
import { ingestOrder } from '../../src/sources/ingest';
import { x12Format } from '../../src/formats/x12-850';
import { Operations } from '../../src/ops/operations';
import { DeliveryError } from '../../src/transports/transport';
import { X12_OPTIONS } from '../formats/po-fixtures';
import { checkEnvelope, el, readX12 } from '../formats/x12-reader';
import { fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

/**
 * Suppliers that take one file per interval: purchase orders collect durably in Redis, the
 * batch is cut on size or time, delivered as one file (retried whole), and each order's
 * disclosure is still recorded on its own.
 */

let redis: TestRedis;
let n = 0;
beforeAll(async () => {
  redis = await TestRedis.start();
});
afterAll(async () => {
  await redis.stop();
});

/** The fixture config with oliveco (json, own labels) taking batches; other changes per test. */
function batchingConfig(batch: { everyMs: number; maxOrders: number }, change: (s: SupplierConfig) => SupplierConfig = (s) => s): Config {
  const base = fixtureConfig();
  return { ...base, suppliers: base.suppliers.map((s) => (s.id === 'oliveco' ? change({ ...s, batch }) : s)) };
}

/** An order with only an olive line (one purchase order, for oliveco). */
const oliveOrder = (id: string) => orderPayload({ id, lines: [orderPayload().lines[3]!] });

const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
ajv.addSchema(JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'schemas', 'purchase-order.v1.schema.json'), 'utf8')) as object);
const validateBatch = ajv.compile(JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'schemas', 'purchase-order-batch.v1.schema.json'), 'utf8')) as object);

describe('batched purchase orders', () => {
  it('cuts a batch when maxOrders are in: one JSON file per batch, valid against the batch schema, each order disclosed on its own', async () => {
    const h = await PipelineHarness.start(batchingConfig({ everyMs: 3_600_000, maxOrders: 3 }), redis.url, { prefix: `b${++n}` });
    try {
      for (const id of ['9001', '9002', '9003', '9004', '9005', '9006', '9007']) expect((await h.postOrder(oliveOrder(id))).statusCode).toBe(202);
      await waitFor('two batches', () => h.recorder('oliveco').delivered.length === 2);
      await new Promise((r) => setTimeout(r, 300));
      const files = h.recorder('oliveco').delivered;
      expect(files).toHaveLength(2);
      const orderIds: string[] = [];
      for (const file of files) {
        expect(file.filename).toMatch(/^oliveco-batch-\d{6}\.json$/);
        const doc = JSON.parse(file.body) as { $schema: string; batchId: string; purchaseOrders: Array<{ order: { id: string } }> };
        expect(validateBatch(doc) ? [] : validateBatch.errors).toEqual([]);
        expect(doc.$schema).toBe(JSON_BATCH_SCHEMA);
        expect(doc.batchId).toBe(file.deliveryId);
        expect(doc.purchaseOrders).toHaveLength(3);
        orderIds.push(...doc.purchaseOrders.map((po) => po.order.id));
      }
      // Six of the seven orders in two files, none twice (collected in whatever order the
      // concurrent deliveries ran); the seventh waits in the open batch.
      const submitted = ['9001', '9002', '9003', '9004', '9005', '9006', '9007'];
      expect(orderIds).toHaveLength(6);
      expect(new Set(orderIds).size).toBe(6);
      expect(orderIds.every((id) => submitted.includes(id))).toBe(true);
      const disclosures = await h.pipeline.ledger.forOrder(orderIds[0]!);
      expect(disclosures).toEqual([expect.objectContaining({ deliveryId: `${orderIds[0]}+oliveco+po`, recipient: 'oliveco', batchId: expect.stringMatching(/^oliveco-batch-/) })]);
      // The same order again is recognised: nothing more is collected or sent.
      expect((await h.postOrder(oliveOrder(orderIds[0]!))).json()).toMatchObject({ duplicate: true });
    } finally {
      await h.stop();
    }
  });

  it('cuts on time, and what was collected survives a restart of the workers', async () => {
    const config = batchingConfig({ everyMs: 1000, maxOrders: 500 });
    const prefix = `b${++n}`;
    const first = await PipelineHarness.start(config, redis.url, { prefix });
    // Stop before the first tick can cut: the orders are collected, nothing sent.
    await first.postOrder(oliveOrder('9101'));
    await first.postOrder(oliveOrder('9102'));
    const client = redis.client();
    try {
      await waitFor('collected', async () => (await client.hlen(`${prefix}:batch:oliveco:open`)) + (await client.scard(`${prefix}:batch:oliveco:pending`)) >= 1 && (await client.exists(`${prefix}:collected:9102+oliveco+po`)) === 1);
      await first.stop();
      const second = await PipelineHarness.start(config, redis.url, { prefix });
      try {
        await waitFor('batch after restart', () => second.recorder('oliveco').delivered.length + first.recorder('oliveco').delivered.length >= 1, 10_000);
        await new Promise((r) => setTimeout(r, 1500));
        const files = [...first.recorder('oliveco').delivered, ...second.recorder('oliveco').delivered];
        const ids = files.flatMap((f) => (JSON.parse(f.body) as { purchaseOrders: Array<{ order: { id: string } }> }).purchaseOrders.map((po) => po.order.id));
        expect(ids.sort()).toEqual(['9101', '9102']);
      } finally {
        await second.stop();
      }
    } finally {
      client.disconnect();
    }
  });

  it('retries a failed batch whole, under the same name and with the same body; never split', async () => {
    const h = await PipelineHarness.start(batchingConfig({ everyMs: 3_600_000, maxOrders: 2 }), redis.url, { prefix: `b${++n}` });
    try {
      h.recorder('oliveco').then(DeliveryError.retryable('ECONNECTION', 'sftp.example could not be reached'));
      await h.postOrder(oliveOrder('9201'));
      await h.postOrder(oliveOrder('9202'));
      await waitFor('batch delivered after a retry', () => h.recorder('oliveco').delivered.length === 1);
      const attempts = h.recorder('oliveco').attempts;
      expect(attempts).toHaveLength(2);
      expect(attempts[0]).toBe(attempts[1]);
      const body = JSON.parse(h.recorder('oliveco').delivered[0]!.body) as { purchaseOrders: unknown[] };
      expect(body.purchaseOrders).toHaveLength(2);
    } finally {
      await h.stop();
    }
  });

  it('leaves out an order cancelled while it waits in the open batch', async () => {
    const h = await PipelineHarness.start(batchingConfig({ everyMs: 3_600_000, maxOrders: 3 }), redis.url, { prefix: `b${++n}` });
    try {
      await h.postOrder(oliveOrder('9301'));
      await h.postOrder(oliveOrder('9302'));
      await waitFor('collected', async () => (await h.pipeline.redis.exists(`${h.pipeline.prefix}:collected:9302+oliveco+po`)) === 1);
      await h.cancelOrder('9301');
      await waitFor('cancelled', async () => (await h.pipeline.redis.exists(`${h.pipeline.prefix}:cancelled:9301`)) === 1);
      await h.postOrder(oliveOrder('9303'));
      await waitFor('batch', () => h.recorder('oliveco').delivered.length === 1);
      const doc = JSON.parse(h.recorder('oliveco').delivered[0]!.body) as { purchaseOrders: Array<{ order: { id: string } }> };
      expect(doc.purchaseOrders.map((po) => po.order.id)).toEqual(['9302', '9303']);
    } finally {
      await h.stop();
    }
  });

  it('a batch of over a thousand orders lands whole: every order disclosed and marked delivered, and those cancelled while it was on its way undone', async () => {
    const h = await PipelineHarness.start(batchingConfig({ everyMs: 3_600_000, maxOrders: 1002 }), redis.url, { prefix: `b${++n}` });
    try {
      const p = h.pipeline.prefix;
      let open: () => void = () => undefined;
      h.recorder('oliveco').then({ until: new Promise<void>((resolve) => (open = resolve)) });
      const ids = Array.from({ length: 1002 }, (_, i) => `B${String(i).padStart(4, '0')}`);
      for (let i = 0; i < ids.length; i += 50) await Promise.all(ids.slice(i, i + 50).map((id) => h.pipeline.intake.submit(ingestOrder(oliveOrder(id), { source: 'canonical' }))));
      await waitFor('the batch on its way', () => h.recorder('oliveco').attempts.length === 1, 60_000);
      // The first and the last of the batch (its entries go by delivery id), past the first thousand.
      for (const id of ['B0003', 'B1001']) {
        await h.cancelOrder(id);
        await waitFor(`${id} cancelled`, async () => (await h.pipeline.redis.exists(markerKeys.cancelled(p, id))) === 1);
      }
      open();
      await waitFor('the batch and two cancellations', () => h.recorder('oliveco').delivered.length === 3, 30_000);
      const [file, ...cancellations] = h.recorder('oliveco').delivered;
      const doc = JSON.parse(file!.body) as { purchaseOrders: Array<{ order: { id: string } }> };
      expect(doc.purchaseOrders.map((po) => po.order.id)).toEqual(ids);
      expect(cancellations.map((c) => [c.orderId, c.purpose]).sort()).toEqual([
        ['B0003', 'cancellation'],
        ['B1001', 'cancellation'],
      ]);
      const delivered = await h.pipeline.redis.mget(...ids.map((id) => markerKeys.delivered(p, `${id}+oliveco+po`)));
      expect(delivered.filter((v) => v === '1')).toHaveLength(ids.length);
      expect(await h.pipeline.redis.exists(markerKeys.delivered(p, file!.deliveryId))).toBe(1);
      for (const id of ['B0000', 'B0999', 'B1000', 'B1001']) {
        expect(await h.pipeline.ledger.forOrder(id)).toContainEqual(expect.objectContaining({ deliveryId: `${id}+oliveco+po`, batchId: file!.deliveryId, sha256: sha256Hex(file!.body) }));
      }
      expect(await h.pipeline.redis.zcard(`${p}:disclosures-index`)).toBe(ids.length);
      // The batch is closed: no cut batch or pending entry left.
      expect(await h.pipeline.redis.keys(`${p}:batch:oliveco:cut:*`)).toEqual([]);
      expect(await h.pipeline.redis.scard(`${p}:batch:oliveco:pending`)).toBe(0);
    } finally {
      await h.stop();
    }
  }, 120_000);

  it('X12: one interchange with a transaction set per order, GE01 counting them, control numbers rising per batch', async () => {
    const x12 = (s: SupplierConfig): SupplierConfig => ({ ...s, format: 'x12-850', formatOptions: x12Format.optionsSchema.parse(X12_OPTIONS), delivery: { ...s.delivery, batchFilename: '{batchId}.edi' } });
    const h = await PipelineHarness.start(batchingConfig({ everyMs: 3_600_000, maxOrders: 2 }, x12), redis.url, { prefix: `b${++n}` });
    try {
      for (const id of ['9401', '9402', '9403', '9404']) await h.postOrder(oliveOrder(id));
      await waitFor('two interchanges', () => h.recorder('oliveco').delivered.length === 2);
      const docs = h.recorder('oliveco').delivered.map((d) => readX12(d.body));
      for (const doc of docs) {
        checkEnvelope(doc);
        expect(doc.segments.filter((s) => s.tag === 'ST')).toHaveLength(2);
        expect(el(doc, 'GE', 1)).toBe('2');
        expect(doc.segments.filter((s) => s.tag === 'BEG').map((s) => s.elements[0])).toEqual(['00', '00']);
      }
      expect(docs.map((d) => Number(el(d, 'ISA', 13))).sort()).toEqual([1, 2]);
      expect(docs.flatMap((d) => d.segments.filter((s) => s.tag === 'BEG').map((s) => s.elements[2])).sort()).toEqual(['9401', '9402', '9403', '9404']);
    } finally {
      await h.stop();
    }
  });

  it('X12: an order whose SKU X12 cannot carry is held at planning and never joins a batch; the others go out', async () => {
    const x12 = (s: SupplierConfig): SupplierConfig => ({ ...s, format: 'x12-850', formatOptions: x12Format.optionsSchema.parse(X12_OPTIONS), delivery: { ...s.delivery, batchFilename: '{batchId}.edi' } });
    const h = await PipelineHarness.start(batchingConfig({ everyMs: 3_600_000, maxOrders: 2 }, x12), redis.url, { prefix: `b${++n}` });
    const ops = new Operations(h.pipeline.redis, h.pipeline.prefix, batchingConfig({ everyMs: 3_600_000, maxOrders: 2 }, x12));
    try {
      const olive = orderPayload().lines[3]!;
      await h.postOrder(oliveOrder('9501'));
      await h.postOrder(orderPayload({ id: '9502', lines: [{ ...olive, sku: 'OLV-A~B' }] }));
      await h.postOrder(oliveOrder('9503'));
      await waitFor('held', async () => (await ops.queue('orders').getFailedCount()) === 1);
      expect((await ops.orderStatus('9502')).holds).toEqual([
        expect.objectContaining({ code: 'UNSHIPPABLE', message: expect.stringMatching(/^purchase order 9502\+oliveco cannot be written as x12-850: lines\[0\]\.sku has characters X12 PO107/) }),
      ]);
      await waitFor('one interchange of the two others', () => h.recorder('oliveco').delivered.length === 1);
      const doc = readX12(h.recorder('oliveco').delivered[0]!.body);
      expect(doc.segments.filter((s) => s.tag === 'BEG').map((s) => s.elements[2])).toEqual(['9501', '9503']);
    } finally {
      await h.stop();
    }
  });
});
