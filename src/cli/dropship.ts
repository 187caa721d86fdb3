#!/usr/bin/env node
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { Queue } from 'bullmq';
import { type DashboardAuth, dashboardAuthFromEnv } from '../api/dashboard';
import { buildApi } from '../api/server';
import type { OrderEvent } from '../domain/order';
import type { Config } from '../config/config';
import { loadConfig } from '../config/load';
import { EmbeddedRedis, REDIS_MISSING_HINT, redisServerAvailable } from '../embedded-redis';
import { DropshipError } from '../errors';
import { createLogger } from '../log';
import { Pipeline } from '../pipeline';
import { previewOrder } from '../preview';
import { createOrderProducer } from '../producer';
import { ORDERS_QUEUE, deliveryQueueName } from '../queue/names';
import { createRedis, evictionPolicyWarning } from '../queue/redis';
import { parseJsonBody } from '../sources/ingest';
import { checkSupplierKeys, KEY_EXPIRY_WARNING_DAYS, type SupplierKeyStatus } from '../config/keys';
import { PipelineMetrics } from '../metrics';
import { configuredTransports, createTransport, deliveryTargets, outboxTransports, type TransportFactory } from '../transports/factory';

/** Exit code for bad input or configuration (DESIGN.md: preview exits 2 on bad input). */
const EXIT_BAD_INPUT = 2;

class CliError extends Error {}

function fail(err: unknown): never {
  if (err instanceof DropshipError || err instanceof CliError) {
    process.stderr.write(`dropship: ${err.message}\n`);
    process.exit(EXIT_BAD_INPUT);
  }
  process.stderr.write(`dropship: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

const sourceOption = () =>
  new Option('--source <source>', 'payload shape (default: detect)').choices(['canonical', 'shopify', 'woocommerce']);
const configOption = () => new Option('--config <dir>', 'configuration directory').default(process.env.CONFIG_DIR ?? 'config');
const dataDirOption = () => new Option('--data-dir <dir>', 'where the embedded Redis keeps its data').default(process.env.DATA_DIR ?? 'var');

function readPayload(file: string): unknown {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (err) {
    throw new CliError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return parseJsonBody(raw);
  } catch (err) {
    if (err instanceof DropshipError) throw new CliError(`${file}: ${err.message}`);
    throw err;
  }
}

/** REDIS_URL, else the embedded server a running `dropship start` recorded. */
function redisUrlFor(dataDir: string): string {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  const file = path.join(dataDir, 'redis.url');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  throw new CliError(`REDIS_URL is not set and no embedded Redis is running (start one with "dropship start", or set REDIS_URL)`);
}

/** Every queue the configuration runs: orders, then one per recipient. */
function queueNames(config: Config): string[] {
  return [ORDERS_QUEUE, ...deliveryTargets(config).map((t) => deliveryQueueName(t.kind, t.recipient))];
}

const program = new Command('dropship')
  .description('Order fulfillment and drop-ship pipeline')
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_BAD_INPUT));

program
  .command('preview')
  .description('print what every recipient would receive for an order, without Redis and without sending')
  .argument('<file>', 'order payload (canonical JSON, Shopify or WooCommerce webhook body)')
  .addOption(configOption())
  .addOption(sourceOption())
  .action((file: string, opts: { config: string; source?: 'canonical' | 'shopify' | 'woocommerce' }) => {
    try {
      const payload = readPayload(file);
      const config = loadConfig(opts.config);
      const result = previewOrder(payload, config, opts.source);
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      if (result.held) process.stderr.write(`dropship: order ${result.orderId} would be held: ${result.held.map((h) => h.message).join('; ')}\n`);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('enqueue')
  .description('submit an order payload (or a JSON array of them) to the running pipeline')
  .argument('<file>')
  .addOption(configOption())
  .addOption(sourceOption())
  .addOption(dataDirOption())
  .action(async (file: string, opts: { config: string; source?: 'canonical' | 'shopify' | 'woocommerce'; dataDir: string }) => {
    try {
      const payload = readPayload(file);
      const config = loadConfig(opts.config);
      const producer = createOrderProducer({ redisUrl: redisUrlFor(opts.dataDir), config, prefix: process.env.QUEUE_PREFIX ?? 'dropship' });
      try {
        for (const one of Array.isArray(payload) ? payload : [payload]) {
          const result = await producer.submit(one, opts.source ? { source: opts.source } : {});
          process.stdout.write(JSON.stringify(result) + '\n');
        }
      } finally {
        await producer.close();
      }
    } catch (err) {
      fail(err);
    }
  });

program
  .command('status')
  .description('job counts of every queue, and the orders held for an operator')
  .addOption(configOption())
  .addOption(dataDirOption())
  .option('--json', 'print JSON')
  .action(async (opts: { config: string; dataDir: string; json?: boolean }) => {
    try {
      const config = loadConfig(opts.config);
      const redis = createRedis(redisUrlFor(opts.dataDir), { maxRetriesPerRequest: 2 });
      const prefix = process.env.QUEUE_PREFIX ?? 'dropship';
      const names = queueNames(config);
      const queues: Array<Record<string, string | number>> = [];
      const held: Array<{ orderId: string; reason: string }> = [];
      for (const name of names) {
        const q = new Queue(name, { connection: redis, prefix });
        const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
        queues.push({ queue: name, ...counts });
        if (name === ORDERS_QUEUE) {
          for (const job of await q.getFailed(0, 99)) {
            held.push({ orderId: (job.id ?? '').replace(/^order\+/, ''), reason: job.failedReason });
          }
        }
        await q.close();
      }
      await redis.quit();
      const keys = (await checkSupplierKeys(config).catch(() => [])).filter(
        (k) => k.daysUntilExpiry !== null && k.daysUntilExpiry <= KEY_EXPIRY_WARNING_DAYS,
      );
      if (opts.json) {
        process.stdout.write(JSON.stringify({ queues, held, expiringKeys: keys }) + '\n');
      } else {
        console.table(queues);
        for (const h of held) console.log(`held: order ${h.orderId}: ${h.reason}`);
        for (const k of keys) console.log(`key: supplier ${k.supplierId}'s PGP key ${k.fingerprint} expires in ${k.daysUntilExpiry} days (${k.expiresAt})`);
      }
    } catch (err) {
      fail(err);
    }
  });

program
  .command('verify')
  .description("check each recipient's reachability and credentials (connect, authenticate, TLS, host key) without sending an order")
  .argument('[recipient]', 'one supplier id (or ups / fedex); default: all')
  .addOption(configOption())
  .action(async (recipient: string | undefined, opts: { config: string }) => {
    try {
      const config = loadConfig(opts.config);
      const targets = deliveryTargets(config).filter((t) => !recipient || t.recipient === recipient);
      if (targets.length === 0) throw new CliError(`no supplier or carrier "${recipient}" is configured`);
      let failed = 0;
      try {
        await checkSupplierKeys(config);
      } catch (err) {
        failed++;
        process.stdout.write(`${err instanceof Error ? err.message : String(err)}\n`);
      }
      for (const target of targets) {
        const label = `${target.kind === 'carrier' ? 'carrier' : 'supplier'} ${target.recipient}`;
        try {
          const transport = createTransport(config, target);
          try {
            await transport.verify();
          } finally {
            await transport.close();
          }
          process.stdout.write(`ok    ${label}\n`);
        } catch (err) {
          failed++;
          process.stdout.write(`FAIL  ${label}: ${err instanceof Error ? err.message : String(err)}\n`);
        }
      }
      process.exitCode = failed > 0 ? 1 : 0;
    } catch (err) {
      fail(err);
    }
  });

program
  .command('start')
  .description('run the API and the workers (with no REDIS_URL, on a private embedded redis-server)')
  .addOption(configOption())
  .addOption(dataDirOption())
  .option('--dry-run', 'write every payload to a local outbox instead of sending it')
  .option('--outbox <dir>', 'outbox directory for --dry-run', 'var/outbox')
  .addOption(new Option('--port <port>', 'API port').default(process.env.PORT ?? '3000'))
  .addOption(new Option('--host <host>', 'API address').default(process.env.HOST ?? '127.0.0.1'))
  .addOption(new Option('--role <role>', 'what this process runs').choices(['all', 'api', 'workers', 'dashboard']).default(process.env.ROLE ?? 'all'))
  .action(async (opts: { config: string; dataDir: string; dryRun?: boolean; outbox: string; port: string; host: string; role: 'all' | 'api' | 'workers' | 'dashboard' }) => {
    const log = createLogger();
    let config: Config;
    try {
      config = loadConfig(opts.config);
    } catch (err) {
      fail(err);
    }
    let dashboardAuth: DashboardAuth | undefined;
    try {
      dashboardAuth = dashboardAuthFromEnv(process.env);
    } catch (err) {
      fail(err);
    }
    if (opts.role === 'dashboard' && !dashboardAuth) {
      fail(new CliError('the dashboard will not run open: set DASHBOARD_USER and DASHBOARD_PASSWORD, or DASHBOARD_TOKEN'));
    }
    let transports: TransportFactory;
    let keys: SupplierKeyStatus[] = [];
    try {
      keys = await checkSupplierKeys(config);
      for (const key of keys) {
        if (key.daysUntilExpiry !== null && key.daysUntilExpiry <= KEY_EXPIRY_WARNING_DAYS) {
          log.warn({ supplier: key.supplierId, fingerprint: key.fingerprint, expiresAt: key.expiresAt }, `PGP key of supplier ${key.supplierId} expires in ${key.daysUntilExpiry} days`);
        }
      }
      transports = opts.dryRun ? outboxTransports(path.resolve(opts.outbox)) : configuredTransports(config);
    } catch (err) {
      fail(err);
    }
    let embedded: EmbeddedRedis | undefined;
    let redisUrl = process.env.REDIS_URL;
    if (!redisUrl) {
      if (!redisServerAvailable()) fail(new CliError(REDIS_MISSING_HINT));
      embedded = await EmbeddedRedis.start({ dir: path.join(opts.dataDir, 'redis') });
      redisUrl = embedded.url;
      mkdirSync(opts.dataDir, { recursive: true });
      writeFileSync(path.join(opts.dataDir, 'redis.url'), redisUrl + '\n');
    }
    const metricsQueues: Queue[] = [];
    const metrics = new PipelineMetrics({ queues: metricsQueues, keys });
    const pipeline = await Pipeline.start({
      metrics,
      config,
      redisUrl,
      prefix: process.env.QUEUE_PREFIX ?? 'dropship',
      transports,
      workers: opts.role === 'all' || opts.role === 'workers',
    });
    metricsQueues.push(...queueNames(config).map((name) => new Queue(name, { connection: pipeline.redis, prefix: pipeline.prefix })));
    const warning = await evictionPolicyWarning(pipeline.redis);
    if (warning) log.warn(warning);
    const dashboardQueues = dashboardAuth && opts.role !== 'workers' ? queueNames(config).map((name) => new Queue(name, { connection: pipeline.redis, prefix: pipeline.prefix })) : [];
    if (!dashboardAuth && opts.role !== 'workers') log.info('dashboard off: set DASHBOARD_USER and DASHBOARD_PASSWORD (or DASHBOARD_TOKEN) to serve it at /admin/queues');
    const api = buildApi({
            ...(opts.role === 'all' || opts.role === 'api' ? { submit: (e: OrderEvent) => pipeline.intake.submit(e) } : {}),
            ready: async () => void (await pipeline.redis.ping()),
            metrics: metrics.registry,
            ...(dashboardAuth
              ? { dashboard: { queues: dashboardQueues, auth: dashboardAuth, readOnly: process.env.DASHBOARD_READ_ONLY === 'true', unmask: process.env.DASHBOARD_UNMASK === 'true' } }
              : {}),
          });
    await api.listen({ port: Number(opts.port), host: opts.host });
    log.info(
      { role: opts.role, redis: embedded ? 'embedded' : 'external', suppliers: config.suppliers.length, dryRun: Boolean(opts.dryRun) },
      `dropship started on http://${opts.host}:${opts.port}${opts.dryRun ? `; payloads go to ${opts.outbox}` : ''}`,
    );
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'draining: finishing jobs in flight');
      await api.close();
      await Promise.all([...dashboardQueues, ...metricsQueues].map((q) => q.close()));
      await pipeline.stop();
      if (embedded) {
        await embedded.stop();
        rmSync(path.join(opts.dataDir, 'redis.url'), { force: true });
      }
      log.info('stopped');
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  });

program.parseAsync(process.argv).catch(fail);
