import { FlowProducer, UnrecoverableError, Worker, type FlowJob } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../src/config/config';
import type { Order, OrderEvent } from '../src/domain/order';
import { splitOrder } from '../src/domain/split';
import { formatById } from '../src/formats';
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
 * The flows of one order: a purchase order whose label the retailer buys is the parent of
 * its carrier request (it runs once the label is bought); everything else stands alone.
 */
function flowsOf(deliveries: PlannedDelivery[], config: Config): FlowJob[] {
  const job = (d: PlannedDelivery) => ({
    name: d.kind,
    queueName: deliveryQueueName(d.kind, d.recipient),
    data: d,
    opts: deliveryJobOptions(d, config),
  });
  const carriers = new Map(deliveries.filter((d) => d.kind === 'carrier').map((d) => [d.deliveryId, d]));
  const flows: FlowJob[] = [];
  for (const d of deliveries) {
    if (d.kind === 'carrier') continue;
    const carrier = d.awaitsLabel ? carriers.get(d.awaitsLabel.carrierDeliveryId) : undefined;
    if (carrier) {
      carriers.delete(carrier.deliveryId);
      flows.push({ ...job(d), children: [job(carrier)] });
    } else {
      flows.push(job(d));
    }
  }
  for (const c of carriers.values()) flows.push(job(c));
  return flows;
}

/** X12 control numbers wrap after nine digits (ISA13). */
const MAX_CONTROL_NUMBER = 999_999_999;

/**
 * The next control number of each supplier in this order whose format needs one, from a
 * counter in Redis: atomic across workers and kept across restarts. A re-run of the order
 * takes new numbers, but its deliveries keep the ids (and bodies) of the first run.
 */
async function allocateControlNumbers(connection: Redis, prefix: string, config: Config, order: Order): Promise<Record<string, number>> {
  const split = splitOrder(order, config);
  const ids = [...new Set((split.shipments ?? []).filter((s) => s.origin.kind === 'supplier').map((s) => s.origin.id))].filter((id) => {
    const supplier = config.suppliers.find((x) => x.id === id);
    return supplier !== undefined && formatById(supplier.format)?.needsControlNumber === true;
  });
  const numbers: Record<string, number> = {};
  for (const id of ids) {
    const n = await connection.incr(markerKeys.controlNumber(prefix, id));
    numbers[id] = ((n - 1) % MAX_CONTROL_NUMBER) + 1;
  }
  return numbers;
}

/**
 * Thin order worker: plan the order (pure core), then hand every delivery to its
 * recipient's queue under its deterministic id, in one round trip, so a re-run after a
 * crash adds nothing twice. A held order fails permanently with its reasons and stays for
 * replay.
 */
export function createOrderWorker(deps: OrderWorkerDeps): Worker<OrderEvent, OrderJobResult> {
  const { connection, prefix, config } = deps;
  const flows = new FlowProducer({ connection, prefix });

  const worker = new Worker<OrderEvent, OrderJobResult>(
    ORDERS_QUEUE,
    async (job) => {
      const order = job.data.order;
      const plan = planOrder(order, config, {
        now: new Date(job.timestamp).toISOString(),
        deferLabelledBodies: true,
        controlNumbers: await allocateControlNumbers(connection, prefix, config, order),
      });
      if (plan.status === 'held') {
        throw new UnrecoverableError(`held: ${plan.reasons.map((r) => `${r.code} ${r.message}`).join('; ')}`);
      }
      // Deliveries that already landed (this order replayed after its jobs were removed)
      // are not added again.
      const delivered = await connection.mget(...plan.deliveries.map((d) => markerKeys.delivered(prefix, d.deliveryId)));
      const pending = plan.deliveries.filter((_, i) => delivered[i] === null);
      if (pending.length > 0) await flows.addBulk(flowsOf(pending, config));
      await connection.set(markerKeys.orderSeen(prefix, plan.orderId), '1', 'PX', config.store.retention.dedupeMs);
      return { deliveries: plan.deliveries.map((d) => d.deliveryId) };
    },
    { connection, prefix, concurrency: deps.concurrency ?? 8, autorun: false },
  );
  worker.on('closed', () => {
    void flows.close();
  });
  return worker;
}
