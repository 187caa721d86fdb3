import type { Config } from '../config/config';
import { OrderIntake, type IntakeResult } from '../queue/intake';
import { Cluster } from 'ioredis';
import { keySpaceFor } from '../queue/partitions';
import { createRedis } from '../queue/redis';
import { createIntakePlanner } from '../../workers/intake-planner';
import type { DataCipher } from '../queue/sealing';
import { ingestCancellation, ingestOrder } from '../sources/ingest';
import type { CancelReason } from '../core/order';

export interface ProducerOptions {
  /** A Redis URL, or a Redis Cluster's seed nodes (`clusterUrl`). */
  redisUrl: string;
  /** The pipeline's configuration: the producer plans the orders that simply ship itself, as the API does. */
  config: Config;
  /** The pipeline's data cipher (same key as its workers): orders are sealed before they reach Redis. */
  cipher: DataCipher;
  /** @defaultValue "dropship" */
  prefix?: string;
  /** `QUEUE_PARTITIONS`, when the pipeline has not recorded its count yet. @defaultValue the recorded count, else 1 */
  partitions?: number;
  /** On a cluster: how long to wait for a replica to have each order (`REDIS_WAIT_TIMEOUT`). @defaultValue 2 s */
  waitTimeoutMs?: number;
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
  // The partitions the pipeline runs with, read once from Redis on first use.
  let intake: Promise<OrderIntake> | undefined;
  const ready = () =>
    (intake ??= keySpaceFor(redis, options.prefix ?? 'dropship', options.partitions).then(
      (keys) =>
        new OrderIntake(redis, {
          prefix: keys,
          completedJobsMs: retention.completedJobsMs,
          dedupeMs: retention.dedupeMs,
          cipher: options.cipher,
          planner: createIntakePlanner({ connection: redis, config: options.config, cipher: options.cipher }),
          ...(redis instanceof Cluster ? { durability: { replicas: 1, timeoutMs: options.waitTimeoutMs ?? 2000 } } : {}),
        }),
    ));
  return {
    submit: async (payload, opts = {}) => {
      const event = ingestOrder(payload, opts);
      return (await ready()).submit(event);
    },
    cancel: async (orderId, opts = {}) => {
      const event = ingestCancellation({ orderId, ...(opts.reason ? { reason: opts.reason } : {}) }, { source: 'canonical' });
      if (!event) throw new Error('unreachable: a canonical cancellation always names its order');
      return (await ready()).cancel(event);
    },
    async close() {
      if (intake) await (await intake.catch(() => undefined))?.close();
      await redis.quit();
    },
  };
}
