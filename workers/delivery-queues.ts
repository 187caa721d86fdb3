import { FlowProducer, Queue, type FlowJob } from 'bullmq';
import type { Config } from '../src/config/config';
import type { PlannedDelivery } from '../src/planning/plan';
import { deliveryJobName, deliveryQueueName } from '../src/queue/names';
import type { RedisClient } from '../src/queue/redis';
import { deliveryJobOptions } from '../src/queue/retry';
import { type DataCipher, sealDelivery } from '../src/queue/sealing';

/**
 * The flows of one order: a purchase order whose label the retailer buys is the parent of
 * its carrier request (it runs once the label is bought); everything else stands alone.
 * (Exported for the `pipeline` bench, which replays these jobs with no work around them.)
 */
export function flowsOf(deliveries: readonly PlannedDelivery[], config: Config, cipher: DataCipher): FlowJob[] {
  const job = (d: PlannedDelivery) => ({
    name: deliveryJobName(d.kind),
    queueName: deliveryQueueName(d.kind, d.recipient),
    data: sealDelivery(cipher, d),
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

/**
 * Adds planned deliveries to their recipients' queues, in the partition (`prefix`) of their
 * order, each under its deterministic id: adding the same delivery again adds nothing. Used by
 * the order worker and by the intake, which plans most orders itself.
 */
export class DeliveryQueues {
  private readonly queues = new Map<string, Queue>();
  private readonly flows = new Map<string, FlowProducer>();

  constructor(
    private readonly connection: RedisClient,
    private readonly config: Config,
    private readonly cipher: DataCipher,
  ) {}

  /** Adds every delivery at once, without waiting for one another. */
  async add(prefix: string, deliveries: readonly PlannedDelivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    const all = flowsOf(deliveries, this.config, this.cipher);
    const trees = all.filter((f) => f.children !== undefined);
    await Promise.all([
      // A purchase order waiting for its label is a flow (a MULTI); anything else is one
      // script call on its own queue, cheaper than a flow.
      ...(trees.length > 0 ? [this.flowProducer(prefix).addBulk(trees)] : []),
      ...all.filter((f) => f.children === undefined).map((f) => this.queue(prefix, f.queueName).add(f.name, f.data, f.opts)),
    ]);
  }

  async close(): Promise<void> {
    await Promise.all([...[...this.queues.values()].map((q) => q.close()), ...[...this.flows.values()].map((f) => f.close())]);
  }

  private queue(prefix: string, name: string): Queue {
    const key = `${prefix}\u0000${name}`;
    let q = this.queues.get(key);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix });
      this.queues.set(key, q);
    }
    return q;
  }

  private flowProducer(prefix: string): FlowProducer {
    let f = this.flows.get(prefix);
    if (!f) {
      f = new FlowProducer({ connection: this.connection, prefix });
      this.flows.set(prefix, f);
    }
    return f;
  }
}
