import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { LocalRedisCluster } from '../testkit/redis-cluster';
import { KeySpace } from '../src/queue/partitions';
import { createRedis, type RedisClient } from '../src/queue/redis';
import { parse, stringify } from 'yaml';
import type { Config } from '../src/config/config';
import { loadConfig } from '../src/config/load';
import { startDemoEnvironment, SUPPLIERS, type DemoEnvironment } from '../demo/environment';
import { generatedOrder } from '../demo/orders';
import type { OrderInput } from '../src/core/order';
import { planOrder } from '../src/planning/plan';
import { EmbeddedRedis, redisServerAvailable, REDIS_MISSING_HINT } from '../src/queue/embedded-redis';
import { createOrderProducer, type OrderProducer } from '../src/app/producer';
import { deliveryQueueName, FULFILLMENTS_QUEUE, ORDERS_QUEUE } from '../src/queue/names';
import { ingestOrder } from '../src/sources/ingest';
import { deliveryTargets } from '../src/transports/factory';
import { log } from './common';
import { dataCipherFromEnv } from '../src/queue/sealing';

/** One delivery the pipeline must make for an accepted order (from the same pure plan its worker runs). */
export interface ExpectedDelivery {
  deliveryId: string;
  orderId: string;
  recipient: string;
  kind: 'carrier' | 'dropship';
  /** File name a file-like transport writes. */
  filename: string;
}

/** A supplier file as YAML data, to be edited by a scenario. */
export type SupplierDoc = Record<string, unknown> & { delivery: Record<string, unknown> };
export type StoreDoc = Record<string, unknown>;

/** The queue prefix every process of a run uses (the CLI default). */
export const PREFIX = 'dropship';

/**
 * What one scenario runs against: the demo's real receivers (OpenSSH sshd with internal-sftp,
 * SMTP with STARTTLS, HTTPS, UPS/FedEx stand-ins) and configuration, built by
 * `startDemoEnvironment`, plus a private redis-server with an append-only file
 * (`appendfsync everysec`) on a free port, and a run folder for its data and the processes' logs.
 */
export class ChaosEnvironment {
  private stopped = false;

  private constructor(
    readonly demo: DemoEnvironment,
    /** The run folder: Redis data, process logs. Removed by {@link stop}. */
    readonly dir: string,
    private server: EmbeddedRedis | undefined,
    /** The local Redis Cluster the run uses instead of one redis-server (`cluster-failover`). */
    readonly cluster?: LocalRedisCluster,
    /** `QUEUE_PARTITIONS` of every process, on the cluster. */
    readonly partitions = 1,
  ) {}

  /** The private redis-server (not in a cluster run). */
  get redis(): EmbeddedRedis {
    if (!this.server) throw new Error('this run uses a Redis Cluster, not one redis-server');
    return this.server;
  }

  /** Where every process's jobs and keys are: the partitions of the run. */
  get keys(): KeySpace {
    return KeySpace.of(PREFIX, this.partitions, this.cluster !== undefined);
  }

  /**
   * Like {@link start}, on a local Redis Cluster (3 primaries with a replica each, failing over
   * within seconds) with `partitions` partitions instead of one redis-server.
   */
  static startOnCluster(name: string, partitions: number): Promise<ChaosEnvironment> {
    return ChaosEnvironment.open(name, async (demo, dir) => {
      const cluster = await LocalRedisCluster.start({ primaries: 3, replicas: 1 });
      log(`[${name}] receivers up, local Redis Cluster (3 primaries, 1 replica each) on ${cluster.seeds}, ${partitions} partitions, run folder ${dir}`);
      return new ChaosEnvironment(demo, dir, undefined, cluster, partitions);
    });
  }

  static start(name: string): Promise<ChaosEnvironment> {
    if (!redisServerAvailable()) return Promise.reject(new Error(REDIS_MISSING_HINT));
    return ChaosEnvironment.open(name, async (demo, dir) => {
      const redis = await EmbeddedRedis.start({ dir: path.join(dir, 'redis'), appendOnly: true });
      log(`[${name}] receivers up, private redis-server (AOF everysec) on ${redis.url}, run folder ${dir}`);
      return new ChaosEnvironment(demo, dir, redis);
    });
  }

  /** Every real receiver up and a run folder, then the run's Redis (`withRedis`); all undone if that fails. */
  private static async open(name: string, withRedis: (demo: DemoEnvironment, dir: string) => Promise<ChaosEnvironment>): Promise<ChaosEnvironment> {
    const demo = await startDemoEnvironment();
    if (demo.fallbacks.size > 0) {
      await demo.stop();
      throw new Error(`chaos needs every real receiver; missing: ${[...demo.fallbacks.entries()].map(([r, why]) => `${r} (${why})`).join('; ')}`);
    }
    const dir = mkdtempSync(path.join(tmpdir(), `dropship-chaos-${name}-`));
    try {
      return await withRedis(demo, dir);
    } catch (error) {
      await demo.stop();
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  get configDir(): string {
    return this.demo.configDir;
  }

  get redisUrl(): string {
    return this.cluster ? this.cluster.url : this.redis.url;
  }

  /** The environment a `dropship` process needs: the demo's secrets, this Redis, this configuration. */
  processEnv(extra: Record<string, string> = {}): Record<string, string> {
    const redis: Record<string, string> = this.cluster ? { REDIS_URL: '', REDIS_CLUSTER_NODES: this.cluster.seeds, QUEUE_PARTITIONS: String(this.partitions) } : { REDIS_URL: this.redisUrl };
    return { ...this.demo.env, ...redis, CONFIG_DIR: this.configDir, DATA_DIR: path.join(this.dir, 'var'), ...extra };
  }

  /** Rewrites one supplier's YAML file (the demo wrote it; a scenario tunes or breaks it). */
  editSupplier(id: string, edit: (doc: SupplierDoc) => void): void {
    const file = path.join(this.configDir, 'suppliers', `${id}.yaml`);
    const doc = parse(readFileSync(file, 'utf8')) as SupplierDoc;
    edit(doc);
    writeFileSync(file, `# Edited by the chaos harness\n${stringify(doc)}`);
  }

  /** Rewrites every supplier's YAML file. */
  editSuppliers(edit: (doc: SupplierDoc, id: string) => void): void {
    for (const file of readdirSync(path.join(this.configDir, 'suppliers')).filter((f) => f.endsWith('.yaml'))) {
      const id = file.replace(/\.yaml$/, '');
      this.editSupplier(id, (doc) => edit(doc, id));
    }
  }

  /** Rewrites `store.yaml`. */
  editStore(edit: (doc: StoreDoc) => void): void {
    const file = path.join(this.configDir, 'store.yaml');
    const doc = parse(readFileSync(file, 'utf8')) as StoreDoc;
    edit(doc);
    writeFileSync(file, `# Edited by the chaos harness\n${stringify(doc)}`);
  }

  /**
   * The timings every scenario uses unless it changes them: retries with a short backoff (so
   * a run ends in minutes, not hours) and enough attempts to outlast the faults, and short
   * transport timeouts so that a hung receiver is noticed within seconds. The harness posts
   * up to thousands of orders a minute from loopback, so the API's order limit is raised: a
   * scenario measures the pipeline, not the rate limit.
   */
  applyDefaults(options: { attempts?: number; backoff?: string; timeout?: string; completedJobs?: string } = {}): void {
    const timeout = options.timeout ?? '10s';
    this.editSuppliers((doc) => {
      doc.retry = { attempts: options.attempts ?? 14, backoff: options.backoff ?? '500ms' };
      const delivery = doc.delivery;
      if (delivery.transport === 'email') (delivery.smtp as Record<string, unknown>).timeout = timeout;
      else delivery.timeout = timeout;
    });
    this.editStore((doc) => {
      const retention = (doc.retention ?? {}) as Record<string, unknown>;
      doc.retention = { ...retention, completedJobs: options.completedJobs ?? retention.completedJobs ?? '1h' };
      doc.api = { rateLimits: { orders: { max: 100_000, per: '1m' } } };
    });
  }

  /** The configuration as the workers load it (read again after every edit). */
  config(): Config {
    return loadConfig(this.configDir);
  }

  /** An in-process producer on this Redis (the library entry point; `close()` it). */
  producer(config: Config = this.config()): OrderProducer {
    return createOrderProducer({ redisUrl: this.redisUrl, config, prefix: PREFIX, cipher: dataCipherFromEnv(this.demo.env), partitions: this.partitions });
  }

  /** A plain client on this Redis (for INFO, job counts); `disconnect()` it. */
  client(): RedisClient {
    return this.cluster ? createRedis(this.redisUrl) : new Redis(this.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
  }

  /** Every queue the configuration runs (orders, one per recipient, and fulfillments with a store platform), in every partition, on `connection`. */
  queues(connection: RedisClient, config: Config = this.config()): Queue[] {
    const names = [ORDERS_QUEUE, ...deliveryTargets(config).map((t) => deliveryQueueName(t.kind, t.recipient)), ...(config.store.platform ? [FULFILLMENTS_QUEUE] : [])];
    return this.keys.prefixes.flatMap((prefix) => names.map((n) => new Queue(n, { connection, prefix })));
  }

  /** Restarts Redis on the same port and data folder (after a kill or stop). */
  async restartRedis(): Promise<void> {
    this.server = await EmbeddedRedis.start({ dir: path.join(this.dir, 'redis'), appendOnly: true, port: this.redis.port });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.server?.stop().catch(() => undefined);
    await this.cluster?.stop().catch(() => undefined);
    await this.demo.stop();
    if (process.env.CHAOS_KEEP === '1') log(`kept ${this.dir} (CHAOS_KEEP=1)`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Order `i` of a run: the demo's generated order mix (warehouse plus one to three drop-ship
 * suppliers). Ids are `<prefix><6 digits>` (no "-", which the SFTP file count relies on); the
 * card's last four stay four digits however many orders a run makes.
 */
export function chaosOrder(prefix: string, i: number): OrderInput {
  const order = generatedOrder(`${prefix}${String(i + 1).padStart(6, '0')}`, i);
  return { ...order, payment: { brand: 'visa', last4: String(1000 + (i % 9000)) } };
}

/** The deliveries the pipeline must make for these orders under `config`. */
export function expectedDeliveries(orders: readonly OrderInput[], config: Config): ExpectedDelivery[] {
  const out: ExpectedDelivery[] = [];
  for (const payload of orders) {
    const event = ingestOrder(payload, { source: 'canonical' });
    const plan = planOrder(event.order, config);
    if (plan.status !== 'planned') throw new Error(`order ${event.order.id} would be held: ${plan.reasons.map((r) => r.message).join('; ')}`);
    for (const d of plan.deliveries) {
      out.push({ deliveryId: d.deliveryId, orderId: d.orderId, recipient: d.recipient, kind: d.kind, filename: d.filename });
    }
  }
  return out;
}

export { SUPPLIERS };
