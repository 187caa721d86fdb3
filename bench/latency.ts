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

const RATE_PER_S = 200;
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
    const lateMs = await run(measured);
    if (errors > 0) throw new Error(`${errors} submits failed`);
    return { latencies, lateMs, perSecondP99: Array.from(buckets, (b) => round(percentile(b ?? [], 99), 1)) };
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
    const p50 = result(percentile(pipe.latencies, 50), percentile(bare.latencies, 50), 'ms');
    const p99 = result(percentile(pipe.latencies, 99), percentile(bare.latencies, 99), 'ms');
    log(`[latency] p50 ${p50.value} ms vs ${p50.baseline} ms bare (×${p50.ratio}); p99 ${p99.value} ms vs ${p99.baseline} ms bare (×${p99.ratio}); lower is better`);
    return { latency_p50: p50, latency_p99: p99 };
  });
}
