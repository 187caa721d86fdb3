import type { Config } from '../src/config/config';
import { planOrder } from '../src/planning/plan';
import { ingestOrder, parseJsonBody } from '../src/sources/ingest';
import { type BenchOutput, log, median, now, result } from './common';
import { benchConfig, rawOrders } from './orders';

/**
 * `preview`: orders/s through the pure core on one thread: parse the raw body
 * (`parseJsonBody`), ingest (scrub + validate), plan (split, carrier requests, POs), against
 * `JSON.parse` + `JSON.stringify` of the same raw bodies.
 */

const DISTINCT_ORDERS = 500;
const WARMUP_MS = 1000;
const WINDOW_MS = 2000;
const REPS = 5;

/** Keeps results alive so the work cannot be optimised away. */
let sink = 0;

function previewOne(raw: Buffer, config: Config): void {
  const event = ingestOrder(parseJsonBody(raw));
  const plan = planOrder(event.order, config);
  sink += plan.status === 'planned' ? plan.deliveries.length : 0;
}

function bareOne(raw: Buffer): void {
  sink += JSON.stringify(JSON.parse(raw.toString('utf8'))).length;
}

/** Ops/s of `fn` over the bodies, run in batches for `ms`. */
function rate(bodies: Buffer[], ms: number, fn: (raw: Buffer) => void): number {
  let ops = 0;
  const t0 = now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 50; i++) fn(bodies[(ops + i) % bodies.length]!);
    ops += 50;
    t = now();
  }
  return (ops / (t - t0)) * 1000;
}

export async function previewBench(): Promise<BenchOutput> {
  const config = benchConfig();
  const bodies = rawOrders(DISTINCT_ORDERS);
  const avgBytes = Math.round(bodies.reduce((n, b) => n + b.length, 0) / bodies.length);
  log(`[preview] ${DISTINCT_ORDERS} distinct synthetic orders (~${avgBytes} bytes of JSON each), ${REPS} × ${WINDOW_MS} ms windows after ${WARMUP_MS} ms warm-up`);
  // Check once that every body goes all the way through.
  for (const b of bodies) previewOne(b, config);
  rate(bodies, WARMUP_MS, (b) => previewOne(b, config));
  rate(bodies, WARMUP_MS / 2, bareOne);
  const core: number[] = [];
  const bare: number[] = [];
  for (let r = 0; r < REPS; r++) {
    bare.push(rate(bodies, WINDOW_MS / 2, bareOne));
    core.push(rate(bodies, WINDOW_MS, (b) => previewOne(b, config)));
    log(`[preview] round ${r + 1}: parse+ingest+plan ${Math.round(core[r]!)} orders/s, JSON.parse+stringify ${Math.round(bare[r]!)} orders/s`);
    // Let timers and GC breathe between windows.
    await new Promise((res) => setImmediate(res));
  }
  // Where the time goes, stage by stage (one window each, cumulative).
  const parsed = bodies.map((b) => parseJsonBody(b));
  const events = parsed.map((p) => ingestOrder(p));
  const us = (perS: number) => 1e6 / perS;
  const parseUs = us(rate(bodies, WINDOW_MS / 2, (b) => void (sink += parseJsonBody(b) ? 1 : 0)));
  let k = 0;
  const ingestUs = us(rate(bodies, WINDOW_MS / 2, () => void (sink += ingestOrder(parsed[k++ % parsed.length]).order.lines.length)));
  k = 0;
  const planUs = us(rate(bodies, WINDOW_MS / 2, () => {
    const plan = planOrder(events[k++ % events.length]!.order, config);
    sink += plan.status === 'planned' ? plan.deliveries.length : 0;
  }));
  log(`[preview] per order: parseJsonBody ${parseUs.toFixed(1)} µs, ingestOrder (scrub + validate) ${ingestUs.toFixed(1)} µs, planOrder ${planUs.toFixed(1)} µs`);
  if (sink === 0) log('[preview] (no output?)');
  const out = result(median(core), median(bare), 'orders/s');
  log(`[preview] median ${out.value} vs JSON.parse+stringify ${out.baseline} orders/s: ratio ${out.ratio} (higher is better; ${Math.round(1e6 / out.value)} µs per order)`);
  return { preview: out };
}
