import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import * as openpgp from 'openpgp';
import { stringify } from 'yaml';
import { startCarrierStandIn, type CarrierStandIn } from '../../testkit/receivers/carriers';
import { startHttpsReceiver, type HttpsReceiver, type LocalCert } from '../../testkit/receivers/https';
import { startSmtpReceiver, type SmtpReceiver } from '../../testkit/receivers/smtp';
import { startSshd, type LocalSshd, type SshKeyPair } from '../../testkit/receivers/sshd';
import { freePort } from '../../src/queue/embedded-redis';
import { deliveryQueueName, ORDERS_QUEUE } from '../../src/queue/names';
import { CXML_OPTIONS } from '../formats/po-fixtures';
import { orderPayload } from '../support/orders';
import { TestRedis } from '../support/redis';
import { fileOutputs, findLeaks, generatedSecret, redisOutputs, secretForms, type Output, type Secret } from '../support/secret-scan';
import { waitFor } from '../support/wait';
import { generateDataKey } from '../../src/queue/sealing';

/**
 * Issue #7, security: "Secrets never appear in logs, errors, the dashboard or job data".
 *
 * `dropship start` runs for real (and a second process serves the dashboard only), against a
 * password-protected Redis and real local receivers: OpenSSH sshd, an SMTP server that wants
 * a login, HTTPS receivers (Standard Webhooks HMAC; bearer token plus client certificate for a
 * cXML supplier with a shared secret) and UPS / FedEx stand-ins. Every secret the product
 * knows has a generated value of its own. The run goes through the error paths too: a wrong
 * SMTP password, an HTTPS 401 that echoes the token, a wrong HMAC secret, a carrier token
 * endpoint refusing the client (echoing it), an expired carrier token, an SFTP key the server
 * refuses, bad webhook signatures, wrong API / dashboard / metrics credentials, and a CLI
 * with an outdated Redis password. Then everything the product produced is searched for every
 * secret, as written and encoded (JSON, URL, hex, base64 at any alignment): its logs, every
 * Redis key and value, the dashboard's pages and JSON API, `/metrics`, every HTTP answer, the
 * output of `status`, `disclosures`, `replay` and `verify`, and the files it wrote.
 *
 * What the receivers themselves were sent is not searched: the bearer token reaching the
 * HTTPS receiver is the point of it.
 */

jest.setTimeout(60_000);

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(ROOT, 'src', 'cli', 'dropship.ts');

/** The generated value of every secret the product is given through its environment. */
const SECRETS = {
  API_TOKEN: generatedSecret('apitoken'),
  SHOPIFY_WEBHOOK_SECRET: generatedSecret('shopify'),
  WOOCOMMERCE_WEBHOOK_SECRET: generatedSecret('woo'),
  DASHBOARD_PASSWORD: generatedSecret('dashpassword'),
  DASHBOARD_TOKEN: generatedSecret('dashtoken'),
  METRICS_TOKEN: generatedSecret('metrics'),
  /** Seals job data at rest: every process holds it, nothing may show it. */
  DROPSHIP_DATA_KEY: generateDataKey(),
  STORE_PGP_PASSPHRASE: generatedSecret('pgppassphrase'),
  REDIS_PASSWORD: generatedSecret('redispw'),
  /** What an operator's REDIS_URL still says after the password was changed. */
  REDIS_OLD_PASSWORD: generatedSecret('redisoldpw'),
  SEC_SMTP_USER: generatedSecret('smtpuser'),
  SEC_SMTP_PASSWORD: generatedSecret('smtppw'),
  SEC_SMTP_WRONG_PASSWORD: generatedSecret('smtpwrongpw'),
  // The Standard Webhooks form: whsec_ and base64.
  SEC_HOOK_SECRET: `whsec_${randomBytes(30).toString('base64')}`,
  // Well-formed (a malformed secret is refused at start-up), but not the receiver's.
  SEC_HOOK_WRONG_SECRET: `whsec_${randomBytes(30).toString('base64')}`,
  SEC_CX_BEARER: generatedSecret('bearer'),
  SEC_CX_SHARED_SECRET: generatedSecret('cxmlshared'),
  SEC_SFTP_PASSPHRASE: generatedSecret('sftppassphrase'),
  SEC_UPS_CLIENT_ID: generatedSecret('upsid'),
  SEC_UPS_CLIENT_SECRET: generatedSecret('upssecret'),
  SEC_FEDEX_CLIENT_ID: generatedSecret('fedexid'),
  SEC_FEDEX_CLIENT_SECRET: generatedSecret('fedexsecret'),
};
const DASHBOARD_USER = 'ops';

const SUPPLIERS = ['cxml-bearer', 'hook', 'hook-wrongsecret', 'mail', 'mail-wrongpass', 'sftp-key', 'sftp-refused'];
const QUEUES = [ORDERS_QUEUE, deliveryQueueName('carrier', 'fedex'), deliveryQueueName('carrier', 'ups'), ...SUPPLIERS.map((s) => deliveryQueueName('dropship', s))];

let work: string;
let secretsDir: string;
let redis: TestRedis;
let sshd: LocalSshd;
let smtp: SmtpReceiver;
let hooks: HttpsReceiver;
let cx: HttpsReceiver;
let ups: CarrierStandIn;
let fedex: CarrierStandIn;
let sftpKey: SshKeyPair;
let strangerKey: SshKeyPair;
let clientCert: LocalCert;
let storeKeyArmored: string;
const children: ChildProcess[] = [];

/** Everything the product produced, by kind; filled by the run in `beforeAll`. */
const produced = {
  logs: [] as Output[],
  cli: [] as Output[],
  http: [] as Output[],
  dashboard: [] as Output[],
  metrics: [] as Output[],
  redis: [] as Output[],
  files: [] as Output[],
};
/** Every secret, the generated ones and those made at run time (keys, issued tokens). */
let secrets: Secret[] = [];

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function launch(args: string[], env: NodeJS.ProcessEnv): Run {
  const child = spawn(TSX, [CLI, ...args], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

/** Runs a CLI command to its end (asynchronously: the receivers live in this process). */
async function dropship(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const run = launch(args, env);
  const code = await run.exited;
  produced.cli.push({ where: `dropship ${args.join(' ')}`, text: run.output() });
  return { code, output: run.output() };
}

/** A request to the product's HTTP server; the whole answer is kept for the search. */
async function http(kind: 'http' | 'dashboard' | 'metrics', url: string, init: RequestInit = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(url, init);
  const text = await res.text();
  const headers = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
  produced[kind].push({ where: `${init.method ?? 'GET'} ${url} → ${res.status}`, text: `${res.status}\n${headers}\n\n${text}` });
  return { status: res.status, text };
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const line = (id: string, sku: string) => ({ id, sku, name: `Item ${sku}`, quantity: 1, unitPrice: '5.00', weight: 300 });

function writeConfiguration(configDir: string, supplierKey: string): void {
  mkdirSync(path.join(configDir, 'suppliers'), { recursive: true });
  mkdirSync(path.join(configDir, 'keys'));
  writeFileSync(path.join(configDir, 'keys', 'supplier.asc'), supplierKey);
  const sftp = (keyEnv: string, passphraseEnv?: string) => ({
    transport: 'sftp',
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKeyEnv: keyEnv,
    ...(passphraseEnv ? { passphraseEnv } : {}),
    hostKey: sshd.hostKey.fingerprint,
    remoteDir: 'inbound',
    timeout: '20s',
  });
  const email = (passwordEnv: string) => ({
    transport: 'email',
    to: 'orders@supplier.example',
    from: 'Test Larder <dropship@test-larder.example>',
    smtp: { host: smtp.host, port: smtp.port, requireTLS: true, caFile: smtp.ca.caFile, userEnv: 'SEC_SMTP_USER', passwordEnv, timeout: '10s' },
  });
  const hook = (secretEnv: string) => ({ transport: 'https', url: `${hooks.url}/po`, caFile: hooks.ca.caFile, auth: { hmacSecretEnv: secretEnv }, timeout: '10s' });
  const suppliers: Array<[string, string, string, Record<string, unknown>, Record<string, unknown>?]> = [
    ['sftp-key', 'SF-*', 'csv', sftp('SEC_SFTP_KEY', 'SEC_SFTP_PASSPHRASE')],
    ['sftp-refused', 'SR-*', 'csv', sftp('SEC_SFTP_STRANGER_KEY')],
    ['mail', 'ML-*', 'json', email('SEC_SMTP_PASSWORD'), { pgp: { publicKeyFile: 'keys/supplier.asc' } }],
    ['mail-wrongpass', 'MW-*', 'json', email('SEC_SMTP_WRONG_PASSWORD'), { pgp: { publicKeyFile: 'keys/supplier.asc' } }],
    ['hook', 'HK-*', 'json', hook('SEC_HOOK_SECRET')],
    ['hook-wrongsecret', 'HW-*', 'json', hook('SEC_HOOK_WRONG_SECRET')],
    [
      'cxml-bearer',
      'CX-*',
      'cxml',
      {
        transport: 'https',
        url: `${cx.url}/cxml`,
        caFile: cx.ca.caFile,
        auth: { bearerTokenEnv: 'SEC_CX_BEARER', clientCertFile: clientCert.certFile, clientKeyFile: clientCert.keyFile },
        timeout: '10s',
      },
      { formatOptions: { ...CXML_OPTIONS, sender: { ...CXML_OPTIONS.sender, sharedSecretEnv: 'SEC_CX_SHARED_SECRET' } } },
    ],
  ];
  for (const [id, skus, format, delivery, extra] of suppliers) {
    const doc = {
      id,
      name: `Supplier ${id}`,
      skus: [skus],
      shipFrom: { name: `Supplier ${id}`, line1: '2 Dairy Lane', city: 'Websterville', region: 'VT', postalCode: '05678', country: 'US', phone: '+1 802 555 0102' },
      labels: 'supplier',
      fields: ['order.id', 'shipTo.name', 'shipTo.line1', 'shipTo.city', 'shipTo.region', 'shipTo.postalCode', 'shipTo.country', 'lines.sku', 'lines.quantity'],
      format,
      delivery,
      retry: { attempts: 2, backoff: '200ms' },
      ...extra,
    };
    writeFileSync(path.join(configDir, 'suppliers', `${id}.yaml`), stringify(doc));
  }
  const carrier = (standIn: CarrierStandIn, prefix: string, account: Record<string, string>) => ({
    ...account,
    environment: 'test',
    clientIdEnv: `SEC_${prefix}_CLIENT_ID`,
    clientSecretEnv: `SEC_${prefix}_CLIENT_SECRET`,
    baseUrl: standIn.url,
    caFile: standIn.caFile,
    timeout: '10s',
  });
  const store = {
    store: { name: 'Test Larder' },
    warehouse: { id: 'warehouse', address: { name: 'Test Larder', line1: '1 Depot Road', city: 'Portland', region: 'OR', postalCode: '97204', country: 'US', phone: '+1 503 555 0101' } },
    shipping: { methods: { standard: { carrier: 'ups', service: '03' }, express: { carrier: 'fedex', service: 'PRIORITY_OVERNIGHT' } }, default: 'standard' },
    carriers: { ups: carrier(ups, 'UPS', { shipperNumber: 'A1B2C3' }), fedex: carrier(fedex, 'FEDEX', { accountNumber: '740561073' }) },
    retention: { completedJobs: '1h', dedupe: '1d' },
    // The crawl below reads every page of both dashboards: more than the default 300 a minute.
    api: { rateLimits: { dashboard: { max: 100_000, per: '1m' } } },
  };
  writeFileSync(path.join(configDir, 'store.yaml'), stringify(store));
}

/** Job counts of every queue of the run, read from Redis by the test itself. */
async function counts(queues: Map<string, Queue>): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [name, q] of queues) out[name] = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed');
  return out;
}
const pending = (c: Record<string, number>): number => (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0);

/** Every page of both dashboards' JSON API an operator's browser would load, jobs included. */
async function crawlDashboard(base: string, authorization: string): Promise<string> {
  const get = (p: string) => http('dashboard', `${base}/admin/queues${p}`, { headers: { authorization } });
  let seen = '';
  for (const p of ['', '/api/queues', '/api/redis/stats', '/api/job-schedulers']) seen += (await get(p)).text;
  for (const q of QUEUES) {
    const ids = new Set<string>();
    for (const status of ['latest', 'failed', 'completed']) {
      const page = await get(`/api/queues?activeQueue=${q}&status=${status}&page=1&jobsPerPage=100`);
      seen += page.text;
      const listed = (JSON.parse(page.text) as { queues: Array<{ name: string; jobs: Array<{ id: string }> }> }).queues.find((x) => x.name === q);
      for (const job of listed?.jobs ?? []) ids.add(job.id);
    }
    for (const sub of ['workers', 'metrics', 'default-job-options', 'job-data-schema', 'rate-limit']) await get(`/api/queues/${q}/${sub}`);
    for (const id of ids) {
      for (const sub of ['', '/logs', '/flow']) seen += (await get(`/api/queues/${q}/${encodeURIComponent(id)}${sub}`)).text;
    }
  }
  return seen;
}

/** The keys the local CAs made for the receivers: ours never sees them, so they must not show up either. */
function serverTlsKeys(caDir: string, label: string): Secret[] {
  return readdirSync(caDir)
    .filter((f) => f.endsWith('.key') && f !== 'store-client.key')
    .map((f) => ({ name: `${label} TLS key ${f}`, value: readFileSync(path.join(caDir, f), 'utf8') }));
}

const evidence = { dashboardPage: '', dashboardUnmasked: '', verify: '', replay: '', oldRedisPassword: '' };

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'dropship-secrets-'));
  secretsDir = path.join(work, 'secrets');
  mkdirSync(secretsDir, { mode: 0o700 });

  redis = await TestRedis.start();
  const admin = redis.client();
  await admin.config('SET', 'requirepass', SECRETS.REDIS_PASSWORD);
  admin.disconnect();
  const redisUrl = `redis://:${SECRETS.REDIS_PASSWORD}@127.0.0.1:${redis.server.port}`;

  [sshd, smtp, hooks, cx, ups, fedex] = await Promise.all([
    startSshd(),
    startSmtpReceiver({ credentials: { user: SECRETS.SEC_SMTP_USER, password: SECRETS.SEC_SMTP_PASSWORD } }),
    startHttpsReceiver({ webhookSecret: SECRETS.SEC_HOOK_SECRET }),
    startHttpsReceiver({ requireClientCert: true }),
    startCarrierStandIn('ups', { clientId: SECRETS.SEC_UPS_CLIENT_ID, clientSecret: SECRETS.SEC_UPS_CLIENT_SECRET }),
    startCarrierStandIn('fedex', { clientId: SECRETS.SEC_FEDEX_CLIENT_ID, clientSecret: SECRETS.SEC_FEDEX_CLIENT_SECRET }),
  ]);
  [sftpKey, strangerKey, clientCert] = await Promise.all([sshd.makeKeyPair('store_key', SECRETS.SEC_SFTP_PASSPHRASE), sshd.makeKeyPair('stranger_key'), cx.ca.issue('store-client', 'client')]);
  sshd.authorize(sftpKey);
  mkdirSync(path.join(sshd.root, 'inbound'));

  const [storeKey, supplierKey] = await Promise.all([
    openpgp.generateKey({ userIDs: [{ name: 'Test Larder', email: 'dropship@test-larder.example' }], passphrase: SECRETS.STORE_PGP_PASSPHRASE, format: 'armored' }),
    openpgp.generateKey({ userIDs: [{ name: 'Supplier', email: 'orders@supplier.example' }], format: 'armored' }),
  ]);
  storeKeyArmored = storeKey.privateKey;
  const storeKeyFile = path.join(secretsDir, 'store-signing-key.asc');
  writeFileSync(storeKeyFile, storeKeyArmored, { mode: 0o600 });
  writeConfiguration(path.join(work, 'config'), supplierKey.publicKey);

  // Failures the receivers answer with, each echoing a credential back as a careless server might.
  cx.script(
    { status: 401, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'invalid_token', detail: `Bearer ${SECRETS.SEC_CX_BEARER} is not accepted here` }) },
    {
      status: 400,
      headers: { 'content-type': 'text/xml' },
      body: `<cXML><Response><Status code="400" text="Bad Request">Unknown sender <Credential domain="NetworkId"><Identity>AN01000000001</Identity><SharedSecret>${SECRETS.SEC_CX_SHARED_SECRET}</SharedSecret></Credential></Status></Response></cXML>`,
    },
  );
  ups.script('token', {
    status: 401,
    errors: [{ code: '10401', message: `ClientId is Invalid: Authorization: ${basic(SECRETS.SEC_UPS_CLIENT_ID, SECRETS.SEC_UPS_CLIENT_SECRET)}` }],
  });
  fedex.script('ship', { status: 401, errors: [{ code: 'NOT.AUTHORIZED.ERROR', message: 'Access token expired. Please modify your request and try again.' }] });

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: redisUrl,
    LOG_LEVEL: 'debug',
    DASHBOARD_USER: '',
    DASHBOARD_UNMASK: '',
    ...SECRETS,
    SEC_SFTP_KEY: sftpKey.privateKey,
    SEC_SFTP_STRANGER_KEY: strangerKey.privateKey,
    STORE_PGP_KEY_FILE: storeKeyFile,
  };
  delete env.REDIS_PASSWORD;
  delete env.REDIS_OLD_PASSWORD;
  const cliArgs = ['--config', path.join(work, 'config'), '--data-dir', path.join(work, 'var')];
  const apiEnv = { ...env, DASHBOARD_USER, DASHBOARD_TOKEN: '' };
  const dashboardEnv = { ...env, DASHBOARD_PASSWORD: '', DASHBOARD_UNMASK: 'true' };

  const [port, dashboardPort] = await Promise.all([freePort(), freePort()]);
  const main = launch(['start', ...cliArgs, '--port', String(port)], apiEnv);
  const board = launch(['start', '--role', 'dashboard', ...cliArgs, '--port', String(dashboardPort)], dashboardEnv);
  const api = `http://127.0.0.1:${port}`;
  const queues = new Map(QUEUES.map((name) => [name, new Queue(name, { connection: { host: '127.0.0.1', port: redis.server.port, password: SECRETS.REDIS_PASSWORD }, prefix: 'dropship' })]));
  try {
    await waitFor('both processes to start', () => main.output().includes('dropship started') && board.output().includes('dropship started'), 45_000);

    // Orders through every entry point, and the refusals of each.
    const post = (p: string, body: string, headers: Record<string, string>) => http('http', `${api}${p}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
    const bearer = { authorization: `Bearer ${SECRETS.API_TOKEN}` };
    const orderA = JSON.stringify(orderPayload({ id: '7001', shippingMethod: 'standard', lines: [line('a1', 'SF-1'), line('a2', 'ML-1'), line('a3', 'HK-1'), line('a4', 'CX-1'), line('a5', 'LARDER-JAM')] }));
    const orderB = JSON.stringify(orderPayload({ id: '7002', shippingMethod: 'express', lines: [line('b1', 'SR-1'), line('b2', 'MW-1'), line('b3', 'HW-1'), line('b4', 'CX-2'), line('b5', 'SF-2'), line('b6', 'LARDER-TEA')] }));
    expect((await post('/orders', orderA, {})).status).toBe(401);
    expect((await post('/orders', orderA, { authorization: 'Bearer not-the-token' })).status).toBe(401);
    expect((await post('/orders', orderA, bearer)).status).toBe(202);
    expect((await post('/orders', orderB, bearer)).status).toBe(202);
    expect((await post('/orders', JSON.stringify({ id: '7009', lines: [] }), bearer)).status).toBe(400);
    const shopify = readFileSync(path.join(ROOT, 'test', 'fixtures', 'sources', 'shopify-order-create.json'), 'utf8');
    const woo = readFileSync(path.join(ROOT, 'test', 'fixtures', 'sources', 'woocommerce-order-created.json'), 'utf8');
    const hmac = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('base64');
    const shopifyHeaders = (secret: string) => ({ 'x-shopify-topic': 'orders/create', 'x-shopify-webhook-id': 'wh-sec-1', 'x-shopify-hmac-sha256': hmac(secret, shopify) });
    const wooHeaders = (secret: string) => ({ 'x-wc-webhook-topic': 'order.created', 'x-wc-webhook-delivery-id': 'wc-sec-1', 'x-wc-webhook-signature': hmac(secret, woo) });
    expect((await post('/webhooks/shopify', shopify, shopifyHeaders('not-the-secret'))).status).toBe(401);
    expect((await post('/webhooks/shopify', shopify, shopifyHeaders(SECRETS.SHOPIFY_WEBHOOK_SECRET))).status).toBe(202);
    expect((await post('/webhooks/woocommerce', woo, wooHeaders('not-the-secret'))).status).toBe(401);
    expect((await post('/webhooks/woocommerce', woo, wooHeaders(SECRETS.WOOCOMMERCE_WEBHOOK_SECRET))).status).toBe(202);
    const orderFile = path.join(work, 'order-7003.json');
    writeFileSync(orderFile, JSON.stringify(orderPayload({ id: '7003', lines: [line('c1', 'SF-3'), line('c2', 'HK-3')] })));
    expect((await dropship(['enqueue', orderFile, ...cliArgs], env)).code).toBe(0);

    // Everything lands or fails for good: five orders planned (by the intake, or by the order
    // worker), their deliveries all queued, no job left to run.
    const client = new Redis({ host: '127.0.0.1', port: redis.server.port, password: SECRETS.REDIS_PASSWORD });
    const plannedOrders = async () => {
      let n = 0;
      for (const key of await client.keys('dropship:order:*')) if ((await client.hget(key, 'stage')) === 'planned') n++;
      return n;
    };
    await waitFor(
      'the run to settle',
      async () => {
        const c = await counts(queues);
        return (await plannedOrders()) === 5 && (await client.zcard('dropship:orders:planning')) === 0 && Object.values(c).every((x) => pending(x) === 0);
      },
      120_000,
    );
    client.disconnect();
    const settled = await counts(queues);
    for (const failing of ['po-sftp-refused', 'po-mail-wrongpass', 'po-hook-wrongsecret', 'po-cxml-bearer', 'carrier-ups']) {
      expect([failing, settled[failing]?.failed]).toEqual([failing, expect.any(Number)]);
      expect(settled[failing]?.failed).toBeGreaterThan(0);
    }
    for (const working of ['po-sftp-key', 'po-mail', 'po-hook', 'carrier-fedex']) {
      expect([working, settled[working]?.failed, settled[working]?.completed]).toEqual([working, 0, expect.any(Number)]);
    }

    // Operators look, check and replay once the cause is fixed (the receivers answer normally now).
    evidence.verify = (await dropship(['verify', '--config', path.join(work, 'config')], env)).output;
    // The first replayed delivery is accepted with what it was sent said back (a JSON answer's
    // fields become the receipt, kept in Redis and shown on the dashboard).
    cx.script({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ accepted: true, authorization: `Bearer ${SECRETS.SEC_CX_BEARER}`, sender: SECRETS.SEC_CX_SHARED_SECRET }) });
    evidence.replay = (await dropship(['replay', '--supplier', 'cxml-bearer', ...cliArgs], env)).output;
    evidence.replay += (await dropship(['replay', '--supplier', 'ups', ...cliArgs], env)).output;
    await waitFor('the replayed deliveries to land', async () => {
      const c = await counts(queues);
      return c['po-cxml-bearer']?.failed === 0 && c['carrier-ups']?.failed === 0 && Object.values(c).every((x) => pending(x) === 0);
    });
    // FedEx refuses a token twice, repeating it each time, and the mail server refuses the
    // recipient naming the login (Postfix's reject_sender_login_mismatch): both fail for good.
    const refusal = { status: 401, errors: [{ code: 'NOT.AUTHORIZED.ERROR', message: 'Access token expired.' }], echoToken: true };
    fedex.script('ship', refusal, refusal);
    smtp.rejectNextRecipient(553, `5.7.1 <dropship@test-larder.example>: Sender address rejected: not owned by user ${SECRETS.SEC_SMTP_USER}`);
    const orderD = JSON.stringify(orderPayload({ id: '7004', shippingMethod: 'express', lines: [line('d1', 'LARDER-FIG'), line('d2', 'ML-4')] }));
    expect((await post('/orders', orderD, bearer)).status).toBe(202);
    await waitFor('the FedEx and SMTP refusals', async () => {
      const c = await counts(queues);
      return c['carrier-fedex']?.failed === 1 && c['po-mail']?.failed === 1;
    });
    for (const args of [['status', '--json'], ['status'], ['status', '7002', '--json'], ['status', '7002'], ['disclosures', '7001', '--json'], ['disclosures', '7001']]) {
      expect((await dropship([...args, ...cliArgs], env)).code).toBe(0);
    }

    // The dashboard, as an operator and as someone guessing; the metrics likewise.
    expect((await http('dashboard', `${api}/admin/queues`)).status).toBe(401);
    expect((await http('dashboard', `${api}/admin/queues/api/queues`, { headers: { authorization: basic(DASHBOARD_USER, 'wrong password!!') } })).status).toBe(401);
    expect((await http('dashboard', `http://127.0.0.1:${dashboardPort}/admin/queues`, { headers: { authorization: basic('x', 'wrong token') } })).status).toBe(401);
    evidence.dashboardPage = await crawlDashboard(api, basic(DASHBOARD_USER, SECRETS.DASHBOARD_PASSWORD));
    evidence.dashboardUnmasked = await crawlDashboard(`http://127.0.0.1:${dashboardPort}`, basic('ops', SECRETS.DASHBOARD_TOKEN));
    expect((await http('metrics', `${api}/metrics`)).status).toBe(401);
    expect((await http('metrics', `${api}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await http('metrics', `${api}/metrics`, { headers: { authorization: `Bearer ${SECRETS.METRICS_TOKEN}` } })).status).toBe(200);
    expect((await http('metrics', `http://127.0.0.1:${dashboardPort}/metrics`, { headers: { authorization: `Bearer ${SECRETS.METRICS_TOKEN}` } })).status).toBe(200);

    // An operator whose REDIS_URL still has the old password: the CLI says Redis refused it.
    const stale = launch(['status', '--json', ...cliArgs], { ...env, REDIS_URL: `redis://:${SECRETS.REDIS_OLD_PASSWORD}@127.0.0.1:${redis.server.port}` });
    await waitFor('the refused password to be reported', () => stale.child.exitCode !== null || stale.output().includes('WRONGPASS'), 30_000);
    stale.child.kill('SIGTERM');
    await stale.exited;
    evidence.oldRedisPassword = stale.output();
    produced.cli.push({ where: 'dropship status (outdated Redis password)', text: stale.output() });
  } finally {
    await Promise.all([...queues.values()].map((q) => q.close()));
    for (const run of [main, board]) run.child.kill('SIGTERM');
    const codes = await Promise.all([main.exited, board.exited]);
    produced.logs.push({ where: 'dropship start (all)', text: main.output() }, { where: 'dropship start --role dashboard', text: board.output() });
    expect(codes).toEqual([0, 0]);
  }

  const scan = new Redis({ host: '127.0.0.1', port: redis.server.port, password: SECRETS.REDIS_PASSWORD });
  try {
    produced.redis = await redisOutputs(scan);
  } finally {
    scan.disconnect();
  }
  produced.files = fileOutputs(work, [secretsDir]);

  secrets = [
    ...Object.entries(SECRETS).map(([name, value]) => ({ name, value })),
    { name: 'SFTP private key (passphrase-protected, SEC_SFTP_KEY)', value: sftpKey.privateKey },
    { name: 'SFTP private key the server refuses (SEC_SFTP_STRANGER_KEY)', value: strangerKey.privateKey },
    { name: 'store PGP private key (STORE_PGP_KEY_FILE)', value: storeKeyArmored },
    { name: 'HTTPS client certificate key (auth.clientKeyFile)', value: clientCert.key },
    ...ups.tokens.map((value, i) => ({ name: `UPS access token ${i + 1}`, value })),
    ...fedex.tokens.map((value, i) => ({ name: `FedEx access token ${i + 1}`, value })),
    ...serverTlsKeys(smtp.ca.dir, 'SMTP receiver'),
    ...serverTlsKeys(hooks.ca.dir, 'HTTPS receiver'),
    ...serverTlsKeys(cx.ca.dir, 'mTLS receiver'),
    ...serverTlsKeys(path.dirname(ups.caFile), 'UPS stand-in'),
    ...serverTlsKeys(path.dirname(fedex.caFile), 'FedEx stand-in'),
  ];
}, 240_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.allSettled([sshd?.stop(), smtp?.stop(), hooks?.stop(), cx?.stop(), ups?.stop(), fedex?.stop()]);
  await redis?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the run used every secret, through its error paths', () => {
  it('logged in, signed and authenticated with them where they belong', () => {
    expect(sshd.log()).toMatch(/Accepted publickey .*ED25519/);
    expect(readdirSync(path.join(sshd.root, 'inbound')).filter((f) => f.endsWith('-sftp-key.csv')).sort()).toEqual(['7001-sftp-key.csv', '7002-sftp-key.csv', '7003-sftp-key.csv']);
    expect(smtp.messages.length).toBeGreaterThan(0);
    expect(hooks.requests.filter((r) => r.signatureValid === true).length).toBeGreaterThan(0);
    expect(hooks.requests.filter((r) => r.signatureValid === false).length).toBeGreaterThan(0);
    const accepted = cx.requests.filter((r) => r.method === 'POST' && r.status === 200);
    expect(accepted.length).toBe(2);
    for (const r of accepted) {
      expect(r.headers.authorization).toBe(`Bearer ${SECRETS.SEC_CX_BEARER}`);
      expect(r.clientCert).toBe('store-client');
      expect(r.body).toContain(`<SharedSecret>${SECRETS.SEC_CX_SHARED_SECRET}</SharedSecret>`);
    }
    expect(cx.requests.map((r) => r.status ?? 0).filter((status) => status >= 400).sort()).toEqual([400, 401]);
    expect(ups.requestsTo('token').map((r) => r.status)).toEqual(expect.arrayContaining([401, 200]));
    // FedEx refused the first token once: another one was fetched (and `verify` fetched one more).
    expect(fedex.requestsTo('ship').map((r) => r.status)).toEqual(expect.arrayContaining([401, 200]));
    expect(fedex.tokens.length).toBeGreaterThanOrEqual(2);
    expect([...ups.violations, ...fedex.violations]).toEqual([]);
  });

  it('reported each failure usefully, without the secret', () => {
    const logs = produced.logs.map((o) => o.text).join('\n');
    for (const reason of [/SMTP login at .* was refused/, /answered 401/, /refused the client credentials \(401: 10401 ClientId is Invalid/, /SFTP login as .* was refused/, /EAUTH/]) {
      expect(logs).toMatch(reason);
    }
    expect(evidence.verify).toMatch(/FAIL {2}supplier mail-wrongpass: SMTP login at .* was refused/);
    expect(evidence.verify).toMatch(/FAIL {2}supplier sftp-refused: /);
    expect(evidence.verify).toMatch(/ok {4}carrier ups/);
    expect(evidence.replay).toMatch(/replayed 2: 700[12]\+cxml-bearer\+po, 700[12]\+cxml-bearer\+po/);
    expect(evidence.oldRedisPassword).toContain('WRONGPASS');
    // What the receivers said back reached the records, without the secrets in it.
    expect(logs).toContain('<SharedSecret>[redacted]</SharedSecret>');
    expect(logs).toContain('Bearer [redacted] is not accepted here');
    expect(logs).toContain('Sender address rejected: not owned by user [redacted]');
    expect(logs).toMatch(/FedEx ship request refused a freshly issued token \(401: NOT\.AUTHORIZED\.ERROR Access token expired\. \(token \[redacted\]\)\)/);
    expect(produced.redis.map((o) => o.text).join('\n')).toContain('Bearer [redacted]');
    expect(evidence.dashboardPage).toContain('7002+mail-wrongpass+po');
    expect(evidence.dashboardUnmasked).toContain('SMTP login at');
    expect(produced.redis.length).toBeGreaterThan(50);
  });
});

describe('no secret appears, in any form, in what the product produced', () => {
  it.each(Object.keys(produced) as Array<keyof typeof produced>)('%s', (kind) => {
    expect(produced[kind].length).toBeGreaterThan(0);
    expect(findLeaks(secrets, produced[kind])).toEqual([]);
  });
});

describe('the search', () => {
  it('finds a secret as written, JSON-escaped, URL-encoded, in hex and inside base64 at any alignment', () => {
    const secret = { name: 'probe', value: 'sekprobe+/=&"0123456789abcdef' };
    const embeddings = [
      `x ${secret.value} y`,
      JSON.stringify({ a: secret.value }),
      `?t=${encodeURIComponent(secret.value)}`,
      Buffer.from(secret.value).toString('hex'),
      ...['', 'u', 'us', 'use'].map((user) => basic(user, secret.value)),
      Buffer.from(`\0user\0${secret.value}`).toString('base64url'),
    ];
    for (const text of embeddings) expect([text, findLeaks([secret], [{ where: 'probe', text }]).length]).toEqual([text, 1]);
    expect(findLeaks([secret], [{ where: 'probe', text: 'sekprobe+/=&"0123456789abcde' }])).toEqual([]);
  });

  it('finds a private key by any line of its body, however it was re-wrapped or escaped', () => {
    const key = ['-----BEGIN TEST KEY-----', 'Comment: a header line', 'A'.repeat(10) + randomBytes(30).toString('base64'), randomBytes(30).toString('base64'), '-----END TEST KEY-----'].join('\n');
    const forms = secretForms(key);
    expect([...forms.keys()].filter((k) => k.startsWith('raw'))).toEqual(['raw line 1', 'raw line 2']);
    expect(findLeaks([{ name: 'key', value: key }], [{ where: 'probe', text: JSON.stringify({ error: key.split('\n')[3] }) }])).toHaveLength(1);
  });
});
