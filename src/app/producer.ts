import type { Config } from '../config/config';
import { OrderIntake, type IntakeResult } from '../queue/intake';
import { createRedis } from '../queue/redis';
import type { DataCipher } from '../queue/sealing';
import { ingestCancellation, ingestOrder } from '../sources/ingest';
import type { CancelReason } from '../core/order';

export interface ProducerOptions {
  redisUrl: string;
  config: Pick<Config, 'store'>;
  /** The pipeline's data cipher (same key as its workers): orders are sealed before they reach Redis. */
  cipher: DataCipher;
  /** @defaultValue "dropship" */
  prefix?: string;
}

/** For in-process producers: submit store payloads straight to the pipeline's queue. */
export interface OrderProducer {
  /**
   * Scrubs, validates and enqueues one order payload. Throws `DropshipError` listing every
   * problem when it is not a valid order; resolves with `duplicate: true` for a repeat (and
   * `ignored` for an older version). With `replace`, it replaces the order accepted before
   * under its id (`dropship enqueue --replace`), as a newer version does.
   */
  submit(payload: unknown, options?: { source?: 'canonical' | 'shopify' | 'woocommerce'; eventId?: string; replace?: boolean }): Promise<IntakeResult>;
  /**
   * Cancels an order: voids its labels not yet used and sends each supplier that already
   * has its purchase order a cancellation; deliveries not yet made are not made. Throws
   * `DropshipError` when the id is not a valid order id.
   */
  cancel(orderId: string, options?: { reason?: CancelReason }): Promise<IntakeResult>;
  close(): Promise<void>;
}

export function createOrderProducer(options: ProducerOptions): OrderProducer {
  const redis = createRedis(options.redisUrl, { maxRetriesPerRequest: 3 });
  const { retention } = options.config.store;
  const intake = new OrderIntake(redis, { prefix: options.prefix ?? 'dropship', completedJobsMs: retention.completedJobsMs, dedupeMs: retention.dedupeMs, cipher: options.cipher });
  return {
    submit: (payload, opts = {}) => intake.submit(ingestOrder(payload, opts)),
    cancel: async (orderId, opts = {}) => {
      const event = ingestCancellation({ orderId, ...(opts.reason ? { reason: opts.reason } : {}) }, { source: 'canonical' });
      if (!event) throw new Error('unreachable: a canonical cancellation always names its order');
      return intake.cancel(event);
    },
    async close() {
      await intake.close();
      await redis.quit();
    },
  };
}
