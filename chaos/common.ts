import type { OrderInput } from '../src/core/order';
/**
 * What every chaos scenario shares: sizes (full or quick), a seeded random source so a run
 * can be repeated, logging to stderr (stdout is kept for the one JSON line of figures),
 * waiting, and the shape of a scenario's result.
 */

/** Progress and details go to stderr: stdout carries only the final JSON line. */
export function log(message: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${message}\n`);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A small seeded generator (mulberry32): the same seed kills the same workers at the same
 * offsets, so a failing run can be repeated with `CHAOS_SEED`.
 */
export class Random {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

/** Polls `check` until it is true; false when `timeoutMs` passes first. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
}

/** Nearest-rank percentile (p in 0..100); NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function round(value: number, digits = 1): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export const MB = 1024 * 1024;

/** One target of a scenario, as stated in the issue, and whether this run met it. */
export interface Check {
  name: string;
  ok: boolean;
  /** The measured value(s) behind the verdict, in words. */
  detail: string;
}

/** Everything a scenario reports: its figures (numbers and short strings) and its checks. */
export interface ScenarioResult {
  name: string;
  ok: boolean;
  seconds: number;
  figures: Record<string, unknown>;
  checks: Check[];
}

/** Collects checks while a scenario runs. */
export class Checks {
  readonly list: Check[] = [];

  add(name: string, ok: boolean, detail: string): void {
    this.list.push({ name, ok, detail });
    log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  }

  get ok(): boolean {
    return this.list.every((c) => c.ok);
  }
}

/** Full size (the numbers) or the reduced size CI runs. */
export type Size = 'full' | 'quick';

/** `--quick` or `CHAOS_QUICK=1` selects the reduced size. */
export function sizeFrom(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Size {
  return argv.includes('--quick') || ['1', 'true', 'yes'].includes((env.CHAOS_QUICK ?? '').toLowerCase()) ? 'quick' : 'full';
}

/** `CHAOS_SEED`, else one derived from the clock (printed, so the run can be repeated). */
export function seedFrom(env: NodeJS.ProcessEnv = process.env): number {
  const given = Number(env.CHAOS_SEED);
  return Number.isInteger(given) && given > 0 ? given : (Date.now() % 2_147_483_647) + 1;
}

/** One POST /orders as the client saw it. */
export interface Post {
  orderId: string;
  startedAt: number;
  endedAt: number;
  status: number;
}

/** POSTs one order to the API at `base`: its status, or 0 when nothing answered (connection refused, timed out). */
export async function postOrder(base: string, order: OrderInput): Promise<number> {
  try {
    const res = await fetch(`${base}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(order), signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}
