import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CancelEvent, OrderEvent, OrderEventSource } from '../core/order';
import { CANCEL_JOB, cancelJobId, markerKeys, ORDER_JOB, ORDERS_QUEUE, orderJobId } from './names';
import { type DataCipher, sealJob, type SealedData } from './sealing';

/** An order job as queued: the source in clear, the order (names, addresses) sealed. */
export type OrderJobData = SealedData<{ source: OrderEventSource; orderId: string }>;

export interface IntakeResult {
  orderId: string;
  /** True when this order (or this source event) was already accepted before. */
  duplicate: boolean;
}

/**
 * The one way orders enter the queues (API, CLI and in-process producers all use it).
 * Only scrubbed, validated `OrderEvent`s reach it. The same order twice is one job: the
 * job id is the order id while the job exists, and a marker set when it completes keeps
 * recognising it after the job itself is removed.
 */
export class OrderIntake {
  readonly queue: Queue<OrderJobData | CancelEvent>;

  constructor(
    private readonly redis: Redis,
    private readonly options: { prefix: string; completedJobsMs: number; dedupeMs: number; cipher: DataCipher },
  ) {
    this.queue = new Queue<OrderJobData | CancelEvent>(ORDERS_QUEUE, { connection: redis, prefix: options.prefix });
  }

  /**
   * Accepts an order's cancellation: one `cancel` job per order on the orders queue. It may
   * come before the order itself (webhooks arrive in any order); the order is then never
   * planned. A repeat (same source event, or the order already being cancelled) is a duplicate.
   */
  cancel(event: CancelEvent): Promise<IntakeResult> {
    // It may wait for an order worker's plan to land; a few quick retries cover a crash.
    return this.accept(event.source, event.orderId, CANCEL_JOB, event, cancelJobId(event.orderId), markerKeys.cancelled(this.options.prefix, event.orderId), 10);
  }

  submit(event: OrderEvent): Promise<IntakeResult> {
    // Billing data is never sent anywhere and no worker reads it: it does not go to Redis.
    const { billTo: _billTo, ...order } = event.order;
    const orderId = order.id;
    // Sealed before it leaves this process: Redis, its dumps and the dashboard see ciphertext.
    const data: OrderJobData = sealJob(this.options.cipher, { source: event.source, order }, { source: event.source, orderId }, 'order');
    return this.accept(event.source, orderId, ORDER_JOB, data, orderJobId(orderId), markerKeys.orderSeen(this.options.prefix, orderId), 5);
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
    const { prefix } = this.options;
    const eventKey = source.eventId ? markerKeys.eventSeen(prefix, source.kind, source.eventId) : undefined;
    // One round trip: the source event seen, the order seen (or cancelled), or its job still present.
    const seen = await this.redis.exists(...(eventKey ? [eventKey] : []), doneKey, `${prefix}:${ORDERS_QUEUE}:${jobId}`);
    if (seen > 0) return { orderId, duplicate: true };
    await this.queue.add(name, data, {
      jobId,
      attempts,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: Math.ceil(this.options.completedJobsMs / 1000) },
      removeOnFail: false,
    });
    // Set only once the job is safely queued: a crash before this line means the source's
    // retry is accepted again, and the job id still prevents a second job.
    if (eventKey) await this.redis.set(eventKey, '1', 'PX', this.options.dedupeMs);
    return { orderId, duplicate: false };
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
