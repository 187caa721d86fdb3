import { createHmac, randomBytes } from 'node:crypto';
import type { Config } from '../../src/config/config';
import { formatTimeline } from '../../src/cli/timeline';
import { ConfirmationIntake, purchaseOrderListKey } from '../../src/loop/confirm';
import { LoopStore, parseLoop } from '../../src/loop/record';
import { ConsoleQueries } from '../../src/ops/console-queries';
import { Operations } from '../../src/ops/operations';
import { confirmationRequest, CXML_DTD, dtdProblems, shipNotice } from '../formats/inbound/support';
import { markerKeys } from '../../src/queue/names';
import type { FulfillmentRequest, StorePlatform } from '../../src/stores/store';
import { fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

/**
 * Suppliers' confirmations through the real API, queues and Redis: a supplier confirms only
 * purchase orders it was sent, partial shipments add up, more than was sent is refused, the
 * same confirmation twice changes nothing, and each shipment becomes one fulfillment job
 * that the store platform is asked to create once.
 */

const TOKEN = 'creamery-confirm-token';
const HMAC_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

/** The fixture configuration with confirmations: the creamery by bearer token, the olive co by Standard Webhooks HMAC. */
function configWithConfirmations(): Config {
  const config = structuredClone(fixtureConfig());
  for (const s of config.suppliers) {
    if (s.id === 'creamery') s.confirmations = { https: { auth: { bearerTokenEnv: 'CREAMERY_CONFIRM_TOKEN' } }, expectWithinMs: 48 * 3_600_000 };
    if (s.id === 'oliveco') s.confirmations = { https: { auth: { hmacSecretEnv: 'OLIVECO_CONFIRM_SECRET' } }, expectWithinMs: 48 * 3_600_000 };
  }
  return config;
}

/** A store platform that records what it is asked, as the fulfillment worker calls it. */
class RecordingStore implements StorePlatform {
  readonly id = 'shopify' as const;
  readonly requests: FulfillmentRequest[] = [];
  async fulfil(request: FulfillmentRequest) {
    this.requests.push(request);
    return { storeFulfillmentId: `gid://shopify/Fulfillment/${this.requests.length}` };
  }
  async close() {}
}

let redis: TestRedis;
let n = 0;
beforeAll(async () => {
  redis = await TestRedis.start();
});
afterAll(async () => {
  await redis.stop();
});

async function start(store = new RecordingStore()) {
  const h = await PipelineHarness.start(configWithConfirmations(), redis.url, {
    prefix: `lp${++n}`,
    store,
    apiEnv: { CREAMERY_CONFIRM_TOKEN: TOKEN, OLIVECO_CONFIRM_SECRET: HMAC_SECRET },
  });
  h.recorder('ups').respond = (p) => ({ carrier: 'ups', trackingNumber: `1Z${p.deliveryId.replace(/\W/g, '').toUpperCase()}`, label: 'R0lGODlh' });
  return { h, store };
}

function post(h: PipelineHarness, supplier: string, what: 'shipments' | 'acknowledgements', body: unknown, token = TOKEN) {
  return h.api.inject({ method: 'POST', url: `/suppliers/${supplier}/${what}`, payload: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
}

function postSigned(h: PipelineHarness, supplier: string, what: 'shipments' | 'acknowledgements', body: unknown, secret = HMAC_SECRET, at = Math.floor(Date.now() / 1000)) {
  const raw = JSON.stringify(body);
  const id = `msg_${randomBytes(6).toString('hex')}`;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const signature = `v1,${createHmac('sha256', key).update(`${id}.${at}.${raw}`).digest('base64')}`;
  return h.api.inject({
    method: 'POST',
    url: `/suppliers/${supplier}/${what}`,
    payload: raw,
    headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(at), 'webhook-signature': signature },
  });
}

/** Orders with the store's ids, as a Shopify source gives them. */
function storeOrder(id: string) {
  const payload = orderPayload({ id, storeId: `45078946${id}` });
  return { ...payload, lines: payload.lines.map((l, i) => ({ ...l, storeLineId: `8660${id}${i}` })) };
}

async function loopOf(h: PipelineHarness, orderId: string) {
  return parseLoop(await h.pipeline.redis.hgetall(markerKeys.loop(h.pipeline.prefix, orderId)));
}

describe('supplier confirmations over HTTPS', () => {
  it('takes partial shipments that add up, refuses more than was sent, and tells the store once per shipment', async () => {
    const { h, store } = await start();
    try {
      expect((await h.postOrder(storeOrder('9101'))).statusCode).toBe(202);
      await waitFor('purchase orders delivered', () => h.recorder('creamery').delivered.length === 1 && h.recorder('oliveco').delivered.length === 1);
      // The creamery was sent VC-CHEVRE ×1 and BUTTER-42 ×3.
      const first = await post(h, 'creamery', 'shipments', { orderId: '9101', carrier: 'UPSN', trackingNumbers: ['1Z 999 AA1 01 2345 6784'], lines: [{ sku: 'BUTTER-42', quantity: 2 }] });
      expect(first.statusCode).toBe(202);
      expect(first.json()).toMatchObject({ status: 'recorded', duplicate: false });

      // The same confirmation again: recorded before, nothing changes.
      const again = await post(h, 'creamery', 'shipments', { orderId: '9101', carrier: 'UPSN', trackingNumbers: ['1Z999AA10123456784'], lines: [{ sku: 'BUTTER-42', quantity: 2 }] });
      expect(again.statusCode).toBe(202);
      expect(again.json()).toEqual({ status: 'recorded', event: first.json().event, duplicate: true });

      // Two more butters than are left: refused, and recorded as refused.
      const over = await post(h, 'creamery', 'shipments', { orderId: '9101', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456785'], lines: [{ sku: 'BUTTER-42', quantity: 3 }] });
      expect(over.statusCode).toBe(409);
      expect(over.json()).toEqual({ error: 'ECONFIRMATION_CONFLICT', message: expect.any(String), problems: ['SKU "BUTTER-42": 3 confirmed, only 1 left of 3 sent'] });

      // A SKU it was not sent (the olive co's): refused too.
      const foreign = await post(h, 'creamery', 'shipments', { orderId: '9101', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456786'], lines: [{ sku: 'OLV-EVOO', quantity: 1 }] });
      expect(foreign.statusCode).toBe(409);

      // The rest, without lines: everything left ships.
      const rest = await post(h, 'creamery', 'shipments', { orderId: '9101', carrier: 'fedex', trackingNumbers: ['794644790138'] });
      expect(rest.statusCode).toBe(202);

      const loop = await loopOf(h, '9101');
      const lineOf = (sku: string) => storeOrder('9101').lines.find((l) => l.sku === sku)!.id;
      // The warehouse's jam shipped on the label the store bought.
      expect(loop.shipped).toEqual({ [lineOf('BUTTER-42')]: 3, [lineOf('VC-CHEVRE')]: 1, [lineOf('LARDER-JAM')]: 2 });
      expect(loop.events.filter((e) => e.kind !== 'shipped' || e.shipper === 'creamery').map((e) => e.kind)).toEqual(['shipped', 'refused', 'refused', 'shipped']);

      await waitFor('three fulfillments', () => store.requests.length === 3);
      const byTracking = new Map(store.requests.map((r) => [r.tracking.numbers[0], r]));
      expect(byTracking.get('1Z999AA10123456784')).toEqual({
        fulfillmentId: expect.stringMatching(/^fulfil\+9101\+creamery\+\d+$/),
        orderId: '9101',
        storeOrderId: '450789469101',
        lines: [{ storeLineId: '866091012', quantity: 2 }],
        tracking: { company: 'UPS', numbers: ['1Z999AA10123456784'], url: 'https://www.ups.com/track?tracknum=1Z999AA10123456784' },
        orderComplete: false,
      });
      // Only the olive co.'s line (it ships on its own account and has not confirmed) is left.
      expect(store.requests.map((r) => r.orderComplete)).toEqual([false, false, false]);
      expect(byTracking.get('794644790138')).toMatchObject({ lines: expect.arrayContaining([{ storeLineId: '866091011', quantity: 1 }, { storeLineId: '866091012', quantity: 1 }]), tracking: { company: 'FedEx' } });
      await waitFor('fulfillments recorded', async () => (await loopOf(h, '9101')).events.filter((e) => e.fulfilled).length === 3);
    } finally {
      await h.stop();
    }
  });

  it('answers an unknown order and another supplier’s order alike (404), and refuses a wrong token or signature (401)', async () => {
    const { h } = await start();
    try {
      await h.postOrder(storeOrder('9102'));
      await waitFor('purchase orders delivered', () => h.recorder('creamery').delivered.length === 1 && h.recorder('oliveco').delivered.length === 1);
      const unknown = await post(h, 'creamery', 'shipments', { orderId: 'no-such-order', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'] });
      // An order the creamery had no part in: 9103 has olive lines only.
      await h.postOrder({ ...storeOrder('9103'), lines: storeOrder('9103').lines.filter((l) => l.sku?.startsWith('OLV')) });
      await waitFor('olive order delivered', () => h.recorder('oliveco').delivered.length === 2);
      const foreign = await post(h, 'creamery', 'shipments', { orderId: '9103', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'] });
      expect(unknown.statusCode).toBe(404);
      expect(foreign.statusCode).toBe(404);
      expect(foreign.json()).toEqual(unknown.json());

      expect((await post(h, 'creamery', 'shipments', { orderId: '9102', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'] }, 'wrong-token')).statusCode).toBe(401);
      // The olive co. signs with Standard Webhooks: a good signature passes, a stale or forged one does not.
      expect((await postSigned(h, 'oliveco', 'acknowledgements', { orderId: '9102', status: 'accepted' })).statusCode).toBe(202);
      expect((await postSigned(h, 'oliveco', 'acknowledgements', { orderId: '9102', status: 'accepted' }, HMAC_SECRET, Math.floor(Date.now() / 1000) - 3600)).statusCode).toBe(401);
      expect((await postSigned(h, 'oliveco', 'acknowledgements', { orderId: '9102', status: 'accepted' }, `whsec_${randomBytes(24).toString('base64')}`)).statusCode).toBe(401);
      // The bearer token of one supplier is not another's.
      expect((await post(h, 'oliveco', 'acknowledgements', { orderId: '9102', status: 'accepted' })).statusCode).toBe(401);
      // A supplier without confirmations configured has no such route.
      expect((await post(h, 'nobody', 'shipments', { orderId: '9102', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'] })).statusCode).toBe(401);
    } finally {
      await h.stop();
    }
  });

  it('lists every problem of a bad body (400) and never echoes its values', async () => {
    const { h } = await start();
    try {
      const bad = await post(h, 'creamery', 'shipments', { orderId: '../etc', carrier: '', trackingNumbers: ['4111 1111 1111 1111 !'], lines: [{ sku: 'X', quantity: 0 }], extra: 1 });
      expect(bad.statusCode).toBe(400);
      const body = bad.json() as { error: string; problems: string[] };
      expect(body.error).toBe('EINVALID_CONFIRMATION');
      expect(body.problems.map((p) => p.split(':')[0]).sort()).toEqual(['confirmation', 'carrier', 'lines[0].quantity', 'orderId', 'trackingNumbers[0]'].sort());
      expect(bad.body).not.toContain('4111');
      const ack = await post(h, 'creamery', 'acknowledgements', { orderId: '9104', status: 'maybe' });
      expect(ack.statusCode).toBe(400);
      expect(ack.json().problems).toEqual([expect.stringMatching(/^status: must be one of accepted, rejected, backordered/)]);
    } finally {
      await h.stop();
    }
  });

  it('records acknowledgements: a rejection or backorder needs an operator, and a rejection after shipping is refused', async () => {
    const { h } = await start();
    try {
      await h.postOrder(storeOrder('9105'));
      await waitFor('purchase orders delivered', () => h.recorder('creamery').delivered.length === 1);
      const prefix = h.pipeline.prefix;
      await waitFor('awaited', async () => (await h.pipeline.redis.zscore(markerKeys.unconfirmed(prefix, 'creamery'), '9105')) !== null);
      const back = await post(h, 'creamery', 'acknowledgements', { orderId: '9105', status: 'backordered', lines: [{ sku: 'VC-CHEVRE', quantity: 1 }], reason: 'Out of chèvre until Friday; card 4111 1111 1111 1111' });
      expect(back.statusCode).toBe(202);
      expect(await h.pipeline.redis.zscore(markerKeys.unconfirmed(prefix, 'creamery'), '9105')).toBeNull();
      expect(await h.pipeline.redis.zscore(markerKeys.attention(prefix, 'creamery', 'backordered'), '9105')).not.toBeNull();
      const loop = await loopOf(h, '9105');
      expect(loop.acks.creamery).toMatchObject({ status: 'backordered', reason: 'Out of chèvre until Friday; card [redacted]' });

      expect((await post(h, 'creamery', 'shipments', { orderId: '9105', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'], lines: [{ sku: 'BUTTER-42', quantity: 1 }] })).statusCode).toBe(202);
      const reject = await post(h, 'creamery', 'acknowledgements', { orderId: '9105', status: 'rejected' });
      expect(reject.statusCode).toBe(409);
      // The backorder sent again is a duplicate of what was recorded, not a new answer.
      const again = await post(h, 'creamery', 'acknowledgements', { orderId: '9105', status: 'backordered', lines: [{ sku: 'VC-CHEVRE', quantity: 1 }], reason: 'Out of chèvre until Friday; card 4111 1111 1111 1111' });
      expect([again.statusCode, again.json().duplicate]).toEqual([202, true]);
      expect(await h.pipeline.redis.zscore(markerKeys.attention(prefix, 'creamery', 'backordered'), '9105')).toBeNull();
      const accept = await post(h, 'creamery', 'acknowledgements', { orderId: '9105', status: 'accepted' });
      expect(accept.statusCode).toBe(202);
      expect(await h.pipeline.redis.zscore(markerKeys.attention(prefix, 'creamery', 'backordered'), '9105')).toBeNull();
    } finally {
      await h.stop();
    }
  });

  it('takes concurrent shipments of the same units once: what was sent is never exceeded', async () => {
    const { h } = await start();
    try {
      await h.postOrder(storeOrder('9106'));
      await waitFor('purchase orders delivered', () => h.recorder('creamery').delivered.length === 1);
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) => post(h, 'creamery', 'shipments', { orderId: '9106', carrier: 'UPS', trackingNumbers: [`1Z999AA1012345678${i}`], lines: [{ sku: 'BUTTER-42', quantity: 1 }] })),
      );
      expect(answers.map((a) => a.statusCode).sort()).toEqual([202, 202, 202, 409, 409, 409]);
      const loop = await loopOf(h, '9106');
      expect(loop.shipped.l3).toBe(3);
    } finally {
      await h.stop();
    }
  });

  it('tells the store of the warehouse’s shipment once its label is bought', async () => {
    const { h, store } = await start();
    try {
      await h.postOrder(storeOrder('9107'));
      await waitFor('warehouse fulfillment', () => store.requests.some((r) => r.fulfillmentId.startsWith('fulfil+9107+warehouse+')));
      const warehouse = store.requests.find((r) => r.fulfillmentId.startsWith('fulfil+9107+warehouse+'))!;
      expect(warehouse).toMatchObject({ orderId: '9107', lines: [{ storeLineId: '866091070', quantity: 2 }], tracking: { company: 'UPS', numbers: ['1Z9107WAREHOUSECARRIER'] } });
      // The creamery buys on the store's label but confirms itself: nothing for it until it does.
      expect(store.requests.filter((r) => r.fulfillmentId.includes('creamery'))).toEqual([]);
    } finally {
      await h.stop();
    }
  });
});

describe('the timeline after the supplier answers', () => {
  it('shows each shipment acknowledged, shipped with its tracking, and fulfilled in the store; the lag lists the unanswered', async () => {
    const { h, store } = await start();
    try {
      await h.postOrder(storeOrder('9201'));
      await h.postOrder(storeOrder('9202'));
      await waitFor('purchase orders delivered', () => h.recorder('creamery').delivered.length === 2 && h.recorder('oliveco').delivered.length === 2);
      const ops = new Operations(h.pipeline.redis, h.pipeline.prefix, configWithConfirmations());
      await waitFor('both awaited', async () => (await ops.confirmationLag()).find((l) => l.supplierId === 'creamery')?.awaiting === 2);

      expect((await post(h, 'creamery', 'acknowledgements', { orderId: '9201', status: 'accepted' })).statusCode).toBe(202);
      expect((await post(h, 'creamery', 'shipments', { orderId: '9201', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'], shippedAt: '2026-12-06T10:00:00Z' })).statusCode).toBe(202);
      await waitFor('fulfilled', async () => store.requests.filter((r) => r.orderId === '9201').length === 2);
      await waitFor('fulfilled recorded', async () => (await loopOf(h, '9201')).events.filter((e) => e.fulfilled).length === 2);

      const timeline = (await new ConsoleQueries(ops).timeline('9201'))!;
      const creamery = timeline.shipments.find((s) => s.shipmentId === '9201+creamery')!;
      expect(creamery.stage).toBe('fulfilled');
      expect(creamery.events.map((e) => e.stage)).toEqual(['acknowledged', 'shipped', 'fulfilled']);
      expect(creamery.events[1]).toMatchObject({ by: 'creamery', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'], units: 4, at: '2026-12-06T10:00:00Z', channel: 'api' });
      expect(creamery.events[2]).toMatchObject({ storeFulfillmentId: expect.stringMatching(/^gid:\/\/shopify\/Fulfillment\//) });
      expect(timeline.shipments.find((s) => s.shipmentId === '9201+warehouse')!.stage).toBe('fulfilled');
      // The olive co. was sent its order and has said nothing.
      expect(timeline.shipments.find((s) => s.shipmentId === '9201+oliveco')!.stage).toBe('sent');

      const printed = formatTimeline(timeline);
      expect(printed).toContain('shipment 9201+creamery: fulfilled');
      expect(printed).toMatch(/ {2}shipped 2026-12-06T10:00:00Z by creamery: UPS 1Z999AA10123456784 \(4 units, api\)/);
      expect(printed).toMatch(/ {2}fulfilled in the store .*gid:\/\/shopify\/Fulfillment\//);
      expect(printed).not.toMatch(/Ada|Sample Street|ada@example/);

      // 9202 is still unanswered by both; two days on, it is overdue.
      const lag = await ops.confirmationLag(Date.now() + 49 * 3_600_000);
      expect(lag.find((l) => l.supplierId === 'creamery')).toMatchObject({ awaiting: 1, overdue: 1, overdueOrders: ['9202'], rejected: [], backordered: [] });
      expect(lag.find((l) => l.supplierId === 'oliveco')).toMatchObject({ awaiting: 2, overdue: 2, overdueOrders: ['9201', '9202'] });
      expect((await ops.confirmationLag()).find((l) => l.supplierId === 'creamery')).toMatchObject({ awaiting: 1, overdue: 0 });
    } finally {
      await h.stop();
    }
  });
});

describe("a supplier's lists of purchase orders", () => {
  it('drops a cancelled order from every confirming supplier it was sent to, even one whose purchase order lands as it is cancelled', async () => {
    const { h } = await start();
    try {
      const { redis: r, keys } = h.pipeline;
      const on = async (supplier: string, list: 'awaiting' | 'rejected' | 'backordered', orderId: string) => (await r.zscore(purchaseOrderListKey(keys, supplier, list), orderId)) !== null;
      await h.postOrder(storeOrder('9401'));
      await waitFor('awaited by both', async () => (await on('creamery', 'awaiting', '9401')) && (await on('oliveco', 'awaiting', '9401')));
      expect((await postSigned(h, 'oliveco', 'acknowledgements', { orderId: '9401', status: 'backordered', reason: 'no oil until spring' })).statusCode).toBe(202);
      expect([await on('oliveco', 'awaiting', '9401'), await on('oliveco', 'backordered', '9401')]).toEqual([false, true]);

      expect((await h.cancelOrder('9401')).statusCode).toBe(202);
      await waitFor('the cancellation processed', async () => !(await on('creamery', 'awaiting', '9401')) && !(await on('oliveco', 'backordered', '9401')));
      const lag = await new Operations(r, keys, configWithConfirmations()).confirmationLag(Date.now() + 49 * 3_600_000);
      expect(lag.map((l) => [l.supplierId, l.awaiting, l.overdue, l.backorderedTotal])).toEqual([
        ['creamery', 0, 0, 0],
        ['oliveco', 0, 0, 0],
      ]);

      // A purchase order that landed just before its order was cancelled, whose delivery
      // worker notes it only after the cancellation cleared the lists: it is not kept.
      const intake = new ConfirmationIntake({ redis: r, prefix: keys, config: configWithConfirmations(), loop: new LoopStore(r, keys, 60_000) });
      await r.set(markerKeys.cancelled(h.pipeline.prefix, '9402'), JSON.stringify({ at: new Date().toISOString() }));
      const landed = (orderId: string) => ({ deliveryId: `${orderId}+creamery+po`, orderId, shipmentId: `${orderId}+creamery`, recipient: 'creamery', kind: 'dropship' as const });
      await intake.afterDelivery(landed('9402'), undefined);
      expect(await on('creamery', 'awaiting', '9402')).toBe(false);
      await intake.afterDelivery(landed('9403'), undefined);
      expect(await on('creamery', 'awaiting', '9403')).toBe(true);
    } finally {
      await h.stop();
    }
  });

  it('drops entries older than the retention (retention.dedupe) as the lists are written and read', async () => {
    const { h } = await start();
    try {
      const { redis: r, keys } = h.pipeline;
      const key = (list: 'awaiting' | 'rejected' | 'backordered') => purchaseOrderListKey(keys, 'creamery', list);
      // The fixture keeps orders' marks a day: these were sent or answered two days ago.
      const old = Date.now() - 2 * 86_400_000;
      await r.zadd(key('awaiting'), old, 'OLD-A');
      await r.zadd(key('rejected'), old, 'OLD-R');
      await r.zadd(key('rejected'), Date.now(), 'NEW-R');
      await r.zadd(key('backordered'), old, 'OLD-B');

      // Written: a purchase order sent drops the old unanswered ones.
      await h.postOrder(storeOrder('9411'));
      await waitFor('9411 awaited', async () => (await r.zscore(key('awaiting'), '9411')) !== null);
      expect(await r.zrange(key('awaiting'), '0', '-1')).toEqual(['9411']);
      // A backorder recorded drops the old backorders.
      expect((await post(h, 'creamery', 'acknowledgements', { orderId: '9411', status: 'backordered' })).statusCode).toBe(202);
      expect(await r.zrange(key('backordered'), '0', '-1')).toEqual(['9411']);
      expect(await r.zrange(key('rejected'), '0', '-1')).toEqual(['OLD-R', 'NEW-R']);

      // Read: what is past retention is dropped before it is counted.
      const creamery = (await new Operations(r, keys, configWithConfirmations()).confirmationLag()).find((l) => l.supplierId === 'creamery')!;
      expect(creamery).toMatchObject({ awaiting: 0, rejected: ['NEW-R'], rejectedTotal: 1, backordered: ['9411'], backorderedTotal: 1 });
      expect(await r.zrange(key('rejected'), '0', '-1')).toEqual(['NEW-R']);
    } finally {
      await h.stop();
    }
  });
});

describe('cXML at POST /suppliers/{id}/cxml', () => {
  const cxmlPost = (h: PipelineHarness, supplier: string, xml: string, token = TOKEN) =>
    h.api.inject({ method: 'POST', url: `/suppliers/${supplier}/cxml`, payload: xml, headers: { 'content-type': 'text/xml; charset=utf-8', authorization: `Bearer ${token}` } });
  const statusOf = (body: string) => /<Status code="(\d+)"/.exec(body)?.[1];

  it('takes a ShipNoticeRequest and a ConfirmationRequest, answering each with a cXML Response valid against the DTD', async () => {
    const { h, store } = await start();
    try {
      await h.postOrder(storeOrder('9301'));
      await waitFor('purchase orders delivered', () => h.recorder('creamery').delivered.length === 1);
      const accepted = await cxmlPost(h, 'creamery', confirmationRequest({ type: 'accept', confirmId: 'CONF-1', orderId: '9301' }));
      expect(accepted.statusCode).toBe(200);
      expect(accepted.headers['content-type']).toMatch(/^text\/xml/);
      expect(statusOf(accepted.body)).toBe('200');
      const notice = shipNotice({
        shipmentId: 'ASN-9301',
        carriers: [{ domain: 'SCAC', name: 'UPSN' }],
        tracking: ['1Z999AA10123456784'],
        portions: [{ orderId: '9301', items: [{ lineNumber: 1, quantity: 2, sku: 'BUTTER-42' }] }],
      });
      const shipped = await cxmlPost(h, 'creamery', notice);
      expect(statusOf(shipped.body)).toBe('200');
      expect(dtdProblems([accepted.body, shipped.body], CXML_DTD)).toBe('');
      const loop = await loopOf(h, '9301');
      expect(loop.acks.creamery?.status).toBe('accepted');
      expect(loop.events.find((e) => e.kind === 'shipped' && e.shipper === 'creamery')).toMatchObject({ carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'], lines: { l3: 2 }, channel: 'cxml', reference: 'ASN-9301' });
      await waitFor('fulfilled', () => store.requests.some((r) => r.orderId === '9301' && r.tracking.numbers[0] === '1Z999AA10123456784'));

      // More than was sent: 409 in cXML's words; a broken document: 400; someone else's order: 404.
      const over = await cxmlPost(h, 'creamery', shipNotice({ shipmentId: 'ASN-9301b', carriers: [{ domain: 'SCAC', name: 'UPSN' }], tracking: ['1Z999AA10123456785'], portions: [{ orderId: '9301', items: [{ lineNumber: 1, quantity: 5, sku: 'BUTTER-42' }] }] }));
      expect([over.statusCode, statusOf(over.body)]).toEqual([409, '409']);
      const broken = await cxmlPost(h, 'creamery', '<cXML><Request>');
      expect([broken.statusCode, statusOf(broken.body)]).toEqual([400, '400']);
      const foreign = await cxmlPost(h, 'creamery', confirmationRequest({ type: 'accept', confirmId: 'CONF-2', orderId: 'no-such-order' }));
      expect([foreign.statusCode, statusOf(foreign.body)]).toEqual([404, '404']);
      expect(dtdProblems([over.body, broken.body, foreign.body], CXML_DTD)).toBe('');
      expect((await cxmlPost(h, 'creamery', notice, 'wrong')).statusCode).toBe(401);
    } finally {
      await h.stop();
    }
  });
});
