import { FlowProducer, Queue, Worker, type FlowJob } from 'bullmq';
import type { RedisClient as Redis } from '../src/queue/redis';
import type { Config } from '../src/config/config';
import type { OrderEvent } from '../src/core/order';
import { planOrder } from '../src/planning/plan';
import { deliveryQueueName, ORDERS_QUEUE } from '../src/queue/names';
import { createRedis } from '../src/queue/redis';
import { createDataCipher, generateDataKey } from '../src/queue/sealing';
import { deliveryTargets } from '../src/transports/factory';
import { flowsOf } from '../workers/delivery-queues';
import { now, withTimeout } from './common';
import type { PipelineTuning } from './harness';
import { startWindow } from './redis-stats';
import type { Round } from './pipeline';

/**
 * The pipeline's queue shape with none of its work: the same queues, workers, concurrency,
 * connections, job options and job data (the real sealed payloads, made before the clock
 * starts), and the same adds (per order, added as it is accepted, as the intake does for an
 * order that simply ships: its deliveries on their own queues and a flow for a purchase order
 * waiting for its label; the orders worker runs idle, as it does then). No planning, sealing,
 * markers, ledger or transport. What the pipeline can reach at best with BullMQ as it uses it.
 */
export async function shapeRound(config: Config, url: string, prefix: string, events: OrderEvent[], tuning: PipelineTuning, submitConcurrency: number): Promise<Round> {
  const cipher = createDataCipher(generateDataKey());
  const planned = new Map<string, FlowJob[]>();
  for (const e of events) {
    const plan = planOrder(e.order, config, { deferLabelledBodies: true });
    if (plan.status !== 'planned') throw new Error(`bench order ${e.order.id} is held`);
    planned.set(e.order.id, flowsOf(plan.deliveries, config, cipher));
  }
  const parents = new Set([...planned.values()].flatMap((flows) => flows.filter((f) => f.children !== undefined).map((f) => f.opts?.jobId)));
  const expected = [...planned.values()].reduce((n, flows) => n + flows.reduce((m, f) => m + 1 + (f.children?.length ?? 0), 0), 0);
  const connections: Redis[] = [];
  const connection = () => {
    const c = createRedis(url);
    connections.push(c);
    return c;
  };
  const intakeConn = connection();
  const intake = new Queue(ORDERS_QUEUE, { connection: intakeConn, prefix });
  const orderConn = connection();
  const flows = new FlowProducer({ connection: orderConn, prefix });
  const queues = new Map<string, Queue>();
  const queue = (name: string) => {
    let q = queues.get(name);
    if (!q) queues.set(name, (q = new Queue(name, { connection: orderConn, prefix })));
    return q;
  };
  const addDeliveries = async (orderId: string) => {
    const all = planned.get(orderId)!;
    const trees = all.filter((f) => f.children !== undefined);
    await Promise.all([...(trees.length > 0 ? [flows.addBulk(trees)] : []), ...all.filter((f) => f.children === undefined).map((f) => queue(f.queueName).add(f.name, f.data, f.opts))]);
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
        // A purchase order that waited for its label reads its child's answer, as the real one does.
        if (parents.has(job.id)) await job.getChildrenValues();
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
    await Promise.all([flows.close(), intake.close(), ...[...queues.values()].map((q) => q.close())]);
    await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
  }
}
