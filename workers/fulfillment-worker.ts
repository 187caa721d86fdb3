import { Worker, type ConnectionOptions } from 'bullmq';
import { DeliveryError, failureReason } from '../src/errors';
import { unrecoverable } from '../src/errors/unrecoverable';
import type { FulfillmentJobData, FulfillmentJobResult } from '../src/loop/fulfillments';
import type { LoopStore } from '../src/loop/record';
import { FULFILLMENTS_QUEUE, fulfillmentJobId } from '../src/queue/names';
import { backoffStrategy } from '../src/queue/retry';
import type { StorePlatform } from '../src/stores/store';

export interface FulfillmentWorkerDeps {
  connection: ConnectionOptions;
  prefix: string;
  store: StorePlatform;
  loop: LoopStore;
  concurrency?: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

/**
 * Tells the store what shipped: one job per shipment confirmed or label bought, its id the
 * platform's idempotency handle (`fulfillmentId`), so a job run again after its worker died
 * finds the fulfillment it made instead of making another. The store's answer is recorded in
 * the order's loop (the timeline's "fulfilled"). Failures retry as the catalogue says, no
 * sooner than the store asked (Shopify's cost throttle, Retry-After).
 */
export function createFulfillmentWorker(deps: FulfillmentWorkerDeps): Worker<FulfillmentJobData, FulfillmentJobResult> {
  return new Worker<FulfillmentJobData, FulfillmentJobResult>(
    FULFILLMENTS_QUEUE,
    async (job) => {
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
          if (!err.message.startsWith(`${err.code}: `)) err.message = failureReason(err.code, err.message);
          throw err;
        }
        // No cause attached: an unknown error's details stay out of Redis.
        // eslint-disable-next-line preserve-caught-error
        throw new Error(failureReason('EINTERNAL', `the store platform client failed: ${err instanceof Error ? err.name : typeof err}`));
      }
      const entry = {
        at: new Date().toISOString(),
        ...(result.storeFulfillmentId ? { storeFulfillmentId: result.storeFulfillmentId } : {}),
        ...(result.alreadyFulfilled ? { alreadyFulfilled: true } : {}),
      };
      await deps.loop.fulfilled(d.orderId, d.event, entry);
      return { ...(result.storeFulfillmentId ? { storeFulfillmentId: result.storeFulfillmentId } : {}), ...(result.alreadyFulfilled ? { alreadyFulfilled: true } : {}) };
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
