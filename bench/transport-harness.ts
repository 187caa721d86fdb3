import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';
import type { Job } from 'bullmq';
import { stringify } from 'yaml';
import type { Config } from '../src/config/config';
import { loadConfig } from '../src/config/load';
import type { OrderEvent, OrderInput } from '../src/core/order';
import { planOrder, type PlannedDelivery } from '../src/planning/plan';
import { Pipeline } from '../src/app/pipeline';
import { deliveryQueueName } from '../src/queue/names';
import { ingestOrder } from '../src/sources/ingest';
import { createTransport } from '../src/transports/factory';
import { RecordingTransport } from '../src/transports/recording';
import { log, now, withTimeout } from './common';
import { forEachLimited } from './pipeline';
import { perUnit, startWindow, usecPerUnit } from './redis-stats';
import { createDataCipher, type DataCipher, generateDataKey } from '../src/queue/sealing';

/**
 * The pipeline with one supplier and its real transport against a local receiver, for the
 * `sftp`, `email` and `https` benchmarks: one delivery per order (the supplier ships on its
 * own account, so no carrier request), timed from the first order submitted to the last
 * delivery completed.
 */

export const BENCH_SUPPLIER = 'bench-supplier';

export interface TransportBenchSetup {
  /** The supplier's `delivery` block. */
  delivery: Record<string, unknown>;
  format: 'csv' | 'json';
  /** Absolute path of the supplier's armored public key. */
  pgpPublicKeyFile?: string;
}

/** Writes and loads a configuration: no warehouse, one supplier for every `BX-*` SKU. */
export function transportBenchConfig(dir: string, setup: TransportBenchSetup): Config {
  mkdirSync(path.join(dir, 'suppliers'), { recursive: true });
  const supplier = {
    id: BENCH_SUPPLIER,
    name: 'Bench Supplier',
    skus: ['BX-*'],
    shipFrom: { name: 'Bench Supplier', line1: '1 Supply Road', city: 'Burlington', region: 'VT', postalCode: '05401', country: 'US', phone: '+1 802 555 0100' },
    labels: 'supplier',
    fields: ['order.id', 'shipTo.name', 'shipTo.line1', 'shipTo.line2', 'shipTo.city', 'shipTo.region', 'shipTo.postalCode', 'shipTo.country', 'lines.sku', 'lines.name', 'lines.quantity'],
    format: setup.format,
    delivery: setup.delivery,
    ...(setup.pgpPublicKeyFile === undefined ? {} : { pgp: { publicKeyFile: setup.pgpPublicKeyFile } }),
    retry: { attempts: 3, backoff: '1s' },
  };
  writeFileSync(path.join(dir, 'suppliers', `${BENCH_SUPPLIER}.yaml`), stringify(supplier));
  const store = {
    store: { name: 'Bench Larder' },
    shipping: { methods: { standard: { carrier: 'ups', service: '03' } }, default: 'standard' },
    carriers: { ups: { shipperNumber: 'A1B2C3' } },
  };
  writeFileSync(path.join(dir, 'store.yaml'), stringify(store));
  return loadConfig(dir);
}

const PRODUCTS = [
  ['BX-CHEVRE', 'Chèvre log', '12.00'],
  ['BX-BUTTER', 'Cultured butter', '6.25'],
  ['BX-OIL', 'Arbequina olive oil', '24.00'],
] as const;

/** A made-up order (example.com, 555 numbers, no card data) of one to three `BX-*` lines. */
function benchOrder(id: string, i: number): OrderInput {
  const name = `Bench Customer ${i % 97}`;
  const lines = PRODUCTS.slice(0, 1 + (i % 3)).map(([sku, productName, unitPrice], n) => ({ id: `l${n + 1}`, sku, name: productName, quantity: 1 + ((i + n) % 3), unitPrice, weight: 250 }));
  return {
    id,
    placedAt: new Date(Date.UTC(2026, 10, 20, 15, 4, 5) + i * 60_000).toISOString(),
    currency: 'USD',
    shippingMethod: 'standard',
    customer: { name, email: `customer${i}@example.com`, phone: '+1 503 555 0199', contactRestricted: false },
    shipTo: { name, line1: `${10 + (i % 90)} Sample Street`, ...(i % 4 === 1 ? { line2: 'Apt 4' } : {}), city: 'Portland', region: 'OR', postalCode: '97205', country: 'US', phone: '+1 503 555 0199' },
    billTo: { name, line1: '99 Billing Blvd', city: 'Salem', region: 'OR', postalCode: '97301', country: 'US' },
    payment: { brand: 'visa', last4: '1111' },
    lines,
  };
}

/** `count` scrubbed, validated order events with ids `${prefix}${n}`. */
export function benchOrders(count: number, prefix: string): OrderEvent[] {
  return Array.from({ length: count }, (_, i) => ingestOrder(benchOrder(`${prefix}${i + 1}`, i), { source: 'canonical' }));
}

/** The delivery each order makes (what the bare baselines send). */
export function plannedPayloads(config: Config, events: readonly OrderEvent[]): PlannedDelivery[] {
  return events.map((e) => {
    const plan = planOrder(e.order, config);
    if (plan.status !== 'planned' || plan.deliveries.length !== 1) throw new Error(`order ${e.order.id} does not plan exactly one delivery`);
    return plan.deliveries[0] as PlannedDelivery;
  });
}

export interface DeliveryRound {
  perSecond: number;
  ms: number;
  /** This process's CPU (user + system) during the round. */
  cpuMs: number;
  /** Redis's side of a pipeline round: CPU and commands per delivery. */
  redis?: string;
  /** Where a pipeline round's jobs spent their time, per queue: waiting, then running. */
  jobs?: string;
}

/** A round for the log: rate, wall time, CPU per delivery (and Redis's share for the pipeline). */
export function describeRound(r: DeliveryRound, count: number): string {
  return `${Math.round(r.perSecond)}/s (${Math.round(r.ms)} ms; node CPU ${Math.round((r.cpuMs * 1000) / count)} µs/delivery${r.redis ? `; ${r.redis}` : ''}${r.jobs ? `; jobs ${r.jobs}` : ''})`;
}

/** Times `work` (which sends `count` deliveries): wall time and this process's CPU. */
export async function timed(count: number, work: () => Promise<void>): Promise<DeliveryRound> {
  const cpu0 = process.cpuUsage();
  const t0 = now();
  await work();
  const ms = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: (count / ms) * 1000, ms, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/**
 * With `BENCH_PROFILE_DIR` set, a V8 CPU profile of this process over each pipeline round
 * (not the baselines') is written there, for Chrome DevTools or any .cpuprofile reader.
 */
async function cpuProfile(name: string): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_PROFILE_DIR;
  if (dir === undefined || dir === '') return async () => undefined;
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  return async () => {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `pipeline-${name}-${Date.now()}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    log(`CPU profile of the pipeline round: ${file}`);
  };
}

/** Orders submitted at once, as concurrent webhook requests would be. */
const SUBMIT_CONCURRENCY = 64;

export interface TransportPipelineOptions {
  /** Deliveries in flight per recipient. @defaultValue 4 */
  deliveryConcurrency?: number;
  /** The delivery queue whose completions a round counts. @defaultValue the bench supplier's */
  queueName?: string;
  /** What one completion is, in messages. @defaultValue "delivery" */
  unit?: string;
  /** Why a completed job is not a success (then the round fails), if it is not. */
  check?: (job: Job, cipher: DataCipher) => string | undefined;
  /** Carrier requests go to their real clients too; by default a recorder takes them. */
  realCarriers?: boolean;
}

/**
 * The real pipeline kept running across rounds (so its pooled connections stay open, as
 * the bare baselines' do): intake → order worker → a delivery worker → its configured
 * transport → the receiver.
 */
export class TransportPipeline {
  private completed = 0;
  private target = Number.POSITIVE_INFINITY;
  private failure: string | undefined;
  private wake: () => void = () => undefined;
  /** Per queue: jobs completed this round, ms spent waiting (added → taken) and running (taken → finished). */
  private readonly times = new Map<string, { n: number; waitMs: number; runMs: number }>();
  /** This round's completed jobs, for `check` once the round is timed. */
  private readonly toCheck: Job[] = [];

  private constructor(
    readonly pipeline: Pipeline,
    private readonly unit: string,
    queueName: string,
    private readonly cipher: DataCipher,
    private readonly check: TransportPipelineOptions['check'],
  ) {
    const worker = pipeline.workers.find((w) => w.name === queueName);
    if (worker === undefined) throw new Error(`no delivery worker for ${queueName}`);
    for (const w of pipeline.workers) {
      w.on('completed', (job: Job) => {
        if (job.processedOn === undefined || job.finishedOn === undefined) return;
        const t = this.times.get(w.name) ?? { n: 0, waitMs: 0, runMs: 0 };
        t.n++;
        t.waitMs += job.processedOn - job.timestamp;
        t.runMs += job.finishedOn - job.processedOn;
        this.times.set(w.name, t);
      });
    }
    worker.on('completed', (job: Job) => {
      // Checked once the round is timed (see round()): opening each result is the bench's
      // work, not the pipeline's, and the bare sides check nothing of theirs.
      if (check !== undefined) this.toCheck.push(job);
      if (++this.completed >= this.target) this.wake();
    });
    worker.on('failed', (job: Job | undefined, error: Error) => {
      this.failure ??= `${job?.id}: ${error.message}`;
      this.wake();
    });
  }

  static async start(config: Config, redisUrl: string, prefix: string, env: NodeJS.ProcessEnv, options: TransportPipelineOptions = {}): Promise<TransportPipeline> {
    const cipher = createDataCipher(generateDataKey());
    const pipeline = await Pipeline.start({
      cipher,
      config,
      redisUrl,
      prefix,
      env,
      deliveryConcurrency: options.deliveryConcurrency ?? 4,
      // Returned synchronously: RecordingTransport has a `then` method and must never be awaited.
      transports: (target, runtime) =>
        target.kind === 'carrier' && !options.realCarriers ? new RecordingTransport(target.recipient) : createTransport(config, target, env, runtime),
    });
    return new TransportPipeline(pipeline, options.unit ?? 'delivery', options.queueName ?? deliveryQueueName('dropship', BENCH_SUPPLIER), cipher, options.check);
  }

  /** Submits `events` and resolves when each has completed. */
  async round(events: readonly OrderEvent[]): Promise<DeliveryRound> {
    const done = new Promise<void>((resolve) => (this.wake = resolve));
    this.target = this.completed + events.length;
    this.times.clear();
    const endWindow = await startWindow(this.pipeline.redis);
    const n = events.length;
    const profile = await cpuProfile(`${this.unit}-${n}`);
    const round = await timed(n, async () => {
      await forEachLimited(events, SUBMIT_CONCURRENCY, (e) => this.pipeline.intake.submit(e));
      await withTimeout(`pipeline round (${n} ${this.unit}s)`, done, 100_000);
    });
    await profile();
    for (const job of this.toCheck.splice(0)) {
      const wrong = this.check?.(job, this.cipher);
      if (wrong !== undefined) this.failure ??= `${job.id}: ${wrong}`;
    }
    if (this.failure !== undefined) throw new Error(`a ${this.unit} failed: ${this.failure}`);
    const redis = await endWindow();
    const jobs = [...this.times]
      .map(([name, t]) => `${name.replace(/^dropship:?/, '') || name}: ${t.n} jobs, mean wait ${(t.waitMs / t.n).toFixed(1)} ms, run ${(t.runMs / t.n).toFixed(1)} ms`)
      .join(' | ');
    return { ...round, redis: `redis CPU ${Math.round((redis.cpuSeconds * 1e6) / n)} µs/${this.unit}, ${(redis.totalCalls / n).toFixed(1)} commands/${this.unit} (${perUnit(redis, n, 14)}; time in Redis: ${usecPerUnit(redis, n)})`, jobs };
  }

  stop(): Promise<void> {
    return this.pipeline.stop();
  }
}
