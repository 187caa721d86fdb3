import { createStorePlatform } from '../stores';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { DashboardAuth } from '../api/dashboard';
import { buildApi } from '../api/server';
import type { Config } from '../config/config';
import type { SupplierKeyStatus, UnusableSupplierKey } from '../config/keys';
import type { CancelEvent, OrderEvent } from '../core/order';
import { ConsoleQueries } from '../ops/console-queries';
import { type ConfirmationLag, Operations } from '../ops/operations';
import { DataDirLock } from '../queue/data-dir-lock';
import { EmbeddedRedis, shutDownOrphanedServer } from '../queue/embedded-redis';
import { deliveryQueueName, FULFILLMENTS_QUEUE, ORDERS_QUEUE, PICKUPS_QUEUE } from '../queue/names';
import { displayRedisUrl, evictionPolicyWarning, waitForRedis } from '../queue/redis';
import type { DataCipher } from '../queue/sealing';
import { PipelineMetrics } from '../telemetry/metrics';
import { deliveryTargets, type TransportFactory } from '../transports/factory';
import { Pipeline } from './pipeline';

/** What one process runs: everything, only the API (intake), only the workers, or only the dashboard. */
export type Role = 'all' | 'api' | 'workers' | 'dashboard';

/**
 * The Redis to run on: an existing one (waited for until it answers; refused credentials
 * throw `RedisRefusedError`), or a private redis-server with its data in `dataDir/redis`,
 * its address in `dataDir/redis.url` for the other `dropship` commands, and the folder
 * locked (`DataDirLock`) for as long as it runs.
 */
export type RedisChoice =
  | { url: string }
  | {
      embedded: {
        dataDir: string;
        /** Append-only file on: accepted orders survive a restart. @defaultValue true */
        appendOnly?: boolean;
        /** The folder's lock, when the caller took it before its own first write there; taken here otherwise. */
        lock?: DataDirLock;
      };
    };

export interface StartOptions {
  config: Config;
  redis: RedisChoice;
  /** @defaultValue "all" */
  role?: Role;
  transports: TransportFactory;
  cipher: DataCipher;
  /** Where the API listens; `anyPortIfTaken` falls back to a free port when `port` is in use. */
  listen: { port: number; host: string; anyPortIfTaken?: boolean };
  /** The dashboard at /admin/queues, for every role but `workers`; off without it. */
  dashboard?: { auth: DashboardAuth; readOnly?: boolean; unmask?: boolean };
  /** Supplier PGP keys as checked at start-up, for `/metrics` and the console's suppliers page. */
  keys?: SupplierKeyStatus[];
  unusableKeys?: UnusableSupplierKey[];
  /** Logs requests, job outcomes and start-up warnings; none without it. */
  logger?: Logger;
  /** BullMQ key prefix. @defaultValue "dropship" */
  prefix?: string;
  /** Partitions orders are spread over (`QUEUE_PARTITIONS`, see `PipelineOptions.partitions`). @defaultValue 1 */
  partitions?: number;
  /** How long intake waits for a replica on a Redis Cluster (`REDIS_WAIT_TIMEOUT`). @defaultValue 2 s */
  waitTimeoutMs?: number;
  /** Worker lock and stall timings (`DROPSHIP_LOCK_DURATION`, `DROPSHIP_STALLED_INTERVAL`). */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

/** The running services of one process. */
export interface Services {
  readonly pipeline: Pipeline;
  readonly api: FastifyInstance;
  /** The Redis everything runs on. */
  readonly redisUrl: string;
  /** True when that Redis is the private redis-server started here. */
  readonly embedded: boolean;
  /** The port the API listens on (the one asked for, or the free one taken instead). */
  readonly port: number;
  /** Graceful stop: the API first, then the workers finish what they hold, then Redis. */
  close(): Promise<void>;
}

/** Every queue the configuration runs: orders, then one per recipient, the fulfillments and the confirmation pickups (when configured). */
export function pipelineQueueNames(config: Config): string[] {
  return [
    ORDERS_QUEUE,
    ...deliveryTargets(config).map((t) => deliveryQueueName(t.kind, t.recipient)),
    ...(config.store.platform ? [FULFILLMENTS_QUEUE] : []),
    ...(config.suppliers.some((s) => s.confirmations?.sftp) ? [PICKUPS_QUEUE] : []),
  ];
}

/** Listens on `port`, or on a free port when that one is taken and `anyPortIfTaken` says so. */
async function listen(api: FastifyInstance, options: StartOptions['listen']): Promise<number> {
  try {
    await api.listen({ port: options.port, host: options.host });
  } catch (error) {
    if (!options.anyPortIfTaken || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    await api.listen({ port: 0, host: options.host });
  }
  return (api.server.address() as AddressInfo).port;
}

/**
 * What `dropship start` and `npm run demo` run: Redis (existing or embedded), the pipeline
 * (the intake, and the workers unless the role is `api` or `dashboard`), the metrics, the
 * dashboard, and the HTTP API listening. Everything started is stopped again when a later
 * step fails, so a failed start leaves no redis-server, lock or `redis.url` behind.
 */
export async function startServices(options: StartOptions): Promise<Services> {
  const { config, logger: log } = options;
  const role = options.role ?? 'all';
  const undo: Array<() => Promise<void>> = [];
  const unwind = async (): Promise<void> => {
    for (const step of undo.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    let redisUrl: string;
    let embedded = false;
    if ('embedded' in options.redis) {
      const { dataDir, appendOnly, lock: given } = options.redis.embedded;
      // The lock comes before redis-server and redis.url: a second start on this folder
      // stops here, leaving the first's server and address alone.
      const lock = given ?? DataDirLock.acquire(dataDir);
      undo.push(async () => lock.release());
      const redisDir = path.join(dataDir, 'redis');
      const urlFile = path.join(dataDir, 'redis.url');
      // A redis.url still here means the last start on this folder ended without stopping
      // (its lock was stale): its redis-server may still run on the same files.
      const left = existsSync(urlFile) ? readFileSync(urlFile, 'utf8').trim() : '';
      if (left !== '' && (await shutDownOrphanedServer(left, redisDir))) {
        log?.warn({ dataDir }, `shut down the redis-server an earlier start on ${dataDir} left running (its data flushed) before starting a new one`);
      }
      const server = await EmbeddedRedis.start({ dir: redisDir, ...(appendOnly !== undefined ? { appendOnly } : {}) });
      undo.push(() => server.stop());
      redisUrl = server.url;
      embedded = true;
      writeFileSync(urlFile, redisUrl + '\n');
      undo.push(async () => rmSync(urlFile, { force: true }));
    } else {
      redisUrl = options.redis.url;
      // Wrong credentials end the start with one line; a Redis not up yet is waited for.
      const shown = displayRedisUrl(redisUrl);
      await waitForRedis(redisUrl, (reason) => log?.warn({ redis: shown }, `waiting for Redis: ${reason}`));
    }

    const metricsQueues: Queue[] = [];
    const lag: { of?: () => Promise<ConfirmationLag[]> } = {};
    const metrics = new PipelineMetrics({
      queues: metricsQueues,
      keys: options.keys ?? [],
      ...(options.unusableKeys ? { unusableKeys: options.unusableKeys } : {}),
      ...(config.suppliers.some((s) => s.confirmations)
        ? { confirmationLag: async () => ((await lag.of?.()) ?? []).map((l) => ({ ...l, rejected: l.rejectedTotal, backordered: l.backorderedTotal })) }
        : {}),
    });
    const pipeline = await Pipeline.start({
      ...(options.lockDurationMs !== undefined ? { lockDurationMs: options.lockDurationMs } : {}),
      ...(options.stalledIntervalMs !== undefined ? { stalledIntervalMs: options.stalledIntervalMs } : {}),
      metrics,
      ...(log ? { logger: log } : {}),
      config,
      redisUrl,
      prefix: options.prefix ?? 'dropship',
      ...(options.partitions !== undefined ? { partitions: options.partitions } : {}),
      ...(options.waitTimeoutMs !== undefined ? { durability: { replicas: 1, timeoutMs: options.waitTimeoutMs } } : {}),
      transports: options.transports,
      cipher: options.cipher,
      workers: role === 'all' || role === 'workers',
      // The store platform told what shipped (store.platform); its secrets are checked here, at start.
      ...(() => {
        const store = createStorePlatform(config);
        return store ? { store } : {};
      })(),
    });
    undo.push(() => pipeline.stop());
    const lagOps = new Operations(pipeline.redis, pipeline.keys, config);
    lag.of = () => lagOps.confirmationLag();
    // Every queue of every partition.
    const queues = (): Queue[] => pipeline.keys.prefixes.flatMap((prefix) => pipelineQueueNames(config).map((name) => new Queue(name, { connection: pipeline.redis, prefix })));
    metricsQueues.push(...queues());
    const dashboardQueues = options.dashboard && role !== 'workers' ? queues() : [];
    undo.push(async () => void (await Promise.all([...dashboardQueues, ...metricsQueues].map((q) => q.close()))));
    // The operator console reads through the same operations as the CLI, on the pipeline's connection.
    // The console and GET /orders/:id read through the same operations as the CLI, on the
    // pipeline's connection.
    const takesOrders = role === 'all' || role === 'api';
    const consoleOps = (options.dashboard && role !== 'workers') || takesOrders ? new Operations(pipeline.redis, pipeline.keys, config) : undefined;
    if (consoleOps) undo.push(() => consoleOps.close());
    const consoleQueries = consoleOps
      ? new ConsoleQueries(consoleOps, { keys: options.keys ?? [], ...(options.unusableKeys ? { unusableKeys: options.unusableKeys } : {}) })
      : undefined;

    const warning = await evictionPolicyWarning(pipeline.redis);
    if (warning) log?.warn(warning);
    if (!options.dashboard && role !== 'workers') log?.info('dashboard off: set DASHBOARD_USER and DASHBOARD_PASSWORD (or DASHBOARD_TOKEN) to serve it at /admin/queues');

    const api = buildApi({
      ...(log ? { logger: log } : {}),
      // Only a process that takes orders answers the order routes; the others serve health,
      // metrics and the dashboard.
      ...(takesOrders
        ? { submit: (e: OrderEvent) => pipeline.intake.submit(e), cancel: (e: CancelEvent) => pipeline.intake.cancel(e) }
        : {}),
      ...(takesOrders && consoleQueries ? { timeline: (orderId: string) => consoleQueries.timeline(orderId) } : {}),
      ...(takesOrders
        ? { confirmations: { suppliers: config.suppliers, confirm: (supplierId, confirmation, origin) => pipeline.confirmations.confirm(supplierId, confirmation, origin) } }
        : {}),
      ready: () => pipeline.ready(),
      metrics: metrics.registry,
      rateLimit: { redis: pipeline.redis, prefix: pipeline.prefix, limits: config.store.api.rateLimits, onLimited: (source) => metrics.rateLimited(source) },
      trustProxy: config.store.api.trustProxy,
      webhookMaxAgeMs: config.store.api.webhookMaxAgeMs,
      ...(options.dashboard
        ? {
            dashboard: {
              queues: dashboardQueues,
              auth: options.dashboard.auth,
              readOnly: options.dashboard.readOnly ?? false,
              unmask: options.dashboard.unmask ?? false,
              cipher: options.cipher,
              ...(consoleQueries && role !== 'workers' ? { console: { queries: consoleQueries } } : {}),
            },
          }
        : {}),
    });
    undo.push(() => api.close());
    const port = await listen(api, options.listen);

    let closing: Promise<void> | undefined;
    return {
      pipeline,
      api,
      redisUrl,
      embedded,
      port,
      close: () => (closing ??= unwind()),
    };
  } catch (error) {
    await unwind();
    throw error;
  }
}
