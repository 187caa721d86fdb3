import { readFileSync } from 'node:fs';
import path from 'node:path';
import { markerKeys } from '../../src/queue/names';
import { fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness } from '../support/pipeline';
import { TestRedis } from '../support/redis';

/**
 * Intake edge cases, as a specification: what a request carries in, what is answered and what
 * is (or is not) queued. Order ids that could not name a file are refused here, before any
 * label is bought; Shopify's unsigned topic header cannot turn an order into a cancellation;
 * Shopify events are recognised by `X-Shopify-Event-Id`; the Admin API's `{ "order": ... }`
 * envelope is read as its order.
 */
const fixture = (name: string) => JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'sources', name), 'utf8')) as Record<string, unknown>;
const shopifyOrder = (orderNumber: number, extra: Record<string, unknown> = {}) => ({ ...fixture('shopify-order-create.json'), id: 5_800_000_000_000 + orderNumber, order_number: orderNumber, ...extra });
const PREFIX = 'edges';

let redis: TestRedis;
let h: PipelineHarness;
beforeAll(async () => {
  redis = await TestRedis.start();
  h = await PipelineHarness.start(fixtureConfig(), redis.url, { prefix: PREFIX });
});
afterAll(async () => {
  await h.stop();
  await redis.stop();
});

describe('order ids that could never name a file are refused at intake', () => {
  const RULE = 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit, not ending with "." and without ".."';

  it.each(['a..b', '1001.', '..', '.1001', '10/01', '10\\01', '10\u000701', 'x'.repeat(65)])('POST /orders with id %j: 400 naming the field, not the value', async (id) => {
    const res = await h.postOrder(orderPayload({ id }));
    expect(res.statusCode).toBe(400);
    // The whole answer: the field and the rule, no part of the value.
    expect(res.json()).toEqual({ error: 'EINVALID_ORDER', message: 'The order is invalid:', problems: [`id: ${RULE}`] });
  });

  it('a Shopify order_number with ".." is refused the same way, and nothing is queued', async () => {
    const res = await h.postShopify(shopifyOrder(0, { order_number: '77..78' }), 'wh-edges-dots');
    expect([res.statusCode, res.json().problems]).toEqual([400, [`id: ${RULE}`]]);
    expect(await h.pipeline.intake.queue.getJob('order+77..78')).toBeUndefined();
  });

  it('a cancellation naming such an id is refused too', async () => {
    const res = await h.cancelOrder('a..b');
    expect([res.statusCode, res.json().problems]).toEqual([400, [`order.id: ${RULE}`]]);
  });

  it('ids with inner dots, dashes and underscores still pass', async () => {
    const res = await h.postOrder(orderPayload({ id: 'A-1.2_3' }));
    expect([res.statusCode, res.json()]).toEqual([202, { orderId: 'A-1.2_3', duplicate: false }]);
  });
});

describe('Shopify: the topic header is not signed, the body decides', () => {
  it('a signed orders/create body sent as orders/cancelled cancels nothing', async () => {
    const body = shopifyOrder(9801); // cancelled_at: null, as every orders/create body has it
    const forged = await h.postShopify(body, 'wh-9801-forged', undefined, 'orders/cancelled');
    expect([forged.statusCode, forged.json()]).toEqual([200, { ignored: 'orders/cancelled (not a cancellation: the order has no cancelled_at)' }]);
    expect(await h.pipeline.intake.queue.getJob('cancel+9801')).toBeUndefined();
    expect(await h.pipeline.redis.exists(markerKeys.cancelled(h.pipeline.prefix, '9801'))).toBe(0);
    // The order itself is still taken when it comes under its own topic.
    const created = await h.postShopify(body, 'wh-9801', undefined, 'orders/create');
    expect([created.statusCode, created.json()]).toEqual([202, { orderId: '9801', duplicate: false }]);
  });

  it('a body with cancelled_at under orders/cancelled cancels the order it names', async () => {
    const res = await h.postShopify(shopifyOrder(9802, { cancelled_at: '2026-12-01T10:00:00-05:00', cancel_reason: 'customer' }), 'wh-9802-c', undefined, 'orders/cancelled');
    expect([res.statusCode, res.json()]).toEqual([202, { orderId: '9802', cancelled: true, duplicate: false }]);
    expect(await h.pipeline.intake.queue.getJob('cancel+9802')).toBeDefined();
  });
});

describe('Shopify: deduplicated on X-Shopify-Event-Id, X-Shopify-Webhook-Id still working', () => {
  it('the same event id under another webhook id (a second subscription) is a duplicate, whatever the body', async () => {
    const first = await h.postShopify(shopifyOrder(9811), 'wh-9811-a', undefined, 'orders/create', { 'x-shopify-event-id': 'ev-9811' });
    expect(first.json()).toEqual({ orderId: '9811', duplicate: false });
    expect(await h.pipeline.redis.exists(markerKeys.eventSeen(h.pipeline.prefix, 'shopify', 'orders/create:ev-9811'))).toBe(1);
    const again = await h.postShopify(shopifyOrder(9812), 'wh-9811-b', undefined, 'orders/create', { 'x-shopify-event-id': 'ev-9811' });
    expect(again.json()).toEqual({ orderId: '9812', duplicate: true });
    expect(await h.pipeline.intake.queue.getJob('order+9812')).toBeUndefined();
  });

  it('an event id is remembered per topic: a cancellation under the same id is not taken for the order', async () => {
    const created = await h.postShopify(shopifyOrder(9815), 'wh-9815-a', undefined, 'orders/create', { 'x-shopify-event-id': 'ev-9815' });
    expect(created.json()).toEqual({ orderId: '9815', duplicate: false });
    const cancelled = await h.postShopify(shopifyOrder(9815, { cancelled_at: '2026-12-01T10:00:00-05:00' }), 'wh-9815-b', undefined, 'orders/cancelled', { 'x-shopify-event-id': 'ev-9815' });
    expect(cancelled.json()).toEqual({ orderId: '9815', cancelled: true, duplicate: false });
  });

  it('without an event id, the webhook id is remembered as before', async () => {
    const first = await h.postShopify(shopifyOrder(9821), 'wh-9821');
    expect(first.json()).toEqual({ orderId: '9821', duplicate: false });
    expect(await h.pipeline.redis.exists(markerKeys.eventSeen(h.pipeline.prefix, 'shopify', 'orders/create:wh-9821'))).toBe(1);
    const again = await h.postShopify(shopifyOrder(9822), 'wh-9821');
    expect(again.json()).toEqual({ orderId: '9822', duplicate: true });
  });
});

describe('Shopify: the REST Admin API envelope', () => {
  it('{ "order": { ... } } posted to the webhook is read as the order inside', async () => {
    const res = await h.postShopify({ order: shopifyOrder(9831) }, 'wh-9831');
    expect([res.statusCode, res.json()]).toEqual([202, { orderId: '9831', duplicate: false }]);
  });

  it('and a cancellation in it cancels', async () => {
    const res = await h.postShopify({ order: shopifyOrder(9832, { cancelled_at: '2026-12-01T10:00:00-05:00' }) }, 'wh-9832-c', undefined, 'orders/cancelled');
    expect([res.statusCode, res.json()]).toEqual([202, { orderId: '9832', cancelled: true, duplicate: false }]);
  });
});
