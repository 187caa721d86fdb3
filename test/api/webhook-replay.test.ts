import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { staleWebhook } from '../../src/api/server';
import { fixtureConfig } from '../support/orders';
import { PipelineHarness, SHOPIFY_SECRET, WOO_SECRET } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

/**
 * Webhook replay: a signed body sent again (same webhook id, or a fresh one), sent late, or
 * with its signature moved onto another body, is refused or recognised; the order is planned
 * once and nothing reaches a recipient twice.
 */
const fixture = (name: string) => JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'sources', name), 'utf8')) as Record<string, unknown>;
const HOUR = 3_600_000;

let redis: TestRedis;
let h: PipelineHarness;
beforeAll(async () => {
  redis = await TestRedis.start();
  h = await PipelineHarness.start(fixtureConfig(), redis.url, { prefix: 'replay' });
});
afterAll(async () => {
  await h.stop();
  await redis.stop();
});

describe('replayed webhooks', () => {
  it('deduplicates a Shopify order sent again, under its webhook id or a fresh one', async () => {
    const body = { ...fixture('shopify-order-create.json'), id: 5800000000901, order_number: 9901, name: '#9901' };
    const now = new Date().toISOString();
    const first = await h.postShopify(body, 'wh-901', undefined, 'orders/create', { 'x-shopify-triggered-at': now });
    expect([first.statusCode, first.json()]).toEqual([202, { orderId: '9901', duplicate: false }]);
    const sameId = await h.postShopify(body, 'wh-901', undefined, 'orders/create', { 'x-shopify-triggered-at': now });
    expect([sameId.statusCode, sameId.json()]).toEqual([202, { orderId: '9901', duplicate: true }]);
    // The signature does not cover the headers: a captured body replayed under a new id.
    const freshId = await h.postShopify(body, 'wh-forged-1', undefined, 'orders/create', { 'x-shopify-triggered-at': new Date().toISOString() });
    expect([freshId.statusCode, freshId.json()]).toEqual([202, { orderId: '9901', duplicate: true }]);
    await waitFor('its deliveries', () => h.delivered().filter((d) => d.orderId === '9901').length > 0);
    const ids = h.delivered().filter((d) => d.orderId === '9901').map((d) => d.deliveryId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('refuses a Shopify webhook triggered too long ago, or in the future, before anything is queued', async () => {
    const body = { ...fixture('shopify-order-create.json'), id: 5800000000902, order_number: 9902, name: '#9902' };
    for (const [triggeredAt, why] of [
      [new Date(Date.now() - 25 * HOUR).toISOString(), /triggered 25 h ago, more than the 24 h accepted/],
      [new Date(Date.now() + HOUR).toISOString(), /lies in the future/],
      ['yesterday', /is not a date and time/],
    ] as const) {
      const res = await h.postShopify(body, `wh-902-${triggeredAt}`, undefined, 'orders/create', { 'x-shopify-triggered-at': triggeredAt });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: 'ESTALE_WEBHOOK', message: 'The webhook is stale or replayed:', problems: [expect.stringMatching(why)] });
    }
    // A stale cancellation is refused the same way.
    const cancel = await h.postShopify({ ...fixture('shopify-order-create.json'), id: 5800000000901, order_number: 9901, cancel_reason: 'customer', cancelled_at: new Date().toISOString() }, 'wh-902-c', undefined, 'orders/cancelled', {
      'x-shopify-triggered-at': new Date(Date.now() - 48 * HOUR).toISOString(),
    });
    expect(cancel.statusCode).toBe(400);
    expect(await h.pipeline.intake.queue.getJob('order+9902')).toBeUndefined();
    expect(await h.pipeline.intake.queue.getJob('cancel+9901')).toBeUndefined();
    // Within the window (Shopify retries for 4 hours with the original time), it is taken.
    const retried = await h.postShopify(body, 'wh-902', undefined, 'orders/create', { 'x-shopify-triggered-at': new Date(Date.now() - 4 * HOUR).toISOString() });
    expect([retried.statusCode, retried.json()]).toEqual([202, { orderId: '9902', duplicate: false }]);
  });

  it('refuses a valid signature moved onto another body, for both webhooks', async () => {
    const body = JSON.stringify({ ...fixture('shopify-order-create.json'), order_number: 9903 });
    const tampered = body.replace('"order_number":9903', '"order_number":9904');
    expect(tampered).not.toBe(body);
    const signed = (raw: string, secret: string) => createHmac('sha256', secret).update(raw).digest('base64');
    const shopify = await h.api.inject({
      method: 'POST',
      url: '/webhooks/shopify',
      payload: tampered,
      headers: { 'content-type': 'application/json', 'x-shopify-topic': 'orders/create', 'x-shopify-webhook-id': 'wh-903', 'x-shopify-hmac-sha256': signed(body, SHOPIFY_SECRET) },
    });
    expect(shopify.statusCode).toBe(401);
    const wooBody = JSON.stringify({ ...fixture('woocommerce-order-created.json'), id: 903, number: '903' });
    const woo = await h.api.inject({
      method: 'POST',
      url: '/webhooks/woocommerce',
      payload: wooBody.replace('"number":"903"', '"number":"904"'),
      headers: { 'content-type': 'application/json', 'x-wc-webhook-topic': 'order.created', 'x-wc-webhook-delivery-id': 'd-903', 'x-wc-webhook-signature': signed(wooBody, WOO_SECRET) },
    });
    expect(woo.statusCode).toBe(401);
    expect(await h.pipeline.intake.queue.getJob('order+9904')).toBeUndefined();
  });

  it('deduplicates a WooCommerce order sent again under a new delivery id', async () => {
    const body = { ...fixture('woocommerce-order-created.json'), id: 905, number: '905' };
    const first = await h.postWoo(body, 'd-905');
    expect([first.statusCode, first.json()]).toEqual([202, { orderId: '905', duplicate: false }]);
    expect((await h.postWoo(body, 'd-905')).json()).toEqual({ orderId: '905', duplicate: true });
    expect((await h.postWoo(body, 'd-905-replayed')).json()).toEqual({ orderId: '905', duplicate: true });
  });
});

describe('staleWebhook', () => {
  const now = Date.parse('2026-11-25T12:00:00Z');
  it('accepts a missing header and times within the window and the clock skew', () => {
    expect(staleWebhook(undefined, 24 * HOUR, now)).toBeUndefined();
    expect(staleWebhook('2026-11-24T12:00:01Z', 24 * HOUR, now)).toBeUndefined();
    expect(staleWebhook('2026-11-25T12:04:00Z', 24 * HOUR, now)).toBeUndefined();
    expect(staleWebhook('2026-11-25T07:00:00-05:00', 24 * HOUR, now)).toBeUndefined();
  });
});
