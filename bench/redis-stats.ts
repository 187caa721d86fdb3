import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from '../src/queue/redis';

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

/** The servers behind a connection: itself, or every primary of a cluster. */
function servers(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/** Starts a window: resets command stats, remembers server CPU (summed over a cluster's primaries). */
export async function startWindow(redis: RedisClient): Promise<() => Promise<RedisWindow>> {
  const end = await startWindows(redis);
  return async () => {
    const windows = await end();
    const calls = new Map<string, number>();
    const usec = new Map<string, number>();
    for (const w of windows) {
      for (const [k, v] of w.calls) calls.set(k, (calls.get(k) ?? 0) + v);
      for (const [k, v] of w.usec) usec.set(k, (usec.get(k) ?? 0) + v);
    }
    return { calls, usec, totalCalls: windows.reduce((a, w) => a + w.totalCalls, 0), cpuSeconds: windows.reduce((a, w) => a + w.cpuSeconds, 0) };
  };
}

/** A window per server (each primary of a cluster): what each one served. */
export async function startWindows(redis: RedisClient): Promise<() => Promise<Array<RedisWindow & { server: string }>>> {
  const all = servers(redis);
  await Promise.all(all.map((s) => s.config('RESETSTAT')));
  const cpuBefore = await Promise.all(all.map((s) => cpu(s)));
  return async () =>
    Promise.all(
      all.map(async (s, i) => {
        const { calls, usec } = await commandstats(s);
        // The INFO/CONFIG calls of this helper are not the workload.
        for (const k of ['info', 'config|resetstat', 'config']) {
          calls.delete(k);
          usec.delete(k);
        }
        const totalCalls = [...calls.values()].reduce((a, b) => a + b, 0);
        return { server: `${String(s.options.host)}:${String(s.options.port)}`, calls, usec, totalCalls, cpuSeconds: (await cpu(s)) - cpuBefore[i]! };
      }),
    );
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
