import { type Job, type JobType, Queue } from 'bullmq';
import type { KeySpace } from '../queue/partitions';
import type { RedisClient } from '../queue/redis';

/**
 * One queue name across every partition (`QUEUE_PARTITIONS`), read as one queue: what
 * operators see. With one partition it is that partition's queue, unchanged.
 */
export class PartitionedQueue {
  /** The queue of each partition, in partition order. */
  readonly parts: readonly Queue[];

  constructor(
    readonly name: string,
    connection: RedisClient,
    private readonly keys: KeySpace,
  ) {
    this.parts = keys.prefixes.map((prefix) => {
      const q = new Queue(name, { connection, prefix });
      // Connection errors reach the caller as failed calls; printed here they would only repeat.
      q.on('error', () => undefined);
      return q;
    });
  }

  /** The queue of the partition an order is in. */
  of(orderId: string): Queue {
    return this.parts[this.keys.indexOf(orderId)]!;
  }

  /** The job under `id` in whichever partition holds it. */
  async getJob(id: string): Promise<Job | undefined> {
    for (const q of this.parts) {
      const job = await q.getJob(id);
      if (job) return job;
    }
    return undefined;
  }

  /** Jobs in `types`, the newest first (or oldest with `asc`), positions `start` to `end` across partitions. */
  async getJobs(types: JobType[], start = 0, end = -1, asc = false): Promise<Job[]> {
    if (this.parts.length === 1) return this.parts[0]!.getJobs(types, start, end, asc);
    const all = (await Promise.all(this.parts.map((q) => q.getJobs(types, 0, end, asc)))).flat();
    const at = (j: Job) => j.finishedOn ?? j.timestamp;
    all.sort((a, b) => (asc ? at(a) - at(b) : at(b) - at(a)));
    return all.slice(start, end < 0 ? undefined : end + 1);
  }

  getFailed(start = 0, end = -1): Promise<Job[]> {
    return this.getJobs(['failed'], start, end, false);
  }

  /** Jobs waiting or delayed, over the partitions (BullMQ's `count`). */
  async count(): Promise<number> {
    return (await Promise.all(this.parts.map((q) => q.count()))).reduce((a, b) => a + b, 0);
  }

  async getFailedCount(): Promise<number> {
    return (await Promise.all(this.parts.map((q) => q.getFailedCount()))).reduce((a, b) => a + b, 0);
  }

  /** Counts by state, summed over the partitions. */
  async getJobCounts(...types: JobType[]): Promise<Record<string, number>> {
    const sums: Record<string, number> = {};
    for (const counts of await Promise.all(this.parts.map((q) => q.getJobCounts(...types)))) {
      for (const [state, n] of Object.entries(counts)) sums[state] = (sums[state] ?? 0) + n;
    }
    return sums;
  }

  /** Removes up to `limit` jobs of `type` older than `grace` ms from each partition; returns their ids. */
  async clean(grace: number, limit: number, type: Parameters<Queue['clean']>[2]): Promise<string[]> {
    return (await Promise.all(this.parts.map((q) => q.clean(grace, limit, type)))).flat();
  }

  async close(): Promise<void> {
    await Promise.all(this.parts.map((q) => q.close()));
  }
}
