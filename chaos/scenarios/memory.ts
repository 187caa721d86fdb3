import { Queue } from 'bullmq';
import type { RedisClient as Redis } from '../../src/queue/redis';
import { parseDuration } from '../../src/core/duration';
import type { OrderProducer } from '../../src/app/producer';
import { Checks, log, MB, round, sleep, waitUntil, type ScenarioResult, type Size } from '../common';
import { ChaosEnvironment, chaosOrder, expectedDeliveries, PREFIX } from '../environment';
import { gcHookOptions, WorkerFleet } from '../processes';
import { queueReport, redisBreakdown, redisMemory } from '../queues';
import { submitPaced } from '../submit';
import { ReceiverTally } from '../tally';

/**
 * Scenario 5, "memory": the worker processes' Node heap and Redis's used_memory before and
 * after a long run of orders through the real receivers, and whether completed jobs (which
 * hold personal data) leave Redis on the schedule `retention.completedJobs` promises, both
 * while orders flow and once they stop.
 */

export interface MemorySize {
  warmup: number;
  orders: number;
  perSecond: number;
  workers: number;
  /** `retention.completedJobs` for the run (short, so that the schedule can be watched). */
  completedJobs: string;
  settleMs: number;
}

export const MEMORY: Record<Size, MemorySize> = {
  full: { warmup: 400, orders: 20_000, perSecond: 120, workers: 3, completedJobs: '30s', settleMs: 600_000 },
  quick: { warmup: 60, orders: 600, perSecond: 60, workers: 2, completedJobs: '4s', settleMs: 120_000 },
};

interface Snapshot {
  /** Node heap used per worker process after a full GC, MB. */
  heapMb: number[];
  rssMb: number[];
  redisUsedMb: number;
  redisKeys: number;
  completedJobs: number;
  /** Age in seconds of the oldest completed job still in Redis (0 when none). */
  oldestCompletedSeconds: number;
}

/** The oldest completed job's age over every queue, in seconds. */
async function oldestCompleted(queues: Queue[]): Promise<number> {
  let oldest = 0;
  const now = Date.now();
  for (const q of queues) {
    const [job] = await q.getJobs(['completed'], 0, 0, true);
    if (job?.finishedOn !== undefined) oldest = Math.max(oldest, (now - job.finishedOn) / 1000);
  }
  return round(oldest);
}

async function snapshot(fleet: WorkerFleet, client: Redis, queues: Queue[]): Promise<Snapshot> {
  // Live objects only: a full GC first (the workers run with the harness's gc hook).
  await Promise.all(fleet.running.map((p) => p.collectGarbage()));
  const metrics = await Promise.all(fleet.running.map((p) => p.metrics()));
  const memory = await redisMemory(client);
  let completed = 0;
  for (const q of queues) completed += await q.getCompletedCount();
  return {
    heapMb: metrics.map((m) => round((m.dropship_process_nodejs_heap_size_used_bytes ?? Number.NaN) / MB)),
    rssMb: metrics.map((m) => round((m.dropship_process_process_resident_memory_bytes ?? Number.NaN) / MB)),
    redisUsedMb: round(memory.usedMemory / MB, 2),
    redisKeys: memory.keys,
    completedJobs: completed,
    oldestCompletedSeconds: await oldestCompleted(queues),
  };
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

export async function memory(size: Size, _seed: number, override: Partial<MemorySize> = {}): Promise<ScenarioResult> {
  const s = { ...MEMORY[size], ...override };
  const started = Date.now();
  const checks = new Checks();
  const env = await ChaosEnvironment.start('memory');
  let fleet: WorkerFleet | undefined;
  let tally: ReceiverTally | undefined;
  let producer: OrderProducer | undefined;
  const client = env.client();
  let queues: Queue[] = [];
  try {
    env.applyDefaults({ completedJobs: s.completedJobs });
    const retentionMs = parseDuration(s.completedJobs) as number;
    const config = env.config();
    queues = env.queues(client, config);
    producer = env.producer(config);
    tally = new ReceiverTally(env.demo);
    tally.start(1000);
    fleet = new WorkerFleet(env.processEnv(gcHookOptions()), env.dir);
    await fleet.start(s.workers);

    const warmup = Array.from({ length: s.warmup }, (_, i) => chaosOrder('W', i));
    tally.expect(expectedDeliveries(warmup, config));
    await submitPaced(producer, warmup, { perSecond: s.perSecond });
    await waitUntil(() => tally!.allArrived, 60_000, 500);
    // Let the warm-up's completed jobs age out under traffic-free conditions, as "before".
    await sleep(retentionMs + 2000);
    const before = await snapshot(fleet, client, queues);
    log(`[memory] before: ${JSON.stringify(before)}`);

    const orders = Array.from({ length: s.orders }, (_, i) => chaosOrder('M', i));
    const expected = expectedDeliveries(orders, config);
    tally.expect(expected);
    log(`[memory] ${s.orders} orders (${expected.length} deliveries) at up to ${s.perSecond}/s; completed jobs kept ${s.completedJobs}`);
    const t0 = Date.now();
    let running = true;
    const samples: Array<{ at: number; completed: number; oldest: number; redisMb: number }> = [];
    const sampler = (async () => {
      while (running) {
        await sleep(Math.max(1000, retentionMs / 2));
        try {
          let completed = 0;
          for (const q of queues) completed += await q.getCompletedCount();
          const mem = await redisMemory(client);
          samples.push({ at: Date.now(), completed, oldest: await oldestCompleted(queues), redisMb: round(mem.usedMemory / MB, 2) });
        } catch {
          // a sample missed is not a failure
        }
      }
    })();
    const submission = await submitPaced(producer, orders, { perSecond: s.perSecond, concurrency: 16 });
    const settled = await waitUntil(() => tally!.allArrived, s.settleMs, 1000);
    const flowSeconds = (Date.now() - t0) / 1000;
    running = false;
    await sampler;
    const after = await snapshot(fleet, client, queues);
    log(`[memory] right after (${round(flowSeconds)} s): ${JSON.stringify(after)}`);
    // No more orders: completed jobs are due to leave within the retention (plus a margin).
    await sleep(retentionMs * 2 + 5000);
    const idle = await snapshot(fleet, client, queues);
    log(`[memory] after ${round((retentionMs * 2 + 5000) / 1000)} s without orders: ${JSON.stringify(idle)}`);
    const figures = tally.figures();
    const report = await queueReport(env, client);
    const breakdown = await redisBreakdown(client, PREFIX);

    // Under traffic, BullMQ trims old completed jobs whenever another job completes: the
    // oldest one seen while deliveries still flowed (until the last one landed, not only while
    // orders were submitted: on a busy machine that window can be shorter than one sample)
    // says whether the schedule held then.
    const whileFlowing = samples.filter((x) => x.at - t0 > retentionMs * 2 && x.at - t0 < flowSeconds * 1000);
    const oldestWhileFlowing = whileFlowing.length > 0 ? Math.max(...whileFlowing.map((x) => x.oldest)) : Number.NaN;
    const slack = 5;
    checks.add('every delivery landed', settled && figures.lost === 0 && figures.sftp.badContent === 0, `${figures.arrived}/${figures.expected} in ${round(flowSeconds)} s; failed jobs ${report.failed}`);
    checks.add(
      'completed jobs removed on schedule while orders flow',
      Number.isFinite(oldestWhileFlowing) && oldestWhileFlowing <= retentionMs / 1000 + slack,
      `oldest completed job seen while orders flowed: ${oldestWhileFlowing} s old (retention ${s.completedJobs})`,
    );
    checks.add(
      'completed jobs removed on schedule once orders stop',
      idle.completedJobs === 0 && idle.oldestCompletedSeconds <= retentionMs / 1000 + slack,
      `${idle.completedJobs} completed jobs (with their personal data) still in Redis ${round((retentionMs * 2 + 5000) / 1000)} s after the last order, the oldest ${idle.oldestCompletedSeconds} s old (retention ${s.completedJobs})`,
    );
    const heapGrowth = sum(idle.heapMb) / idle.heapMb.length - sum(before.heapMb) / before.heapMb.length;
    // A leak of even 1 KB per delivery would show as tens of MB here at full size.
    // After a full GC: 8 MB of slack for caches and pools, plus 128 bytes per delivery (a leak
    // of a single small object per delivery stays under it; one of a payload does not).
    const heapBudgetMb = 8 + (expected.length * 128) / MB;
    checks.add('worker heap back near where it started', heapGrowth <= heapBudgetMb, `mean heap per worker ${round(sum(before.heapMb) / before.heapMb.length)} MB before, ${round(sum(idle.heapMb) / idle.heapMb.length)} MB after (budget +${round(heapBudgetMb)} MB)`);
    const redisPerOrder = ((idle.redisUsedMb - before.redisUsedMb) * MB) / s.orders;
    checks.add('no worker died by itself', fleet.figures.unexpectedExits.length === 0, fleet.figures.unexpectedExits.join('; ') || 'none');

    return {
      name: 'memory',
      ok: checks.ok,
      seconds: round((Date.now() - started) / 1000),
      figures: {
        orders: s.orders,
        deliveries: figures.expected,
        workerProcesses: s.workers,
        flowSeconds: round(flowSeconds),
        deliveriesPerSecond: round(figures.expected / flowSeconds),
        submitErrors: Object.values(submission.errors).reduce((a, b) => a + b, 0),
        completedJobsRetention: s.completedJobs,
        before,
        afterRun: after,
        afterIdle: idle,
        heapGrowthMbPerWorker: round(heapGrowth),
        redisUsedMbGrowth: round(idle.redisUsedMb - before.redisUsedMb, 2),
        redisBytesRetainedPerOrder: Math.round(redisPerOrder),
        redisKeysByKind: breakdown,
        peakCompletedJobs: Math.max(0, ...samples.map((x) => x.completed)),
        peakRedisUsedMb: Math.max(0, ...samples.map((x) => x.redisMb)),
        oldestCompletedWhileFlowingSeconds: oldestWhileFlowing,
        lost: figures.lost,
      },
      checks: checks.list,
    };
  } finally {
    tally?.stop();
    await fleet?.stopAll(5000);
    await producer?.close().catch(() => undefined);
    await Promise.all(queues.map((q) => q.close()));
    client.disconnect();
    await env.stop();
  }
}
