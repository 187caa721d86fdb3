import { DelayedError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { DeliveryError, failureReason } from '../src/errors';
import { unrecoverable } from '../src/errors/unrecoverable';
import { fulfilledRecord, type FulfillmentJobData, type FulfillmentJobResult } from '../src/loop/fulfillments';
import type { LoopStore } from '../src/loop/record';
import { FULFILLMENTS_QUEUE, fulfillmentJobId } from '../src/queue/names';
import { backoffStrategy } from '../src/queue/retry';
import type { StorePlatform } from '../src/stores/store';

/** How long the store's throttle may hold one fulfillment, in all, before its waits use attempts. @defaultValue 1 hour */
export const DEFAULT_MAX_FREE_THROTTLE_MS = 3_600_000;
/** Each wait counts at least this much toward the bound (a store asking for no pause at all still reaches it). */
const MIN_COUNTED_WAIT_MS = 1_000;
/** The wait after a throttle answer that names none (a 429 without Retry-After): doubled per wait, capped. */
const THROTTLE_WAIT_MS = 5_000;
const MAX_THROTTLE_WAIT_MS = 300_000;

/** One wait the store's throttle imposed on a fulfillment job. */
export interface ThrottleWait {
  jobId: string;
  orderId: string;
  platform: StorePlatform['id'];
  /** This wait. */
  waitMs: number;
  /** Waits so far on this job, this one included, and their time in all (free ones, each counted as at least 1 s). */
  waits: number;
  waitedMs: number;
  /** False: past the bound, this wait uses one of the job's attempts (and may fail it). */
  free: boolean;
}

export interface FulfillmentWorkerDeps {
  connection: ConnectionOptions;
  prefix: string;
  store: StorePlatform;
  loop: LoopStore;
  concurrency?: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /**
   * Time the store's throttle may hold one job, in all, without using its attempts (each wait
   * counted as at least 1 s, so at most one wait a second of it); past it a throttle answer is
   * an ordinary failed attempt (logged, counted, and in the end a failed job for an operator).
   * @defaultValue {@link DEFAULT_MAX_FREE_THROTTLE_MS}
   */
  maxFreeThrottleMs?: number;
  /** Told of every throttle wait (for logs and metrics). Ids and times only. */
  onThrottled?: (wait: ThrottleWait) => void;
}

/**
 * Tells the store what shipped: one job per shipment confirmed or label bought, its id the
 * platform's idempotency handle (`fulfillmentId`), so a job run again after its worker died
 * finds the fulfillment it made instead of making another. The store's answer is recorded in
 * the order's loop (the timeline's "fulfilled"; a partial fulfillment as such, with its short
 * lines). Failures retry as the catalogue says.
 *
 * The store's throttle (`ERATE_LIMITED`: Shopify's cost throttle, a 429 with or without
 * Retry-After) is not a failure: the job is moved to BullMQ's delayed set for the wait the
 * store asked (`job.moveToDelayed` + `DelayedError`, which uses no attempt), and the wait is
 * noted in the job's data (`throttled`) and log. So a busy store delays fulfillments and never
 * fails them, up to `maxFreeThrottleMs` of waiting per job: past that, a store that keeps
 * throttling is seen, as failed attempts and in the end a failed job.
 */
export function createFulfillmentWorker(deps: FulfillmentWorkerDeps): Worker<FulfillmentJobData, FulfillmentJobResult> {
  const maxFree = deps.maxFreeThrottleMs ?? DEFAULT_MAX_FREE_THROTTLE_MS;

  /** A throttle answer: waits in the delayed set without using an attempt (throws DelayedError), or returns when past the bound. */
  const throttled = async (job: Job<FulfillmentJobData, FulfillmentJobResult>, token: string | undefined, err: DeliveryError): Promise<void> => {
    const before = job.data.throttled ?? { waits: 0, waitedMs: 0 };
    const waitMs = err.retryAfterMs ?? Math.min(MAX_THROTTLE_WAIT_MS, THROTTLE_WAIT_MS * 2 ** Math.min(before.waits, 10));
    const counted = Math.max(waitMs, MIN_COUNTED_WAIT_MS);
    const free = token !== undefined && before.waitedMs + counted <= maxFree;
    const after = { waits: before.waits + 1, waitedMs: before.waitedMs + (free ? counted : 0) };
    deps.onThrottled?.({ jobId: job.id ?? '', orderId: job.data.orderId, platform: deps.store.id, waitMs, waits: after.waits, waitedMs: after.waitedMs, free });
    const said = `${new Date().toISOString()} ${err.code}: the store asked for a pause of ${waitMs} ms`;
    if (!free) {
      await job.log(`${said}; this job has waited ${Math.round(before.waitedMs / 1000)} s for the store's throttle already (at most ${Math.round(maxFree / 1000)} s go free): this wait uses an attempt`);
      return;
    }
    await job.updateData({ ...job.data, throttled: after });
    await job.log(`${said}; waiting without using an attempt (${after.waits} waits, ${Math.round(after.waitedMs / 1000)} s of ${Math.round(maxFree / 1000)} s)`);
    await job.moveToDelayed(Date.now() + waitMs, token);
    throw new DelayedError();
  };

  return new Worker<FulfillmentJobData, FulfillmentJobResult>(
    FULFILLMENTS_QUEUE,
    async (job, token) => {
      const d = job.data;
      let result;
      try {
        result = await deps.store.fulfil({
          fulfillmentId: fulfillmentJobId(d.shipmentId, d.event),
          orderId: d.orderId,
          storeOrderId: d.storeOrderId,
          lines: d.lines,
          tracking: d.tracking,
          orderComplete: d.orderComplete,
        });
      } catch (err) {
        if (err instanceof DeliveryError) {
          if (err.permanent) throw unrecoverable(err.code, err.message);
          if (err.code === 'ERATE_LIMITED') await throttled(job, token, err);
          if (!err.message.startsWith(`${err.code}: `)) err.message = failureReason(err.code, err.message);
          throw err;
        }
        // No cause attached: an unknown error's details stay out of Redis.
        // eslint-disable-next-line preserve-caught-error
        throw new Error(failureReason('EINTERNAL', `the store platform client failed: ${err instanceof Error ? err.name : typeof err}`));
      }
      const record = fulfilledRecord(result, d.lines, new Date().toISOString());
      await deps.loop.fulfilled(d.orderId, d.event, record);
      return {
        ...(record.storeFulfillmentId ? { storeFulfillmentId: record.storeFulfillmentId } : {}),
        ...(record.alreadyFulfilled ? { alreadyFulfilled: true } : {}),
        ...(record.shortLines ? { shortLines: record.shortLines } : {}),
      };
    },
    {
      connection: deps.connection,
      prefix: deps.prefix,
      concurrency: deps.concurrency ?? 4,
      autorun: false,
      maxStalledCount: 5,
      settings: { backoffStrategy },
      ...(deps.lockDurationMs ? { lockDuration: deps.lockDurationMs } : {}),
      ...(deps.stalledIntervalMs ? { stalledInterval: deps.stalledIntervalMs } : {}),
    },
  );
}
