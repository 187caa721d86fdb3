import type { Redis } from 'ioredis';
import type { SharedCache } from '../transports/transport';

/** `SharedCache` on Redis, under `<prefix>:cache:`. */
export function redisSharedCache(redis: Redis, prefix: string): SharedCache {
  const k = (key: string) => `${prefix}:cache:${key}`;
  return {
    async get(key) {
      return (await redis.get(k(key))) ?? undefined;
    },
    async set(key, value, ttlMs) {
      await redis.set(k(key), value, 'PX', Math.max(1, Math.round(ttlMs)));
    },
    async setIfAbsent(key, value, ttlMs) {
      return (await redis.set(k(key), value, 'PX', Math.max(1, Math.round(ttlMs)), 'NX')) === 'OK';
    },
    async delete(key) {
      await redis.del(k(key));
    },
  };
}
