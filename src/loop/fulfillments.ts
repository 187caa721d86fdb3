import type { Queue } from 'bullmq';
import type { FulfilledEntry } from './record';
import { FULFIL_JOB, fulfillmentJobId } from '../queue/names';
import { BACKOFF_TYPE } from '../queue/retry';
import type { FulfillmentResult } from '../stores/store';

/**
 * A fulfillment to tell the store about: one per shipment confirmed by a supplier or label
 * the store bought, as a durable job whose id is deterministic (the shipment and the number
 * of the event it tells of), so a confirmation applied twice, or a job added again after a
 * crash, is one job. Ids, quantities, carrier and tracking only.
 */
export interface FulfillmentJobData {
  orderId: string;
  shipmentId: string;
  /** The loop event it tells the store of (its number). */
  event: number;
  /** Shipper (supplier or warehouse id), for logs and metrics. */
  shipper: string;
  storeOrderId: string;
  lines: Array<{ storeLineId: string; quantity: number }>;
  tracking: { company: string; numbers: string[]; url?: string };
  /** Every line of the order that ships has shipped. */
  orderComplete: boolean;
  /**
   * The store's throttle so far (written by the fulfillment worker): how many times it made
   * this job wait, and for how long in all. Those waits use none of the job's attempts, up to
   * the worker's bound.
   */
  throttled?: { waits: number; waitedMs: number };
}

/** What a fulfillment job leaves: the store's ids, nothing personal. */
export interface FulfillmentJobResult {
  storeFulfillmentId?: string;
  alreadyFulfilled?: boolean;
  shortLines?: FulfillmentResult['shortLines'];
}

/**
 * The store's answer as the order's loop keeps it (`fulfilled:<n>`, beside the event it
 * answers). A partial fulfillment (the store had fewer of some lines left than shipped, the
 * rest fulfilled there already) carries its short lines, the units this fulfillment holds of
 * those asked, and a sentence saying so.
 */
export interface FulfilledRecord extends FulfilledEntry {
  /** Lines the store took fewer of than shipped (store line ids, as asked and as fulfilled). */
  shortLines?: Array<{ storeLineId: string; requested: number; fulfilled: number }>;
}

/** What the loop records of the store's answer to a fulfillment of `lines`. */
export function fulfilledRecord(result: FulfillmentResult, lines: FulfillmentJobData['lines'], at: string): FulfilledRecord {
  const record: FulfilledRecord = {
    at,
    ...(result.storeFulfillmentId ? { storeFulfillmentId: result.storeFulfillmentId } : {}),
    ...(result.alreadyFulfilled ? { alreadyFulfilled: true } : {}),
  };
  const short = (result.shortLines ?? []).filter((l) => l.fulfilled < l.requested);
  if (short.length === 0) return record;
  const requested = lines.reduce((n, l) => n + l.quantity, 0);
  const missing = short.reduce((n, l) => n + (l.requested - Math.max(0, l.fulfilled)), 0);
  const fulfilled = Math.max(0, requested - missing);
  const each = short.map((l) => `line ${l.storeLineId}: ${Math.max(0, l.fulfilled)} of ${l.requested}`).join(', ');
  return {
    ...record,
    shortLines: short.map((l) => ({ storeLineId: l.storeLineId, requested: l.requested, fulfilled: Math.max(0, l.fulfilled) })),
    partial: { fulfilled, requested },
    detail: `fulfilled in part: ${fulfilled} of ${requested} units; the store had the rest fulfilled already (${each})`,
  };
}

/** Adds the fulfillment job (a no-op when a job with its id exists). */
export async function enqueueFulfillment(queue: Queue<FulfillmentJobData, FulfillmentJobResult>, data: FulfillmentJobData, retry: { attempts: number; backoffMs: number }): Promise<string> {
  const jobId = fulfillmentJobId(data.shipmentId, data.event);
  await queue.add(FULFIL_JOB, data, {
    jobId,
    attempts: retry.attempts,
    backoff: { type: BACKOFF_TYPE, delay: retry.backoffMs },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: false,
    // The worker notes each wait the store's throttle imposed in the job's log; the last ones do.
    keepLogs: 50,
  });
  return jobId;
}
