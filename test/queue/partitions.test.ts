import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { keySlot } from '../../src/queue/key-slot';
import { markerKeys, metaKeys, partitionIndex, partitionPrefix, partitionTag } from '../../src/queue/names';
import { claimPartitions, KeySpace, mgetAcross, PartitionsChangedError } from '../../src/queue/partitions';
import { clusterUrl, displayRedisUrl, isClusterUrl, redisFromEnv } from '../../src/queue/redis';
import { fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';
import { previewOrder } from '../../src/planning/preview';

describe('hash slots and partition names', () => {
  it('computes the slot of a key as Redis does, hash tags included', () => {
    // Answers of redis-server 7.0's CLUSTER KEYSLOT for the same keys. An empty first tag hashes
    // the whole key (cluster-key-slot 1.1.1, which ioredis routes by, says 15133 for x{}{y};
    // the pipeline never names a key so).
    const keys = ['a', 'dropship:orders:1', 'dropship:{p0.1}:orders:wait', '{}x', 'x{}{y}', 'x{y}z{w}', 'héllo{wörld}', ''];
    expect(keys.map(keySlot)).toEqual([15495, 4520, 1099, 10595, 14166, 12222, 4850, 0]);
  });

  it('keeps the plain prefix with one partition on a single node: the keys as before partitions', () => {
    const keys = KeySpace.of('dropship');
    expect(keys.prefixes).toEqual(['dropship']);
    expect(keys.forOrder('1001')).toBe('dropship');
    expect(keys.forSupplier('creamery')).toBe('dropship');
    expect(markerKeys.order(keys.forOrder('1001'), '1001')).toBe('dropship:order:1001');
  });

  it('tags every prefix on a cluster, even with one partition, and spreads partitions evenly over the slots', () => {
    expect(KeySpace.of('dropship', 1, true).prefixes).toEqual([`dropship:{${partitionTag(0, 1)}}`]);
    for (const count of [2, 3, 6, 12]) {
      const tags = Array.from({ length: count }, (_, n) => partitionTag(n, count));
      // The n-th partition's slot is in the n-th equal share of the 16384 slots.
      tags.forEach((tag, n) => {
        expect(keySlot(tag)).toBeGreaterThanOrEqual(Math.floor((n * 16384) / count));
        expect(keySlot(tag)).toBeLessThan(Math.floor(((n + 1) * 16384) / count));
      });
      expect(new Set(tags).size).toBe(count);
    }
    // Every key of a partition is in its slot.
    const prefix = partitionPrefix('dropship', 4, 6, true);
    for (const key of [markerKeys.order(prefix, 'x'), markerKeys.delivered(prefix, 'x+po'), `${prefix}:orders:wait`, markerKeys.waitingOrders(prefix)]) expect(keySlot(key)).toBe(keySlot(prefix));
  });

  it('puts an order in the same partition in every process, and spreads orders evenly', () => {
    expect(partitionIndex('1001', 6)).toBe(partitionIndex('1001', 6));
    expect(partitionIndex('anything', 1)).toBe(0);
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 6000; i++) counts[partitionIndex(`order-${i}`, 6)]! += 1;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(100);
  });

  it('names a cluster by its seed nodes, from REDIS_CLUSTER_NODES before REDIS_URL, and never shows its password', () => {
    expect(redisFromEnv({ REDIS_URL: 'redis://r:6379' })).toBe('redis://r:6379');
    const url = redisFromEnv({ REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'a:7000, b:7001', REDIS_PASSWORD: 'secret pw' })!;
    expect(isClusterUrl(url)).toBe(true);
    expect(displayRedisUrl(url)).toBe('the Redis Cluster at a:7000,b:7001');
    expect(displayRedisUrl(url)).not.toContain('secret');
    expect(() => clusterUrl('a:7000,b')).toThrow('REDIS_CLUSTER_NODES: "b" is not host:port');
    expect(() => clusterUrl(' , ')).toThrow('REDIS_CLUSTER_NODES lists no node');
    expect(redisFromEnv({})).toBeUndefined();
  });
});

describe('the recorded partition count (single node)', () => {
  let redis: TestRedis;
  let client: Redis;
  beforeAll(async () => {
    redis = await TestRedis.start();
    client = redis.client();
  });
  afterAll(async () => {
    client.disconnect();
    await redis.stop();
  });

  it('takes a new count while the queues are empty, and refuses it while jobs of the old layout remain', async () => {
    const names = ['orders', 'po-x'];
    await claimPartitions(client, KeySpace.of('rp', 1), names);
    expect(await client.get(metaKeys.partitions('rp'))).toBe('1');
    const queue = new Queue('po-x', { connection: client, prefix: 'rp' });
    await queue.add('dropship', {}, { jobId: 'left' });
    await expect(claimPartitions(client, KeySpace.of('rp', 4), names)).rejects.toThrow(PartitionsChangedError);
    await expect(claimPartitions(client, KeySpace.of('rp', 4), names)).rejects.toThrow('QUEUE_PARTITIONS is 4, but the queues were laid out for 1 partition and still hold 1 unfinished or failed job');
    await queue.obliterate({ force: true });
    await queue.close();
    await claimPartitions(client, KeySpace.of('rp', 4), names);
    expect(await client.get(metaKeys.partitions('rp'))).toBe('4');
  });

  it('reads keys of many partitions in one MGET on a single server', async () => {
    const keys = KeySpace.of('mg', 3);
    await client.set(markerKeys.delivered(keys.prefixes[2]!, 'd'), '1');
    expect(await mgetAcross(client, [markerKeys.delivered(keys.prefixes[0]!, 'd'), markerKeys.delivered(keys.prefixes[2]!, 'd')])).toEqual([null, '1']);
  });

  it('runs the pipeline with several partitions on a single server too: every key of an order under its partition', async () => {
    const config = fixtureConfig();
    const h = await PipelineHarness.start(config, redis.url, { prefix: 'sp', partitions: 3 });
    try {
      const ids = ['sp-1', 'sp-2', 'sp-3', 'sp-4', 'sp-5', 'sp-6'];
      expect(new Set(ids.map((id) => h.pipeline.keys.indexOf(id))).size).toBe(3);
      for (const id of ids) expect((await h.postOrder(orderPayload({ id }))).statusCode).toBe(202);
      const expected = ids.length * previewOrder(orderPayload({ id: 'sp-1' }), config).deliveries.length;
      await waitFor('every delivery', () => h.delivered().length === expected);
      expect(new Set(h.delivered().map((d) => d.deliveryId)).size).toBe(expected);
      // The record and the manifest (the intake planned these orders: they have no order job).
      for (const id of ids) expect(await client.exists(markerKeys.order(h.pipeline.keys.forOrder(id), id), markerKeys.manifest(h.pipeline.keys.forOrder(id), id))).toBe(2);
      const untagged = (await client.keys('sp:*')).filter((k) => !k.startsWith('sp:{'));
      expect(untagged.filter((k) => !k.startsWith('sp:ratelimit:'))).toEqual([metaKeys.partitions('sp')]);
    } finally {
      await h.stop();
    }
  });
});
