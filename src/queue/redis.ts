import { Redis, type RedisOptions } from 'ioredis';

/**
 * A connection for BullMQ: workers need `maxRetriesPerRequest: null` so blocking
 * commands survive reconnects instead of failing the worker.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...options });
  // Every connection (reconnects make a new socket) writes the commands of one tick in one
  // syscall: BullMQ sends several commands per job step, each its own write otherwise.
  redis.on('connect', () => corkPerTick(redis.stream));
  return redis;
}

const CORKED = Symbol('dropship.corkedPerTick');

/** Coalesces a socket's writes within one tick of the event loop; order and content unchanged. */
function corkPerTick(stream: NodeJS.WritableStream & { cork?: () => void; uncork?: () => void; [CORKED]?: true }): void {
  if (!stream || stream[CORKED] || typeof stream.cork !== 'function' || typeof stream.uncork !== 'function') return;
  stream[CORKED] = true;
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork!();
  };
  stream.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      stream.cork!();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as typeof stream.write;
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
