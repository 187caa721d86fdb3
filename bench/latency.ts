import { monitorEventLoopDelay, PerformanceObserver, constants as perf } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { Queue, Worker, type Job } from 'bullmq';
import type { OrderEvent } from '../src/core/order';
import { planOrder, type PlannedDelivery } from '../src/planning/plan';
import { deliveryTargets } from '../src/transports/factory';
import { type BenchOutput, log, now, percentile, result, round, sleep, waitUntil, withPrivateRedis } from './common';
import { BenchPipeline } from './harness';
import { benchConfig, DELIVERIES_PER_ORDER, orderEvents } from './orders';
import { PIPELINE_TUNING } from './pipeline';

/**
 * `latency`: p50/p99 ms from an event accepted (intake.submit resolved) to the last of its
 * deliveries completed, at a steady open-loop rate through the real pipeline; baseline the
 * same percentiles of a bare BullMQ add → completed round trip at the same rate.
 * Lower is better for both (ratio = value / baseline).
 */

/** Orders per second (the figure is defined at 200; lower rates show the pipeline below saturation). */
const RATE_PER_S = Number(process.env.BENCH_LATENCY_RATE ?? 200);
const WINDOW_S = Number(process.env.BENCH_LATENCY_SECONDS ?? 15);
const WARMUP_S = 2;

/**
 * Calls `start(i)` for i = 0..count-1 at `ratePerS`, open loop: on schedule, whether or not
 * earlier calls have finished (a late tick catches up at once, as arrivals would).
 */
async function paced(count: number, ratePerS: number, start: (i: number) => void): Promise<void> {
  const interval = 1000 / ratePerS;
  const t0 = now();
  let i = 0;
  while (i < count) {
    const due = Math.min(count, Math.floor((now() - t0) / interval) + 1);
    while (i < due) start(i++);
    if (i < count) await sleep(Math.max(0, t0 + i * interval - now()));
  }
}

interface Sample {
  latencies: number[];
  lateMs: number;
  /** p99 per second of the window (by acceptance time), to tell steady delay from episodes. */
  perSecondP99?: number[];
  /** What the process did per second of the window: GC pauses, the event loop's worst delay. */
  perSecondProcess?: string[];
  /** The window's event-loop delay and GC, in one line. */
  processSummary?: string;
}

/**
 * GC pauses (perf_hooks 'gc' entries) and event-loop delay over the measured window, by second
 * of it: a spike in a second's p99 with a long pause or loop delay in the same second is the
 * process's doing, not Redis's or the queue's.
 */
class ProcessWatch {
  private readonly gcs: Array<{ at: number; ms: number; major: boolean }> = [];
  private readonly observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      this.gcs.push({ at: e.startTime, ms: e.duration, major: kind === perf.NODE_PERFORMANCE_GC_MAJOR });
    }
  });
  private readonly perSecondDelay: number[] = [];
  private readonly loop = monitorEventLoopDelay({ resolution: 5 });
  private readonly whole = monitorEventLoopDelay({ resolution: 5 });
  private ticker: NodeJS.Timeout | undefined;
  private start = 0;

  begin(): void {
    this.start = now();
    this.observer.observe({ entryTypes: ['gc'] });
    this.loop.enable();
    this.whole.enable();
    this.ticker = setInterval(() => {
      this.perSecondDelay.push(this.loop.max / 1e6);
      this.loop.reset();
    }, 1000);
  }

  end(seconds: number): { perSecond: string[]; summary: string } {
    clearInterval(this.ticker);
    this.observer.disconnect();
    this.loop.disable();
    this.whole.disable();
    const perSecond = Array.from({ length: seconds }, (_, i) => {
      const inSecond = this.gcs.filter((g) => g.at >= this.start + i * 1000 && g.at < this.start + (i + 1) * 1000);
      const gcMs = inSecond.reduce((a, g) => a + g.ms, 0);
      const maxGc = Math.max(0, ...inSecond.map((g) => g.ms));
      const majors = inSecond.filter((g) => g.major).length;
      return `${i}s: GC ${inSecond.length} (${majors} major) ${round(gcMs, 1)} ms, longest ${round(maxGc, 1)} ms; loop delay max ${round(this.perSecondDelay[i] ?? Number.NaN, 1)} ms`;
    });
    const totalGc = this.gcs.reduce((a, g) => a + g.ms, 0);
    const longest = this.gcs.reduce((a, g) => Math.max(a, g.ms), 0);
    const summary =
      `GC ${this.gcs.length} pauses (${this.gcs.filter((g) => g.major).length} major), ${round(totalGc, 0)} ms in all, longest ${round(longest, 1)} ms; ` +
      `event-loop delay p50 ${round(this.whole.percentile(50) / 1e6, 1)} ms, p99 ${round(this.whole.percentile(99) / 1e6, 1)} ms, max ${round(this.whole.max / 1e6, 1)} ms`;
    return { perSecond, summary };
  }
}

export async function pipelineLatency(url: string, warm: OrderEvent[], measured: OrderEvent[]): Promise<Sample> {
  const config = benchConfig();
  const acceptedAt = new Map<string, number>();
  const remaining = new Map<string, number>();
  const latencies: number[] = [];
  const buckets: number[][] = [];
  let windowStart = 0;
  let finished = 0;
  const bench = await BenchPipeline.start(config, url, 'lat', PIPELINE_TUNING, () => undefined);
  let measuring = false;
  // Per queue, over the measured window: jobs, and ms spent waiting (added → taken) and running.
  const times = new Map<string, { n: number; waitMs: number; runMs: number; maxWaitMs: number }>();
  for (const w of bench.pipeline.workers) {
    w.on('completed', (job: Job) => {
      if (!measuring || job.processedOn === undefined || job.finishedOn === undefined) return;
      const t = times.get(w.name) ?? { n: 0, waitMs: 0, runMs: 0, maxWaitMs: 0 };
      const wait = job.processedOn - job.timestamp;
      t.n++;
      t.waitMs += wait;
      t.runMs += job.finishedOn - job.processedOn;
      t.maxWaitMs = Math.max(t.maxWaitMs, wait);
      times.set(w.name, t);
    });
  }
  for (const w of bench.pipeline.workers.slice(1)) {
    w.on('completed', (job: Job<PlannedDelivery>) => {
      const t = now();
      const orderId = job.data.orderId;
      const left = (remaining.get(orderId) ?? DELIVERIES_PER_ORDER) - 1;
      remaining.set(orderId, left);
      if (left > 0) return;
      finished++;
      const accepted = acceptedAt.get(orderId);
      if (measuring && accepted !== undefined) {
        latencies.push(t - accepted);
        const second = Math.max(0, Math.floor((accepted - windowStart) / 1000));
        (buckets[second] ??= []).push(t - accepted);
      }
    });
  }
  let errors = 0;
  const run = async (events: OrderEvent[]) => {
    finished = 0;
    const tStart = now();
    await paced(events.length, RATE_PER_S, (i) => {
      const e = events[i]!;
      bench.pipeline.intake.submit(e).then(
        () => acceptedAt.set(e.order.id, now()),
        () => errors++,
      );
    });
    const lateMs = now() - tStart - (events.length / RATE_PER_S) * 1000;
    await waitUntil('all orders delivered', () => finished === events.length, 60_000, 5);
    return lateMs;
  };
  try {
    await run(warm);
    measuring = true;
    windowStart = now();
    const watch = new ProcessWatch();
    watch.begin();
    const lateMs = await run(measured);
    const { perSecond, summary } = watch.end(Math.ceil(measured.length / RATE_PER_S));
    if (errors > 0) throw new Error(`${errors} submits failed`);
    const jobs = [...times].map(([name, t]) => `${name}: ${t.n} jobs, wait mean ${(t.waitMs / t.n).toFixed(1)} ms max ${t.maxWaitMs} ms, run mean ${(t.runMs / t.n).toFixed(1)} ms`).join(' | ');
    return { latencies, lateMs, perSecondP99: Array.from(buckets, (b) => round(percentile(b ?? [], 99), 1)), perSecondProcess: perSecond, processSummary: `${summary}; jobs ${jobs}` };
  } finally {
    await bench.stop();
  }
}

export async function bareLatency(url: string, payloads: PlannedDelivery[], warmCount: number, concurrency: number): Promise<Sample> {
  // The bare library as users get it: plain ioredis connections, none of the pipeline's tuning.
  const queueConn = new Redis(url, { maxRetriesPerRequest: null });
  const workerConn = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue<PlannedDelivery>('roundtrip', { connection: queueConn, prefix: 'bare' });
  const worker = new Worker<PlannedDelivery>('roundtrip', async () => ({ location: 'noop' }), { connection: workerConn, prefix: 'bare', concurrency, autorun: false });
  const addedAt = new Map<string, number>();
  const completedAt = new Map<string, number>();
  worker.on('error', () => undefined);
  worker.on('completed', (job: Job<PlannedDelivery>) => completedAt.set(job.id!, now()));
  void worker.run();
  await worker.waitUntilReady();
  let errors = 0;
  const run = async (list: PlannedDelivery[], idPrefix: string) => {
    const tStart = now();
    await paced(list.length, RATE_PER_S, (i) => {
      const id = `${idPrefix}${i}`;
      queue.add('noop', list[i]!, { jobId: id, removeOnComplete: { age: 3600 }, removeOnFail: false }).then(
        () => addedAt.set(id, now()),
        () => errors++,
      );
    });
    const lateMs = now() - tStart - (list.length / RATE_PER_S) * 1000;
    await waitUntil('all jobs completed', () => list.every((_, i) => completedAt.has(`${idPrefix}${i}`)), 60_000, 5);
    return lateMs;
  };
  try {
    await run(payloads.slice(0, warmCount), 'w');
    const measured = payloads.slice(warmCount);
    const lateMs = await run(measured, 'm');
    if (errors > 0) throw new Error(`${errors} adds failed`);
    const latencies = measured.map((_, i) => completedAt.get(`m${i}`)! - addedAt.get(`m${i}`)!);
    return { latencies, lateMs };
  } finally {
    await worker.close();
    await queue.close();
    await Promise.all([queueConn.quit(), workerConn.quit()]);
  }
}

function summary(label: string, s: Sample): string {
  const p = (q: number) => round(percentile(s.latencies, q), 2);
  return `${label}: ${s.latencies.length} samples, p50 ${p(50)} ms, p90 ${p(90)} ms, p99 ${p(99)} ms, max ${p(100)} ms (pacer ${Math.round(s.lateMs)} ms late overall)`;
}

export async function latencyBench(): Promise<BenchOutput> {
  const config = benchConfig();
  const warmN = WARMUP_S * RATE_PER_S;
  const measuredN = WINDOW_S * RATE_PER_S;
  const warm = orderEvents(warmN, 'LW');
  const measured = orderEvents(measuredN, 'LM');
  // The bare round trip carries real delivery payloads (one per order, same rate).
  const payloads = [...warm, ...measured].map((e) => {
    const plan = planOrder(e.order, config);
    if (plan.status !== 'planned') throw new Error(`order ${e.order.id} held`);
    return plan.deliveries[0]!;
  });
  const concurrency = deliveryTargets(config).length * PIPELINE_TUNING.deliveryConcurrency!;
  log(`[latency] ${RATE_PER_S} orders/s for ${WINDOW_S} s after ${WARMUP_S} s warm-up; pipeline ${JSON.stringify(PIPELINE_TUNING)}; bare BullMQ add→completed at ${RATE_PER_S} jobs/s, worker concurrency ${concurrency}`);
  return withPrivateRedis('latency', async (url) => {
    const bare = await bareLatency(url, payloads, warmN, concurrency);
    log(`[latency] ${summary('bare BullMQ add→completed', bare)}`);
    const pipe = await pipelineLatency(url, warm, measured);
    log(`[latency] ${summary('pipeline accepted→all 4 deliveries completed', pipe)}`);
    log(`[latency] pipeline p99 by second of the window (ms): ${pipe.perSecondP99?.join(' ')}`);
    log(`[latency] pipeline process over the window: ${pipe.processSummary}`);
    for (const line of pipe.perSecondProcess ?? []) log(`[latency]   ${line}`);
    const p50 = result(percentile(pipe.latencies, 50), percentile(bare.latencies, 50), 'ms');
    const p99 = result(percentile(pipe.latencies, 99), percentile(bare.latencies, 99), 'ms');
    log(`[latency] p50 ${p50.value} ms vs ${p50.baseline} ms bare (×${p50.ratio}); p99 ${p99.value} ms vs ${p99.baseline} ms bare (×${p99.ratio}); lower is better`);
    return { latency_p50: p50, latency_p99: p99 };
  });
}
