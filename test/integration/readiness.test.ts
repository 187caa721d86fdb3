import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../src/config/config';
import { ConsoleQueries } from '../../src/ops/console-queries';
import { Operations } from '../../src/ops/operations';
import { previewOrder } from '../../src/planning/preview';
import { fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

/**
 * Issue #13 on real Redis, through the API: an order that is not ready waits (visible in
 * status) until an event makes it ready, and is then planned once; a corrected order replaces
 * a held or waiting one; an older version is ignored; a change after the order went out is
 * held as CHANGED_AFTER_SENT with the changed field paths, and nothing is sent twice.
 */

type Json = Record<string, unknown>;
const fixture = (name: string): Json => JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'sources', name), 'utf8')) as Json;

let redis: TestRedis;
let config: Config;
let n = 0;
const prefix = () => `ready${++n}`;

beforeAll(async () => {
  redis = await TestRedis.start();
  config = fixtureConfig();
});
afterAll(async () => {
  await redis.stop();
});

async function withPipeline(run: (h: PipelineHarness, ops: Operations) => Promise<void>): Promise<void> {
  const p = prefix();
  const h = await PipelineHarness.start(config, redis.url, { prefix: p });
  const ops = new Operations(h.pipeline.redis, p, config);
  try {
    await run(h, ops);
  } finally {
    await ops.close();
    await h.stop();
  }
}

/** Bodies delivered, sorted, as recipient and body. */
const sent = (h: PipelineHarness) => h.delivered().map((d) => `${d.recipient}\n${d.body}`).sort();
const expected = (payload: unknown) => previewOrder(payload, config).deliveries.map((d) => `${d.recipient}\n${d.body}`).sort();
const settle = () => new Promise((r) => setTimeout(r, 400));

const pending = fixture('shopify-order-pending.json');
/** The same order once paid: Shopify sends orders/paid (and orders/updated) with a later updated_at. */
const paidLater: Json = { ...pending, financial_status: 'paid', updated_at: '2024-05-03T09:20:00-04:00' };

describe('an order that is not ready waits, and starts once when an event makes it ready', () => {
  it('a pending Shopify order waits, shows in status and the waiting list; orders/paid plans it once', async () => {
    await withPipeline(async (h, ops) => {
      expect((await h.postShopify(pending, 'wh-p1')).json()).toEqual({ orderId: '1003', duplicate: false });
      await waitFor('waiting', async () => (await ops.orderStatus('1003')).stage === 'waiting');
      const status = await ops.orderStatus('1003');
      expect(status.reasons).toEqual([
        {
          code: 'NOT_PAID',
          message: 'financial_status "pending" is not one of fulfil.shopify.financialStatuses (paid, partially_refunded, authorized)',
          action: expect.stringMatching(/^Nothing to do: the order starts when the store reports it paid/),
        },
      ]);
      expect((await ops.waitingOrders()).map((w) => [w.orderId, w.reasons.map((r) => r.code)])).toEqual([['1003', ['NOT_PAID']]]);
      // The console: the order's timeline says waiting and why; the held page lists it.
      const queries = new ConsoleQueries(ops);
      expect(await queries.timeline('1003')).toMatchObject({ stage: 'waiting', reasons: [{ code: 'NOT_PAID', message: 'The order is not paid yet', detail: expect.stringMatching(/^financial_status "pending"/) }] });
      expect((await queries.held()).waiting.map((w) => w.orderId)).toEqual(['1003']);
      await settle();
      expect(h.delivered()).toEqual([]);
      // Still known once its job is gone (completed jobs are kept only for retention.completedJobs).
      await h.pipeline.intake.queue.remove('order+1003');
      expect(await ops.orderStatus('1003')).toMatchObject({ state: 'gone', stage: 'waiting' });

      // The payment event: a newer version, which replaces the waiting one and plans it.
      expect((await h.postShopify(paidLater, 'wh-p2', undefined, 'orders/paid')).json()).toEqual({ orderId: '1003', duplicate: false, replaced: true });
      await waitFor('delivered', () => h.delivered().length === expected(paidLater).length);
      expect(sent(h)).toEqual(expected(paidLater));
      expect((await ops.orderStatus('1003')).stage).toBe('planned');
      expect(await ops.waitingOrders()).toEqual([]);

      // orders/updated carrying the same version (Shopify sends both topics): a duplicate.
      expect((await h.postShopify(paidLater, 'wh-p3', undefined, 'orders/updated')).json()).toEqual({ orderId: '1003', duplicate: true });
      await settle();
      expect(sent(h)).toEqual(expected(paidLater));
    });
  });

  it('the same ready event twice at once (two webhook deliveries racing) plans once', async () => {
    await withPipeline(async (h) => {
      await h.postShopify(pending, 'wh-r1');
      const answers = await Promise.all([h.postShopify(paidLater, 'wh-r2', undefined, 'orders/paid'), h.postShopify(paidLater, 'wh-r3', undefined, 'orders/updated')]);
      expect(answers.map((a) => a.json().duplicate).sort()).toEqual([false, true]);
      await waitFor('delivered', () => h.delivered().length === expected(paidLater).length);
      await settle();
      expect(sent(h)).toEqual(expected(paidLater));
    });
  });

  it('two different newer versions racing: one of them is sent, whole and once; never a mix', async () => {
    await withPipeline(async (h, ops) => {
      await h.postShopify(pending, 'wh-v1');
      await waitFor('waiting', async () => (await ops.orderStatus('1003')).stage === 'waiting');
      const v3 = { ...paidLater, updated_at: '2024-05-03T09:30:00-04:00', shipping_address: { ...(paidLater.shipping_address as Json), address2: 'Back door' } };
      await Promise.all([h.postShopify(paidLater, 'wh-v2', undefined, 'orders/paid'), h.postShopify(v3, 'wh-v3', undefined, 'orders/updated')]);
      await waitFor('settled', async () => {
        const stage = (await ops.orderStatus('1003')).stage;
        return stage === 'held' || (stage === 'planned' && h.delivered().length > 0);
      });
      await waitFor('delivered', () => h.delivered().length === expected(paidLater).length);
      await settle();
      const status = await ops.orderStatus('1003');
      if (status.stage === 'planned') {
        // v3 was accepted before any worker planned v2: v3 alone went out.
        expect(sent(h)).toEqual(expected(v3));
      } else {
        // v2 was planned first: it went out, and v3's change is held for an operator.
        expect(sent(h)).toEqual(expected(paidLater));
        expect(status.holds?.map((r) => r.code)).toEqual(['CHANGED_AFTER_SENT']);
        expect(status.reasons?.[0]?.message).toMatch(/changed: shipTo\.line2$/);
      }
    });
  });

  it('a WooCommerce on-hold order waits; order.updated to processing plans it', async () => {
    await withPipeline(async (h, ops) => {
      const onHold = fixture('woocommerce-order-on-hold.json');
      await h.postWoo(onHold, 'wc-h1');
      await waitFor('waiting', async () => (await ops.orderStatus('8002')).stage === 'waiting');
      const processing = { ...onHold, status: 'processing', date_modified: '2024-05-06T11:00:00', date_modified_gmt: '2024-05-06T09:00:00' };
      expect((await h.postWoo(processing, 'wc-h2', undefined, 'order.updated')).json()).toEqual({ orderId: '8002', duplicate: false, replaced: true });
      await waitFor('delivered', () => h.delivered().length === expected(processing).length);
      expect(sent(h)).toEqual(expected(processing));
    });
  });

  it('a waiting order that is cancelled is skipped, leaves the waiting list, and a later payment sends nothing', async () => {
    await withPipeline(async (h, ops) => {
      await h.postShopify(pending, 'wh-x1');
      await waitFor('waiting', async () => (await ops.orderStatus('1003')).stage === 'waiting');
      await h.postShopify({ ...pending, cancelled_at: '2024-05-03T09:10:00-04:00', cancel_reason: 'customer' }, 'wh-x2', undefined, 'orders/cancelled');
      await waitFor('skipped', async () => (await ops.orderStatus('1003')).stage === 'skipped');
      expect((await ops.orderStatus('1003')).reasons?.map((r) => [r.code, r.message])).toEqual([['CANCELLED', 'the order was cancelled (customer) before it was planned']]);
      expect(await ops.waitingOrders()).toEqual([]);
      await h.postShopify(paidLater, 'wh-x3', undefined, 'orders/paid');
      await settle();
      expect(h.delivered()).toEqual([]);
      expect((await ops.orderStatus('1003')).reasons?.map((r) => [r.code, r.message])).toEqual([['CANCELLED', 'the order was cancelled before it was planned']]);
    });
  });

  it('a cancelled order is skipped with its reason and never sends anything', async () => {
    await withPipeline(async (h, ops) => {
      await h.postShopify(fixture('shopify-order-cancelled.json'), 'wh-c1');
      await waitFor('skipped', async () => (await ops.orderStatus('1004')).stage === 'skipped');
      expect((await ops.orderStatus('1004')).reasons?.map((r) => r.code)).toEqual(['CANCELLED', 'REFUNDED']);
      expect(await new ConsoleQueries(ops).timeline('1004')).toMatchObject({ stage: 'skipped', reasons: [{ code: 'CANCELLED' }, { code: 'REFUNDED' }] });
      await settle();
      expect(h.delivered()).toEqual([]);
    });
  });
});

describe('correcting a held or waiting order', () => {
  it('a held order is corrected by POST /orders with "replace": true, and planned from the corrected data', async () => {
    await withPipeline(async (h, ops) => {
      const { shipTo: _none, ...noShipTo } = orderPayload({ id: 'FIX-1' });
      await h.postOrder(noShipTo);
      await waitFor('held', async () => (await ops.orderStatus('FIX-1')).stage === 'held');
      expect((await ops.orderStatus('FIX-1')).holds?.map((r) => r.code)).toEqual(['NO_SHIP_TO']);
      // The same order again without "replace" is a duplicate, as before.
      expect((await h.postOrder(noShipTo)).json()).toEqual({ orderId: 'FIX-1', duplicate: true });

      const corrected = { ...orderPayload({ id: 'FIX-1' }), replace: true };
      expect((await h.postOrder(corrected)).json()).toEqual({ orderId: 'FIX-1', duplicate: false, replaced: true });
      await waitFor('delivered', () => h.delivered().length === expected(corrected).length);
      expect(sent(h)).toEqual(expected(corrected));
      const status = await ops.orderStatus('FIX-1');
      expect([status.state, status.stage, status.heldReason]).toEqual(['completed', 'planned', undefined]);
    });
  });

  it('replaying a held order after a correction plans the corrected data, not the old', async () => {
    await withPipeline(async (h, ops) => {
      const { shipTo: _none, ...noShipTo } = orderPayload({ id: 'FIX-2' });
      await h.postOrder(noShipTo);
      await waitFor('held', async () => (await ops.orderStatus('FIX-2')).stage === 'held');
      await h.postOrder({ ...orderPayload({ id: 'FIX-2' }), replace: true });
      await waitFor('delivered', () => h.delivered().length === expected(orderPayload({ id: 'FIX-2' })).length);
      expect(await ops.replay({ held: true })).toEqual([]);
    });
  });

  it('a version older than the one accepted is ignored (202, duplicate, and why)', async () => {
    await withPipeline(async (h, ops) => {
      // The newer version (still pending) arrives first; the older, paid one after it.
      const newer = { ...pending, updated_at: '2024-05-03T10:00:00-04:00' };
      const older = { ...pending, financial_status: 'paid', updated_at: '2024-05-03T09:00:00-04:00' };
      await h.postShopify(newer, 'wh-o1', undefined, 'orders/updated');
      await waitFor('waiting', async () => (await ops.orderStatus('1003')).stage === 'waiting');
      const answer = await h.postShopify(older, 'wh-o2', undefined, 'orders/paid');
      expect(answer.statusCode).toBe(202);
      expect(answer.json()).toEqual({ orderId: '1003', duplicate: true, ignored: 'an older version of the order than the one already accepted' });
      await settle();
      expect(h.delivered()).toEqual([]);
      expect((await ops.orderStatus('1003')).stage).toBe('waiting');
    });
  });

  it('a change after the order went out is held as CHANGED_AFTER_SENT, naming the changed fields only, and sends nothing again', async () => {
    await withPipeline(async (h, ops) => {
      const paid = fixture('shopify-order-create.json');
      await h.postShopify(paid, 'wh-s1');
      await waitFor('delivered', () => h.delivered().length === expected(paid).length);
      const before = sent(h);

      // A later version with nothing new in what it sends (fulfilment status moved): no hold.
      await h.postShopify({ ...paid, fulfillment_status: 'partial', updated_at: '2024-05-01T12:00:00-04:00' }, 'wh-s2', undefined, 'orders/updated');
      await settle();
      await waitFor('settled', async () => (await ops.orderStatus('1001')).stage === 'planned');

      const moved = {
        ...paid,
        updated_at: '2024-05-01T13:00:00-04:00',
        shipping_address: { ...(paid.shipping_address as Json), address1: '99 Other Road' },
        line_items: (paid.line_items as Json[]).map((l, i) => (i === 0 ? { ...l, current_quantity: 1 } : l)),
      };
      expect((await h.postShopify(moved, 'wh-s3', undefined, 'orders/updated')).json()).toEqual({ orderId: '1001', duplicate: false, replaced: true });
      await waitFor('held', async () => (await ops.orderStatus('1001')).stage === 'held');
      const status = await ops.orderStatus('1001');
      expect(status.holds?.map((r) => r.code)).toEqual(['CHANGED_AFTER_SENT']);
      expect(status.reasons?.[0]?.message).toMatch(/changed: lines\.quantity, shipTo\.line1$/);
      expect(JSON.stringify(status)).not.toContain('99 Other Road');
      await settle();
      expect(sent(h)).toEqual(before);
      // What was planned is kept as a sealed fingerprint, the held version sealed: neither
      // address is in Redis in clear.
      const dump = (await redis.dump()).join('\n');
      expect(dump).toContain(':order:1001');
      for (const clear of ['99 Other Road', '12 Example Lane']) expect(dump).not.toContain(clear);
    });
  });
});
