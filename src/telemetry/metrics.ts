import type { Job, Queue, Worker } from 'bullmq';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RateLimitedEntry } from '../config/config';
import type { SupplierKeyStatus, UnusableSupplierKey } from '../config/keys';

export interface MetricsOptions {
  /** Queues whose depth and oldest waiting job are read at every scrape. */
  queues: Queue[];
  /** Per confirming supplier: purchase orders awaiting an answer, overdue, rejected, backordered (counts). */
  confirmationLag?: () => Promise<Array<{ supplierId: string; awaiting: number; overdue: number; rejected: number; backordered: number }>>;
  /** Supplier PGP keys checked at start-up. */
  keys: SupplierKeyStatus[];
  /** Suppliers whose PGP key could not be used at start-up (expired, revoked). */
  unusableKeys?: UnusableSupplierKey[];
}

/** Labels of a delivery queue: who it serves and over what. */
export interface WorkerLabels {
  queue: string;
  recipient: string;
  transport: string;
}

/**
 * Prometheus metrics (prom-client). Job outcomes and delivery latency are counted by the
 * process that runs the worker; queue depths, the age of the oldest waiting job and key
 * expiry are read at scrape time, so any process can serve them.
 */
export class PipelineMetrics {
  readonly registry = new Registry();
  private readonly completed: Counter<'queue' | 'recipient'>;
  private readonly failed: Counter<'queue' | 'recipient'>;
  private readonly retried: Counter<'queue' | 'recipient'>;
  private readonly latency: Histogram<'transport' | 'recipient'>;
  private readonly limited: Counter<'source'>;
  private readonly plannedAtIntake: Counter;
  private readonly replaced: Counter<'queue'>;
  private readonly throttled: Counter<'platform' | 'free'>;
  private readonly confirmationFiles: Counter<'supplier' | 'outcome'>;

  constructor(options: MetricsOptions) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'dropship_process_' });
    this.completed = new Counter({ name: 'dropship_jobs_completed_total', help: 'Jobs completed', labelNames: ['queue', 'recipient'], registers });
    this.failed = new Counter({ name: 'dropship_jobs_failed_total', help: 'Jobs failed for good (permanent error or attempts exhausted)', labelNames: ['queue', 'recipient'], registers });
    this.retried = new Counter({ name: 'dropship_jobs_retried_total', help: 'Job attempts that failed and will be retried', labelNames: ['queue', 'recipient'], registers });
    this.latency = new Histogram({
      name: 'dropship_delivery_latency_seconds',
      help: 'From delivery job created to the receiver having the payload',
      labelNames: ['transport', 'recipient'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200],
      registers,
    });
    this.plannedAtIntake = new Counter({
      name: 'dropship_orders_planned_at_intake_total',
      help: 'Orders planned by the intake itself (they simply ship): no order job runs for them, so dropship_jobs_completed_total{queue="orders"} does not count them',
      registers,
    });
    this.replaced = new Counter({
      name: 'dropship_workers_replaced_total',
      help: 'Workers that stopped taking jobs while their queue had jobs waiting (seen after a Redis failover) and were replaced by a new one',
      labelNames: ['queue'],
      registers,
    });
    this.throttled = new Counter({
      name: 'dropship_store_throttled_total',
      help: "Fulfillments the store platform throttled (Shopify's cost throttle, a 429): free waits use no attempt; free=\"false\" ones, past the bound, use one",
      labelNames: ['platform', 'free'],
      registers,
    });
    this.limited = new Counter({ name: 'dropship_api_rate_limited_total', help: 'API requests refused with 429, by the limit they exceeded', labelNames: ['source'], registers });
    this.confirmationFiles = new Counter({
      name: 'dropship_confirmation_files_total',
      help: "Suppliers' confirmation files picked up over SFTP, by outcome: processed, duplicate (sent before), failed (cannot be read: moved to failed/), error (left for the next run)",
      labelNames: ['supplier', 'outcome'],
      registers,
    });
    const queues = options.queues;
    new Gauge({
      name: 'dropship_queue_jobs',
      help: 'Jobs in each queue by state',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        this.reset();
        for (const q of queues) {
          const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
          // Partitions have a queue of each name: their counts add up.
          for (const [state, n] of Object.entries(counts)) this.inc({ queue: q.name, state }, n);
        }
      },
    });
    new Gauge({
      name: 'dropship_queue_oldest_waiting_seconds',
      help: 'Age of the oldest job waiting in each queue (0 when none)',
      labelNames: ['queue'],
      registers,
      async collect() {
        const now = Date.now();
        // The oldest over the partitions that have a queue of the name.
        const oldest = new Map<string, number>();
        for (const q of queues) {
          const [job] = await q.getJobs(['waiting'], 0, 0, true);
          oldest.set(q.name, Math.max(oldest.get(q.name) ?? 0, job ? Math.max(0, (now - job.timestamp) / 1000) : 0));
        }
        for (const [queue, seconds] of oldest) this.set({ queue }, seconds);
      },
    });
    const lag = options.confirmationLag;
    if (lag) {
      new Gauge({
        name: 'dropship_purchase_orders_unanswered',
        help: "Purchase orders sent to a supplier that confirms and not yet acknowledged or shipped; state=overdue: past its confirmations.expectWithin, state=rejected|backordered: turned down, for an operator",
        labelNames: ['supplier', 'state'],
        registers,
        async collect() {
          this.reset();
          for (const l of await lag()) {
            this.set({ supplier: l.supplierId, state: 'awaiting' }, l.awaiting);
            this.set({ supplier: l.supplierId, state: 'overdue' }, l.overdue);
            this.set({ supplier: l.supplierId, state: 'rejected' }, l.rejected);
            this.set({ supplier: l.supplierId, state: 'backordered' }, l.backordered);
          }
        },
      });
    }
    const keys = options.keys;
    const unusable = options.unusableKeys ?? [];
    new Gauge({
      name: 'dropship_supplier_pgp_key_unusable',
      help: 'Suppliers whose PGP key could not be used at start-up (expired, revoked): their deliveries fail until it is replaced',
      labelNames: ['supplier'],
      registers,
      collect() {
        this.reset();
        for (const u of unusable) this.set({ supplier: u.supplierId }, 1);
      },
    });
    new Gauge({
      name: 'dropship_supplier_pgp_key_days_until_expiry',
      help: 'Days until each supplier PGP key expires (absent when it never does)',
      labelNames: ['supplier', 'fingerprint'],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const k of keys) {
          if (k.expiresAt) this.set({ supplier: k.supplierId, fingerprint: k.fingerprint }, Math.floor((Date.parse(k.expiresAt) - now) / 86_400_000));
        }
      },
    });
  }

  /** Counts one order the intake planned itself. */
  orderPlannedAtIntake(): void {
    this.plannedAtIntake.inc();
  }

  /** Counts one worker replaced for having stopped taking jobs (WorkerSupervisor). */
  workerReplaced(queue: string): void {
    this.replaced.inc({ queue });
  }

  /** Counts one throttle wait of a fulfillment (the store platform asked for a pause). */
  storeThrottled(platform: string, free: boolean): void {
    this.throttled.inc({ platform, free: String(free) });
  }

  /** Counts one request refused by the API's rate limit for `source`. */
  rateLimited(source: RateLimitedEntry): void {
    this.limited.inc({ source });
  }

  /** Counts one confirmation file picked up from a supplier's SFTP folder. */
  confirmationFile(supplier: string, outcome: 'processed' | 'duplicate' | 'failed' | 'error'): void {
    this.confirmationFiles.inc({ supplier, outcome });
  }

  /** Counts a worker's outcomes (and, for delivery workers, their latency). */
  observe(worker: Worker, labels: WorkerLabels): void {
    const l = { queue: labels.queue, recipient: labels.recipient };
    worker.on('completed', (job: Job) => {
      this.completed.inc(l);
      if (labels.transport !== 'none') this.latency.observe({ transport: labels.transport, recipient: labels.recipient }, (Date.now() - job.timestamp) / 1000);
    });
    worker.on('failed', (job: Job | undefined, err: Error) => {
      const attempts = job?.opts.attempts ?? 1;
      const willRetry = job !== undefined && err.name !== 'UnrecoverableError' && job.attemptsMade < attempts;
      (willRetry ? this.retried : this.failed).inc(l);
    });
  }
}
