import { Redis } from 'ioredis';
import { Queue, Worker } from 'bullmq';
import type { Config } from '../src/config/config';
import type { OrderEvent } from '../src/core/order';
import { planOrder, type PlannedDelivery } from '../src/planning/plan';
import { createRedis } from '../src/queue/redis';
import { deliveryTargets } from '../src/transports/factory';
import { type BenchOutput, log, median, now, result, round, withPrivateRedis, withTimeout } from './common';
import { BenchPipeline, type PipelineTuning } from './harness';
import { benchConfig, DELIVERIES_PER_ORDER, orderEvents } from './orders';
import { perUnit, startWindow, type RedisWindow } from './redis-stats';
import { shapeRound } from './shape';

/**
 * `pipeline`: delivery jobs/s from order event to every delivery done, through the real
 * queues (intake → order worker → per-recipient delivery workers → recorders), against bare
 * BullMQ no-op jobs with the same total worker concurrency on the same Redis.
 */

const ORDERS = Number(process.env.BENCH_PIPELINE_ORDERS ?? 1500);
const WARMUP_ORDERS = 300;
const REPS = Number(process.env.BENCH_PIPELINE_REPS ?? 5);
/** Events in flight at the intake at once (like concurrent webhook requests). */
const SUBMIT_CONCURRENCY = 64;
export const PIPELINE_TUNING: PipelineTuning = {
  orderConcurrency: Number(process.env.BENCH_ORDER_CONCURRENCY ?? 8),
  deliveryConcurrency: Number(process.env.BENCH_DELIVERY_CONCURRENCY ?? 4),
};

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

export interface Round {
  perSecond: number;
  ms: number;
  cpuMs: number;
  redis: RedisWindow;
  detail: string;
}

export async function pipelineRound(config: Config, url: string, prefix: string, events: OrderEvent[], tuning: PipelineTuning = PIPELINE_TUNING): Promise<Round> {
  const expected = events.length * DELIVERIES_PER_ORDER;
  let delivered = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  let doneAt = 0;
  const bench = await BenchPipeline.start(config, url, prefix, tuning, () => {
    if (++delivered === expected) {
      doneAt = now();
      resolveDone();
    }
  });
  try {
    const endWindow = await startWindow(bench.pipeline.redis);
    const cpu0 = process.cpuUsage();
    const t0 = now();
    await forEachLimited(events, SUBMIT_CONCURRENCY, (e) => bench.pipeline.intake.submit(e));
    const submittedAt = now();
    await withTimeout(`pipeline round (${expected} deliveries)`, done, 90_000);
    const ms = doneAt - t0;
    const cpu = process.cpuUsage(cpu0);
    const redis = await endWindow();
    if (bench.delivered() !== expected) throw new Error(`recorders hold ${bench.delivered()} deliveries, expected ${expected}`);
    return {
      perSecond: (expected / ms) * 1000,
      ms,
      cpuMs: (cpu.user + cpu.system) / 1000,
      redis,
      detail: `intake done at ${Math.round(submittedAt - t0)} ms`,
    };
  } finally {
    await bench.stop();
  }
}

export async function baselineRound(url: string, prefix: string, payloads: PlannedDelivery[], concurrency: number): Promise<Round> {
  // The bare library as users get it: plain ioredis connections, none of the pipeline's tuning.
  const queueConn = new Redis(url, { maxRetriesPerRequest: null });
  const workerConn = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue<PlannedDelivery>('noop', { connection: queueConn, prefix });
  let completed = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  let doneAt = 0;
  const worker = new Worker<PlannedDelivery>('noop', async () => ({ location: 'noop' }), { connection: workerConn, prefix, concurrency, autorun: false });
  worker.on('error', () => undefined);
  worker.on('completed', () => {
    if (++completed === payloads.length) {
      doneAt = now();
      resolveDone();
    }
  });
  void worker.run();
  await worker.waitUntilReady();
  try {
    const endWindow = await startWindow(queueConn);
    const cpu0 = process.cpuUsage();
    const t0 = now();
    await queue.addBulk(payloads.map((d) => ({ name: d.kind, data: d, opts: { removeOnComplete: { age: 3600 }, removeOnFail: false } })));
    const addedAt = now();
    await withTimeout(`baseline round (${payloads.length} jobs)`, done, 90_000);
    const ms = doneAt - t0;
    const cpu = process.cpuUsage(cpu0);
    return { perSecond: (payloads.length / ms) * 1000, ms, cpuMs: (cpu.user + cpu.system) / 1000, redis: await endWindow(), detail: `addBulk done at ${Math.round(addedAt - t0)} ms` };
  } finally {
    await worker.close();
    await queue.close();
    await Promise.all([queueConn.quit(), workerConn.quit()]);
  }
}

export function describe(label: string, r: Round, units: number): string {
  return (
    `${label}: ${Math.round(r.perSecond)} deliveries/s (${units} in ${Math.round(r.ms)} ms; ${r.detail}; ` +
    `node CPU ${Math.round(r.cpuMs)} ms = ${round((r.cpuMs / r.ms) * 100, 0)}% of a core; redis CPU ${Math.round(r.redis.cpuSeconds * 1000)} ms; ` +
    `redis commands/delivery ${(r.redis.totalCalls / units).toFixed(1)}: ${perUnit(r.redis, units)})`
  );
}

export async function pipelineBench(): Promise<BenchOutput> {
  const config = benchConfig();
  const targets = deliveryTargets(config);
  const totalConcurrency = targets.length * PIPELINE_TUNING.deliveryConcurrency!;
  log(`[pipeline] ${ORDERS} orders × ${DELIVERIES_PER_ORDER} deliveries per round, ${REPS} rounds; pipeline ${JSON.stringify(PIPELINE_TUNING)}, ${targets.length} delivery workers; baseline 1 worker × concurrency ${totalConcurrency}`);
  const warmEvents = orderEvents(WARMUP_ORDERS, 'W');
  const rounds = Array.from({ length: REPS }, (_, r) => orderEvents(ORDERS, `R${r}-`));
  const payloads = rounds.map((events) =>
    events.flatMap((e) => {
      const plan = planOrder(e.order, config);
      return plan.status === 'planned' ? plan.deliveries : [];
    }),
  );
  return withPrivateRedis('pipeline', async (url) => {
    const admin = createRedis(url);
    try {
      log('[pipeline] warm-up');
      await baselineRound(url, 'warm-base', payloads[0]!.slice(0, WARMUP_ORDERS * DELIVERIES_PER_ORDER), totalConcurrency);
      await pipelineRound(config, url, 'warm-pipe', warmEvents);
      await shapeRound(config, url, 'warm-shape', warmEvents, PIPELINE_TUNING, SUBMIT_CONCURRENCY);
      await admin.flushall();
      const pipe: number[] = [];
      const base: number[] = [];
      const shape: number[] = [];
      const pipeCpu: number[] = [];
      const baseCpu: number[] = [];
      // Redis's own counters (INFO commandstats, used_cpu_*), per delivery.
      const pipeCommands: number[] = [];
      const baseCommands: number[] = [];
      const pipeRedisUs: number[] = [];
      const baseRedisUs: number[] = [];
      for (let r = 0; r < REPS; r++) {
        const b = await baselineRound(url, `base${r}`, payloads[r]!, totalConcurrency);
        await admin.flushall();
        log(`[pipeline] round ${r + 1} ${describe('baseline', b, payloads[r]!.length)}`);
        const p = await pipelineRound(config, url, `pipe${r}`, rounds[r]!);
        await admin.flushall();
        log(`[pipeline] round ${r + 1} ${describe('pipeline', p, ORDERS * DELIVERIES_PER_ORDER)}`);
        const s = await shapeRound(config, url, `shape${r}`, rounds[r]!, PIPELINE_TUNING, SUBMIT_CONCURRENCY);
        await admin.flushall();
        log(`[pipeline] round ${r + 1} ${describe('queue shape, no work', s, ORDERS * DELIVERIES_PER_ORDER)}`);
        shape.push(s.perSecond);
        pipe.push(p.perSecond);
        base.push(b.perSecond);
        pipeCpu.push((p.cpuMs * 1000) / (ORDERS * DELIVERIES_PER_ORDER));
        baseCpu.push((b.cpuMs * 1000) / payloads[r]!.length);
        pipeCommands.push(p.redis.totalCalls / (ORDERS * DELIVERIES_PER_ORDER));
        baseCommands.push(b.redis.totalCalls / payloads[r]!.length);
        pipeRedisUs.push((p.redis.cpuSeconds * 1e6) / (ORDERS * DELIVERIES_PER_ORDER));
        baseRedisUs.push((b.redis.cpuSeconds * 1e6) / payloads[r]!.length);
      }
      const out = result(median(pipe), median(base), 'deliveries/s');
      log(`[pipeline] median ${out.value} vs bare BullMQ ${out.baseline} deliveries/s: ratio ${out.ratio} (higher is better)`);
      const ceiling = result(median(shape), median(base), 'deliveries/s');
      log(
        `[pipeline] the same queues, jobs and adds with no work (no planning, sealing, markers, ledger): median ${ceiling.value}/s, ratio ${ceiling.ratio}. ` +
          `That is the pipeline's ceiling with BullMQ as it uses it; the work it does per delivery takes the rest.`,
      );
      log(`[pipeline] median node CPU per delivery: pipeline ${Math.round(median(pipeCpu))} µs, bare BullMQ ${Math.round(median(baseCpu))} µs (the steadier signal when the machine is shared)`);
      // Lower is better for these two: the ratio is the pipeline's cost over a bare job's.
      const commands = result(median(pipeCommands), median(baseCommands), 'redis commands/delivery');
      const redisUs = result(median(pipeRedisUs), median(baseRedisUs), 'redis CPU µs/delivery');
      log(`[pipeline] Redis per delivery: ${commands.value} commands and ${redisUs.value} µs of its CPU, against ${commands.baseline} and ${redisUs.baseline} for a bare BullMQ job (ratios ${commands.ratio}, ${redisUs.ratio}; lower is better)`);
      return { pipeline: out, pipeline_shape: ceiling, pipeline_redis_commands: commands, pipeline_redis_us: redisUs };
    } finally {
      await admin.quit();
    }
  });
}
