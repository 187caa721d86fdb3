import { type ConnectionOptions, type Queue, Worker } from 'bullmq';
import type { Config } from '../src/config/config';
import type { ConfirmationPickup, PickedFile } from '../src/loop/pickup';
import { PICKUP_JOB, PICKUPS_QUEUE } from '../src/queue/names';

/** A pickup job: the supplier whose folder to read. */
export interface PickupJobData {
  supplierId: string;
}

export interface PickupWorkerDeps {
  connection: ConnectionOptions;
  prefix: string;
  pickup: ConfirmationPickup;
  /** Suppliers picked up at once. @defaultValue 2 */
  concurrency?: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

/**
 * Picks up suppliers' confirmation files (src/loop/pickup.ts), one job per supplier and
 * schedule. A run that cannot reach the folder fails; the next schedule is its retry. The
 * files are claimed one by one in Redis, so two runs of the same supplier (two workers, a
 * stalled job run again) never take a file twice.
 */
export function createPickupWorker(deps: PickupWorkerDeps): Worker<PickupJobData, { files: PickedFile[] }> {
  return new Worker<PickupJobData, { files: PickedFile[] }>(
    PICKUPS_QUEUE,
    async (job) => {
      if (job.name !== PICKUP_JOB) return { files: [] };
      const { files } = await deps.pickup.run(job.data.supplierId);
      return { files };
    },
    {
      connection: deps.connection,
      prefix: deps.prefix,
      concurrency: deps.concurrency ?? 2,
      autorun: false,
      ...(deps.lockDurationMs ? { lockDuration: deps.lockDurationMs } : {}),
      ...(deps.stalledIntervalMs ? { stalledInterval: deps.stalledIntervalMs } : {}),
    },
  );
}

/**
 * One job scheduler per supplier with `confirmations.sftp` (its id the supplier's), every
 * `every`; the schedulers of suppliers no longer configured for it are removed.
 */
export async function schedulePickups(queue: Queue, config: Config): Promise<void> {
  const wanted = config.suppliers.filter((s) => s.confirmations?.sftp);
  for (const supplier of wanted) {
    await queue.upsertJobScheduler(
      supplier.id,
      { every: supplier.confirmations?.sftp?.everyMs as number },
      { name: PICKUP_JOB, data: { supplierId: supplier.id }, opts: { attempts: 1, removeOnComplete: 100, removeOnFail: 100 } },
    );
  }
  const ids = new Set(wanted.map((s) => s.id));
  for (const scheduler of await queue.getJobSchedulers(0, -1)) {
    if (!ids.has(scheduler.key)) await queue.removeJobScheduler(scheduler.key);
  }
}
