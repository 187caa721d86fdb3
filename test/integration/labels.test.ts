import { Queue } from 'bullmq';
import { deliveryQueueName, markerKeys } from '../../src/queue/names';
import { DeliveryError } from '../../src/transports/transport';
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
