import { Queue, type JobsOptions } from 'bullmq';
import type { Config } from '../src/config/config';
import type { PlannedDelivery } from '../src/planning/plan';
import { deliveryJobName, deliveryQueueName } from '../src/queue/names';
import type { RedisClient } from '../src/queue/redis';
import { deliveryJobOptions } from '../src/queue/retry';
import { type DataCipher, type DeliveryClear, type SealedData, sealDelivery } from '../src/queue/sealing';

/** A delivery added once another landed: a purchase order waiting for its label, on its queue. */
export interface NextDelivery {
  queueName: string;
  name: string;
  data: SealedData<DeliveryClear>;
  opts: JobsOptions;
}

/**
 * A planned delivery's job data: the delivery, sealed (ids in clear). A carrier request whose
 * label a purchase order waits for carries that purchase order (`next`), added by the carrier's
 * worker once the label is bought, with the label it got (`bought`, a sealed `BoughtLabel`).
 */
export type PlannedJobData = SealedData<DeliveryClear> & { next?: NextDelivery; bought?: string };

/** One delivery job to add. */
export interface DeliveryJobSpec {
  queueName: string;
  name: string;
  data: PlannedJobData;
  opts: JobsOptions;
}

/**
 * The jobs of one order: each delivery on its recipient's queue, except a purchase order whose
 * label the retailer buys: it rides in its carrier request's job and is added when the label is
 * bought (one job add then, where a BullMQ flow would cost a transaction, a dependency set and a
 * parent moved by its child). (Exported for the `pipeline` bench, which replays these jobs with
 * no work around them.)
 */
export function jobsOf(deliveries: readonly PlannedDelivery[], config: Config, cipher: DataCipher): DeliveryJobSpec[] {
  const job = (d: PlannedDelivery): DeliveryJobSpec => ({
    name: deliveryJobName(d.kind),
    queueName: deliveryQueueName(d.kind, d.recipient),
    data: sealDelivery(cipher, d),
    opts: deliveryJobOptions(d, config),
  });
  const waiting = new Map<string, PlannedDelivery>();
  for (const d of deliveries) if (d.kind === 'dropship' && d.awaitsLabel) waiting.set(d.awaitsLabel.carrierDeliveryId, d);
  const jobs: DeliveryJobSpec[] = [];
  for (const d of deliveries) {
    if (d.kind === 'dropship' && d.awaitsLabel && deliveries.some((c) => c.deliveryId === d.awaitsLabel?.carrierDeliveryId)) continue;
    const spec = job(d);
    const po = d.kind === 'carrier' ? waiting.get(d.deliveryId) : undefined;
    jobs.push(po ? { ...spec, data: { ...spec.data, next: job(po) as NextDelivery } } : spec);
  }
  return jobs;
}

/**
 * Adds planned deliveries to their recipients' queues, in the partition (`prefix`) of their
 * order, each under its deterministic id: adding the same delivery again adds nothing. Used by
 * the order worker and by the intake, which plans most orders itself.
 */
export class DeliveryQueues {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly connection: RedisClient,
    private readonly config: Config,
    private readonly cipher: DataCipher,
  ) {}

  /** Adds every delivery at once, without waiting for one another (one script call each). */
  async add(prefix: string, deliveries: readonly PlannedDelivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    await Promise.all(jobsOf(deliveries, this.config, this.cipher).map((j) => this.addJob(prefix, j)));
  }

  /** Adds one job (under its id: adding it again adds nothing). */
  async addJob(prefix: string, job: DeliveryJobSpec): Promise<void> {
    await this.queue(prefix, job.queueName).add(job.name, job.data, job.opts);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
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
}
