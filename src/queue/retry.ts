import type { JobsOptions } from 'bullmq';
import type { Config } from '../config/config';
import type { PlannedDelivery } from '../planning/plan';
import { DeliveryError } from '../errors';

/** Carriers have no supplier file; their deliveries retry like this. */
export const CARRIER_RETRY = { attempts: 10, backoffMs: 30_000 };

/** Longest wait between two attempts, whatever the backoff doubles up to. */
const MAX_BACKOFF_MS = 6 * 3_600_000;

/** The BullMQ backoff type whose delays `backoffStrategy` computes. */
export const BACKOFF_TYPE = 'delivery';

/** Job options of a delivery: deterministic id, the recipient's retry policy, bounded retention. */
export function deliveryJobOptions(d: Pick<PlannedDelivery, 'deliveryId' | 'kind' | 'recipient'>, config: Config): JobsOptions {
  const supplier = d.kind === 'dropship' ? config.suppliers.find((s) => s.id === d.recipient) : undefined;
  const retry = supplier?.retry ?? CARRIER_RETRY;
  return {
    jobId: d.deliveryId,
    attempts: retry.attempts,
    backoff: { type: BACKOFF_TYPE, delay: retry.backoffMs },
    removeOnComplete: { age: Math.ceil(config.store.retention.completedJobsMs / 1000) },
    removeOnFail: false,
  };
}

/**
 * Delay before the next attempt: what the receiver asked for (Retry-After), else the
 * recipient's backoff doubled per attempt, capped.
 */
export function backoffStrategy(attemptsMade: number, _type?: string, err?: Error, job?: { opts?: JobsOptions }): number {
  if (err instanceof DeliveryError && err.retryAfterMs !== undefined) return err.retryAfterMs;
  const backoff = job?.opts?.backoff;
  const base = typeof backoff === 'object' && backoff.delay !== undefined ? backoff.delay : CARRIER_RETRY.backoffMs;
  return Math.min(MAX_BACKOFF_MS, base * 2 ** Math.max(0, attemptsMade - 1));
}
