import type { Redis } from 'ioredis';

/** Redis-side cost of a measured window: commands by name and server CPU seconds. */
export interface RedisWindow {
  calls: Map<string, number>;
  totalCalls: number;
  cpuSeconds: number;
}

async function cpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return get('used_cpu_user') + get('used_cpu_sys');
}

async function commandstats(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const calls = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1]!, Number(m[2]));
  return calls;
}

/** Starts a window: resets command stats, remembers server CPU. */
export async function startWindow(redis: Redis): Promise<() => Promise<RedisWindow>> {
  await redis.config('RESETSTAT');
  const cpuBefore = await cpu(redis);
  return async () => {
    const calls = await commandstats(redis);
    // The INFO/CONFIG calls of this helper are not the workload.
    for (const k of ['info', 'config|resetstat', 'config']) calls.delete(k);
    const totalCalls = [...calls.values()].reduce((a, b) => a + b, 0);
    return { calls, totalCalls, cpuSeconds: (await cpu(redis)) - cpuBefore };
  };
}

/** `evalsha 3.0, exists 1.0, ...` per unit of work, biggest first. */
export function perUnit(window: RedisWindow, units: number, top = 8): string {
  return [...window.calls]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${k} ${(v / units).toFixed(2)}`)
    .join(', ');
}
