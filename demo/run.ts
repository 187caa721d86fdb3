import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Job, Queue, type Worker } from 'bullmq';
import { startServices, type Services } from '../src/app/start';
import { ProgressBar } from '../src/cli/progress';
import type { Config } from '../src/config/config';
import { checkSupplierKeys } from '../src/config/keys';
import { loadConfig } from '../src/config/load';
import type { OrderEventSource } from '../src/core/order';
import { planOrder } from '../src/planning/plan';
import { REDIS_MISSING_HINT, redisServerAvailable } from '../src/queue/embedded-redis';
import { formatTimeline } from '../src/cli/timeline';
import { ConsoleQueries } from '../src/ops/console-queries';
import { Operations } from '../src/ops/operations';
import { FULFILLMENTS_QUEUE, markerKeys, ORDERS_QUEUE, PICKUP_JOB, PICKUPS_QUEUE } from '../src/queue/names';
import { dataCipherFromEnv } from '../src/queue/sealing';
import { ingestOrder, parseJsonBody } from '../src/sources/ingest';
import { createTransport, type TransportFactory } from '../src/transports/factory';
import { OutboxTransport } from '../src/transports/outbox';
import { CREAMERY_CSV_COLUMNS, ENV, SFTP_CONFIRMATIONS_DIR, SFTP_REMOTE_DIR, X12_ASN_DIR, X12_PARTIES, startDemoEnvironment, SUPPLIERS, type DemoEnvironment } from './environment';
import { readInboxes, type RecipientInbox } from './inbox';
import { generatedOrders, sampleOrders, type DemoOrder } from './orders';

/**
 * `npm run demo`: the real pipeline with its real transports, on this machine only. Starts
 * an embedded Redis, a local receiver for each supplier (OpenSSH sshd, an SMTP server with
 * STARTTLS, an HTTPS server) and UPS/FedEx stand-ins, writes a configuration pointing at
 * them, sends the example orders and some generated ones through the HTTP API, shows what
 * each recipient received (decrypted and verified), then keeps the API and the dashboard up
 * until Ctrl-C and removes everything on the way out.
 *
 * `DEMO_EXIT_AFTER_DELIVERY=1` exits after the report (0 when every delivery landed and every
 * check passed); `DEMO_ORDERS` sets how many orders are generated (default 12); `PORT` the
 * API port (default 3000, or a free one when that is taken).
 */

const EXIT_AFTER_DELIVERY = ['1', 'true', 'yes'].includes((process.env.DEMO_EXIT_AFTER_DELIVERY ?? '').toLowerCase());
const GENERATED_ORDERS = Math.max(0, Math.min(1000, Number(process.env.DEMO_ORDERS ?? 12) || 0));
const DELIVERY_TIMEOUT_MS = 120_000;
/** The example order shown in full for every recipient. */
const SHOWCASE_ORDER = '1001';
/** Lines of a payload printed before "…". */
const BODY_LINES = 18;

const say = (line = ''): void => void process.stdout.write(`${line}\n`);
/** Deliveries landed of those planned; made once every order's deliveries are known. */
let progress: ProgressBar | undefined;

/** What is running, so that every way out stops it. */
const running: { env?: DemoEnvironment; services?: Services } = {};
let stopping: Promise<void> | undefined;

function shutdown(): Promise<void> {
  stopping ??= (async () => {
    await running.services?.close().catch(() => undefined);
    await running.env?.stop();
  })();
  return stopping;
}

async function exit(code: number): Promise<never> {
  progress?.clear();
  await shutdown();
  if (running.env) say(`Stopped. Removed ${running.env.dir} and stopped every server the demo started.`);
  process.exit(code);
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130); // a second Ctrl-C: the exit hooks still kill redis-server and sshd
    interrupted = true;
    progress?.clear();
    say(`\n${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopping (finishing deliveries in flight)...`);
    void exit(0);
  });
}

/** Every delivery the demo expects, and what became of each (from the delivery workers' events). */
class DeliveryWatch {
  readonly expected = new Set<string>();
  readonly landed = new Map<string, string>();
  readonly failed = new Map<string, string>();
  retries = 0;
  private waiters: Array<() => void> = [];
  /** Called for every landed delivery (and for other events that change the counts). */
  onChange: (landedId?: string) => void = () => undefined;

  watch(workers: Worker[]): void {
    for (const worker of workers) {
      worker.on('completed', (job: Job, result: { location?: string } | undefined) => {
        if (job.id === undefined) return;
        this.landed.set(job.id, result?.location ?? worker.name);
        this.changed(job.id);
      });
      worker.on('failed', (job: Job | undefined, error: Error) => {
        if (job?.id === undefined) return;
        if (error.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1)) this.failed.set(job.id, error.message);
        else this.retries += 1;
        this.changed();
      });
    }
  }

  expect(ids: readonly string[]): void {
    for (const id of ids) this.expected.add(id);
    this.changed();
  }

  /** No longer waits for these (their order was refused, or was a duplicate). */
  unexpect(ids: readonly string[]): void {
    for (const id of ids) this.expected.delete(id);
    this.changed();
  }

  get done(): number {
    return [...this.expected].filter((id) => this.landed.has(id)).length;
  }

  get settled(): boolean {
    return [...this.expected].every((id) => this.landed.has(id) || this.failed.has(id));
  }

  /** Resolves once every expected delivery landed or failed for good; false after `timeoutMs`. */
  async settle(timeoutMs: number): Promise<boolean> {
    if (this.settled) return true;
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      new Promise<boolean>((resolve) => this.waiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return settled;
  }

  private changed(landedId?: string): void {
    this.onChange(landedId);
    if (!this.settled) return;
    for (const wake of this.waiters.splice(0)) wake();
  }
}

const SOURCES: Record<DemoOrder['endpoint'], OrderEventSource['kind']> = {
  '/orders': 'canonical',
  '/webhooks/shopify': 'shopify',
  '/webhooks/woocommerce': 'woocommerce',
};

/** Posts one order to the API the way its platform would (webhooks signed with their secrets). */
async function post(base: string, order: DemoOrder): Promise<{ status: number; orderId?: string; duplicate?: boolean; problems?: string[] }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const hmac = (secret: string) => createHmac('sha256', secret).update(order.body).digest('base64');
  if (order.endpoint === '/orders' && process.env.API_TOKEN) headers.authorization = `Bearer ${process.env.API_TOKEN}`;
  if (order.endpoint === '/webhooks/shopify') {
    Object.assign(headers, {
      'x-shopify-topic': 'orders/create',
      'x-shopify-webhook-id': randomUUID(),
      'x-shopify-hmac-sha256': hmac(process.env.SHOPIFY_WEBHOOK_SECRET ?? ''),
    });
  }
  if (order.endpoint === '/webhooks/woocommerce') {
    Object.assign(headers, {
      'x-wc-webhook-topic': 'order.created',
      'x-wc-webhook-delivery-id': randomUUID(),
      'x-wc-webhook-signature': hmac(process.env.WOOCOMMERCE_WEBHOOK_SECRET ?? ''),
    });
  }
  const response = await fetch(`${base}${order.endpoint}`, { method: 'POST', headers, body: order.body });
  const answer = (await response.json().catch(() => ({}))) as { orderId?: string; duplicate?: boolean; problems?: string[] };
  return { status: response.status, ...answer };
}

/**
 * The deliveries the pipeline will make for an order once accepted (the same pure plan its
 * worker runs); none for a body the API will refuse.
 */
function plannedDeliveries(order: DemoOrder, config: Config): { ids: string[]; held?: string } {
  let event: ReturnType<typeof ingestOrder>;
  try {
    event = ingestOrder(parseJsonBody(order.body), { source: SOURCES[order.endpoint] });
  } catch {
    return { ids: [] };
  }
  const plan = planOrder(event.order, config);
  if (plan.status !== 'planned') return { ids: [], held: plan.reasons.map((r) => r.message).join('; ') };
  return { ids: plan.deliveries.map((d) => d.deliveryId) };
}

/** JSON laid out for reading: a value that fits on one line stays on one line. */
function layoutJson(value: unknown, indent = ''): string {
  const flat = JSON.stringify(value);
  if (flat === undefined || flat.length + indent.length <= 100 || value === null || typeof value !== 'object') return flat ?? 'null';
  const inner = `${indent}  `;
  if (Array.isArray(value)) return `[\n${value.map((v) => `${inner}${layoutJson(v, inner)}`).join(',\n')}\n${indent}]`;
  const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${layoutJson(v, inner)}`);
  return `{\n${entries.join(',\n')}\n${indent}}`;
}

/** A payload for the terminal: JSON laid out for reading, CRLF as LF, indented, cut after a few lines. */
function showBody(body: string, indent = '      '): string[] {
  let text = body.replace(/\r\n/g, '\n').trimEnd();
  try {
    text = layoutJson(JSON.parse(text));
  } catch {
    // not JSON: as it is
  }
  const lines = text.split('\n');
  const shown = lines.slice(0, BODY_LINES).map((l) => `${indent}${l.length > 140 ? `${l.slice(0, 139)}…` : l}`);
  if (lines.length > BODY_LINES) shown.push(`${indent}… (${lines.length - BODY_LINES} more lines)`);
  return shown;
}

function printInbox(inbox: RecipientInbox): void {
  say(`  ${inbox.recipient}: ${inbox.via}`);
  for (const check of inbox.checks) say(`    ✓ ${check}`);
  for (const problem of inbox.problems) say(`    ✗ ${problem}`);
  const sample = inbox.items.find((i) => i.orderId === SHOWCASE_ORDER) ?? inbox.items[0];
  if (sample === undefined) return;
  say(`    order ${sample.orderId}: ${sample.name}`);
  if (inbox.recipient === 'ups' || inbox.recipient === 'fedex') {
    const body = sample.body.replace(/\s+/g, '');
    say(`      ${body.length} bytes of ${inbox.recipient === 'ups' ? 'ShipmentRequest' : 'Full_Schema_Ship'} JSON (ship-to, package and service only)`);
    return;
  }
  for (const line of showBody(sample.body)) say(line);
}

async function main(): Promise<void> {
  say('dropship demo: the real pipeline and transports against local receivers. Nothing leaves this machine.');
  say();
  if (!redisServerAvailable()) {
    process.stderr.write(`${REDIS_MISSING_HINT}\n`);
    process.exit(1);
  }

  const env = await startDemoEnvironment();
  running.env = env;
  // Whatever happens, do not leave keys and payloads behind in /tmp.
  process.once('exit', () => rmSync(env.dir, { recursive: true, force: true }));
  const dashboardToken = randomBytes(18).toString('base64url');
  Object.assign(process.env, env.env, {
    DASHBOARD_TOKEN: dashboardToken,
    SHOPIFY_WEBHOOK_SECRET: randomBytes(18).toString('base64url'),
    WOOCOMMERCE_WEBHOOK_SECRET: randomBytes(18).toString('base64url'),
  });

  const config = loadConfig(env.configDir);
  const keys = await checkSupplierKeys(config);
  const transports: TransportFactory = (target, runtime) =>
    target.kind === 'carrier' && env.fallbacks.has(target.recipient)
      ? new OutboxTransport({ dir: env.outboxDir }, { instanceId: target.recipient, configDir: env.dir })
      : createTransport(config, target, process.env, runtime);

  // The same wiring as `dropship start`: an embedded Redis (no append-only file: the demo's
  // data goes with its temp dir), the workers, the API, the dashboard and /metrics. No logger:
  // the demo's output is its report.
  const wantedPort = Number(process.env.PORT ?? 3000);
  const services = await startServices({
    config,
    redis: { embedded: { dataDir: env.dir, appendOnly: false } },
    transports,
    cipher: dataCipherFromEnv(env.env),
    listen: { port: wantedPort, host: '127.0.0.1', anyPortIfTaken: true },
    dashboard: { auth: { token: dashboardToken } },
    keys,
  });
  running.services = services;
  const { pipeline, port } = services;
  const base = `http://127.0.0.1:${port}`;

  const sshd = env.sshd;
  say('Running locally:');
  say(`  redis         embedded redis-server on ${services.redisUrl}`);
  say(sshd ? `  sftp          OpenSSH sshd on ${sshd.host}:${sshd.port}, host key ${sshd.hostKey.fingerprint}, key-only login` : `  sftp          (none: ${env.fallbacks.get(SUPPLIERS.sftp)})`);
  say(env.smtp ? `  smtp          SMTP server on ${env.smtp.host}:${env.smtp.port}, STARTTLS with a generated CA, login required` : `  smtp          (none: ${env.fallbacks.get(SUPPLIERS.email)})`);
  say(env.https ? `  https         HTTPS server on ${env.https.url}, generated CA, checks Standard Webhooks signatures` : `  https         (none: ${env.fallbacks.get(SUPPLIERS.https)})`);
  for (const carrier of ['ups', 'fedex'] as const) {
    const standIn = env.carriers[carrier];
    say(standIn ? `  ${carrier.padEnd(13)} ${carrier === 'ups' ? 'UPS' : 'FedEx'} API stand-in on ${standIn.url} (OAuth + shipments)` : `  ${carrier.padEnd(13)} (none: ${env.fallbacks.get(carrier)})`);
  }
  say(`  api           ${base} (the real HTTP API, dashboard and metrics${wantedPort !== 0 && port !== wantedPort ? `; port ${wantedPort} was taken` : ''})`);
  say();
  say(`Configuration in ${env.configDir}: store.yaml and ${config.suppliers.length} suppliers`);
  for (const s of config.suppliers) {
    const reason = env.fallbacks.get(s.id);
    say(`  ${s.id.padEnd(20)} ${s.format.padEnd(5)} via ${s.delivery.transport}${reason ? ` (its receiver is missing: ${reason})` : ''}`);
  }
  for (const carrier of ['ups', 'fedex']) {
    const reason = env.fallbacks.get(carrier);
    if (reason) say(`  ${carrier.padEnd(20)} carrier requests go to the outbox ${env.outboxDir}: ${reason}`);
  }
  say(`Generated keys and secrets in ${path.join(env.dir, 'secrets')}; their environment variables are set in this process only.`);
  say();

  const watch = new DeliveryWatch();
  // Deliveries only: the fulfillments and confirmation pickups are checked by the loop's own report.
  watch.watch(pipeline.workers.filter((w) => w.name !== ORDERS_QUEUE && w.name !== FULFILLMENTS_QUEUE && w.name !== PICKUPS_QUEUE));
  const note = (): string => [watch.retries > 0 ? `${watch.retries} retries` : '', watch.failed.size > 0 ? `${watch.failed.size} failed` : ''].filter(Boolean).join(', ');
  const orders = [...sampleOrders(), ...generatedOrders(GENERATED_ORDERS)];
  // Every order's deliveries are planned before the first one is sent, so the bar's total is
  // right from its first frame; an order the API refuses takes its own out again.
  const plans = orders.map((order) => plannedDeliveries(order, config));
  watch.expect(plans.flatMap((plan) => plan.ids));
  const bar = new ProgressBar({ total: watch.expected.size, label: 'deliveries landed' });
  progress = bar;
  let reporting = true;
  watch.onChange = (landedId) => {
    if (reporting) {
      bar.total = watch.expected.size;
      bar.update(watch.done, note());
      return;
    }
    if (landedId !== undefined && !watch.expected.has(landedId)) say(`  landed: ${landedId} → ${watch.landed.get(landedId) ?? ''}`);
  };

  say(`Sending ${orders.length} orders through ${base}:`);
  bar.start(note());
  const generated: string[] = [];
  const dropped = new Set<number>();
  /** Stops waiting for the deliveries of order `i`, but for those another order still brings. */
  const drop = (i: number): void => {
    dropped.add(i);
    const wanted = (id: string): boolean => plans.some((p, j) => !dropped.has(j) && p.ids.includes(id));
    watch.unexpect((plans[i]?.ids ?? []).filter((id) => !wanted(id)));
  };
  for (const [i, order] of orders.entries()) {
    const plan = plans[i] ?? { ids: [] };
    const answer = await post(base, order);
    let outcome: string;
    if (answer.status !== 202) {
      drop(i);
      outcome = `${answer.status} ${(answer.problems ?? []).join('; ')}`;
    } else if (answer.duplicate) {
      // The order accepted first with this id makes the deliveries, not this one.
      drop(i);
      outcome = `202 order ${answer.orderId}: a duplicate of an order already accepted, so it is not delivered again`;
    } else {
      outcome = plan.held ? `202 order ${answer.orderId}: held (${plan.held})` : `202 order ${answer.orderId}: ${plan.ids.length} ${plan.ids.length === 1 ? 'delivery' : 'deliveries'}`;
    }
    if (order.label === 'generated') {
      generated.push(answer.status === 202 ? (answer.orderId ?? '') : `(${outcome})`);
    } else {
      bar.clear();
      say(`  ${order.label.padEnd(32)} POST ${order.endpoint.padEnd(22)} ${outcome}`);
      bar.update(watch.done, note());
    }
  }
  if (generated.length > 0) {
    bar.clear();
    say(`  ${`${generated.length} generated orders`.padEnd(32)} POST ${'/orders'.padEnd(22)} 202: ${generated[0]} … ${generated[generated.length - 1]}`);
  }
  say();

  const settled = await watch.settle(DELIVERY_TIMEOUT_MS);
  bar.total = watch.expected.size;
  bar.finish(watch.done, note());
  reporting = false;
  let ok = settled && watch.failed.size === 0;
  if (!settled) say(`Not every delivery landed within ${DELIVERY_TIMEOUT_MS / 1000} s: ${[...watch.expected].filter((id) => !watch.landed.has(id) && !watch.failed.has(id)).join(', ')}`);
  for (const [id, reason] of watch.failed) say(`  failed for good: ${id}: ${reason}`);
  say();

  const carrierDeliveryIds = [...watch.expected].filter((id) => id.endsWith('+carrier'));
  const inboxes = await readInboxes(env, carrierDeliveryIds);
  say(`What each recipient received (order ${SHOWCASE_ORDER} shown in full, decrypted where it travelled encrypted):`);
  for (const inbox of inboxes) {
    printInbox(inbox);
    if (inbox.problems.length > 0) ok = false;
  }
  say();

  const disclosures = await pipeline.ledger.forOrder(SHOWCASE_ORDER);
  say(`What order ${SHOWCASE_ORDER} disclosed to whom (from the disclosure ledger):`);
  for (const d of [...disclosures].sort((a, b) => a.deliveryId.localeCompare(b.deliveryId))) {
    say(`  ${d.deliveryId.padEnd(30)} ${d.transport.padEnd(6)} ${d.fields.join(' ')}`);
  }
  const billing = disclosures.flatMap((d) => d.fields).filter((f) => /^(billTo|payment)\./.test(f));
  if (billing.length === 0) say('    ✓ no billing or payment field went to anyone');
  else {
    say(`    ✗ billing or payment fields were disclosed: ${[...new Set(billing)].join(', ')}`);
    ok = false;
  }
  say();

  if (!(await closeTheLoop(base, env, services, config, orders))) ok = false;
  say();

  say(`API        ${base}   POST /orders, /webhooks/shopify, /webhooks/woocommerce; GET /healthz, /metrics`);
  say(`Dashboard  ${base}/admin/queues   user: any name, password (DASHBOARD_TOKEN): ${dashboardToken}`);
  say(`Console    ${base}/console   orders, held orders, suppliers, replay (the same credentials)`);
  say(`Payloads   ${sshd ? `${path.join(sshd.root, SFTP_REMOTE_DIR)} (SFTP drop), ` : ''}${env.outboxDir} (outbox, if any)`);
  if (EXIT_AFTER_DELIVERY) {
    say(ok ? 'Every delivery landed and every check passed.' : 'Some deliveries or checks failed (see above).');
    await exit(ok ? 0 : 1);
  }
  say(`Try:      curl -X POST ${base}/orders -H 'content-type: application/json' -d @examples/orders/canonical-order.json   (change "id" first: 1001 was delivered already)`);
  say('Press Ctrl-C to stop: the servers, the Redis and the temp dir are removed.');
}

/** The Shopify example order: its number, and Shopify's id for it. */
const SHOPIFY_ORDER = { orderId: '1002', storeId: 5800000000001 };

/**
 * Closing the loop: the creamery and the olive grove confirm what they shipped over the
 * confirmation API (a bearer token, a Standard Webhooks signature), the store stand-in is told
 * of every shipment of the Shopify order (the warehouse's on its label), and each order's
 * timeline shows it. True when every check passed.
 */
async function closeTheLoop(base: string, env: DemoEnvironment, services: Services, config: Config, orders: readonly DemoOrder[]): Promise<boolean> {
  const { pipeline } = services;
  let ok = true;
  const timelines: string[] = [SHOPIFY_ORDER.orderId, SHOWCASE_ORDER];
  say('Closing the loop: suppliers confirm, the store is told what shipped');
  const labelOf = async (orderId: string, shipmentId: string): Promise<string | undefined> => {
    const raw = await pipeline.redis.hget(markerKeys.tracking(pipeline.keys.forOrder(orderId), orderId), shipmentId);
    return raw ? (JSON.parse(raw) as { trackingNumber: string }).trackingNumber : undefined;
  };
  const confirm = async (supplierId: string, what: 'shipments' | 'acknowledgements', body: unknown): Promise<number> => {
    const raw = JSON.stringify(body);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (supplierId === SUPPLIERS.sftp) headers.authorization = `Bearer ${env.env[ENV.creameryConfirmToken]}`;
    else {
      const id = `msg_${randomUUID()}`;
      const at = Math.floor(Date.now() / 1000);
      const key = Buffer.from((env.env[ENV.oliveConfirmSecret] ?? '').slice('whsec_'.length), 'base64');
      Object.assign(headers, { 'webhook-id': id, 'webhook-timestamp': String(at), 'webhook-signature': `v1,${createHmac('sha256', key).update(`${id}.${at}.${raw}`).digest('base64')}` });
    }
    const res = await fetch(`${base}/suppliers/${supplierId}/${what}`, { method: 'POST', headers, body: raw });
    say(`  ${supplierId.padEnd(20)} POST /suppliers/${supplierId}/${what.padEnd(16)} ${res.status} ${JSON.stringify(body)}`);
    return res.status;
  };
  // The creamery ships order 1002: the cheddar on the label the store bought for it, the butter
  // in a second box on its own UPS account. It says so in a CSV file in its SFTP folder.
  const creameryLabel = (await labelOf(SHOPIFY_ORDER.orderId, `${SHOPIFY_ORDER.orderId}+${SUPPLIERS.sftp}`)) ?? '1Z0000000000000000';
  const answers = [
    await confirm(SUPPLIERS.sftp, 'acknowledgements', { orderId: SHOPIFY_ORDER.orderId, status: 'accepted' }),
    await confirm(SUPPLIERS.https, 'shipments', { orderId: SHOWCASE_ORDER, carrier: 'FDEG', trackingNumbers: ['794644790138'] }),
    // Sent twice, it counts once.
    await confirm(SUPPLIERS.https, 'shipments', { orderId: SHOWCASE_ORDER, carrier: 'FDEG', trackingNumbers: ['794644790138'] }),
  ];
  if (env.sshd) {
    const c = CREAMERY_CSV_COLUMNS;
    const csv = [
      [c.orderId, c.sku, c.quantity, c.carrier, `"${c.trackingNumber}"`].join(','),
      `${SHOPIFY_ORDER.orderId},VC-CHED-200,2,UPS,${creameryLabel}`,
      `${SHOPIFY_ORDER.orderId},BUTTER-42,3,UPSN,1Z999AA10123456784`,
      '',
    ].join('\r\n');
    const file = path.join(env.sshd.root, SFTP_CONFIRMATIONS_DIR, 'shipments-1002.csv');
    writeFileSync(file, csv);
    say(`  ${SUPPLIERS.sftp.padEnd(20)} put ${path.join(SFTP_CONFIRMATIONS_DIR, 'shipments-1002.csv')} on its SFTP server (2 rows)`);
    if (!(await pickedUp(pipeline, SUPPLIERS.sftp, path.join(env.sshd.root, SFTP_CONFIRMATIONS_DIR), 'shipments-1002.csv'))) ok = false;
    // The charcuterie ships a generated order's salami and leaves an X12 856 ship notice.
    const edi = ediOrder(orders);
    if (edi) {
      const file = `asn-${edi.orderId}.edi`;
      writeFileSync(path.join(env.sshd.root, X12_ASN_DIR, file), shipNotice856(edi.orderId, 'HV-SALAMI', edi.quantity, '1Z999AA10123456799', 7));
      say(`  ${SUPPLIERS.x12.padEnd(20)} put ${path.join(X12_ASN_DIR, file)} on its SFTP server (an X12 856 for order ${edi.orderId})`);
      if (!(await pickedUp(pipeline, SUPPLIERS.x12, path.join(env.sshd.root, X12_ASN_DIR), file))) ok = false;
      timelines.push(edi.orderId);
    }
  } else {
    // No SFTP server here: the creamery says the same over the API.
    answers.push(
      await confirm(SUPPLIERS.sftp, 'shipments', { orderId: SHOPIFY_ORDER.orderId, carrier: 'UPS', trackingNumbers: [creameryLabel], lines: [{ sku: 'VC-CHED-200', quantity: 2 }] }),
      await confirm(SUPPLIERS.sftp, 'shipments', { orderId: SHOPIFY_ORDER.orderId, carrier: 'UPSN', trackingNumbers: ['1Z999AA10123456784'], lines: [{ sku: 'BUTTER-42', quantity: 3 }] }),
    );
  }
  if (answers.some((status) => status !== 202)) {
    say('    ✗ a confirmation was not recorded');
    ok = false;
  }
  const shopify = env.shopify;
  if (shopify) {
    // The warehouse's line (on its own label) and the creamery's two confirmations.
    const deadline = Date.now() + 30_000;
    const fulfillments = () => shopify.orders.get(SHOPIFY_ORDER.storeId)?.fulfillments.filter((f) => f.status === 'SUCCESS') ?? [];
    while (fulfillments().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const made = fulfillments();
    for (const f of made) say(`  Shopify stand-in: fulfillment ${f.id} ${f.company ?? ''} ${f.numbers.join(' ')} (${f.lines.reduce((n, l) => n + l.quantity, 0)} units, notify customer: ${f.notifyCustomer})`);
    const left = shopify.orders.get(SHOPIFY_ORDER.storeId)?.fulfillmentOrders.flatMap((fo) => fo.lines).reduce((n, l) => n + l.remaining, 0);
    if (made.length === 3 && left === 0 && shopify.violations.length === 0) say(`    ✓ Shopify order ${SHOPIFY_ORDER.storeId} is fulfilled: 3 fulfillments, nothing left, every request valid against the Admin schema`);
    else {
      say(`    ✗ Shopify order ${SHOPIFY_ORDER.storeId}: ${made.length} fulfillments, ${left} units left, ${shopify.violations.length} invalid requests ${shopify.violations.join('; ')}`);
      ok = false;
    }
  } else say(`  (no Shopify stand-in: ${env.fallbacks.get('shopify') ?? 'not started'}; nothing is told)`);
  const queries = new ConsoleQueries(new Operations(pipeline.redis, pipeline.keys, config));
  for (const orderId of timelines) {
    const timeline = await queries.timeline(orderId);
    say();
    say(`The timeline of order ${orderId} (dropship status ${orderId}):`);
    for (const line of timeline ? formatTimeline(timeline).trimEnd().split('\n') : ['unknown']) say(`  ${line}`);
  }
  return ok;
}

/** Asks for a pickup of a supplier's folder now (it runs every 5 minutes) and waits for `file` to reach processed/. */
async function pickedUp(pipeline: Services['pipeline'], supplierId: string, folder: string, file: string): Promise<boolean> {
  const pickups = new Queue(PICKUPS_QUEUE, { connection: pipeline.redis, prefix: pipeline.keys.prefixes[0]! });
  await pickups.add(PICKUP_JOB, { supplierId }, { jobId: `demo-pickup-${supplierId}`, removeOnComplete: true, removeOnFail: true });
  await pickups.close();
  const processed = path.join(folder, 'processed', file);
  const deadline = Date.now() + 30_000;
  while (!existsSync(processed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (existsSync(processed)) {
    say(`    ✓ picked up and moved to ${path.basename(path.dirname(folder))}/${path.basename(folder)}/processed/`);
    return true;
  }
  say(`    ✗ ${file} was not picked up`);
  return false;
}

/** The first generated order with the charcuterie's salami, and how many. */
function ediOrder(orders: readonly DemoOrder[]): { orderId: string; quantity: number } | undefined {
  for (const o of orders) {
    const body = JSON.parse(o.body) as { id?: string; lines?: Array<{ sku?: string; quantity?: number }> };
    const line = body.lines?.find((l) => l.sku === 'HV-SALAMI');
    if (o.endpoint === '/orders' && body.id && line?.quantity) return { orderId: body.id, quantity: line.quantity };
  }
  return undefined;
}

/** An X12 856 ship notice (005010) as the charcuterie's EDI system writes one: shipment, order (PRF01 = our PO number), item. */
function shipNotice856(orderId: string, sku: string, quantity: number, tracking: string, control: number): string {
  const c9 = String(control).padStart(9, '0');
  const isa = ['ISA', '00', ' '.repeat(10), '00', ' '.repeat(10), 'ZZ', X12_PARTIES.supplier.padEnd(15), 'ZZ', X12_PARTIES.store.padEnd(15), '261206', '1200', '^', '00501', c9, '0', 'P', '>'].join('*');
  const body = ['ST*856*0001', `BSN*00*ASN${control}*20261206*1200`, 'HL*1**S', 'TD5*B*2*UPSN', `REF*2I*${tracking}`, 'DTM*011*20261206', 'HL*2*1*O', `PRF*${orderId}`, 'HL*3*2*I', `LIN**SK*${sku}`, `SN1**${quantity}*EA`];
  const segments = [isa, `GS*SH*${X12_PARTIES.supplier}*${X12_PARTIES.store}*20261206*1200*${control}*X*005010`, ...body, `SE*${body.length + 1}*0001`, `GE*1*${control}`, `IEA*1*${c9}`];
  return `${segments.map((x) => `${x}~`).join('\n')}\n`;
}

main().catch(async (error: unknown) => {
  progress?.clear();
  process.stderr.write(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  await exit(1);
});
