import { CATALOGUE } from '../../src/errors';
import { Operations } from '../../src/ops/operations';
import { DeliveryError } from '../../src/transports/transport';
import { fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

let redis: TestRedis;
let h: PipelineHarness;
let ops: Operations;

beforeAll(async () => {
  redis = await TestRedis.start();
  h = await PipelineHarness.start(fixtureConfig(), redis.url, { prefix: 'ops' });
  h.recorder('ups').respond = (p) => ({ trackingNumber: `1Z${p.deliveryId.length}${p.orderId}` });
  ops = new Operations(h.pipeline.redis, 'ops', fixtureConfig());
});
afterAll(async () => {
  await ops.close();
  await h.stop();
  await redis.stop();
});

describe('operator operations', () => {
  it('shows one order: deliveries and their states, the failure reason, tracking numbers, disclosures', async () => {
    h.recorder('oliveco').then(DeliveryError.permanent('EREJECTED', 'HTTP 400 from olive: unknown sku'));
    await h.postOrder(orderPayload({ id: 'OP1' }));
    await waitFor('settled', async () => (await ops.queue('po-oliveco').getFailedCount()) === 1 && h.recorder('creamery').delivered.length === 1);
    const status = await ops.orderStatus('OP1');
    expect(status.state).toBe('completed');
    expect(status.deliveries.map((d) => [d.deliveryId, d.state])).toEqual([
      ['OP1+creamery+carrier', 'completed'],
      ['OP1+creamery+po', 'completed'],
      ['OP1+oliveco+po', 'failed'],
      ['OP1+warehouse+carrier', 'completed'],
    ]);
    expect(status.deliveries.find((d) => d.state === 'failed')?.failedReason).toBe('EREJECTED: HTTP 400 from olive: unknown sku');
    expect(status.deliveries.find((d) => d.state === 'failed')?.code).toBe('EREJECTED');
    expect(status.tracking.map((t) => t.shipmentId).sort()).toEqual(['OP1+creamery', 'OP1+warehouse']);
    expect(status.disclosures).toBe(3);

    const disclosures = await ops.disclosures('OP1');
    expect(disclosures.map((d) => [d.recipient, d.kind])).toEqual(expect.arrayContaining([['creamery', 'dropship'], ['ups', 'carrier']]));
    for (const d of disclosures) expect(d.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('replays one delivery, every failed delivery of a supplier, and held orders', async () => {
    expect(await ops.replay({ delivery: 'OP1+oliveco+po' })).toEqual(['OP1+oliveco+po']);
    await waitFor('olive delivered', () => h.recorder('oliveco').delivered.some((d) => d.orderId === 'OP1'));

    h.recorder('creamery').then(DeliveryError.permanent('EAUTH', 'login refused'), DeliveryError.permanent('EAUTH', 'login refused'));
    await h.postOrder(orderPayload({ id: 'OP2' }));
    await h.postOrder(orderPayload({ id: 'OP3' }));
    await waitFor('two failed', async () => (await ops.queue('po-creamery').getFailedCount()) === 2);
    const seen: Array<[number, number]> = [];
    expect((await ops.replay({ recipient: 'creamery' }, (done, total) => seen.push([done, total]))).sort()).toEqual(['OP2+creamery+po', 'OP3+creamery+po']);
    expect(seen).toEqual([[1, 2], [2, 2]]);
    await waitFor('creamery replayed', () => ['OP2', 'OP3'].every((o) => h.recorder('creamery').delivered.some((d) => d.orderId === o)));

    await h.postOrder({ ...orderPayload({ id: 'OP4' }), shipTo: undefined });
    await waitFor('held', async () => (await ops.queue('orders').getFailedCount()) === 1);
    const held = await ops.orderStatus('OP4');
    expect(held.heldReason).toBe('held: NO_SHIP_TO the order has no shipping address');
    expect(held.holds).toEqual([{ code: 'NO_SHIP_TO', message: 'the order has no shipping address', action: CATALOGUE.NO_SHIP_TO.action }]);
    expect(await ops.replay({ held: true })).toEqual(['order+OP4']);
    await expect(ops.replay({ delivery: 'NOPE+x+po' })).rejects.toThrow('no delivery NOPE+x+po is kept');
    await expect(ops.replay({ recipient: 'nobody' })).rejects.toThrow('no supplier or carrier "nobody" is configured');
  });

  it('purges failed jobs and disclosure records older than a duration', async () => {
    await waitFor('held again', async () => (await ops.queue('orders').getFailedCount()) === 1);
    expect(await ops.purgeFailed(3_600_000)).toBe(0);
    expect(await ops.purgeFailed(0)).toBe(1);
    expect(await ops.ledger.purge(0, Date.now() + 1000)).toBeGreaterThanOrEqual(3);
    expect(await ops.disclosures('OP1')).toEqual([]);
  });
});
