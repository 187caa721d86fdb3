import { Redis } from 'ioredis';
import { type Disclosure, DisclosureLedger } from '../../src/ledger/disclosure-ledger';
import { keySlot } from '../../src/queue/key-slot';
import { KeySpace } from '../../src/queue/partitions';
import { TestRedis } from '../support/redis';

/**
 * The disclosure ledger against a real Redis: what one record stores (the delivery workers
 * write the same through `recordParts` in their landing scripts), and reading it back.
 */

let server: TestRedis;
let redis: Redis;
let n = 0;
beforeAll(async () => {
  server = await TestRedis.start();
  redis = server.client();
});
afterAll(async () => {
  await redis.quit();
  await server.stop();
});

const DAY = 86_400_000;

function disclosure(orderId: string, over: Partial<Disclosure> = {}): Disclosure {
  return {
    orderId,
    deliveryId: `${orderId}+creamery+po`,
    recipient: 'creamery',
    kind: 'dropship',
    transport: 'sftp',
    format: 'csv',
    fields: ['lines.sku', 'order.id', 'shipTo.name'],
    sha256: 'ab'.repeat(32),
    deliveredAt: '2026-11-20T15:04:05.123Z',
    ...over,
  };
}

describe('recording a disclosure', () => {
  it("stores the record under its delivery id in the order's hash (expiring after the retention), the order in the index by time, and the recipient's last delivery", async () => {
    const prefix = `led${++n}`;
    const ledger = new DisclosureLedger(redis, { prefix, retentionMs: 400 * DAY });
    const d = disclosure('L1');
    await ledger.record(d);
    expect(await redis.hgetall(`${prefix}:disclosures:L1`)).toEqual({ 'L1+creamery+po': JSON.stringify(d) });
    const ttl = await redis.pttl(`${prefix}:disclosures:L1`);
    expect(ttl).toBeGreaterThan(400 * DAY - 60_000);
    expect(ttl).toBeLessThanOrEqual(400 * DAY);
    expect(await redis.zrange(`${prefix}:disclosures-index`, 0, '-1')).toEqual(['L1']);
    expect(await redis.zscore(`${prefix}:disclosures-index`, 'L1')).toBe(String(Date.parse(d.deliveredAt)));
    expect(await redis.hgetall(`${prefix}:disclosures-last`)).toEqual({ 'dropship:creamery': d.deliveredAt });
    expect(await redis.keys(`${prefix}:*`)).toHaveLength(3);
    expect(await ledger.forOrder('L1')).toEqual([d]);
    expect(await ledger.lastByRecipient()).toEqual({ 'dropship:creamery': d.deliveredAt });
  });

  it("notes a recipient's last delivery apart (the delivery workers' way), written when flushed or closed, the newest noted winning", async () => {
    const prefix = `led${++n}`;
    const ledger = new DisclosureLedger(redis, { prefix, retentionMs: DAY });
    const d = disclosure('L9');
    const { keys, args } = ledger.recordParts(d, { lastLater: true });
    expect(args[6]).toBe('');
    expect(keys[2]).toBe(`${prefix}:disclosures-last`);
    ledger.noteLast({ ...d, deliveredAt: '2026-11-20T15:04:06.000Z' });
    ledger.noteLast({ ...d, deliveredAt: '2026-11-20T15:04:05.000Z' });
    ledger.noteLast({ ...d, kind: 'carrier', recipient: 'ups', deliveredAt: '2026-11-20T15:04:07.000Z' });
    expect(await ledger.lastByRecipient()).toEqual({});
    await ledger.flushLast();
    expect(await ledger.lastByRecipient()).toEqual({ 'dropship:creamery': '2026-11-20T15:04:06.000Z', 'carrier:ups': '2026-11-20T15:04:07.000Z' });
    ledger.noteLast({ ...d, deliveredAt: '2026-11-20T15:05:00.000Z' });
    await ledger.close();
    expect((await ledger.lastByRecipient())['dropship:creamery']).toBe('2026-11-20T15:05:00.000Z');
  });

  it('keeps what a flush could not write (Redis away) for the next one, a newer one noted meanwhile winning', async () => {
    const prefix = `led${++n}`;
    // A connection not yet open that refuses to queue: its commands fail at once.
    const away = new Redis(server.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    try {
      const ledger = new DisclosureLedger(away, { prefix, retentionMs: DAY });
      const d = disclosure('L8');
      ledger.noteLast({ ...d, deliveredAt: '2026-11-20T15:04:06.000Z' });
      ledger.noteLast({ ...d, kind: 'carrier', recipient: 'ups', deliveredAt: '2026-11-20T15:04:07.000Z' });
      await expect(ledger.flushLast()).rejects.toThrow();
      ledger.noteLast({ ...d, deliveredAt: '2026-11-20T15:04:08.000Z' });
      // Redis back.
      if (away.status === 'wait') await away.connect();
      else if (away.status !== 'ready') await new Promise((resolve) => away.once('ready', resolve));
      await ledger.flushLast();
      expect(await new DisclosureLedger(redis, { prefix, retentionMs: DAY }).lastByRecipient()).toEqual({ 'dropship:creamery': '2026-11-20T15:04:08.000Z', 'carrier:ups': '2026-11-20T15:04:07.000Z' });
    } finally {
      away.disconnect();
    }
  });

  it('keeps one record per delivery however often it is recorded, the index at its last time', async () => {
    const prefix = `led${++n}`;
    const ledger = new DisclosureLedger(redis, { prefix, retentionMs: DAY });
    const first = disclosure('L2');
    const again = { ...first, deliveredAt: '2026-11-20T16:00:00.000Z' };
    const label = disclosure('L2', { deliveryId: 'L2+warehouse+carrier', recipient: 'ups', kind: 'carrier', transport: 'ups', format: 'ups-json', deliveredAt: '2026-11-20T15:30:00.000Z' });
    await ledger.record(first);
    await ledger.record(label);
    await ledger.record(again);
    expect(await ledger.forOrder('L2')).toEqual([label, again]);
    expect(await redis.zscore(`${prefix}:disclosures-index`, 'L2')).toBe(String(Date.parse(again.deliveredAt)));
    expect(await ledger.lastByRecipient()).toEqual({ 'dropship:creamery': again.deliveredAt, 'carrier:ups': label.deliveredAt });
  });

  it("with partitions, puts every key of a record in its order's partition (one hash slot), and reads and purges across partitions", async () => {
    const keys = KeySpace.of(`led${++n}`, 4);
    const ledger = new DisclosureLedger(redis, { prefix: keys, retentionMs: DAY });
    const orders = ['P1', 'P2', 'P3', 'P4', 'P5', 'P6'];
    for (const id of orders) {
      const { keys: recordKeys } = ledger.recordParts(disclosure(id));
      expect(recordKeys.every((k) => k.startsWith(`${keys.forOrder(id)}:`))).toBe(true);
      expect(new Set(recordKeys.map(keySlot)).size).toBe(1);
    }
    expect(new Set(orders.map((id) => keys.forOrder(id))).size).toBeGreaterThan(1);
    const at = (i: number) => new Date(Date.parse('2026-11-20T00:00:00.000Z') + i * 60_000).toISOString();
    for (const [i, id] of orders.entries()) await ledger.record(disclosure(id, { deliveredAt: at(i) }));
    expect(await ledger.lastByRecipient()).toEqual({ 'dropship:creamery': at(orders.length - 1) });
    // Everything delivered before the fourth order's time goes.
    expect(await ledger.purge(0, Date.parse(at(3)) - 1)).toBe(3);
    for (const [i, id] of orders.entries()) expect(await ledger.forOrder(id)).toHaveLength(i < 3 ? 0 : 1);
  });
});
