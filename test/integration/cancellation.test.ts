import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { JSON_CANCELLATION_SCHEMA } from '../../src/formats/json';
import { Operations } from '../../src/ops/operations';
import { deliveryQueueName, ORDERS_QUEUE, orderJobId } from '../../src/queue/names';
import { DeliveryError } from '../../src/transports/transport';
import { fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

/**
 * Cancelling an order through the real queues on a real Redis: labels already bought are
 * voided, suppliers that already have their purchase order get a cancellation in their
 * format, and nothing that had not left yet leaves afterwards.
 */

let redis: TestRedis;
let n = 0;
beforeAll(async () => {
  redis = await TestRedis.start();
});
afterAll(async () => {
  await redis.stop();
});

async function start() {
  const h = await PipelineHarness.start(fixtureConfig(), redis.url, { prefix: `c${++n}` });
  h.recorder('ups').respond = (p) => ({ carrier: 'ups', trackingNumber: `1Z${p.deliveryId.replace(/\W/g, '').toUpperCase()}`, label: 'R0lGODlh' });
  return h;
}

function ops(h: PipelineHarness): Operations {
  return new Operations(h.pipeline.redis, h.pipeline.prefix, fixtureConfig());
}

async function orderJobDone(h: PipelineHarness, orderId: string): Promise<unknown> {
  const queue = new Queue(ORDERS_QUEUE, { connection: h.pipeline.redis, prefix: h.pipeline.prefix });
  try {
    let value: unknown;
    await waitFor(`order job ${orderId}`, async () => {
      // The state first, then the job: a job read before it completed holds no return value yet.
      if ((await queue.getJobState(orderJobId(orderId))) !== 'completed') return false;
      value = (await queue.getJob(orderJobId(orderId)))?.returnvalue;
      return true;
    });
    return value;
  } finally {
    await queue.close();
  }
}

describe('cancelling an order that was delivered', () => {
  it('voids every label bought and sends each supplier a cancellation in its format; the status says so', async () => {
    const h = await start();
    try {
      await h.postOrder(orderPayload({ id: '8001' }));
      await waitFor('everything delivered', () => h.recorder('creamery').delivered.length === 1 && h.recorder('oliveco').delivered.length === 1);
      const labels = h.recorder('ups').delivered.map((d) => `1Z${d.deliveryId.replace(/\W/g, '').toUpperCase()}`).sort();
      expect(labels).toHaveLength(2);

      const answer = await h.cancelOrder('8001', { reason: 'customer' });
      expect(answer.statusCode).toBe(202);
      expect(answer.json()).toEqual({ orderId: '8001', cancelled: true, duplicate: false });

      await waitFor('voids and cancellations', () => h.recorder('ups').voided.length === 2 && h.recorder('creamery').delivered.length === 2 && h.recorder('oliveco').delivered.length === 2);
      expect(h.recorder('ups').voided.map((v) => v.trackingNumber).sort()).toEqual(labels);
      expect(h.recorder('ups').voided.map((v) => v.deliveryId).sort()).toEqual(['8001+creamery+carrier-void', '8001+warehouse+carrier-void']);

      const creamery = h.recorder('creamery').delivered[1]!;
      expect(creamery).toMatchObject({ deliveryId: '8001+creamery+po-cancel', purpose: 'cancellation', filename: '8001-creamery-cancel.csv' });
      expect(creamery.body.split('\r\n')[0]).toBe('order_id,sku,name,quantity,carrier,service');
      expect(creamery.body).toContain('8001,VC-CHEVRE,');
      expect(creamery.body).not.toContain('Sample Street');

      const olive = h.recorder('oliveco').delivered[1]!;
      expect(olive.purpose).toBe('cancellation');
      const doc = JSON.parse(olive.body) as Record<string, unknown>;
      expect(doc).toEqual({ $schema: JSON_CANCELLATION_SCHEMA, supplierId: 'oliveco', order: { id: '8001' }, shipment: {}, lines: [{ sku: 'OLV-EVOO', quantity: 1, unitPrice: '24.00' }] });

      // The cancellations are disclosures like any other, recorded per delivery.
      const disclosures = await h.pipeline.ledger.forOrder('8001');
      expect(disclosures.find((d) => d.deliveryId === '8001+oliveco+po-cancel')?.fields).toEqual(['lines.quantity', 'lines.sku', 'lines.unitPrice', 'order.id']);

      const status = await ops(h).orderStatus('8001');
      expect(status.cancelled).toEqual({ at: expect.any(String), reason: 'customer' });
      expect(status.tracking.map((t) => t.voidedAt)).toEqual([expect.any(String), expect.any(String)]);
      expect(status.deliveries.map((d) => d.deliveryId)).toEqual(
        expect.arrayContaining(['8001+creamery+po-cancel', '8001+oliveco+po-cancel', '8001+creamery+carrier-void', '8001+warehouse+carrier-void']),
      );

      // The same cancellation again changes nothing.
      expect((await h.cancelOrder('8001')).json()).toEqual({ orderId: '8001', cancelled: true, duplicate: true });
      await new Promise((r) => setTimeout(r, 300));
      expect(h.recorder('ups').voided).toHaveLength(2);
      expect(h.recorder('creamery').delivered).toHaveLength(2);
    } finally {
      await h.stop();
    }
  });

  it('keeps a label the carrier refuses to void as a failed job with the carrier’s reason, for an operator', async () => {
    const h = await start();
    try {
      await h.postOrder(orderPayload({ id: '8002', lines: [orderPayload().lines[0]!] }));
      await waitFor('label bought', () => h.recorder('ups').delivered.length === 1);
      // Planned as it was accepted (it simply ships): no order job to wait for.
      expect((await ops(h).orderStatus('8002')).stage).toBe('planned');
      h.recorder('ups').then(DeliveryError.permanent('EREJECTED', 'UPS void request answered 400: 190117 The shipment cannot be voided'));
      await h.cancelOrder('8002');
      const carrier = new Queue(deliveryQueueName('carrier', 'ups'), { connection: h.pipeline.redis, prefix: h.pipeline.prefix });
      await waitFor('void failed', async () => (await carrier.getFailedCount()) === 1);
      await carrier.close();
      const status = await ops(h).orderStatus('8002');
      expect(status.deliveries.find((d) => d.deliveryId === '8002+warehouse+carrier-void')).toMatchObject({ state: 'failed', failedReason: expect.stringContaining('190117') });
      expect(status.tracking[0]?.voidedAt).toBeUndefined();
    } finally {
      await h.stop();
    }
  });
});

describe('cancelling before or while an order is delivered', () => {
  it('a cancellation that arrives before its order means the order is never sent anywhere', async () => {
    const h = await start();
    try {
      expect((await h.cancelOrder('8003')).statusCode).toBe(202);
      expect((await ops(h).orderStatus('8003')).state).toBe('cancelled before it arrived');
      expect((await h.postOrder(orderPayload({ id: '8003' }))).statusCode).toBe(202);
      expect(await orderJobDone(h, '8003')).toEqual({ deliveries: [], cancelled: true });
      await new Promise((r) => setTimeout(r, 300));
      expect(h.delivered().filter((d) => d.orderId === '8003')).toEqual([]);
    } finally {
      await h.stop();
    }
  });

  it('what is in flight lands and is then undone; what had not started never leaves', async () => {
    const h = await start();
    try {
      // Both labels and the olive PO are held in flight until the cancellation is in; the
      // creamery PO waits for its label.
      let open = (): void => undefined;
      const gate = new Promise<void>((resolve) => (open = resolve));
      h.recorder('ups').then({ until: gate }, { until: gate });
      h.recorder('oliveco').then({ until: gate });
      await h.postOrder(orderPayload({ id: '8004' }));
      await waitFor('in flight', () => h.recorder('ups').attempts.length === 2 && h.recorder('oliveco').attempts.length === 1);
      await h.cancelOrder('8004');
      await waitFor('cancel job done', async () => (await ops(h).orderStatus('8004')).cancelled !== undefined);
      open();

      await waitFor('undone', () => h.recorder('ups').voided.length === 2 && h.recorder('oliveco').delivered.length === 2);
      expect(h.recorder('ups').delivered).toHaveLength(2);
      expect(h.recorder('oliveco').delivered.map((d) => d.purpose ?? 'order')).toEqual(['order', 'cancellation']);
      // The creamery PO was still waiting for its label: it is skipped, so nothing to cancel.
      const po = new Queue(deliveryQueueName('dropship', 'creamery'), { connection: h.pipeline.redis, prefix: h.pipeline.prefix });
      await waitFor('creamery PO settled', async () => (await (await po.getJob('8004+creamery+po'))?.getState()) === 'completed');
      expect((await po.getJob('8004+creamery+po'))?.returnvalue).toEqual({ location: 'order cancelled', skipped: 'cancelled' });
      await po.close();
      expect(h.recorder('creamery').delivered).toEqual([]);
    } finally {
      await h.stop();
    }
  });
});

describe('a delivery never lands twice', () => {
  it('a job run again after it landed (its worker died before BullMQ heard) sends nothing', async () => {
    const h = await start();
    try {
      await h.postOrder(orderPayload({ id: '8005', lines: [orderPayload().lines[3]!] }));
      await waitFor('olive PO', () => h.recorder('oliveco').delivered.length === 1);
      const queue = new Queue(deliveryQueueName('dropship', 'oliveco'), { connection: h.pipeline.redis, prefix: h.pipeline.prefix });
      await waitFor('job completed', async () => (await (await queue.getJob('8005+oliveco+po'))?.getState()) === 'completed');
      const job = (await queue.getJob('8005+oliveco+po'))!;
      await job.remove();
      const again = await queue.add('dropship', job.data, { jobId: '8005+oliveco+po' });
      await waitFor('re-run done', async () => (await again.getState()) === 'completed');
      expect((await queue.getJob('8005+oliveco+po'))?.returnvalue).toEqual({ location: 'delivered before', skipped: 'delivered before' });
      expect(h.recorder('oliveco').delivered).toHaveLength(1);
      await queue.close();
    } finally {
      await h.stop();
    }
  });
});

describe('cancellation entry points', () => {
  const shopify = JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'sources', 'shopify-order-create.json'), 'utf8')) as Record<string, unknown>;
  const woo = JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'sources', 'woocommerce-order-created.json'), 'utf8')) as Record<string, unknown>;

  it('Shopify orders/cancelled cancels the order it names, once per webhook id', async () => {
    const h = await start();
    try {
      const cancelled = { ...shopify, cancelled_at: '2026-11-21T10:00:00-05:00', cancel_reason: 'inventory' };
      const first = await h.postShopify(cancelled, 'wh-cancel-1', undefined, 'orders/cancelled');
      expect(first.statusCode).toBe(202);
      const orderId = String(shopify.order_number);
      expect(first.json()).toEqual({ orderId, cancelled: true, duplicate: false });
      expect((await h.postShopify(cancelled, 'wh-cancel-1', undefined, 'orders/cancelled')).json()).toMatchObject({ duplicate: true });
      await waitFor('cancel job', async () => (await ops(h).orderStatus(orderId)).cancelled !== undefined);
      expect((await ops(h).orderStatus(orderId)).cancelled?.reason).toBe('inventory');
      // A forged cancellation is refused like a forged order.
      expect((await h.postShopify(cancelled, 'wh-cancel-2', 'not-the-secret', 'orders/cancelled')).statusCode).toBe(401);
    } finally {
      await h.stop();
    }
  });

  it('WooCommerce order.updated cancels when the status became cancelled, and takes other updates as the order', async () => {
    const h = await start();
    try {
      // Since #13 an update that is not a cancellation is a version of the order (it may be
      // the one that releases a pending order): accepted like order.created, no longer ignored.
      const other = await h.postWoo({ ...woo, status: 'processing' }, 'wc-1', undefined, 'order.updated');
      expect(other.statusCode).toBe(202);
      expect(other.json()).toEqual({ orderId: String(woo.number ?? woo.id), duplicate: false });
      const cancelled = await h.postWoo({ ...woo, status: 'cancelled' }, 'wc-2', undefined, 'order.updated');
      expect(cancelled.statusCode).toBe(202);
      expect(cancelled.json()).toMatchObject({ orderId: String(woo.number ?? woo.id), cancelled: true });
    } finally {
      await h.stop();
    }
  });

  it('refuses malformed cancellations with every problem, and callers other than loopback without API_TOKEN', async () => {
    const h = await start();
    try {
      const bad = await h.cancelOrder('../../etc');
      expect(bad.statusCode).toBe(400);
      expect(bad.json().problems).toEqual([expect.stringMatching(/^order\.id: /)]);
      expect((await h.cancelOrder('8006', { orderId: '8007' })).json().problems).toEqual(['orderId: goes in the path, not the body']);
      expect((await h.cancelOrder('8006', [1])).statusCode).toBe(400);
      expect((await h.cancelOrder('8006', { reason: 7 })).json().problems).toEqual(['reason: must be a string']);
      const remote = await h.api.inject({ method: 'POST', url: '/orders/8006/cancel', remoteAddress: '198.51.100.7' });
      expect(remote.statusCode).toBe(401);
      // An unknown reason is kept as "other" rather than refused (stores add reasons).
      expect((await h.cancelOrder('8006', { reason: 'changed-mind' })).statusCode).toBe(202);
      await waitFor('cancelled', async () => (await ops(h).orderStatus('8006')).cancelled?.reason === 'other');
    } finally {
      await h.stop();
    }
  });
});
