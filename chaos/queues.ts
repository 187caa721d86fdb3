import type { Queue } from 'bullmq';
import type { RedisClient as Redis } from '../src/queue/redis';
import { markerKeys, orderJobId } from '../src/queue/names';
import { log, sleep } from './common';
import type { ChaosEnvironment } from './environment';
import type { ReceiverTally, TallyFigures } from './tally';

/** Job counts of every queue, and why failed jobs failed (reason → how many). */
export interface QueueReport {
  counts: Record<string, Record<string, number>>;
  /** Jobs not finished yet, over all queues (waiting, active, delayed, waiting for children, prioritized). */
  unfinished: number;
  failed: number;
  completed: number;
  failedReasons: Record<string, number>;
  /** Failed job ids (first few), for the log. */
  failedIds: string[];
  /** Unfinished jobs (first few): queue, id, state, attempts, and how long since it started or was added. */
  unfinishedIds: string[];
}

const UNFINISHED = ['waiting', 'active', 'delayed', 'waiting-children', 'prioritized'] as const;
const STATES = [...UNFINISHED, 'failed', 'completed'] as const;

/** Strips what varies between jobs (ports, ids, sizes) so that equal causes count together. */
function reasonKind(reason: string): string {
  return reason.replace(/\d+/g, 'N').slice(0, 160);
}

/** Reads every queue of the environment's configuration. */
export async function queueReport(env: ChaosEnvironment, connection?: Redis): Promise<QueueReport> {
  const client = connection ?? env.client();
  const queues: Queue[] = env.queues(client);
  try {
    const report: QueueReport = { counts: {}, unfinished: 0, failed: 0, completed: 0, failedReasons: {}, failedIds: [], unfinishedIds: [] };
    for (const q of queues) {
      const counts = (await q.getJobCounts(...STATES)) as Record<string, number>;
      // Partitions have a queue of each name: their counts add up.
      const sum = (report.counts[q.name] ??= {});
      for (const [state, n] of Object.entries(counts)) sum[state] = (sum[state] ?? 0) + n;
      report.unfinished += (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) + (counts['waiting-children'] ?? 0) + (counts.prioritized ?? 0);
      report.failed += counts.failed ?? 0;
      report.completed += counts.completed ?? 0;
      if (report.unfinishedIds.length < 20 && report.unfinished > 0) {
        for (const state of UNFINISHED) {
          if ((counts[state] ?? 0) === 0) continue;
          for (const job of await q.getJobs([state], 0, 9)) {
            const since = Math.round((Date.now() - (job.processedOn ?? job.timestamp)) / 1000);
            if (report.unfinishedIds.length < 20) report.unfinishedIds.push(`${q.qualifiedName}/${job.id ?? '?'} ${state}, ${job.attemptsMade} attempts, ${since} s`);
          }
        }
      }
      if ((counts.failed ?? 0) > 0) {
        for (const job of await q.getFailed(0, 199)) {
          const kind = reasonKind(job.failedReason ?? '(none)');
          report.failedReasons[kind] = (report.failedReasons[kind] ?? 0) + 1;
          if (report.failedIds.length < 20) report.failedIds.push(`${q.name}/${job.id ?? '?'}`);
        }
      }
    }
    return report;
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    if (connection === undefined) client.disconnect();
  }
}

/** Redis INFO fields as numbers (used_memory, used_memory_rss, ...), plus the key count. */
export async function redisMemory(client: Redis): Promise<{ usedMemory: number; usedMemoryRss: number; keys: number }> {
  const info = await client.info('memory');
  const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  return { usedMemory: field('used_memory'), usedMemoryRss: field('used_memory_rss'), keys: await client.dbsize() };
}

/** Keys and bytes (MEMORY USAGE) per kind of key: job data per queue, and each kind of marker. */
export async function redisBreakdown(client: Redis, prefix: string): Promise<Record<string, { keys: number; kb: number }>> {
  const out: Record<string, { keys: number; kb: number }> = {};
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const pipeline = client.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', '0');
    const sizes = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const parts = key.startsWith(`${prefix}:`) ? key.slice(prefix.length + 1).split(':') : ['(other)'];
      // `<queue>:<job id>` and `<queue>:<structure>` are BullMQ's; the rest are the pipeline's markers.
      const first = parts[0] ?? '';
      const kind = /^(orders|po-|carrier-)/.test(first) ? `queue ${first}` : first;
      const entry = (out[kind] ??= { keys: 0, kb: 0 });
      entry.keys += 1;
      entry.kb += Number(sizes[i]?.[1] ?? 0) / 1024;
    });
  } while (cursor !== '0');
  for (const entry of Object.values(out)) entry.kb = Math.round(entry.kb);
  return out;
}

/**
 * Waits until nothing is left to run: no job waiting, active, delayed or waiting for children,
 * twice in a row (a stalled job sits in `active` until another worker's stall check frees it).
 * Returns false when `timeoutMs` passes first.
 */
export async function waitForQuiet(env: ChaosEnvironment, timeoutMs: number, everyMs = 1000): Promise<boolean> {
  const client = env.client();
  try {
    const deadline = Date.now() + timeoutMs;
    let quietOnce = false;
    while (Date.now() < deadline) {
      const quiet = (await queueReport(env, client)).unfinished === 0;
      if (quiet && quietOnce) return true;
      quietOnce = quiet;
      await sleep(everyMs);
    }
    return false;
  } finally {
    client.disconnect();
  }
}

/** A run's deliveries once it settled: what the receivers got, what the queues hold, and what never arrived. */
export interface SettledRun {
  /** The queues went quiet within the time given. */
  settled: boolean;
  /** When they did (or the wait gave up), before the pause for late copies. */
  settledAt: number;
  figures: TallyFigures;
  queues: QueueReport;
  /** Delivery ids expected and not received. */
  missing: string[];
}

/**
 * Waits for the queues to go quiet, then `lateMs` more (a late duplicate, a stalled job run
 * again, lands within seconds), and counts: the tally's figures, the queues and what is
 * missing. Logs what is missing or failed when anything is.
 */
export async function settleAndCount(env: ChaosEnvironment, tally: ReceiverTally, name: string, settleMs: number, lateMs: number): Promise<SettledRun> {
  const settled = await waitForQuiet(env, settleMs);
  const settledAt = Date.now();
  await sleep(lateMs);
  const figures = tally.figures();
  const queues = await queueReport(env);
  const missing = tally.missing().map((d) => d.deliveryId);
  if (!settled || missing.length > 0) {
    log(`[${name}] ${settled ? 'settled' : 'not settled'}; missing ${missing.slice(0, 10).join(', ') || 'nothing'}; failed ${queues.failedIds.join(', ') || 'nothing'}; unfinished ${queues.unfinishedIds.join('; ') || 'nothing'}`);
    for (const line of await explainMissing(env, missing)) log(`[${name}] ${line}`);
  }
  return { settled, settledAt, figures, queues, missing };
}

/** The figures every run that counts duplicates reports about its deliveries. */
export function deliveryFigures({ figures, queues, missing }: Pick<SettledRun, 'figures' | 'queues' | 'missing'>): Record<string, unknown> {
  return {
    deliveries: figures.expected,
    lost: figures.lost,
    sftpDuplicateFiles: figures.sftp.duplicateFiles,
    droppableDuplicates: figures.droppableDuplicates,
    carrierDuplicateLabels: figures.undroppableDuplicates,
    failedJobs: queues.failed,
    failedReasons: queues.failedReasons,
    missing: missing.slice(0, 10),
    unfinishedJobs: queues.unfinished,
  };
}

/**
 * What Redis says of the orders of missing deliveries (the first few): the order's record (its
 * stage and versions, no data), whether it is still in the planning index, and the state of each
 * missing delivery's job. For the log of a run that lost something.
 */
async function explainMissing(env: ChaosEnvironment, missing: string[]): Promise<string[]> {
  const byOrder = new Map<string, string[]>();
  for (const id of missing) {
    const orderId = id.split('+')[0] ?? id;
    if (byOrder.size >= 5 && !byOrder.has(orderId)) continue;
    byOrder.set(orderId, [...(byOrder.get(orderId) ?? []), id]);
  }
  if (byOrder.size === 0) return [];
  const client = env.client();
  const queues = env.queues(client);
  try {
    const lines: string[] = [];
    for (const [orderId, deliveries] of byOrder) {
      const prefix = env.keys.forOrder(orderId);
      const record = await client.hgetall(markerKeys.order(prefix, orderId));
      const { data: _data, fingerprint: _fingerprint, ...fields } = record;
      const planning = await client.zscore(markerKeys.planning(prefix), orderId);
      const jobs: string[] = [];
      for (const q of queues.filter((queue) => queue.opts.prefix === prefix)) {
        for (const id of [...deliveries, orderJobId(orderId)]) {
          const state = await q.getJobState(id);
          if (state !== 'unknown') jobs.push(`${q.name}/${id} ${state}`);
        }
      }
      lines.push(`${orderId} (${prefix}): record ${JSON.stringify(fields)}; planning index ${planning ?? 'no'}; jobs ${jobs.join(', ') || 'none'}`);
    }
    return lines;
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    client.disconnect();
  }
}
