import { Queue, Worker } from 'bullmq';
import type { RedisClient as Redis } from '../src/queue/redis';
import type { Config } from '../src/config/config';
import type { OrderEvent } from '../src/core/order';
import { planOrder } from '../src/planning/plan';
import { deliveryQueueName, ORDERS_QUEUE } from '../src/queue/names';
import { createRedis } from '../src/queue/redis';
import { createDataCipher, generateDataKey } from '../src/queue/sealing';
import { deliveryTargets } from '../src/transports/factory';
import { type DeliveryJobSpec, jobsOf, type PlannedJobData } from '../workers/delivery-queues';
import { now, withTimeout } from './common';
import type { PipelineTuning } from './harness';
import { startWindow } from './redis-stats';
import type { Round } from './pipeline';

/**
 * The pipeline's queue shape with none of its work: the same queues, workers, concurrency,
 * connections, job options and job data (the real sealed payloads, made before the clock
 * starts), and the same adds (per order, added as it is accepted, as the intake does for an
 * order that simply ships: its deliveries on their own queues, a purchase order waiting for its
 * label added by its carrier job when that completes; the orders worker runs idle, as it does
 * then). No planning, sealing,
 * markers, ledger or transport. What the pipeline can reach at best with BullMQ as it uses it.
 */
export async function shapeRound(config: Config, url: string, prefix: string, events: OrderEvent[], tuning: PipelineTuning, submitConcurrency: number): Promise<Round> {
  const cipher = createDataCipher(generateDataKey());
  const planned = new Map<string, DeliveryJobSpec[]>();
  for (const e of events) {
    const plan = planOrder(e.order, config, { deferLabelledBodies: true });
    if (plan.status !== 'planned') throw new Error(`bench order ${e.order.id} is held`);
    planned.set(e.order.id, jobsOf(plan.deliveries, config, cipher));
  }
  const expected = [...planned.values()].reduce((n, jobs) => n + jobs.reduce((m, j) => m + 1 + (j.data.next ? 1 : 0), 0), 0);
  const connections: Redis[] = [];
  const connection = () => {
    const c = createRedis(url);
    connections.push(c);
    return c;
  };
  const intakeConn = connection();
  const intake = new Queue(ORDERS_QUEUE, { connection: intakeConn, prefix });
  const orderConn = connection();
  const queues = new Map<string, Queue>();
  const queue = (name: string) => {
    let q = queues.get(name);
    if (!q) queues.set(name, (q = new Queue(name, { connection: orderConn, prefix })));
    return q;
  };
  const addDeliveries = async (orderId: string) => {
    await Promise.all(planned.get(orderId)!.map((j) => queue(j.queueName).add(j.name, j.data, j.opts)));
  };
  let done = 0;
  let doneAt = 0;
  let resolveDone: () => void = () => undefined;
  const allDone = new Promise<void>((r) => (resolveDone = r));
  const workers: Worker[] = [
    new Worker(
      ORDERS_QUEUE,
      async (job) => {
        await addDeliveries((job.data as { orderId: string }).orderId);
        return { deliveries: [] };
      },
      { connection: connection(), prefix, concurrency: tuning.orderConcurrency ?? 8, autorun: false },
    ),
  ];
  for (const target of deliveryTargets(config)) {
    const w = new Worker(
      deliveryQueueName(target.kind, target.recipient),
      async (job) => {
        // A carrier request adds the purchase order waiting for its label, as the real one does.
        const next = (job.data as PlannedJobData).next;
        if (next) await queue(next.queueName).add(next.name, next.data, next.opts);
        return { location: 'shape' };
      },
      { connection: connection(), prefix, concurrency: tuning.deliveryConcurrency ?? 4, autorun: false },
    );
    w.on('completed', () => {
      if (++done === expected) {
        doneAt = now();
        resolveDone();
      }
    });
    workers.push(w);
  }
  for (const w of workers) {
    w.on('error', () => undefined);
    void w.run();
    await w.waitUntilReady();
  }
  try {
    const endWindow = await startWindow(intakeConn);
    const cpu0 = process.cpuUsage();
    const t0 = now();
    let next = 0;
    const lane = async () => {
      while (next < events.length) {
        const id = events[next++]!.order.id;
        // The intake plans an order that simply ships itself: its deliveries are added as it is
        // accepted, with no order job (the orders worker below waits for the others).
        await addDeliveries(id);
      }
    };
    await Promise.all(Array.from({ length: Math.min(submitConcurrency, events.length) }, lane));
    const submittedAt = now();
    await withTimeout(`shape round (${expected} jobs)`, allDone, 90_000);
    const ms = doneAt - t0;
    const cpu = process.cpuUsage(cpu0);
    return { perSecond: (expected / ms) * 1000, ms, cpuMs: (cpu.user + cpu.system) / 1000, redis: await endWindow(), detail: `intake done at ${Math.round(submittedAt - t0)} ms` };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all([intake.close(), ...[...queues.values()].map((q) => q.close())]);
    await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
  }
}
