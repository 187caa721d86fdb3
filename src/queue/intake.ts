import { type JobsOptions, Queue } from 'bullmq';
import type { CancelEvent, Order, OrderEvent, OrderEventSource } from '../core/order';
import { DropshipError } from '../errors';
import { type Durability, waitForReplicas } from './durability';
import { CANCEL_JOB, cancelJobId, markerKeys, ORDER_JOB, ORDERS_QUEUE, orderJobId } from './names';
import { acceptPlanned, acceptVersion, planQueued, type VersionVerdict } from './order-record';
import { type KeySpace, keySpaceOf } from './partitions';
import type { RedisClient } from './redis';
import { type DataCipher, sealJob, type SealedData } from './sealing';

/** An order job as queued: the source in clear, the order (names, addresses) sealed. */
export type OrderJobData = SealedData<{ source: OrderEventSource; orderId: string }>;

export interface IntakeResult {
  orderId: string;
  /** True when this order (or this source event) was already accepted before. */
  duplicate: boolean;
  /** Why a duplicate was not taken: a version older than the one already accepted. */
  ignored?: string;
  /** True when this version replaced one accepted before (it is planned again). */
  replaced?: true;
}

/** An order the intake planned itself ({@link IntakePlanner}). */
export interface PlannedAtIntake {
  /** The `OrderManifest`, as JSON. */
  manifest: string;
  /** The sealed fingerprint of what was planned (a later version is compared with it). */
  fingerprint: string;
  /** Adds its deliveries to their queues in `prefix` (under their ids: adding one again adds nothing). */
  queue(prefix: string): Promise<void>;
}

/**
 * Plans a new order in the intake's own process, when the pure core can decide it alone (it
 * ships, and plans cleanly): no order job then. Undefined leaves the order to the order worker.
 */
export interface IntakePlanner {
  plan(order: Order, acceptedAt: string): PlannedAtIntake | undefined;
  close(): Promise<void>;
}

/** The options of a job on the orders queue (an order, or its cancellation): kept when it fails, for replay. */
export function orderJobOptions(jobId: string, attempts: number, completedJobsMs: number): JobsOptions {
  return {
    jobId,
    attempts,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: Math.ceil(completedJobsMs / 1000) },
    removeOnFail: false,
  };
}

/**
 * How long intake waits for a running order job to finish before it gives up starting it
 * again. Planning takes milliseconds; a job running longer is stuck on a dead worker and runs
 * again when BullMQ finds it stalled, reading the newest version then. Short, because a
 * webhook's sender waits for the answer (Shopify gives up after 5 s).
 */
const ACTIVE_WAIT_MS = 3_000;

/**
 * How long an order planned here may wait for an order worker to plan it again, should this
 * process die before its deliveries are queued (workers look every 10 s for plans older than
 * 30 s): its sealed copy lives at least this long, whatever `completedJobs` says.
 */
export const PLAN_RECOVERY_MS = 120_000;

/**
 * The one way orders enter the queues (API, CLI and in-process producers all use it).
 * Only scrubbed, validated `OrderEvent`s reach it. The same order twice is one job: the
 * job id is the order id, and the order's record (src/queue/order-record.ts) keeps the
 * version accepted last, so a newer version replaces it and an older one is ignored.
 */
export class OrderIntake {
  /** The orders queue of each partition, in partition order. */
  readonly queues: ReadonlyArray<Queue<OrderJobData | CancelEvent>>;
  readonly keys: KeySpace;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: {
      /** The key prefix, or the partitioned key space (`QUEUE_PARTITIONS`). */
      prefix: string | KeySpace;
      completedJobsMs: number;
      dedupeMs: number;
      cipher: DataCipher;
      /**
       * On a Redis Cluster: an order is answered as accepted only once this many replicas of
       * its primary have it (`WAIT`); otherwise `ENOT_DURABLE`. Without it, no waiting.
       */
      durability?: Durability;
      /**
       * Plans new orders that simply ship here, with no order job (they are recorded as planned
       * and their deliveries added at once). Without it, every order goes to the order worker.
       */
      planner?: IntakePlanner;
      /** Told of each order the planner planned (a metric). */
      onPlanned?: () => void;
    },
  ) {
    this.keys = keySpaceOf(options.prefix);
    this.queues = this.keys.prefixes.map((prefix) => new Queue<OrderJobData | CancelEvent>(ORDERS_QUEUE, { connection: redis, prefix }));
  }

  /** The orders queue of the first partition: the only one, unless `QUEUE_PARTITIONS` is above 1. */
  get queue(): Queue<OrderJobData | CancelEvent> {
    return this.queues[0]!;
  }

  private queueFor(orderId: string): Queue<OrderJobData | CancelEvent> {
    return this.queues[this.keys.indexOf(orderId)]!;
  }

  /**
   * Resolves once the order's writes are on enough replicas (with {@link Durability}); throws
   * `ENOT_DURABLE` when they were not confirmed in time: the caller answers 503, not 202.
   */
  private async durable<T extends IntakeResult>(result: T): Promise<T> {
    const durability = this.options.durability;
    if (!durability) return result;
    const key = markerKeys.order(this.keys.forOrder(result.orderId), result.orderId);
    const confirmed = await waitForReplicas(this.redis, key, durability.replicas, durability.timeoutMs);
    if (confirmed < durability.replicas) {
      throw new DropshipError('ENOT_DURABLE', [], `order ${result.orderId}: ${confirmed} of ${durability.replicas} replicas confirmed it within ${durability.timeoutMs} ms`);
    }
    return result;
  }

  /**
   * Accepts an order's cancellation: one `cancel` job per order on the orders queue. It may
   * come before the order itself (webhooks arrive in any order); the order is then never
   * planned. A repeat (same source event, or the order already being cancelled) is a duplicate.
   */
  cancel(event: CancelEvent): Promise<IntakeResult> {
    // It may wait for an order worker's plan to land; a few quick retries cover a crash.
    return this.accept(event.source, event.orderId, CANCEL_JOB, event, cancelJobId(event.orderId), markerKeys.cancelled(this.keys.forOrder(event.orderId), event.orderId), 10);
  }

  /**
   * Accepts an order: the first version of it is queued; a newer one (Shopify `updated_at`,
   * WooCommerce `date_modified`, `replace`, or any re-post of a waiting order) replaces the
   * version accepted before and runs the order job again, which plans it (or holds it, if the
   * order had already gone out); the same version again is a duplicate, an older one ignored.
   */
  async submit(event: OrderEvent): Promise<IntakeResult> {
    return this.durable(await this.submitted(event));
  }

  private async submitted(event: OrderEvent): Promise<IntakeResult> {
    // Billing data is never sent anywhere and no worker reads it: it does not go to Redis.
    const { billTo: _billTo, ...order } = event.order;
    const orderId = order.id;
    // Every key and job of the order in its partition: one hash slot on a cluster.
    const prefix = this.keys.forOrder(orderId);
    // Sealed before it leaves this process: Redis, its dumps and the dashboard see ciphertext.
    const data: OrderJobData = sealJob(this.options.cipher, { source: event.source, order }, { source: event.source, orderId }, 'order');
    const eventKey = event.source.eventId ? markerKeys.eventSeen(prefix, event.source.kind, event.source.eventId) : undefined;
    // With the source's event, in the same round trip: whether the order is known already. A
    // store sends several events per order (Shopify: created, paid, updated); only a new one is
    // worth planning here (the script below decides in any case).
    let known = false;
    if (eventKey) {
      const [seenEvent, recorded] = await Promise.all([this.redis.exists(eventKey), this.redis.exists(markerKeys.order(prefix, orderId))]);
      if (seenEvent > 0) return { orderId, duplicate: true };
      known = recorded > 0;
    }
    const jobId = orderJobId(orderId);
    const jobKey = `${prefix}:${ORDERS_QUEUE}:${jobId}`;
    const offer = {
      ...(order.version !== undefined ? { version: order.version } : {}),
      replace: event.replace === true,
      sealed: data.sealed,
      ...(order.name !== undefined ? { name: order.name } : {}),
      // As long as the markers: a version must be recognised as long as its order is.
      ttlMs: this.options.dedupeMs,
    };
    let verdict: VersionVerdict;
    const planned = known ? undefined : this.planHere(order);
    if (planned) {
      const answer = await acceptPlanned(this.redis, prefix, orderId, jobKey, { ...offer, source: JSON.stringify(event.source) }, {
        fingerprint: planned.fingerprint,
        manifest: planned.manifest,
        // Until its deliveries are queued, the copy is what an order worker would plan the order
        // again from: it lives at least until the recovery can have run.
        copyTtlMs: Math.max(this.options.completedJobsMs, PLAN_RECOVERY_MS),
      });
      if (answer.planned) {
        // Recorded as planned, and listed as such until its deliveries are queued: if this
        // process dies in between, an order worker plans it again (and adds what is missing).
        await planned.queue(prefix);
        await planQueued(this.redis, prefix, orderId, this.options.dedupeMs, eventKey, this.options.completedJobsMs < PLAN_RECOVERY_MS ? this.options.completedJobsMs : undefined);
        this.options.onPlanned?.();
        return { orderId, duplicate: false };
      }
      verdict = answer.verdict;
    } else {
      verdict = await acceptVersion(this.redis, prefix, orderId, jobKey, offer);
    }
    if (verdict === 'same') return { orderId, duplicate: true };
    if (verdict === 'older') return { orderId, duplicate: true, ignored: 'an older version of the order than the one already accepted' };
    // A new order has no job yet (the record script found none): add it without looking.
    if (verdict === 'new') await this.queueFor(orderId).add(ORDER_JOB, data, orderJobOptions(jobId, 5, this.options.completedJobsMs));
    else await this.run(this.queueFor(orderId), jobId, data);
    // Set only once the job is safely queued: a crash before this line means the source's
    // retry is accepted again, and the record then calls it the same version.
    if (eventKey) await this.redis.set(eventKey, '1', 'PX', this.options.dedupeMs);
    return { orderId, duplicate: false, ...(verdict === 'newer' ? { replaced: true as const } : {}) };
  }

  /** The intake's own plan of a new order, when it can make one (a failure is the order worker's to report). */
  private planHere(order: Order): PlannedAtIntake | undefined {
    try {
      return this.options.planner?.plan(order, new Date().toISOString());
    } catch {
      return undefined;
    }
  }

  /**
   * Makes the order job run (again) for the version just accepted: added when there is none;
   * started again when it finished (planned, waiting, skipped) or failed (held); left as it
   * is when it has yet to run, since it reads the newest version when it does. A job running
   * now is waited for: if it finished with the version before, it runs again.
   */
  private async run(queue: Queue<OrderJobData | CancelEvent>, jobId: string, data: OrderJobData): Promise<void> {
    const until = Date.now() + ACTIVE_WAIT_MS;
    for (;;) {
      const job = await queue.getJob(jobId);
      if (!job) {
        await queue.add(ORDER_JOB, data, orderJobOptions(jobId, 5, this.options.completedJobsMs));
        return;
      }
      const state = await job.getState();
      if (state === 'completed' || state === 'failed') {
        try {
          // The job's own copy follows too, for the dashboard and for a worker that finds
          // the record without data (the version planned, its data already dropped).
          await job.updateData(data);
          await job.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
          return;
        } catch {
          // It moved on (another intake started it, or it was removed): look again.
          continue;
        }
      }
      if (state !== 'active' && state !== 'unknown') return;
      // Running: it may be finishing the version before. Removed meanwhile ('unknown'): add.
      if (state === 'active' && Date.now() > until) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Queues one job under its id unless the source event, the done marker or the job itself says it was seen. */
  private async accept(
    source: OrderEventSource,
    orderId: string,
    name: typeof ORDER_JOB | typeof CANCEL_JOB,
    data: OrderJobData | CancelEvent,
    jobId: string,
    doneKey: string,
    attempts: number,
  ): Promise<IntakeResult> {
    const prefix = this.keys.forOrder(orderId);
    const eventKey = source.eventId ? markerKeys.eventSeen(prefix, source.kind, source.eventId) : undefined;
    // One round trip: the source event seen, the order seen (or cancelled), or its job still present.
    const seen = await this.redis.exists(...(eventKey ? [eventKey] : []), doneKey, `${prefix}:${ORDERS_QUEUE}:${jobId}`);
    if (seen > 0) return this.durable({ orderId, duplicate: true });
    await this.queueFor(orderId).add(name, data, orderJobOptions(jobId, attempts, this.options.completedJobsMs));
    // Set only once the job is safely queued: a crash before this line means the source's
    // retry is accepted again, and the job id still prevents a second job.
    if (eventKey) await this.redis.set(eventKey, '1', 'PX', this.options.dedupeMs);
    return this.durable({ orderId, duplicate: false });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.map((q) => q.close()), this.options.planner?.close()]);
  }
}
