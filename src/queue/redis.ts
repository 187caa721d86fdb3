import { Redis, type RedisOptions } from 'ioredis';

/**
 * A connection for BullMQ: workers need `maxRetriesPerRequest: null` so blocking
 * commands survive reconnects instead of failing the worker.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...options });
}

/**
 * BullMQ needs `maxmemory-policy noeviction`: any other policy can silently evict jobs.
 * Returns a warning to print, or undefined when the policy is right (or cannot be read,
 * e.g. on managed Redis where CONFIG is disabled).
 */
export async function evictionPolicyWarning(redis: Redis): Promise<string | undefined> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy && policy !== 'noeviction') {
      return `Redis maxmemory-policy is "${policy}"; set it to "noeviction" or Redis may evict queued orders`;
    }
  } catch {
    return undefined;
  }
  return undefined;
}
