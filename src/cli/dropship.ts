#!/usr/bin/env node
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import type { Logger } from 'pino';
import { type DashboardAuth, dashboardAuthFromEnv } from '../api/dashboard';
import { CANCEL_REASONS, type CancelReason } from '../core/order';
import type { Config } from '../config/config';
import { loadConfig } from '../config/load';
import { REDIS_MISSING_HINT, redisServerAvailable } from '../queue/embedded-redis';
import { DataDirLock, DataDirLockedError } from '../queue/data-dir-lock';
import { DropshipError } from '../errors';
import { createLogger } from '../telemetry/log';
import { pipelineQueueNames, type Role, type Services, startServices } from '../app/start';
import { previewOrder } from '../planning/preview';
import { createOrderProducer } from '../app/producer';
import { type LabelRecoveryOutcome, ORDERS_QUEUE } from '../queue/names';
import { keySpaceFor, PartitionsChangedError } from '../queue/partitions';
import { createRedis, displayRedisUrl, RedisRefusedError, redisFromEnv } from '../queue/redis';
import { type DataCipher, dataCipherFromEnv, generateDataKey, withoutDataKey } from '../queue/sealing';
import { parseJsonBody } from '../sources/ingest';
import { checkSupplierKeys, inspectSupplierKeys, KEY_EXPIRY_WARNING_DAYS, type SupplierKeyStatus, type UnusableSupplierKey } from '../config/keys';
import { parseDuration } from '../core/duration';
import { ConsoleQueries, reasonsInWords } from '../ops/console-queries';
import { Operations, type Progress } from '../ops/operations';
import { verifyConfirmationFolder } from '../loop/pickup';
import { configuredTransports, createTransport, deliveryTargets, outboxTransports, type TransportFactory } from '../transports/factory';
import { ProgressBar } from './progress';
import { formatTimeline, reasonLine } from './timeline';
import { formatTable } from './table';

/** Exit code for bad input or configuration (docs/cli.md: preview exits 2 on bad input). */
const EXIT_BAD_INPUT = 2;

/** What `status` says of a label whose purchase lost its answer, once the carrier was asked. */
const LABEL_RECOVERY_NOTES: Record<LabelRecoveryOutcome, string> = {
  reused: 'it had sold the label, which was taken (nothing bought again)',
  cancelled: 'it held a shipment without a label, which was cancelled before the label was bought again',
  'none found': 'it held no label, so one was bought',
};

class CliError extends Error {}

function fail(err: unknown): never {
  if (err instanceof DropshipError || err instanceof CliError || err instanceof DataDirLockedError) {
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

/** The Redis of `REDIS_CLUSTER_NODES` or `REDIS_URL`, if either is set (a malformed node list ends the command). */
function externalRedis(): string | undefined {
  try {
    return redisFromEnv(process.env);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
}

/** `QUEUE_PARTITIONS` (1 to 1024), when set. */
function partitionsFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const text = env.QUEUE_PARTITIONS;
  if (text === undefined || text.trim() === '') return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new CliError('QUEUE_PARTITIONS must be a whole number from 1 to 1024');
  return n;
}

/** `REDIS_WAIT_TIMEOUT` (a duration, 10ms to 1m): how long intake waits for a replica on a cluster. */
function waitTimeoutFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const text = env.REDIS_WAIT_TIMEOUT;
  if (text === undefined || text === '') return undefined;
  const ms = parseDuration(text);
  if (ms === undefined || ms < 10 || ms > 60_000) throw new CliError('REDIS_WAIT_TIMEOUT must be a duration from 10ms to 1m, such as "2s"');
  return ms;
}

/** REDIS_CLUSTER_NODES or REDIS_URL, else the embedded server a running `dropship start` recorded. */
function redisUrlFor(dataDir: string): string {
  const external = externalRedis();
  if (external) return external;
  const file = path.join(dataDir, 'redis.url');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  throw new CliError(`neither REDIS_URL nor REDIS_CLUSTER_NODES is set and no embedded Redis is running (start one with "dropship start", or set REDIS_URL)`);
}

/**
 * The data cipher: `DROPSHIP_DATA_KEY` (or `_FILE`); with no `REDIS_URL`, the embedded
 * Redis's own key beside its data (`<data-dir>/data.key`, created on first start).
 */
function cipherFor(dataDir: string): DataCipher {
  if (externalRedis()) return dataCipherFromEnv(process.env);
  mkdirSync(dataDir, { recursive: true });
  return dataCipherFromEnv(process.env, { localKeyFile: path.join(dataDir, 'data.key') });
}

/** The producer `enqueue` and `cancel` submit through: the running pipeline's Redis, key, partitions and WAIT. */
function producerFor(opts: { config: string; dataDir: string }) {
  const config = loadConfig(opts.config);
  const redisUrl = redisUrlFor(opts.dataDir);
  const waitTimeoutMs = waitTimeoutFromEnv(process.env);
  const partitions = partitionsFromEnv(process.env);
  return createOrderProducer({
    redisUrl,
    config,
    prefix: process.env.QUEUE_PREFIX ?? 'dropship',
    cipher: cipherFor(opts.dataDir),
    ...(partitions !== undefined ? { partitions } : {}),
    ...(waitTimeoutMs !== undefined ? { waitTimeoutMs } : {}),
  });
}

/**
 * `DROPSHIP_LOCK_DURATION` and `DROPSHIP_STALLED_INTERVAL` (durations, 1s to 10m): how long a
 * worker holds a job between lock renewals, and how often jobs of dead workers are looked for.
 * Lower them to have a crashed worker's jobs run again sooner.
 */
function lockTimingsFromEnv(env: NodeJS.ProcessEnv): { lockDurationMs?: number; stalledIntervalMs?: number } {
  const read = (name: string): number | undefined => {
    const text = env[name];
    if (text === undefined || text === '') return undefined;
    const ms = parseDuration(text);
    if (ms === undefined || ms < 1000 || ms > 600_000) throw new CliError(`${name} must be a duration from 1s to 10m, such as "10s"`);
    return ms;
  };
  const lockDurationMs = read('DROPSHIP_LOCK_DURATION');
  const stalledIntervalMs = read('DROPSHIP_STALLED_INTERVAL');
  return { ...(lockDurationMs !== undefined ? { lockDurationMs } : {}), ...(stalledIntervalMs !== undefined ? { stalledIntervalMs } : {}) };
}

/** Runs operator work against the pipeline's Redis, then closes everything. */
async function withOperations(opts: { config: string; dataDir: string }, fn: (ops: Operations, config: Config) => Promise<void>): Promise<void> {
  const config = loadConfig(opts.config);
  const url = redisUrlFor(opts.dataDir);
  // An operator's command gives up after a few tries (a wrong password, Redis down) and says
  // why, rather than waiting for ever.
  let lastError: string | undefined;
  const redis = createRedis(url, { maxRetriesPerRequest: 2, retryStrategy: (times) => (times > 3 ? null : times * 250) });
  redis.on('error', (err: Error) => {
    lastError = err.message.split('\n')[0];
  });
  let ops: Operations | undefined;
  try {
    // The partitions the pipeline recorded (QUEUE_PARTITIONS before it ever ran).
    ops = new Operations(redis, await keySpaceFor(redis, process.env.QUEUE_PREFIX ?? 'dropship', partitionsFromEnv(process.env)), config);
    await fn(ops, config);
  } catch (err) {
    if (redis.status === 'end' || redis.status === 'close' || (err instanceof Error && err.name === 'MaxRetriesPerRequestError')) throw new CliError(`cannot use Redis at ${displayRedisUrl(url)}: ${lastError ?? 'the connection was closed'}`);
    throw err;
  } finally {
    await ops?.close().catch(() => undefined);
    await redis.quit().catch(() => redis.disconnect());
  }
}

/**
 * Progress of a long operation as a bar on stderr, drawn in place on a terminal; elsewhere
 * its final state only. The operation has found all its work by its first report, so the
 * bar is made then with the whole total and never grows.
 */
function progress(label: string): Progress {
  let bar: ProgressBar | undefined;
  return (done, total) => {
    if (total === 0) return; // nothing to do: no bar, rather than an empty one left on the line
    bar ??= new ProgressBar({ total, label });
    if (done >= total) bar.finish(done);
    else bar.update(done);
  };
}

/** This program's version, from the package.json above it (two levels up from source, three from dist/). */
function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'dropship-pipeline' && typeof pkg.version === 'string') return pkg.version;
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

/** One JSON document on stdout, for machines (`--json`). */
function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

const program = new Command('dropship')
  .description('Order fulfillment and drop-ship pipeline')
  .version(packageVersion(), '-V, --version', 'print the version')
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
      // Exit 0 for all four statuses (the JSON says which); a person also reads why on stderr.
      const verb = { planned: '', waiting: 'would wait', held: 'would be held', skipped: 'would be skipped' }[result.status];
      if (result.reasons && verb) process.stderr.write(`dropship: order ${result.orderId} ${verb}: ${result.reasons.map((r) => `${r.code} ${r.message}`).join('; ')}\n`);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('enqueue')
  .description('submit order payloads (each file one payload or a JSON array of them) to the running pipeline; one JSON line per order')
  .argument('<file...>')
  .addOption(configOption())
  .addOption(sourceOption())
  .addOption(dataDirOption())
  .option('--replace', 'each order replaces the one accepted before under its id (a corrected held or waiting order is planned again)')
  .action(async (files: string[], opts: { config: string; source?: 'canonical' | 'shopify' | 'woocommerce'; dataDir: string; replace?: boolean }) => {
    let bar: ProgressBar | undefined;
    try {
      // Every file is read before the first order goes out: a typo in the last file name
      // stops the run before anything is submitted, and the bar knows its total.
      const payloads = files.flatMap((file) => {
        const payload = readPayload(file);
        return Array.isArray(payload) ? (payload as unknown[]) : [payload];
      });
      const producer = producerFor(opts);
      // A bar only for a person watching many orders go: stdout stays JSON lines either way.
      if (payloads.length > 1 && process.stderr.isTTY) bar = new ProgressBar({ total: payloads.length, label: 'orders submitted' });
      bar?.start();
      try {
        for (const [i, one] of payloads.entries()) {
          const result = await producer.submit(one, { ...(opts.source ? { source: opts.source } : {}), ...(opts.replace ? { replace: true } : {}) });
          bar?.clear();
          process.stdout.write(JSON.stringify(result) + '\n');
          if (i + 1 < payloads.length) bar?.update(i + 1);
          else bar?.finish(i + 1);
        }
      } finally {
        await producer.close();
      }
    } catch (err) {
      bar?.clear();
      fail(err);
    }
  });

program
  .command('cancel')
  .description('cancel an order: void its labels not yet used, send each supplier that has its purchase order a cancellation')
  .argument('<orderId>')
  .addOption(configOption())
  .addOption(dataDirOption())
  .option('--reason <reason>', `why (${CANCEL_REASONS.join(', ')})`)
  .action(async (orderId: string, opts: { config: string; dataDir: string; reason?: string }) => {
    try {
      if (opts.reason !== undefined && !(CANCEL_REASONS as readonly string[]).includes(opts.reason)) {
        throw new CliError(`--reason must be one of ${CANCEL_REASONS.join(', ')}`);
      }
      const producer = producerFor(opts);
      try {
        const result = await producer.cancel(orderId, opts.reason ? { reason: opts.reason as CancelReason } : {});
        process.stdout.write(JSON.stringify({ ...result, cancelled: true }) + '\n');
      } finally {
        await producer.close();
      }
    } catch (err) {
      fail(err);
    }
  });

program
  .command('status')
  .description('job counts of every queue, held orders and expiring keys; or, with ORDER_ID, one order')
  .argument('[orderId]', 'show one order: its deliveries, their states, tracking numbers')
  .addOption(configOption())
  .addOption(dataDirOption())
  .option('--json', 'print JSON')
  .action(async (orderId: string | undefined, opts: { config: string; dataDir: string; json?: boolean }) => {
    try {
      await withOperations(opts, async (ops, config) => {
        if (orderId) {
          const status = await ops.orderStatus(orderId);
          if (status.state === 'unknown') throw new CliError(`no order ${orderId} is known`);
          const timeline = await new ConsoleQueries(ops).timeline(orderId);
          if (opts.json) return printJson({ ...status, shipments: timeline?.shipments ?? [] });
          console.log(`order ${status.orderId}: ${status.state}${status.heldReason ? ` (${status.heldReason})` : ''}; ${status.disclosures} disclosures recorded`);
          if (status.cancelled) console.log(`cancelled${status.cancelled.at ? ` at ${status.cancelled.at}` : ''}${status.cancelled.reason ? ` (${status.cancelled.reason})` : ''}`);
          if (status.deliveries.length > 0) process.stdout.write(formatTable(status.deliveries, ['deliveryId', 'queue', 'state', 'attempts', 'skipped', 'failedReason']));
          for (const t of status.tracking) {
            const notes = [
              t.voidedAt ? `voided ${t.voidedAt}` : '',
              t.lostAttemptAt ? `an attempt at ${t.lostAttemptAt} got no answer: check ${t.carrier} for a second label` : '',
              t.labelRecovery ? `an attempt got no answer; ${t.carrier} was asked: ${LABEL_RECOVERY_NOTES[t.labelRecovery]}` : '',
            ].filter(Boolean);
            console.log(`tracking: ${t.shipmentId} ${t.carrier} ${t.trackingNumber}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`);
          }
          // Each shipment's stages, and a held order's reasons in words with what to do.
          if (timeline) process.stdout.write(formatTimeline(timeline));
          // What became of the version accepted last, and why it waits, is held or was skipped.
          if (status.stage) console.log(`stage: ${status.stage}${status.version !== undefined ? ` (version ${status.version})` : ''}${status.stageAt ? ` since ${status.stageAt}` : ''}`);
          for (const r of status.reasons ?? []) console.log(`${status.stage ?? 'reason'}: ${r.code} ${r.message}. ${r.action}`);
          return;
        }
        const queues: Array<Record<string, string | number>> = [];
        for (const name of pipelineQueueNames(config)) {
          queues.push({ queue: name, ...(await ops.queue(name).getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed')) });
        }
        const held = (await ops.queue(ORDERS_QUEUE).getFailed(0, 99)).map((job) => ({ orderId: (job.id ?? '').replace(/^order\+/, ''), reason: job.failedReason }));
        const inspected = await inspectSupplierKeys(config);
        const keys = inspected.keys.filter((k) => k.daysUntilExpiry !== null && k.daysUntilExpiry <= KEY_EXPIRY_WARNING_DAYS);
        const unusableKeys = inspected.unusable;
        // A recipient is failing when deliveries to it failed for good or wait to be retried.
        const failing = queues
          .filter((q) => q.queue !== ORDERS_QUEUE && (Number(q.failed) > 0 || Number(q.delayed) > 0))
          .map((q) => ({ recipient: String(q.queue).replace(/^(po|carrier)-/, ''), failed: Number(q.failed), retrying: Number(q.delayed) }));
        const unconfirmedLabels = await ops.unconfirmedLabels();
        const waiting = (await ops.waitingOrders()).map((w) => ({ orderId: w.orderId, since: w.since, reasons: w.reasons.map((r) => ({ code: r.code, message: r.message })) }));
        const confirmations = await ops.confirmationLag();
        const fulfillments = await ops.failedFulfillments();
        if (opts.json) {
          printJson({ queues, failing, held, waiting, expiringKeys: keys, unusableKeys, unconfirmedLabels, confirmations, failedFulfillments: fulfillments.failed });
        } else {
          process.stdout.write(formatTable(queues, ['queue', 'waiting', 'active', 'delayed', 'completed', 'failed']));
          for (const f of failing) console.log(`failing: ${f.recipient}: ${f.failed} failed, ${f.retrying} waiting to be retried`);
          for (const h of held) console.log(`held: order ${h.orderId}: ${h.reason}`);
          for (const w of waiting) console.log(`waiting: order ${w.orderId} since ${w.since}: ${w.reasons.map((r) => `${r.code} ${r.message}`).join('; ')}`);
          for (const c of confirmations) {
            const hours = Math.round(c.expectWithinMs / 3_600_000);
            if (c.overdue > 0) console.log(`unanswered: ${c.supplierId}: ${c.overdue} purchase order${c.overdue === 1 ? '' : 's'} neither acknowledged nor shipped after ${hours} h (orders ${c.overdueOrders.join(', ')}${c.overdue > c.overdueOrders.length ? ', …' : ''})`);
            for (const o of c.rejected) console.log(`rejected: order ${o}: ${c.supplierId} rejected its purchase order (dropship status ${o} shows why; once handled: dropship handled ${o} --supplier ${c.supplierId})`);
            if (c.rejectedTotal > c.rejected.length) console.log(`rejected: ${c.supplierId}: ${c.rejectedTotal - c.rejected.length} more`);
            for (const o of c.backordered) console.log(`backordered: order ${o}: ${c.supplierId} backordered its purchase order (dropship status ${o} shows why; once handled: dropship handled ${o} --supplier ${c.supplierId})`);
            if (c.backorderedTotal > c.backordered.length) console.log(`backordered: ${c.supplierId}: ${c.backorderedTotal - c.backordered.length} more`);
            for (const f of c.failedFiles) {
              console.log(`confirmation file: ${c.supplierId}: ${f.file} ${f.kind === 'unreadable' ? `could not be read (moved to ${f.movedTo ?? 'failed/'})` : 'could not be taken (left for the next run)'} at ${f.at}: ${f.problems.slice(0, 3).join('; ')}${f.problems.length > 3 ? '; …' : ''}`);
            }
          }
          for (const f of fulfillments.failed) {
            const reason = reasonsInWords(f.failedReason)[0];
            console.log(`fulfillment: order ${f.orderId}: the store was not told of shipment ${f.shipmentId} (${f.fulfillmentId}, failed${f.failedAt ? ` ${f.failedAt}` : ''} after ${f.attempts} attempt${f.attempts === 1 ? '' : 's'})${reason ? `: ${reasonLine(reason)}` : ''}; once fixed: dropship replay --fulfillment ${f.fulfillmentId}`);
          }
          if (fulfillments.total > fulfillments.failed.length) console.log(`fulfillment: ${fulfillments.total - fulfillments.failed.length} more failed (dropship replay --fulfillments replays them all)`);
          for (const u of unconfirmedLabels) {
            console.log(`label: ${u.deliveryId}: an attempt at ${u.lostAttemptAt} got no answer${u.reason ? ` (${u.reason})` : ''}; ${u.carrier} may hold a second label for shipment ${u.shipmentId} (void it in the carrier account, then: dropship labels --ack ${u.deliveryId})`);
          }
          for (const u of unusableKeys) console.log(`key: supplier ${u.supplierId} cannot be sent to: ${u.problem}`);
          for (const k of keys) console.log(`key: supplier ${k.supplierId}'s PGP key ${k.fingerprint} expires in ${k.daysUntilExpiry} days (${k.expiresAt})`);
        }
      });
    } catch (err) {
      fail(err);
    }
  });

program
  .command('disclosures')
  .description('what was shared about one order, with whom and when (the disclosure ledger)')
  .argument('<orderId>')
  .addOption(configOption())
  .addOption(dataDirOption())
  .option('--json', 'print JSON')
  .action(async (orderId: string, opts: { config: string; dataDir: string; json?: boolean }) => {
    try {
      await withOperations(opts, async (ops) => {
        const records = await ops.disclosures(orderId);
        if (opts.json) return printJson(records);
        if (records.length === 0) return void console.log(`nothing has been disclosed about order ${orderId} (or its records are past retention)`);
        // The field list last: it is the long column, and nothing after it needs aligning.
        process.stdout.write(
          formatTable(
            records.map((r) => ({ deliveredAt: r.deliveredAt, deliveryId: r.deliveryId, recipient: r.recipient, kind: r.kind, transport: r.transport, format: r.format, sha256: r.sha256.slice(0, 16), fields: r.fields.join(' ') })),
          ),
        );
      });
    } catch (err) {
      fail(err);
    }
  });

program
  .command('labels')
  .description('labels that may have been bought twice (an attempt got no answer): list them, or acknowledge them once the carrier account is checked')
  .option('--ack <deliveryId...>', 'take these off the list (after voiding any second label)')
  .option('--ack-all', 'take every label off the list')
  .addOption(configOption())
  .addOption(dataDirOption())
  .option('--json', 'print JSON')
  .action(async (opts: { ack?: string[]; ackAll?: boolean; config: string; dataDir: string; json?: boolean }) => {
    try {
      if (opts.ack && opts.ackAll) throw new CliError('name --ack or --ack-all, not both');
      await withOperations(opts, async (ops) => {
        if (opts.ack || opts.ackAll) {
          const removed = await ops.acknowledgeLabels(opts.ackAll ? 'all' : (opts.ack ?? []));
          const unknown = (opts.ack ?? []).filter((id) => !removed.includes(id));
          if (opts.json) return printJson({ acknowledged: removed, unknown });
          console.log(`acknowledged ${removed.length}${removed.length > 0 ? `: ${removed.join(', ')}` : ''}`);
          if (unknown.length > 0) throw new CliError(`not on the list: ${unknown.join(', ')}`);
          return;
        }
        const labels = await ops.unconfirmedLabels();
        if (opts.json) return printJson(labels);
        if (labels.length === 0) return void console.log('no label is waiting to be checked');
        process.stdout.write(formatTable(labels.map((l) => ({ deliveryId: l.deliveryId, carrier: l.carrier, shipmentId: l.shipmentId, lostAttemptAt: l.lostAttemptAt, boughtAgainAt: l.at, reason: l.reason ?? '' }))));
        console.log('Each attempt above got no answer, and the label was bought again: the carrier may hold a second one. Void it in the carrier account, then: dropship labels --ack DELIVERY_ID');
      });
    } catch (err) {
      fail(err);
    }
  });

program
  .command('handled')
  .description("take a supplier's purchase orders it rejected, backordered or left unanswered off dropship status's lists, once someone has dealt with them")
  .argument('<orderId...>')
  .requiredOption('--supplier <id>', 'the supplier whose lists they are on')
  .addOption(configOption())
  .addOption(dataDirOption())
  .option('--json', 'print JSON')
  .action(async (orderIds: string[], opts: { supplier: string; config: string; dataDir: string; json?: boolean }) => {
    try {
      await withOperations(opts, async (ops) => {
        let done;
        try {
          done = await ops.handled(orderIds, opts.supplier);
        } catch (err) {
          throw new CliError(err instanceof Error ? err.message : String(err));
        }
        const unknown = orderIds.filter((id) => !done.some((d) => d.orderId === id));
        if (opts.json) printJson({ handled: done, unknown });
        else console.log(`handled ${done.length}${done.length > 0 ? `: ${done.map((d) => `order ${d.orderId} (was ${d.lists.map((l) => (l === 'awaiting' ? 'unanswered' : l)).join(', ')})`).join('; ')}` : ''}`);
        if (unknown.length > 0) throw new CliError(`not on any list of ${opts.supplier}: ${unknown.join(', ')}`);
      });
    } catch (err) {
      fail(err);
    }
  });

program
  .command('replay')
  .description('retry failed work once its cause is fixed (restart the workers first after a config change)')
  .option('--delivery <id>', 'one failed delivery')
  .option('--supplier <id>', 'every failed delivery of a supplier (or carrier)')
  .option('--order <id>', 'one held order')
  .option('--held', 'every held order')
  .option('--fulfillment <id>', 'one failed fulfillment of the store (fulfil+ORDER+ORIGIN+N, as status shows it)')
  .option('--fulfillments', 'every failed fulfillment of the store')
  .addOption(configOption())
  .addOption(dataDirOption())
  .action(async (opts: { delivery?: string; supplier?: string; order?: string; held?: boolean; fulfillment?: string; fulfillments?: boolean; config: string; dataDir: string }) => {
    try {
      const chosen = [opts.delivery, opts.supplier, opts.order, opts.held, opts.fulfillment, opts.fulfillments].filter((x) => x !== undefined);
      if (chosen.length !== 1) throw new CliError('name exactly one of --delivery, --supplier, --order, --held, --fulfillment or --fulfillments');
      await withOperations(opts, async (ops) => {
        const target = opts.delivery
          ? { delivery: opts.delivery }
          : opts.supplier
            ? { recipient: opts.supplier }
            : opts.order
              ? { order: opts.order }
              : opts.fulfillment
                ? { fulfillment: opts.fulfillment }
                : opts.fulfillments
                  ? { fulfillments: true as const }
                  : { held: true as const };
        const retried = await ops.replay(target, progress('failed jobs looked at'));
        console.log(`replayed ${retried.length}${retried.length > 0 ? `: ${retried.join(', ')}` : ' (nothing failed there)'}`);
      });
    } catch (err) {
      fail(err instanceof Error && !(err instanceof DropshipError) ? new CliError(err.message) : err);
    }
  });

program
  .command('purge')
  .description('remove failed jobs older than a duration; with --disclosures, ledger records too')
  .requiredOption('--older-than <duration>', 'e.g. 30d')
  .option('--disclosures', 'also drop disclosure records older than the duration')
  .addOption(configOption())
  .addOption(dataDirOption())
  .action(async (opts: { olderThan: string; disclosures?: boolean; config: string; dataDir: string }) => {
    try {
      const ms = parseDuration(opts.olderThan);
      if (ms === undefined) throw new CliError(`--older-than: "${opts.olderThan}" is not a duration such as 30d`);
      await withOperations(opts, async (ops) => {
        const jobs = await ops.purgeFailed(ms, progress('queues cleaned'));
        const orders = opts.disclosures ? await ops.ledger.purge(ms) : 0;
        console.log(`purged ${jobs} failed jobs${opts.disclosures ? ` and the disclosure records of ${orders} orders` : ''} older than ${opts.olderThan}`);
      });
    } catch (err) {
      fail(err);
    }
  });

program
  .command('verify')
  .description("check each recipient's reachability and credentials (connect, authenticate, TLS, host key) without sending an order, and each supplier's confirmation folder (confirmations.sftp)")
  .argument('[recipient]', 'one supplier id (or ups / fedex); default: all')
  .addOption(configOption())
  .option('--json', 'print one JSON document: {ok, keys, recipients: [{recipient, kind, ok, error?}]} (kind "confirmations": a supplier\'s confirmation folder)')
  .action(async (recipient: string | undefined, opts: { config: string; json?: boolean }) => {
    try {
      const config = loadConfig(opts.config);
      const targets = deliveryTargets(config).filter((t) => !recipient || t.recipient === recipient);
      if (targets.length === 0) throw new CliError(`no supplier or carrier "${recipient}" is configured`);
      // Lines as each check ends for a person (a slow receiver shows which one it is);
      // the JSON document once every check is done.
      const say = (line: string): void => {
        if (!opts.json) process.stdout.write(`${line}\n`);
      };
      let keys: { ok: true } | { ok: false; problems: readonly string[] } = { ok: true };
      try {
        await checkSupplierKeys(config);
      } catch (err) {
        keys = { ok: false, problems: err instanceof DropshipError && err.problems.length > 0 ? err.problems : [err instanceof Error ? err.message : String(err)] };
        say(err instanceof Error ? err.message : String(err));
      }
      const recipients: Array<{ recipient: string; kind: string; ok: boolean; error?: string }> = [];
      for (const target of targets) {
        const label = `${target.kind === 'carrier' ? 'carrier' : 'supplier'} ${target.recipient}`;
        try {
          const transport = createTransport(config, target);
          try {
            await transport.verify();
          } finally {
            await transport.close();
          }
          recipients.push({ recipient: target.recipient, kind: target.kind, ok: true });
          say(`ok    ${label}`);
        } catch (err) {
          const error = err instanceof Error ? err.message : String(err);
          recipients.push({ recipient: target.recipient, kind: target.kind, ok: false, error });
          say(`FAIL  ${label}: ${error}`);
        }
        // A supplier whose confirmation files are picked up: its folder, over the same login.
        const supplier = target.kind === 'dropship' ? config.suppliers.find((s) => s.id === target.recipient) : undefined;
        const sftp = supplier?.confirmations?.sftp;
        if (supplier && sftp) {
          const what = `${label} confirmation folder ${sftp.remoteDir}`;
          try {
            await verifyConfirmationFolder(supplier, config.dir);
            recipients.push({ recipient: target.recipient, kind: 'confirmations', ok: true });
            say(`ok    ${what}`);
          } catch (err) {
            const error = err instanceof Error ? err.message : String(err);
            recipients.push({ recipient: target.recipient, kind: 'confirmations', ok: false, error });
            say(`FAIL  ${what}: ${error}`);
          }
        }
      }
      const ok = keys.ok && recipients.every((r) => r.ok);
      if (opts.json) printJson({ ok, keys, recipients });
      process.exitCode = ok ? 0 : 1;
    } catch (err) {
      fail(err);
    }
  });

program
  .command('keygen')
  .description('print a new data key for DROPSHIP_DATA_KEY (job data is encrypted at rest with it; give every process the same one)')
  .action(() => {
    process.stdout.write(generateDataKey() + '\n');
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
  .action(async (opts: { config: string; dataDir: string; dryRun?: boolean; outbox: string; port: string; host: string; role: Role }) => {
    let log: Logger;
    try {
      log = createLogger();
    } catch (err) {
      fail(new CliError(err instanceof Error ? err.message : String(err)));
    }
    // With no REDIS_URL this process runs its own redis-server on the data folder. The folder
    // is locked before anything else happens in it: a second start on it stops here, leaving
    // the first's redis-server and redis.url alone.
    let external: string | undefined;
    let partitions: number | undefined;
    let waitTimeoutMs: number | undefined;
    try {
      external = externalRedis();
      partitions = partitionsFromEnv(process.env);
      waitTimeoutMs = waitTimeoutFromEnv(process.env);
    } catch (err) {
      fail(err);
    }
    const embedded = !external;
    let lock: DataDirLock | undefined;
    if (embedded) {
      try {
        lock = DataDirLock.acquire(opts.dataDir);
      } catch (err) {
        fail(err);
      }
    }
    let config: Config;
    try {
      config = loadConfig(opts.config);
    } catch (err) {
      fail(err);
    }
    let dashboardAuth: DashboardAuth | undefined;
    try {
      // Each role reads only its own credentials: workers never serve the dashboard.
      dashboardAuth = opts.role === 'workers' ? undefined : dashboardAuthFromEnv(process.env);
    } catch (err) {
      fail(err);
    }
    if (opts.role === 'dashboard' && !dashboardAuth) {
      fail(new CliError('the dashboard will not run open: set DASHBOARD_USER and DASHBOARD_PASSWORD, or DASHBOARD_TOKEN'));
    }
    // A dashboard that shows job data masked never needs the key, so it does not hold one.
    const unmask = process.env.DASHBOARD_UNMASK === 'true';
    let cipher: DataCipher;
    try {
      cipher = opts.role === 'dashboard' && !unmask && external && !process.env.DROPSHIP_DATA_KEY && !process.env.DROPSHIP_DATA_KEY_FILE ? withoutDataKey() : cipherFor(opts.dataDir);
    } catch (err) {
      fail(err);
    }
    let lockTimings: { lockDurationMs?: number; stalledIntervalMs?: number };
    try {
      lockTimings = lockTimingsFromEnv(process.env);
    } catch (err) {
      fail(err);
    }
    let transports: TransportFactory;
    let keys: SupplierKeyStatus[] = [];
    let unusableKeys: UnusableSupplierKey[] = [];
    try {
      ({ keys, unusable: unusableKeys } = await inspectSupplierKeys(config));
      // One supplier's expired or revoked key must not stop every other supplier's deliveries:
      // its own fail, named and kept for replay, until the key is replaced.
      for (const u of unusableKeys) {
        log.error({ supplier: u.supplierId }, `${u.problem}; deliveries to ${u.supplierId} fail (kept for replay) until the key is replaced and the workers restarted`);
      }
      for (const key of keys) {
        if (key.daysUntilExpiry !== null && key.daysUntilExpiry <= KEY_EXPIRY_WARNING_DAYS) {
          log.warn({ supplier: key.supplierId, fingerprint: key.fingerprint, expiresAt: key.expiresAt }, `PGP key of supplier ${key.supplierId} expires in ${key.daysUntilExpiry} days`);
        }
      }
      transports = opts.dryRun ? outboxTransports(path.resolve(opts.outbox)) : configuredTransports(config);
    } catch (err) {
      fail(err);
    }
    if (embedded && !redisServerAvailable()) fail(new CliError(REDIS_MISSING_HINT));
    let services: Services;
    try {
      services = await startServices({
        config,
        redis: lock ? { embedded: { dataDir: opts.dataDir, lock } } : { url: external ?? '' },
        role: opts.role,
        transports,
        cipher,
        listen: { port: Number(opts.port), host: opts.host },
        ...(dashboardAuth ? { dashboard: { auth: dashboardAuth, readOnly: process.env.DASHBOARD_READ_ONLY === 'true', unmask } } : {}),
        keys,
        unusableKeys,
        logger: log,
        prefix: process.env.QUEUE_PREFIX ?? 'dropship',
        ...(partitions !== undefined ? { partitions } : {}),
        ...(waitTimeoutMs !== undefined ? { waitTimeoutMs } : {}),
        ...lockTimings,
      });
    } catch (err) {
      fail(err instanceof RedisRefusedError || err instanceof PartitionsChangedError ? new CliError(err.message) : err);
    }
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'draining: finishing jobs in flight');
      await services.close();
      log.info('stopped');
      process.exit(0);
    };
    // Before "started" is said: whoever reads it may stop us at once, and must be heard.
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    log.info(
      { role: opts.role, redis: services.embedded ? 'embedded' : 'external', suppliers: config.suppliers.length, dryRun: Boolean(opts.dryRun) },
      `dropship started on http://${opts.host}:${services.port}${opts.dryRun ? `; payloads go to ${opts.outbox}` : ''}`,
    );
  });

program.parseAsync(process.argv).catch(fail);
