import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedRedis } from '../src/queue/embedded-redis';

/** One entry of the output line (docs/benchmarks.md). */
export interface BenchResult {
  value: number;
  baseline: number;
  ratio: number;
  unit: string;
}

/** What a benchmark returns: one or more named entries. */
export type BenchOutput = Record<string, BenchResult>;

/** Progress and details: stderr only, stdout is reserved for the JSON line. */
export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function result(value: number, baseline: number, unit: string): BenchResult {
  return { value: round(value, 2), baseline: round(baseline, 2), ratio: round(value / baseline, 3), unit };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export const now = () => performance.now();

/**
 * A private redis-server for one benchmark: temp dir, no persistence, removed afterwards.
 * Never the shared Redis on 6379.
 */
export async function withPrivateRedis<T>(name: string, fn: (url: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `dropship-bench-${name}-`));
  const redis = await EmbeddedRedis.start({ dir, appendOnly: false });
  log(`[${name}] private redis-server on port ${redis.port} (dir ${dir})`);
  try {
    return await fn(redis.url);
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits until `done()` is true, checking every `everyMs`; throws after `timeoutMs`. */
export async function waitUntil(what: string, done: () => boolean, timeoutMs: number, everyMs = 2): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!done()) {
    if (now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** `promise`, or a rejection naming `what` after `ms` (the timer is cleared either way). */
export async function withTimeout<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
