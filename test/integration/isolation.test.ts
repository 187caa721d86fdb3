import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue, type Job } from 'bullmq';
import { simpleParser } from 'mailparser';
import * as openpgp from 'openpgp';
import { stringify } from 'yaml';
import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/load';
import { startHttpsReceiver, type HttpsReceiver } from '../../testkit/receivers/https';
import { startSmtpReceiver, type SmtpReceiver } from '../../testkit/receivers/smtp';
import { startSshd, type LocalSshd } from '../../testkit/receivers/sshd';
import { ingestOrder } from '../../src/sources/ingest';
import { Pipeline } from '../../src/app/pipeline';
import { deliveryQueueName } from '../../src/queue/names';
import { createTransport } from '../../src/transports/factory';
import { RecordingTransport } from '../../src/transports/recording';
import { orderPayload } from '../support/orders';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';
import { createDataCipher, generateDataKey } from '../../src/queue/sealing';

/**
 * One supplier's server down does not slow the others: with the real transports against a
 * real sshd, SMTP server and HTTPS server, and a real Redis, N orders each go to all three
 * suppliers while one receiver is down. The other two deliver everything on the first attempt
 * while every delivery to the downed one is retrying; once it is back, every delivery lands,
 * each exactly once, on every receiver.
 */

jest.setTimeout(120_000);

const ORDERS = 60;
const SUPPLIERS = { sftp: 'drop-sftp', email: 'drop-email', https: 'drop-https' } as const;
type Kind = keyof typeof SUPPLIERS;
const KINDS = Object.keys(SUPPLIERS) as Kind[];
const SKU: Record<Kind, string> = { sftp: 'SF-1', email: 'EM-1', https: 'WB-1' };
const WEBHOOK_SECRET = `whsec_${Buffer.from('isolation test webhook secret').toString('base64')}`;

let redis: TestRedis;
let sshd: LocalSshd;
let smtp: SmtpReceiver;
let https: HttpsReceiver;
let dir: string;
let supplierKey: openpgp.PrivateKey;
let env: NodeJS.ProcessEnv;
/** Others' completion time per run, for the report at the end. */
const timings: string[] = [];

beforeAll(async () => {
  const keys = Promise.all([
    openpgp.generateKey({ userIDs: [{ name: 'Email supplier', email: 'orders@email-supplier.example' }], format: 'armored' }),
    openpgp.generateKey({ userIDs: [{ name: 'Store', email: 'po@store.example' }], format: 'armored' }),
  ]);
  [redis, sshd, smtp, https] = await Promise.all([TestRedis.start(), startSshd(), startSmtpReceiver(), startHttpsReceiver({ webhookSecret: WEBHOOK_SECRET })]);
  const [supplier, store] = await keys;
  supplierKey = await openpgp.readPrivateKey({ armoredKey: supplier.privateKey });
  dir = mkdtempSync(path.join(tmpdir(), 'dropship-isolation-'));
  writeFileSync(path.join(dir, 'store.asc'), store.privateKey);
  writeFileSync(path.join(dir, 'supplier.asc'), supplier.publicKey);
  env = { STORE_PGP_KEY_FILE: path.join(dir, 'store.asc'), ISOLATION_WEBHOOK_SECRET: WEBHOOK_SECRET };
});

afterAll(async () => {
  if (timings.length > 0) console.info(`time for the two other suppliers to take all ${ORDERS} deliveries:\n${timings.join('\n')}`);
  await Promise.all([redis?.stop(), sshd?.stop(), smtp?.stop(), https?.stop()]);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** A configuration whose three suppliers ship on their own account (no carrier requests), each on its receiver. */
function writeConfig(run: string): Config {
  const configDir = path.join(dir, run);
  mkdirSync(path.join(configDir, 'suppliers'), { recursive: true });
  mkdirSync(path.join(sshd.root, run));
  const shipFrom = { name: 'Supplier', line1: '1 Supply Road', city: 'Burlington', region: 'VT', postalCode: '05401', country: 'US', phone: '+1 802 555 0100' };
  const fields = ['order.id', 'shipTo.name', 'shipTo.line1', 'shipTo.city', 'shipTo.postalCode', 'shipTo.country', 'lines.sku', 'lines.quantity'];
  const retry = { attempts: 100, backoff: '100ms' };
  const deliveries: Record<Kind, Record<string, unknown>> = {
    sftp: {
      ...sshd.deliveryOptions(run),
      timeout: '10s',
    },
    email: {
      transport: 'email',
      to: 'orders@email-supplier.example',
      from: 'po@store.example',
      smtp: { host: smtp.host, port: smtp.port, requireTLS: true, caFile: smtp.ca.caFile, timeout: '10s' },
    },
    https: { transport: 'https', url: `${https.url}/orders`, caFile: https.ca.caFile, auth: { hmacSecretEnv: 'ISOLATION_WEBHOOK_SECRET' }, timeout: '10s' },
  };
  for (const kind of KINDS) {
    const supplier = {
      id: SUPPLIERS[kind],
      name: kind,
      skus: [`${SKU[kind].split('-')[0]}-*`],
      shipFrom,
      labels: 'supplier',
      fields,
      format: kind === 'sftp' ? 'csv' : 'json',
      delivery: deliveries[kind],
      ...(kind === 'email' ? { pgp: { publicKeyFile: path.join(dir, 'supplier.asc') } } : {}),
      retry,
    };
    writeFileSync(path.join(configDir, 'suppliers', `${supplier.id}.yaml`), stringify(supplier));
  }
  const store = {
    store: { name: 'Isolation Larder' },
    shipping: { methods: { standard: { carrier: 'ups', service: '03' } }, default: 'standard' },
    carriers: { ups: { shipperNumber: 'A1B2C3' } },
  };
  writeFileSync(path.join(configDir, 'store.yaml'), stringify(store));
  return loadConfig(configDir);
}

/** What one run saw: deliveries completed and failed attempts per supplier, with times. */
class RunWatch {
  readonly completed: Record<Kind, Map<string, number>> = { sftp: new Map(), email: new Map(), https: new Map() };
  readonly failedAttempts: Record<Kind, number> = { sftp: 0, email: 0, https: 0 };
  /** Failures that will not be retried (must stay at zero). */
  readonly failedForGood: string[] = [];

  constructor(pipeline: Pipeline) {
    for (const kind of KINDS) {
      const worker = pipeline.workers.find((w) => w.name === deliveryQueueName('dropship', SUPPLIERS[kind]));
      if (worker === undefined) throw new Error(`no worker for ${kind}`);
      worker.on('completed', (job: Job) => this.completed[kind].set(job.id as string, performance.now()));
      worker.on('failed', (job: Job | undefined, error: Error) => {
        this.failedAttempts[kind] += 1;
        if (job !== undefined && (error.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1))) {
          this.failedForGood.push(`${job.id}: ${error.message}`);
        }
      });
    }
  }

  /** When the last of `kind`'s deliveries completed. */
  lastCompletion(kind: Kind): number {
    return Math.max(...this.completed[kind].values());
  }

  firstCompletion(kind: Kind): number {
    return Math.min(...this.completed[kind].values());
  }
}

interface Run {
  config: Config;
  pipeline: Pipeline;
  watch: RunWatch;
  orderIds: string[];
  startedAt: number;
}

/** Starts a pipeline with the configured transports (carriers never get work here) and submits the orders. */
async function startRun(run: string): Promise<Run> {
  const config = writeConfig(run);
  const pipeline = await Pipeline.start({
    cipher: createDataCipher(generateDataKey()),
    config,
    redisUrl: redis.url,
    prefix: run,
    env,
    // Returned synchronously: RecordingTransport has a `then` method and must never be awaited.
    transports: (target, runtime) => (target.kind === 'carrier' ? new RecordingTransport(target.recipient) : createTransport(config, target, env, runtime)),
  });
  const watch = new RunWatch(pipeline);
  const orderIds = Array.from({ length: ORDERS }, (_, i) => `${run}-${i + 1}`);
  const startedAt = performance.now();
  for (const id of orderIds) {
    const lines = KINDS.map((kind, n) => ({ id: `l${n + 1}`, sku: SKU[kind], name: `${kind} item`, quantity: 1 + n, unitPrice: '5.00', weight: 200 }));
    await pipeline.intake.submit(ingestOrder(orderPayload({ id, lines }), { source: 'canonical' }));
  }
  return { config, pipeline, watch, orderIds, startedAt };
}

const expectedIds = (run: Run, kind: Kind): string[] => run.orderIds.map((id) => `${id}+${SUPPLIERS[kind]}+po`).sort();

function allDelivered(run: Run, kind: Kind): boolean {
  return run.watch.completed[kind].size === ORDERS;
}

/** What each receiver holds for a run, keyed by delivery id: exactly-once is "each id once, nothing else". */
async function received(run: Run): Promise<Record<Kind, string[]>> {
  const files = readdirSync(path.join(sshd.root, run.pipeline.prefix));
  const sftp = files.map((f) => `${f.replace(/\.csv$/, '').replace(`-${SUPPLIERS.sftp}`, '')}+${SUPPLIERS.sftp}+po`);
  const email: string[] = [];
  for (const mail of smtp.messages) {
    const parsed = await simpleParser(mail.raw);
    const messageId = parsed.messageId ?? '';
    if (!messageId.startsWith(`<${run.pipeline.prefix}-`)) continue;
    // The Message-ID is the delivery id, so a duplicate would show; and each one must open.
    const encrypted = parsed.attachments.find((a) => a.contentType === 'application/octet-stream');
    const decrypted = await openpgp.decrypt({
      message: await openpgp.readMessage({ armoredMessage: encrypted?.content.toString('utf8') ?? '' }),
      decryptionKeys: supplierKey,
    });
    const deliveryId = messageId.slice(1, messageId.indexOf('@')).replace(/_/g, '+');
    expect(String(decrypted.data)).toContain(`filename=${deliveryId.split('+')[0]}-${SUPPLIERS.email}.json`);
    email.push(deliveryId);
  }
  const httpsIds = https.requests
    .filter((r) => r.status === 200 && String(r.headers['idempotency-key']).startsWith(`${run.pipeline.prefix}-`))
    .map((r) => {
      expect(r.signatureValid).toBe(true);
      return String(r.headers['idempotency-key']);
    });
  return { sftp: sftp.sort(), email: email.sort(), https: httpsIds.sort() };
}

/** Every receiver holds every delivery of the run exactly once; no queue has a failed job. */
async function expectExactlyOnce(run: Run): Promise<void> {
  const got = await received(run);
  for (const kind of KINDS) expect({ kind, ids: got[kind] }).toEqual({ kind, ids: expectedIds(run, kind) });
  expect(readdirSync(path.join(sshd.root, run.pipeline.prefix)).filter((f) => f.endsWith('.part'))).toEqual([]);
  for (const kind of KINDS) {
    const queue = new Queue(deliveryQueueName('dropship', SUPPLIERS[kind]), { connection: run.pipeline.redis, prefix: run.pipeline.prefix });
    try {
      expect({ kind, ...(await queue.getJobCounts('completed', 'failed', 'delayed', 'waiting', 'active')) }).toEqual({
        kind,
        completed: ORDERS,
        failed: 0,
        delayed: 0,
        waiting: 0,
        active: 0,
      });
    } finally {
      await queue.close();
    }
  }
  expect(run.watch.failedForGood).toEqual([]);
}

/** How to take each receiver down and bring it back. */
const OUTAGE: Record<Kind, { down(): Promise<void>; up(): Promise<void> }> = {
  sftp: { down: async () => sshd.kill(), up: () => sshd.restart() },
  email: { down: () => smtp.down(), up: () => smtp.up() },
  https: { down: () => https.down(), up: () => https.up() },
};

describe('one supplier down does not hold up the others', () => {
  let baseline: Record<Kind, number>;

  it(`delivers ${ORDERS} orders to all three suppliers, each delivery once, with every server up`, async () => {
    const run = await startRun('allup');
    try {
      await waitFor('every supplier to take every delivery', () => KINDS.every((k) => allDelivered(run, k)), 60_000);
      baseline = { sftp: 0, email: 0, https: 0 };
      for (const kind of KINDS) baseline[kind] = run.watch.lastCompletion(kind) - run.startedAt;
      expect(run.watch.failedAttempts).toEqual({ sftp: 0, email: 0, https: 0 });
      await expectExactlyOnce(run);
    } finally {
      await run.pipeline.stop();
    }
  });

  it.each(['https', 'sftp', 'email'] as const)('with the %s receiver down, the others deliver everything first time; it catches up exactly once', async (down) => {
    const others = KINDS.filter((k) => k !== down);
    await OUTAGE[down].down();
    let isDown = true;
    const bringUp = async (): Promise<void> => {
      if (!isDown) return;
      isDown = false;
      await OUTAGE[down].up();
    };
    let run: Run | undefined;
    try {
      run = await startRun(`${down}down`);
      const current = run;
      await waitFor(`${others.join(' and ')} to take every delivery`, () => others.every((k) => allDelivered(current, k)), 60_000);
      const othersDoneAt = Math.max(...others.map((k) => current.watch.lastCompletion(k)));

      // While the others completed every delivery, on the first attempt, the downed supplier had none.
      for (const kind of others) expect({ kind, retries: current.watch.failedAttempts[kind] }).toEqual({ kind, retries: 0 });
      expect(current.watch.completed[down].size).toBe(0);
      // ...and every one of its deliveries is being retried, none given up.
      const queue = new Queue(deliveryQueueName('dropship', SUPPLIERS[down]), { connection: current.pipeline.redis, prefix: current.pipeline.prefix });
      try {
        await waitFor(`every ${down} delivery to have been tried`, async () => {
          const jobs = await queue.getJobs(['delayed', 'waiting', 'active', 'prioritized']);
          return jobs.length === ORDERS && jobs.every((j) => j.attemptsMade >= 1) && current.watch.failedAttempts[down] >= ORDERS;
        });
        expect(await queue.getJobCounts('completed', 'failed')).toEqual({ completed: 0, failed: 0 });
        expect(current.watch.completed[down].size).toBe(0);
        expect(current.watch.failedAttempts[down]).toBeGreaterThanOrEqual(ORDERS);

        timings.push(
          `  ${down} down: ${others.map((k) => `${k} ${Math.round(current.watch.lastCompletion(k) - current.startedAt)} ms`).join(', ')}` +
            ` (all up: ${others.map((k) => `${k} ${Math.round(baseline[k])} ms`).join(', ')}); ${current.watch.failedAttempts[down]} failed ${down} attempts meanwhile`,
        );

        await bringUp();
        // The backoff has grown while it was down; an operator would press "promote" too.
        await queue.promoteJobs();
        await waitFor(`${down} to take every delivery once it is back`, () => allDelivered(current, down), 60_000);
      } finally {
        await queue.close();
      }
      expect(current.watch.firstCompletion(down)).toBeGreaterThan(othersDoneAt);
      await expectExactlyOnce(current);
    } finally {
      await bringUp();
      await run?.pipeline.stop();
    }
  });
});
