import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { fedexTransport } from '../../src/carriers/fedex/client';
import { upsTransport } from '../../src/carriers/ups/client';
import { deliveryQueueName, markerKeys } from '../../src/queue/names';
import { Operations } from '../../src/ops/operations';
import { DeliveryError, type Transport, type TransportKind } from '../../src/transports/transport';
import { startFedexStandIn, startUpsStandIn, type CarrierStandIn } from '../../testkit/carrier-standins';
import type { Config } from '../../src/config/config';
import { x12Format } from '../../src/formats/x12-850';
import { X12_OPTIONS } from '../formats/po-fixtures';
import { fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness, TEST_CIPHER } from '../support/pipeline';
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
const redisUrl = () => redis.url;

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

      // The label's image (it carries the ship-to) was not handed to the PO's job: creamery's
      // allow-list takes the tracking number, not the label.
      const queue = new Queue(deliveryQueueName('dropship', 'creamery'), { connection: h.pipeline.redis, prefix: h.pipeline.prefix });
      try {
        const job = await queue.getJob('6001+creamery+po');
        expect(TEST_CIPHER.open((job?.data as { bought: string }).bought, 'result')).toEqual({ label: { trackingNumber: '1Z6001CREAMERYCARRIER' } });
      } finally {
        await queue.close();
      }
    } finally {
      await h.stop();
    }
  });

  it('a label that landed in an earlier life of the order (its job and result gone): the PO takes the tracking number recorded then', async () => {
    const h = await start();
    try {
      const p = h.pipeline.prefix;
      // The label of 6003's creamery shipment landed in an earlier life of the order: its
      // delivered marker and tracking record are kept longer than its job.
      await h.pipeline.redis.set(markerKeys.delivered(p, '6003+creamery+carrier'), '1');
      await h.pipeline.redis.hset(markerKeys.tracking(p, '6003'), '6003+creamery', JSON.stringify({ carrier: 'ups', trackingNumber: '1ZEARLIER0001', at: new Date().toISOString() }));
      await h.postOrder(orderPayload({ id: '6003', lines: [orderPayload().lines[1]!] }));
      await waitFor('creamery PO', () => h.recorder('creamery').delivered.length === 1);
      // Not bought again.
      expect(h.recorder('ups').delivered).toEqual([]);
      expect(h.recorder('creamery').delivered[0]!.body).toContain(',ups,03,1ZEARLIER0001\r\n');
      const disclosures = await h.pipeline.ledger.forOrder('6003');
      expect(disclosures.find((d) => d.deliveryId === '6003+creamery+po')?.fields).toContain('shipment.trackingNumber');
    } finally {
      await h.stop();
    }
  });

  it('a carrier job run again after its label landed (skipped as delivered before): the PO takes the tracking number recorded when it landed', async () => {
    const h = await start();
    const carrierQ = new Queue(deliveryQueueName('carrier', 'ups'), { connection: h.pipeline.redis, prefix: h.pipeline.prefix });
    try {
      const p = h.pipeline.prefix;
      const carrierWorker = h.pipeline.workers.find((w) => w.name === deliveryQueueName('carrier', 'ups'))!;
      await carrierWorker.pause();
      await h.postOrder(orderPayload({ id: '6005', lines: [orderPayload().lines[1]!] }));
      await waitFor('label job queued', async () => (await carrierQ.getJob('6005+creamery+carrier')) !== undefined);
      // What a run that landed and then died before BullMQ heard of it leaves behind.
      await h.pipeline.redis.set(markerKeys.delivered(p, '6005+creamery+carrier'), '1');
      await h.pipeline.redis.hset(markerKeys.tracking(p, '6005'), '6005+creamery', JSON.stringify({ carrier: 'ups', trackingNumber: '1ZLANDED00001', at: new Date().toISOString() }));
      carrierWorker.resume();
      await waitFor('creamery PO', () => h.recorder('creamery').delivered.length === 1);
      expect((await carrierQ.getJob('6005+creamery+carrier'))?.returnvalue).toEqual({ location: 'delivered before', skipped: 'delivered before' });
      expect(h.recorder('ups').delivered).toEqual([]);
      expect(h.recorder('creamery').delivered[0]!.body).toContain(',ups,03,1ZLANDED00001\r\n');
    } finally {
      await carrierQ.close();
      await h.stop();
    }
  });

  it('a label bought without a tracking number in the answer: the PO goes without one', async () => {
    const h = await start();
    try {
      h.recorder('ups').respond = undefined;
      await h.postOrder(orderPayload({ id: '6004', lines: [orderPayload().lines[1]!] }));
      await waitFor('creamery PO', () => h.recorder('creamery').delivered.length === 1);
      expect(h.recorder('ups').delivered).toHaveLength(1);
      expect(await h.pipeline.redis.hgetall(markerKeys.tracking(h.pipeline.prefix, '6004'))).toEqual({});
      const po = h.recorder('creamery').delivered[0]!.body;
      expect(po.split('\r\n')[0]).toMatch(/,carrier,service$/);
      expect(po).toMatch(/,ups,03\r\n$/);
      const disclosures = await h.pipeline.ledger.forOrder('6004');
      expect(disclosures.find((d) => d.deliveryId === '6004+creamery+po')?.fields).not.toContain('shipment.trackingNumber');
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
      // The purchase order rides in its carrier request's job: no job of its own until the label is bought.
      expect(await poQ.getJob('6002+creamery+po')).toBeUndefined();
      const ops = new Operations(h.pipeline.redis, h.pipeline.prefix, fixtureConfig());
      try {
        expect((await ops.orderStatus('6002')).deliveries.find((d) => d.deliveryId === '6002+creamery+po')?.state).toBe('waiting for its label');
      } finally {
        await ops.close();
      }
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

describe('a label whose answer was lost is flagged for an operator when the carrier cannot be asked about it (a transport without label recovery)', () => {
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
        expect(f.reason).toBe('the recording transport cannot ask the carrier for a label');
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

describe('a label whose answer was lost is asked for by its reference before one is bought again', () => {
  const config = fixtureConfig();
  const configDir = mkdtempSync(join(tmpdir(), 'dropship-labels-'));
  afterAll(() => rmSync(configDir, { recursive: true, force: true }));

  /** A real carrier client pointed at `standIn`. */
  function client(carrier: 'ups' | 'fedex', standIn: CarrierStandIn): Transport {
    const kind: TransportKind = carrier === 'ups' ? upsTransport : fedexTransport;
    const options = kind.optionsSchema.parse({ ...(config.store.carriers[carrier] as object), baseUrl: standIn.url, caFile: standIn.caFile, clientIdEnv: 'CLIENT_ID', clientSecretEnv: 'CLIENT_SECRET', timeout: '5s' });
    return kind.create(options, { instanceId: carrier, configDir, env: { CLIENT_ID: standIn.clientId, CLIENT_SECRET: standIn.clientSecret } });
  }

  /**
   * Two labels (warehouse and creamery shipments) bought by a worker that dies before it hears
   * the answers: the carrier sold both, nobody knows their tracking numbers. Then a second
   * worker takes the jobs over.
   */
  async function lostAnswers(carrier: 'ups' | 'fedex', orderId: string, prepare: (standIn: CarrierStandIn) => void = () => undefined) {
    const standIn = carrier === 'ups' ? await startUpsStandIn() : await startFedexStandIn();
    const p = `l${++n}`;
    const buyer = client(carrier, standIn);
    // Buys the label, then never returns: its worker is killed while the answer is on its way.
    const dying: Transport = { kind: carrier, instanceId: carrier, deliver: async (d) => buyer.deliver(d).then(() => new Promise<never>(() => undefined)), verify: async () => {}, close: async () => {} };
    const first = await PipelineHarness.start(config, redisUrl(), { prefix: p, lockDurationMs: 1000, stalledIntervalMs: 500, custom: (t) => (t.recipient === carrier ? dying : undefined) });
    await first.postOrder(orderPayload({ id: orderId, shippingMethod: carrier === 'ups' ? 'standard' : 'express' }));
    await waitFor('both labels sold', () => standIn.sold.length === 2, 20_000);
    await Promise.all(first.pipeline.workers.map((w) => w.close(true)));
    await buyer.close();
    prepare(standIn);
    const transport = client(carrier, standIn);
    const second = await PipelineHarness.start(config, redisUrl(), { prefix: p, lockDurationMs: 1000, stalledIntervalMs: 500, custom: (t) => (t.recipient === carrier ? transport : undefined) });
    const ops = new Operations(second.pipeline.redis, p, config);
    const stop = async () => {
      await ops.close();
      await second.stop();
      await first.stop().catch(() => undefined);
      await transport.close();
      await standIn.stop();
    };
    try {
      await waitFor('creamery PO sent', () => second.recorder('creamery').delivered.length === 1, 30_000);
      await waitFor('both carrier deliveries landed', async () => Object.keys(await second.pipeline.redis.hgetall(markerKeys.tracking(p, orderId))).length === 2, 30_000);
    } catch (error) {
      await stop();
      throw error;
    }
    return { standIn, second, ops, stop, status: () => ops.orderStatus(orderId) };
  }

  it('UPS: the re-run recovers both labels by reference (Label Recovery) and buys none; nothing is flagged', async () => {
    const run = await lostAnswers('ups', '6201');
    try {
      const { standIn } = run;
      expect(standIn.violations).toEqual([]);
      expect(standIn.sold).toHaveLength(2);
      expect(standIn.requestsTo('ship').map((r) => r.status)).toEqual([200, 200]);
      expect(standIn.requestsTo('recover').map((r) => r.status)).toEqual([200, 200]);
      expect([...standIn.liveLabelsByReference().values()].map((l) => l.length)).toEqual([1, 1]);
      expect(await run.ops.unconfirmedLabels()).toEqual([]);
      const status = await run.status();
      expect(status.tracking.map((t) => t.trackingNumber).sort()).toEqual(standIn.sold.map((l) => l.trackingNumber).sort());
      expect(status.tracking.every((t) => t.labelRecovery === 'reused' && t.lostAttemptAt === undefined)).toBe(true);
      // The purchase order carries the recovered label's tracking number.
      const creamery = status.tracking.find((t) => t.shipmentId === '6201+creamery');
      expect(run.second.recorder('creamery').delivered[0]?.body).toContain(creamery?.trackingNumber);
      expect(await run.second.pipeline.redis.keys('*:label-attempt:*')).toEqual([]);
    } finally {
      await run.stop();
    }
  });

  it('FedEx: the re-run finds both shipments by customer reference, cancels them and buys again: one live label per shipment; nothing is flagged', async () => {
    const run = await lostAnswers('fedex', '6202');
    try {
      const { standIn } = run;
      expect(standIn.violations).toEqual([]);
      const [lostA, lostB] = standIn.sold;
      expect(standIn.voided.sort()).toEqual([lostA?.trackingNumber, lostB?.trackingNumber].sort());
      expect(standIn.sold).toHaveLength(4);
      expect([...standIn.liveLabelsByReference().values()].map((l) => l.length)).toEqual([1, 1]);
      expect(await run.ops.unconfirmedLabels()).toEqual([]);
      const status = await run.status();
      expect(status.tracking.map((t) => t.trackingNumber).sort()).toEqual(standIn.sold.filter((l) => !l.voided).map((l) => l.trackingNumber).sort());
      expect(status.tracking.every((t) => t.labelRecovery === 'cancelled')).toBe(true);
    } finally {
      await run.stop();
    }
  });

  it('a carrier that cannot answer the question: the label is bought again and flagged, with the reason', async () => {
    const unavailable = { status: 503, errors: [{ code: 'SERVICE.UNAVAILABLE.ERROR', message: 'The service is currently unavailable.' }] };
    const run = await lostAnswers('ups', '6203', (standIn) => standIn.script('recover', unavailable, unavailable));
    try {
      const { standIn } = run;
      expect(standIn.violations).toEqual([]);
      expect(standIn.sold).toHaveLength(4);
      const flagged = await run.ops.unconfirmedLabels();
      expect(flagged.map((f) => f.deliveryId).sort()).toEqual(['6203+creamery+carrier', '6203+warehouse+carrier']);
      for (const f of flagged) expect(f.reason).toMatch(/^the carrier could not be asked for the label: .*503/);
      expect((await run.status()).tracking.every((t) => t.lostAttemptAt !== undefined && t.labelRecovery === undefined)).toBe(true);
    } finally {
      await run.stop();
    }
  });
});
