import type { Queue } from 'bullmq';
import { FULFIL_JOB, fulfillmentJobId } from '../queue/names';
import { BACKOFF_TYPE } from '../queue/retry';

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
}

/** What a fulfillment job leaves: the store's ids, nothing personal. */
export interface FulfillmentJobResult {
  storeFulfillmentId?: string;
  alreadyFulfilled?: boolean;
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
  });
  return jobId;
}
