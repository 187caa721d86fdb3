import type { Redis } from 'ioredis';

/** Redis-side cost of a measured window: commands by name and server CPU seconds. */
export interface RedisWindow {
  calls: Map<string, number>;
  /** Redis's own time in each command, µs (for a script: the whole script). */
  usec: Map<string, number>;
  totalCalls: number;
  cpuSeconds: number;
}

async function cpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return get('used_cpu_user') + get('used_cpu_sys');
}

async function commandstats(redis: Redis): Promise<{ calls: Map<string, number>; usec: Map<string, number> }> {
  const info = await redis.info('commandstats');
  const calls = new Map<string, number>();
  const usec = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    calls.set(m[1]!, Number(m[2]));
    usec.set(m[1]!, Number(m[3]));
  }
  return { calls, usec };
}

/** Starts a window: resets command stats, remembers server CPU. */
export async function startWindow(redis: Redis): Promise<() => Promise<RedisWindow>> {
  await redis.config('RESETSTAT');
  const cpuBefore = await cpu(redis);
  return async () => {
    const { calls, usec } = await commandstats(redis);
    // The INFO/CONFIG calls of this helper are not the workload.
    for (const k of ['info', 'config|resetstat', 'config']) {
      calls.delete(k);
      usec.delete(k);
    }
    const totalCalls = [...calls.values()].reduce((a, b) => a + b, 0);
    return { calls, usec, totalCalls, cpuSeconds: (await cpu(redis)) - cpuBefore };
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

/** `evalsha 120 µs, hset 10 µs, ...`: Redis's time in each command per unit of work, biggest first. */
export function usecPerUnit(window: RedisWindow, units: number, top = 6): string {
  return [...window.usec]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${k} ${Math.round(v / units)} µs`)
    .join(', ');
}
