import { Queue } from 'bullmq';
import { deliveryQueueName, markerKeys } from '../../src/queue/names';
import { Operations } from '../../src/ops/operations';
import { DeliveryError } from '../../src/transports/transport';
import type { Config } from '../../src/config/config';
import { x12Format } from '../../src/formats/x12-850';
import { X12_OPTIONS } from '../formats/po-fixtures';
import { fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

let redis: TestRedis;
let n = 0;
beforeAll(async () => {
  redis = await TestRedis.start();
});
afterAll(async () => {
  await redis.stop();
});

async function start() {
  const h = await PipelineHarness.start(fixtureConfig(), redis.url, { prefix: `l${++n}` });
  h.recorder('ups').respond = (p) => ({ carrier: 'ups', trackingNumber: `1Z${p.deliveryId.replace(/\W/g, '').toUpperCase()}`, label: 'R0lGODlh' });
  return h;
}

describe('labels bought by the retailer travel with the purchase order', () => {
  it('sends the PO only after its label is bought, with the tracking number its allow-list names', async () => {
    const h = await start();
    try {
      await h.postOrder(orderPayload({ id: '6001' }));
      await waitFor('creamery PO', () => h.recorder('creamery').delivered.length === 1);
      const po = h.recorder('creamery').delivered[0]!;
      expect(po.body.split('\r\n')[0]).toMatch(/,tracking_number$/);
      expect(po.body).toContain(',ups,03,1Z6001CREAMERYCARRIER\r\n');
      // oliveco ships on its own account: no label bought, and its PO went out without waiting.
      expect(h.recorder('ups').delivered.map((d) => d.deliveryId).sort()).toEqual(['6001+creamery+carrier', '6001+warehouse+carrier']);
      expect(h.recorder('oliveco').delivered).toHaveLength(1);

      // The tracking numbers are recorded per order.
      const tracking = await h.pipeline.redis.hgetall(markerKeys.tracking(h.pipeline.prefix, '6001'));
      expect(Object.keys(tracking).sort()).toEqual(['6001+creamery', '6001+warehouse']);
      expect(JSON.parse(tracking['6001+creamery']!)).toEqual(expect.objectContaining({ carrier: 'ups', trackingNumber: '1Z6001CREAMERYCARRIER' }));

      // The ledger records what the PO actually carried, tracking number included.
      const disclosures = await h.pipeline.ledger.forOrder('6001');
      expect(disclosures.map((d) => d.deliveryId).sort()).toEqual(['6001+creamery+carrier', '6001+creamery+po', '6001+oliveco+po', '6001+warehouse+carrier']);
      expect(disclosures.find((d) => d.deliveryId === '6001+creamery+po')?.fields).toContain('shipment.trackingNumber');
    } finally {
      await h.stop();
    }
  });

  it('holds the PO while its label cannot be bought, and sends it once the label is replayed', async () => {
    const h = await start();
    try {
      h.recorder('ups').then(DeliveryError.permanent('EREJECTED', 'UPS 120100: Missing or invalid shipper number'));
      await h.postOrder(orderPayload({ id: '6002', lines: [orderPayload().lines[1]!] }));
      const carrierQ = new Queue(deliveryQueueName('carrier', 'ups'), { connection: h.pipeline.redis, prefix: h.pipeline.prefix });
      const poQ = new Queue(deliveryQueueName('dropship', 'creamery'), { connection: h.pipeline.redis, prefix: h.pipeline.prefix });
      await waitFor('label failed', async () => (await carrierQ.getFailedCount()) === 1);
      expect(await (await poQ.getJob('6002+creamery+po'))?.getState()).toBe('waiting-children');
      expect(h.recorder('creamery').delivered).toEqual([]);

      await (await carrierQ.getJob('6002+creamery+carrier'))!.retry();
      await waitFor('PO after the label', () => h.recorder('creamery').delivered.length === 1);
      expect(h.recorder('creamery').delivered[0]!.body).toContain('1Z6002CREAMERYCARRIER');
      await carrierQ.close();
      await poQ.close();
    } finally {
      await h.stop();
    }
  });
});

describe('a purchase order that cannot be written holds the order before its label is bought', () => {
  it('an order id too long for X12 BEG03, to an X12 supplier whose label the store buys: held UNSHIPPABLE, no label bought, nothing queued', async () => {
    const base = fixtureConfig();
    const config: Config = {
      ...base,
      suppliers: base.suppliers.map((s) => (s.id === 'creamery' ? { ...s, format: 'x12-850', formatOptions: x12Format.optionsSchema.parse(X12_OPTIONS) } : s)),
    };
    const h = await PipelineHarness.start(config, redis.url, { prefix: `l${++n}` });
    const ops = new Operations(h.pipeline.redis, h.pipeline.prefix, config);
    try {
      const orderId = `X${'1'.repeat(30)}`;
      await h.postOrder(orderPayload({ id: orderId, lines: [orderPayload().lines[1]!] }));
      await waitFor('held', async () => (await ops.queue('orders').getFailedCount()) === 1);
      const status = await ops.orderStatus(orderId);
      expect(status.holds).toEqual([
        expect.objectContaining({ code: 'UNSHIPPABLE', message: `purchase order ${orderId}+creamery cannot be written as x12-850: order.id is 31 characters; X12 BEG03 (purchase order number) takes at most 22` }),
      ]);
      expect(h.recorder('ups').delivered).toEqual([]);
      expect(h.recorder('creamery').delivered).toEqual([]);
      expect(await ops.queue('po-creamery').count()).toBe(0);
    } finally {
      await h.stop();
    }
  });
});

describe('a label whose answer was lost is flagged for an operator, not bought silently twice', () => {
  const config = fixtureConfig();

  it('flags the label when the worker buying it died mid-request, and records it with the shipment', async () => {
    const p = `l${++n}`;
    const hungUps = { kind: 'hung', instanceId: 'ups', deliver: () => new Promise<never>(() => undefined), verify: async () => {}, close: async () => {} };
    const first = await PipelineHarness.start(config, redis.url, { prefix: p, lockDurationMs: 1000, stalledIntervalMs: 500, custom: (t) => (t.recipient === 'ups' ? hungUps : undefined) });
    await first.postOrder(orderPayload({ id: '6101' }));
    await waitFor('both label attempts started', async () => (await first.pipeline.redis.keys(`${p}:label-attempt:*`)).length === 2);
    // The worker dies while the carrier holds the requests: it may have sold both labels.
    await Promise.all(first.pipeline.workers.map((w) => w.close(true)));
    const second = await PipelineHarness.start(config, redis.url, { prefix: p, lockDurationMs: 1000, stalledIntervalMs: 500 });
    second.recorder('ups').respond = (d) => ({ carrier: 'ups', trackingNumber: `1Z${d.deliveryId.replace(/\W/g, '').toUpperCase()}` });
    const ops = new Operations(second.pipeline.redis, p, config);
    try {
      await waitFor('labels bought again by the second', () => second.recorder('ups').delivered.length === 2, 20_000);
      await waitFor('creamery PO sent', () => second.recorder('creamery').delivered.length === 1, 20_000);
      const flagged = await ops.unconfirmedLabels();
      expect(flagged.map((f) => f.deliveryId).sort()).toEqual(['6101+creamery+carrier', '6101+warehouse+carrier']);
      for (const f of flagged) {
        expect(f).toEqual(expect.objectContaining({ orderId: '6101', carrier: 'ups', shipmentId: f.deliveryId.replace(/\+carrier$/, '') }));
        expect(Date.parse(f.lostAttemptAt)).toBeLessThan(Date.parse(f.at));
      }
      const status = await ops.orderStatus('6101');
      expect(status.tracking.every((t) => t.lostAttemptAt !== undefined)).toBe(true);
      // Landed: the attempt marks are gone.
      expect(await second.pipeline.redis.keys(`${p}:label-attempt:*`)).toEqual([]);
      // Checked in the carrier account: acknowledged one by one, or all at once.
      expect(await ops.acknowledgeLabels(['6101+warehouse+carrier', 'no-such-delivery'])).toEqual(['6101+warehouse+carrier']);
      expect((await ops.unconfirmedLabels()).map((f) => f.deliveryId)).toEqual(['6101+creamery+carrier']);
      expect(await ops.acknowledgeLabels('all')).toEqual(['6101+creamery+carrier']);
      expect(await ops.unconfirmedLabels()).toEqual([]);
    } finally {
      await ops.close();
      await second.stop();
      await first.stop().catch(() => undefined);
    }
  });

  it('does not flag a label after a refusal or an unreachable carrier, and does after a timeout mid-request', async () => {
    const h = await PipelineHarness.start(config, redis.url, { prefix: `l${++n}` });
    const ops = new Operations(h.pipeline.redis, h.pipeline.prefix, config);
    try {
      h.recorder('ups').respond = (d) => ({ carrier: 'ups', trackingNumber: `1Z${d.deliveryId.replace(/\W/g, '').toUpperCase()}` });
      // Retried after 10 ms rather than the carriers' 30 s backoff.
      h.recorder('ups').then(DeliveryError.retryAfter('EREMOTE', 'HTTP 503 from UPS', 10), DeliveryError.retryAfter('ECONNECTION', 'connection refused', 10));
      await h.postOrder(orderPayload({ id: '6102' }));
      await waitFor('labels', () => h.recorder('ups').delivered.length === 2, 20_000);
      expect(await ops.unconfirmedLabels()).toEqual([]);

      h.recorder('ups').then(new DeliveryError('ETIMEDOUT', 'no answer within 30 s', { unsure: true, retryAfterMs: 10 }));
      await h.postOrder({ ...orderPayload({ id: '6103' }), lines: orderPayload().lines!.filter((l) => l.sku === 'LARDER-JAM') });
      await waitFor('label after the timeout', () => h.recorder('ups').delivered.length === 3, 20_000);
      expect((await ops.unconfirmedLabels()).map((f) => f.deliveryId)).toEqual(['6103+warehouse+carrier']);
    } finally {
      await ops.close();
      await h.stop();
    }
  });
});
