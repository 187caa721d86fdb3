import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../src/config/config';
import type { OrderEvent } from '../src/domain/order';
import { planOrder, type PlannedDelivery } from '../src/domain/plan';
import { deliveryQueueName, markerKeys, ORDERS_QUEUE } from '../src/queue/names';
import { deliveryJobOptions } from '../src/queue/retry';

export interface OrderWorkerDeps {
  connection: Redis;
  prefix: string;
  config: Config;
  concurrency?: number;
}

/** What an order job leaves behind when done: ids only, no personal data. */
export interface OrderJobResult {
  deliveries: string[];
}

/**
 * Thin order worker: plan the order (pure core), then hand every delivery to its
 * recipient's queue under its deterministic id, so a re-run after a crash adds nothing
 * twice. A held order fails permanently with its reasons and stays for replay.
 */
export function createOrderWorker(deps: OrderWorkerDeps): Worker<OrderEvent, OrderJobResult> {
  const { connection, prefix, config } = deps;
  const queues = new Map<string, Queue<PlannedDelivery>>();
  const queueFor = (name: string) => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue<PlannedDelivery>(name, { connection, prefix });
      queues.set(name, q);
    }
    return q;
  };

  const worker = new Worker<OrderEvent, OrderJobResult>(
    ORDERS_QUEUE,
    async (job) => {
      const plan = planOrder(job.data.order, config);
      if (plan.status === 'held') {
        throw new UnrecoverableError(`held: ${plan.reasons.map((r) => `${r.code} ${r.message}`).join('; ')}`);
      }
      const byQueue = new Map<string, PlannedDelivery[]>();
      for (const d of plan.deliveries) {
        const name = deliveryQueueName(d.kind, d.recipient);
        byQueue.set(name, [...(byQueue.get(name) ?? []), d]);
      }
      await Promise.all(
        [...byQueue].map(([name, deliveries]) =>
          queueFor(name).addBulk(
            deliveries.map((d) => ({ name: d.kind, data: d, opts: deliveryJobOptions(d, config) })),
          ),
        ),
      );
      await connection.set(markerKeys.orderSeen(prefix, plan.orderId), '1', 'PX', config.store.retention.dedupeMs);
      return { deliveries: plan.deliveries.map((d) => d.deliveryId) };
    },
    { connection, prefix, concurrency: deps.concurrency ?? 8, autorun: false },
  );
  worker.on('closed', () => {
    void Promise.all([...queues.values()].map((q) => q.close()));
  });
  return worker;
}
