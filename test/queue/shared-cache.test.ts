import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { redisSharedCache } from '../../src/queue/shared-cache';
import { TestRedis } from '../support/redis';

/** The SharedCache on a real redis-server: TTLs, set-if-absent and compare-and-delete. */

let server: TestRedis;
let redis: Redis;
beforeAll(async () => {
  server = await TestRedis.start();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

describe('redisSharedCache', () => {
  it('stores values under its prefix with their time to live', async () => {
    const prefix = `sc-${randomUUID()}`;
    const cache = redisSharedCache(redis, prefix);
    await cache.set('token', 'sealed-value', 60_000);
    expect(await cache.get('token')).toBe('sealed-value');
    expect(await redis.pttl(`${prefix}:cache:token`)).toBeGreaterThan(59_000);
    expect(await cache.get('missing')).toBeUndefined();
  });

  it('takes a lock once, and frees it only for the holder that took it', async () => {
    const cache = redisSharedCache(redis, `sc-${randomUUID()}`);
    expect(await cache.setIfAbsent('lock', 'holder-a', 60_000)).toBe(true);
    expect(await cache.setIfAbsent('lock', 'holder-b', 60_000)).toBe(false);
    await cache.deleteIf('lock', 'holder-b');
    expect(await cache.get('lock')).toBe('holder-a');
    await cache.deleteIf('lock', 'holder-a');
    expect(await cache.get('lock')).toBeUndefined();
    expect(await cache.setIfAbsent('lock', 'holder-b', 60_000)).toBe(true);
  });
});
