import type { RedisClient } from './redis';
import type { SharedCache } from '../transports/transport';
import { runScript } from './scripts';

/** Compare-and-delete: the key goes only while it holds ARGV[1]. */
const DELETE_IF = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/** `SharedCache` on Redis, under `<prefix>:cache:`. */
export function redisSharedCache(redis: RedisClient, prefix: string): SharedCache {
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
    async deleteIf(key, value) {
      await runScript(redis, DELETE_IF, 1, k(key), value);
    },
  };
}
