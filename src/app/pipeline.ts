import { Queue, type Worker } from 'bullmq';
import { Cluster } from 'ioredis';
import type { RedisClient } from '../queue/redis';
import { Batches } from '../../workers/batches';
import { Cancellations } from '../../workers/cancellation';
import { createPickupWorker, schedulePickups } from '../../workers/confirmation-pickup';
import { createDeliveryWorker } from '../../workers/delivery-worker';
import { createFulfillmentWorker } from '../../workers/fulfillment-worker';
import { createIntakePlanner } from '../../workers/intake-planner';
import { createOrderWorker } from '../../workers/order-worker';
import { ConfirmationIntake } from '../loop/confirm';
import type { FulfillmentJobData, FulfillmentJobResult } from '../loop/fulfillments';
import { ConfirmationPickup } from '../loop/pickup';
import { LoopStore } from '../loop/record';
import type { StorePlatform } from '../stores/store';
import type { Config } from '../config/config';
import { OrderIntake } from '../queue/intake';
import type { Durability } from '../queue/durability';
import { deliveryQueueName, FULFILLMENTS_QUEUE, ORDERS_QUEUE, PICKUPS_QUEUE } from '../queue/names';
import { claimPartitions, KeySpace } from '../queue/partitions';
import { DisclosureLedger } from '../ledger/disclosure-ledger';
import { createRedis, displayRedisUrl } from '../queue/redis';
import type { DataCipher } from '../queue/sealing';
import { redisSharedCache } from '../queue/shared-cache';
import { type SupervisionTimings, WorkerSupervisor } from '../queue/worker-supervisor';
import { deliveryTargets, type TransportFactory } from '../transports/factory';
import type { Logger } from 'pino';
import type { PipelineMetrics } from '../telemetry/metrics';
import type { Transport } from '../transports/transport';

export interface PipelineOptions {
  config: Config;
  /** A Redis URL, or a Redis Cluster's seed nodes as `clusterUrl` writes them (`REDIS_CLUSTER_NODES`). */
  redisUrl: string;
  /** BullMQ key prefix (`QUEUE_PREFIX`). @defaultValue "dropship" */
  prefix?: string;
  /**
   * Partitions orders are spread over (`QUEUE_PARTITIONS`): each has its own queues and keys
   * under one hash tag, served by its own workers. Refused at start while the queues still
   * hold jobs laid out for another count. @defaultValue 1
   */
  partitions?: number;
  /**
   * On a Redis Cluster, how intake confirms an order reached a replica before answering 202
   * (`WAIT`). @defaultValue 1 replica within 2 s on a cluster; none on a single server
   */
  durability?: Durability | false;
  transports: TransportFactory;
  /**
   * Seals job data holding personal data (AES-256-GCM) before it reaches Redis; every process
   * of one pipeline needs the same key (`dataCipherFromEnv`).
   */
  cipher: DataCipher;
  /** Run the workers in this process. @defaultValue true */
  workers?: boolean;
  /** Order jobs processed at once. @defaultValue 8 */
  orderConcurrency?: number;
  /** Deliveries in flight at once, per recipient. @defaultValue 4 */
  deliveryConcurrency?: number;
  /** Counts job outcomes and delivery latency. */
  metrics?: PipelineMetrics;
  /** Where job outcomes are logged (ids, queues, reasons: never payloads). */
  logger?: Logger;
  /** Where send-time secrets are read. @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
  /**
   * Lock and stall timings of every worker: how soon the jobs of a dead worker run again
   * (`DROPSHIP_LOCK_DURATION`, `DROPSHIP_STALLED_INTERVAL`). @defaultValue BullMQ's 30 s each
   */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /**
   * How often order workers look for orders the intake planned but never confirmed queued (its
   * process died in between), and how old they must be. @defaultValue every 10 s, older than 30 s
   */
  unsettledPlans?: { everyMs: number; afterMs: number };
  /** How often workers are checked for having stopped taking jobs, and after how long one is replaced (see WorkerSupervisor). */
  supervision?: SupervisionTimings;
  /**
   * The store platform told what shipped (`store.platform`); absent: none. Its client is
   * closed with the pipeline.
   */
  store?: StorePlatform;
}

/**
 * The running pipeline in one process: the intake every entry point submits to, and
 * (unless `workers: false`) the order worker plus one delivery worker per recipient.
 */
export class Pipeline {
  private constructor(
    readonly ledger: DisclosureLedger,
    readonly intake: OrderIntake,
    readonly redis: RedisClient,
    readonly prefix: string,
    /** Where each order's jobs and keys live (`QUEUE_PARTITIONS`). */
    readonly keys: KeySpace,
    readonly workers: Worker[],
    /** Suppliers' confirmations in; the store told what shipped. */
    readonly confirmations: ConfirmationIntake,
    readonly loop: LoopStore,
    private readonly transports: Transport[],
    private readonly connections: RedisClient[],
    private readonly closers: Array<() => Promise<void>>,
    /** Replaces workers that stopped taking jobs; stopped before the workers are closed. */
    private readonly supervisor?: WorkerSupervisor,
  ) {}

  static async start(options: PipelineOptions): Promise<Pipeline> {
    const prefix = options.prefix ?? 'dropship';
    const { config } = options;
    // The intake answers HTTP requests: with Redis away it must fail fast (503), not queue
    // commands in memory where a crash would lose accepted orders.
    const redis = createRedis(options.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    await new Promise<void>((resolve, reject) => {
      if (redis.status === 'ready') return resolve();
      redis.once('ready', () => resolve());
      redis.once('end', () => reject(new Error(`cannot connect to RedisClient at ${displayRedisUrl(options.redisUrl)}`)));
    });
    const { cipher } = options;
    const cluster = redis instanceof Cluster;
    const keys = KeySpace.of(prefix, options.partitions ?? 1, cluster);
    await claimPartitions(redis, keys, [ORDERS_QUEUE, ...deliveryTargets(config).map((t) => deliveryQueueName(t.kind, t.recipient)), FULFILLMENTS_QUEUE]).catch(async (error: unknown) => {
      redis.disconnect();
      throw error;
    });
    const durability = options.durability === false ? undefined : (options.durability ?? (cluster ? { replicas: 1, timeoutMs: 2000 } : undefined));
    const intake = new OrderIntake(redis, {
      prefix: keys,
      completedJobsMs: config.store.retention.completedJobsMs,
      dedupeMs: config.store.retention.dedupeMs,
      cipher,
      ...(durability ? { durability } : {}),
      // Orders that simply ship are planned here, with no order job (see OrderIntake).
      planner: createIntakePlanner({ connection: redis, config, cipher }),
      ...(options.metrics ? { onPlanned: () => options.metrics?.orderPlannedAtIntake() } : {}),
    });
    const cache = redisSharedCache(redis, prefix);
    const ledger = new DisclosureLedger(redis, { prefix: keys, retentionMs: config.store.retention.disclosuresMs });
    const workers: Worker[] = [];
    const transports: Transport[] = [];
    const connections: RedisClient[] = [redis];
    const closers: Array<() => Promise<void>> = [];
    // Run after the workers closed: the last deliveries they noted are written.
    closers.push(() => ledger.close());
    // Plain connection for the workers' own records; the intake's fails fast by design.
    const records = createRedis(options.redisUrl);
    connections.push(records);
    // The queues the workers' side adds to (fulfillments, pickups) get their own: a BullMQ queue
    // loads its scripts onto its connection, and every pipeline on that connection copies them.
    const queueing = createRedis(options.redisUrl);
    connections.push(queueing);
    const loop = new LoopStore(redis, keys, config.store.retention.disclosuresMs);
    // A fulfillment is queued in its order's partition (one queue per partition, like the deliveries).
    const fulfillmentQueues = (connection: RedisClient) => {
      const queues = keys.prefixes.map((p) => new Queue<FulfillmentJobData, FulfillmentJobResult>(FULFILLMENTS_QUEUE, { connection, prefix: p }));
      closers.push(() => Promise.all(queues.map((q) => q.close())).then(() => undefined));
      return (orderId: string) => queues[keys.indexOf(orderId)]!;
    };
    if (options.store) {
      const store = options.store;
      closers.push(() => store.close());
    }
    const confirmations = new ConfirmationIntake({ redis, prefix: keys, config, loop, ...(options.store ? { fulfillments: fulfillmentQueues(redis) } : {}) });
    // The workers' side writes over the plain connection (it waits out a Redis restart).
    const recordsLoop = new LoopStore(records, keys, config.store.retention.disclosuresMs);
    const afterDelivery = new ConfirmationIntake({ redis: records, prefix: keys, config, loop: recordsLoop, ...(options.store ? { fulfillments: fulfillmentQueues(queueing) } : {}) });
    let supervisor: WorkerSupervisor | undefined;
    if (options.workers ?? true) {
      // Each worker gets its own connection on a single server (BullMQ duplicates it for its
      // blocking reads). A cluster client holds a socket per node: there, the workers of a
      // partition share one.
      const shared = new Map<string, RedisClient>();
      const connection = (partition?: string) => {
        const reuse = cluster && partition !== undefined ? shared.get(partition) : undefined;
        if (reuse) return reuse;
        const c = createRedis(options.redisUrl);
        connections.push(c);
        if (cluster && partition !== undefined) shared.set(partition, c);
        return c;
      };
      const cancellations = new Cancellations(connection(), records, keys, config, cipher);
      closers.push(() => cancellations.close());
      const batches = new Batches(connection(), records, keys, config, cipher);
      closers.push(() => batches.close());
      await batches.schedule();
      const lockTimings = {
        ...(options.lockDurationMs ? { lockDurationMs: options.lockDurationMs } : {}),
        ...(options.stalledIntervalMs ? { stalledIntervalMs: options.stalledIntervalMs } : {}),
      };
      // One worker per queue per partition; the concurrency asked for is shared out over the
      // partitions (each gets its share, at least one).
      const share = (n: number) => Math.max(1, Math.ceil(n / keys.count));
      const targets = deliveryTargets(config).map((target) => ({ target, transport: options.transports(target, { cache }) }));
      transports.push(...targets.map((t) => t.transport));
      const log = options.logger;
      /** Attaches a worker's log listeners and starts it. */
      const startWorker = (w: Worker) => {
        // Job failures are recorded on the job itself; these are connection-level errors.
        w.on('error', (err) => log?.warn({ queue: w.name, code: (err as NodeJS.ErrnoException).code }, `worker ${w.name}: ${err.message}`));
        if (log) {
          w.on('failed', (job, err) => {
            const final = job === undefined || err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
            const code = (err as { code?: unknown }).code;
            log[final ? 'error' : 'warn'](
              { queue: w.name, jobId: job?.id, attempt: job?.attemptsMade, final, ...(typeof code === 'string' ? { code } : {}) },
              `${w.name} ${job?.id ?? ''}: ${err.message}`,
            );
          });
          w.on('completed', (job) => log.debug({ queue: w.name, jobId: job.id }, `${w.name} ${job.id}: done`));
          w.on('stalled', (jobId) => log.warn({ queue: w.name, jobId }, `${w.name} ${jobId}: stalled (its worker died); it will run again`));
        }
        void w.run();
      };
      // Every worker is made through the supervisor, which makes it again if it stops taking jobs.
      supervisor = new WorkerSupervisor(records, workers, {
        start: startWorker,
        onReplaced: (w, idleMs, waiting) => {
          log?.warn({ queue: w.name, idleMs, waiting }, `worker ${w.name}: took no job for ${Math.round(idleMs / 1000)} s while ${waiting} waited; replaced by a new worker`);
          options.metrics?.workerReplaced(w.name);
        },
        ...(options.supervision ? { timings: options.supervision } : {}),
      });
      for (const partition of keys.prefixes) {
        supervisor.add(() => {
          const orderWorker = createOrderWorker({
            connection: connection(partition),
            records,
            prefix: partition,
            keys,
            config,
            cipher,
            cancellations,
            concurrency: share(options.orderConcurrency ?? 8),
            ...lockTimings,
            ...(options.unsettledPlans ? { unsettledSweepMs: options.unsettledPlans.everyMs, unsettledAfterMs: options.unsettledPlans.afterMs } : {}),
          });
          options.metrics?.observe(orderWorker, { queue: orderWorker.name, recipient: 'orders', transport: 'none' });
          return orderWorker;
        });
        for (const { target, transport } of targets) {
          const queueName = deliveryQueueName(target.kind, target.recipient);
          supervisor.add(() => {
            const worker = createDeliveryWorker({
              connection: connection(partition),
              prefix: partition,
              keys,
              queueName,
              transport,
              records,
              config,
              ledger,
              cancellations,
              batches,
              cipher,
              concurrency: share(options.deliveryConcurrency ?? 4),
              ...(options.env ? { env: options.env } : {}),
              afterDelivery: (d, trackingNumber) => afterDelivery.afterDelivery(d, trackingNumber),
              ...lockTimings,
            });
            options.metrics?.observe(worker, { queue: queueName, recipient: target.recipient, transport: transport.kind });
            return worker;
          });
        }
      }
      const store = options.store;
      if (store) {
        for (const partition of keys.prefixes) {
          supervisor.add(() => {
            const fulfiller = createFulfillmentWorker({
              connection: connection(partition),
              prefix: partition,
              store,
              loop: recordsLoop,
              ...lockTimings,
              onThrottled: (wait) => {
                options.metrics?.storeThrottled(wait.platform, wait.free);
                const said = `${wait.platform} asked fulfillment ${wait.jobId} to wait ${wait.waitMs} ms (wait ${wait.waits}, ${Math.round(wait.waitedMs / 1000)} s in all)`;
                if (wait.free) log?.debug({ queue: FULFILLMENTS_QUEUE, jobId: wait.jobId }, said);
                else log?.warn({ queue: FULFILLMENTS_QUEUE, jobId: wait.jobId }, `${said}: past the free bound, this wait uses an attempt`);
              },
            });
            options.metrics?.observe(fulfiller, { queue: fulfiller.name, recipient: store.id, transport: 'https' });
            return fulfiller;
          });
        }
      }
      // Suppliers' confirmation files, picked up from their SFTP folders on a schedule: one
      // queue, in the first partition (a pickup touches each supplier's own keys only).
      const pickupPrefix = keys.prefixes[0]!;
      const pickups = new Queue(PICKUPS_QUEUE, { connection: queueing, prefix: pickupPrefix });
      // Redis away is the workers' to report; the queue is only used to schedule at start.
      pickups.on('error', () => undefined);
      closers.push(() => pickups.close());
      await schedulePickups(pickups, config);
      if (config.suppliers.some((s) => s.confirmations?.sftp)) {
        const pickup = new ConfirmationPickup({
          redis: records,
          prefix: keys,
          config,
          confirm: (supplierId, confirmation, origin) => afterDelivery.confirm(supplierId, confirmation, origin),
          ...(options.env ? { env: options.env } : {}),
          ...(options.logger ? { logger: options.logger } : {}),
          ...(options.metrics ? { metrics: options.metrics } : {}),
          // A file claimed by a worker that died waits no longer than the worker's jobs do.
          ...(options.lockDurationMs ? { leaseMs: pickupLeaseMs(options.lockDurationMs) } : {}),
        });
        supervisor.add(() => {
          const picker = createPickupWorker({ connection: connection(pickupPrefix), prefix: pickupPrefix, pickup, ...lockTimings });
          options.metrics?.observe(picker, { queue: picker.name, recipient: 'suppliers', transport: 'none' });
          return picker;
        });
      }
      for (const w of workers) startWorker(w);
      supervisor.start();
      await Promise.all(workers.map((w) => w.waitUntilReady()));
      // BullMQ removes completed jobs by age only when another job completes: once orders stop,
      // the last ones (personal data) would stay. A sweep keeps the retention promise.
      const retentionMs = config.store.retention.completedJobsMs;
      const sweepConnection = connection();
      const swept = workers.map((w) => new Queue(w.name, { connection: sweepConnection, ...(w.opts.prefix !== undefined ? { prefix: w.opts.prefix } : {}) }));
      const sweep = setInterval(
        () => {
          for (const q of swept) void q.clean(retentionMs, 1000, 'completed').catch(() => undefined);
        },
        Math.min(60_000, Math.max(1000, retentionMs / 2)),
      );
      sweep.unref();
      closers.push(async () => {
        clearInterval(sweep);
        await Promise.all(swept.map((q) => q.close()));
      });
    }
    return new Pipeline(ledger, intake, redis, prefix, keys, workers, confirmations, loop, transports, connections, closers, supervisor);
  }

  /** Resolves when Redis answers and every worker of this process is running; rejects with why not. */
  async ready(): Promise<void> {
    await this.redis.ping();
    const stopped = this.workers.filter((w) => !w.isRunning()).map((w) => w.name);
    if (stopped.length > 0) throw new Error(`workers not running: ${stopped.join(', ')}`);
  }

  /** Graceful stop: workers finish the jobs they hold, then everything closes. */
  async stop(): Promise<void> {
    // First: no worker is replaced while they close.
    this.supervisor?.stop();
    await Promise.all(this.workers.map((w) => w.close()));
    await Promise.all(this.transports.map((t) => t.close().catch(() => undefined)));
    await Promise.all(this.closers.map((close) => close().catch(() => undefined)));
    await this.intake.close();
    await Promise.all(this.connections.map((c) => c.quit().catch(() => c.disconnect())));
  }
}

/**
 * How long a confirmation file's claim holds (src/loop/pickup.ts) when the workers' lock
 * duration is set (`DROPSHIP_LOCK_DURATION`): as long, so that a file claimed by a worker that
 * died waits no longer than that worker's jobs do, but at least 5 s (it is renewed every third
 * of it). Without it, the pickup's own 5 minutes.
 */
export function pickupLeaseMs(lockDurationMs: number): number {
  return Math.max(5000, lockDurationMs);
}
