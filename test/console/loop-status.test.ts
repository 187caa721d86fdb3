import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Services, startServices } from '../../src/app/start';
import { loadConfig } from '../../src/config/load';
import { purchaseOrderListKey } from '../../src/loop/confirm';
import { generateDataKey } from '../../src/queue/sealing';
import { RecordingTransport } from '../../src/transports/recording';
import { FIXTURE_CONFIG_DIR, orderPayload } from '../support/orders';
import { TEST_CIPHER } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { dropshipCli } from '../support/cli';
import { waitFor } from '../support/wait';
import { AUTH, PASSWORD, PERSONAL, USER } from './support';

/**
 * What suppliers answered, as operators and API clients see it, from `dropship start`'s own
 * wiring (`startServices`, real HTTP on a local port) and the CLI run as an operator runs it:
 * two suppliers confirm (`confirmations`, expected within 2 h). Order 7001's purchase order
 * was rejected by the creamery, 7002's backordered, 7003's left unanswered for three hours,
 * 7004's cancelled. `GET /orders/{id}` and `dropship status ORDER_ID` show each answer as the
 * shipment's stage with the supplier's reason; `dropship status`, the console's suppliers page
 * and `/metrics` list what needs someone; an operator takes them off with `dropship handled`
 * (the console only names that command: its one action is replay).
 */

const PREFIX = 'loopstatus';
const TOKENS = { LOOP_CREAMERY_TOKEN: 'creamery-loop-token-0123456789', LOOP_OLIVECO_TOKEN: 'oliveco-loop-token-0123456789' };

let tmp: string;
let configDir: string;
let redis: TestRedis;
let services: Services;
let base: string;
const recorders = new Map<string, RecordingTransport>();
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dropship-loop-status-'));
  // The fixture configuration, both suppliers confirming over HTTPS.
  configDir = path.join(tmp, 'config');
  cpSync(FIXTURE_CONFIG_DIR, configDir, { recursive: true });
  appendFileSync(path.join(configDir, 'suppliers', 'creamery.yaml'), '\nconfirmations: { https: { auth: { bearerTokenEnv: LOOP_CREAMERY_TOKEN } }, expectWithin: 2h }\n');
  appendFileSync(path.join(configDir, 'suppliers', 'oliveco.yaml'), '\nconfirmations: { https: { auth: { bearerTokenEnv: LOOP_OLIVECO_TOKEN } }, expectWithin: 2h }\n');
  // The API reads the suppliers' secrets from the environment, as `dropship start` does; loopback callers need no other token.
  for (const [k, v] of Object.entries({ ...TOKENS, API_TOKEN: undefined, METRICS_TOKEN: undefined })) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  redis = await TestRedis.start();
  services = await startServices({
    config: loadConfig(configDir),
    redis: { url: redis.url },
    transports: (t) => {
      const r = new RecordingTransport(t.recipient);
      if (t.kind === 'carrier') r.respond = (p) => ({ trackingNumber: `1Z${p.deliveryId.replace(/\W/g, '').toUpperCase()}` });
      recorders.set(t.recipient, r);
      return r;
    },
    cipher: TEST_CIPHER,
    listen: { port: 0, host: '127.0.0.1' },
    dashboard: { auth: { user: USER, password: PASSWORD } },
    prefix: PREFIX,
  });
  base = `http://127.0.0.1:${services.port}`;

  const { redis: r, keys } = services.pipeline;
  const awaited = async (supplier: string, orderId: string) => (await r.zscore(purchaseOrderListKey(keys, supplier, 'awaiting'), orderId)) !== null;
  for (const id of ['7001', '7002', '7003', '7004']) expect((await call('POST', '/orders', orderPayload({ id }))).status).toBe(202);
  await waitFor('every purchase order awaited', async () => {
    for (const id of ['7001', '7002', '7003', '7004']) if (!(await awaited('creamery', id)) || !(await awaited('oliveco', id))) return false;
    return true;
  });
  expect((await supplier('creamery', 'acknowledgements', { orderId: '7001', status: 'rejected', reason: 'VC-CHEVRE is discontinued' })).status).toBe(202);
  expect((await supplier('oliveco', 'acknowledgements', { orderId: '7001', status: 'accepted' })).status).toBe(202);
  expect((await supplier('oliveco', 'shipments', { orderId: '7001', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'], shippedAt: '2026-12-06T10:00:00Z' })).status).toBe(202);
  expect((await supplier('creamery', 'acknowledgements', { orderId: '7002', status: 'backordered', reason: 'Out of butter until Friday' })).status).toBe(202);
  // 7003 went to the creamery three hours ago (over its 2 h).
  await r.zadd(purchaseOrderListKey(keys, 'creamery', 'awaiting'), 'XX', Date.now() - 3 * 3_600_000, '7003');
  // 7004 is cancelled: nothing of it is awaited any more, from either supplier.
  expect((await call('POST', '/orders/7004/cancel')).status).toBe(202);
  await waitFor('7004 no longer awaited', async () => !(await awaited('creamery', '7004')) && !(await awaited('oliveco', '7004')));
}, 90_000);

afterAll(async () => {
  await services?.close();
  await redis?.stop();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(tmp, { recursive: true, force: true });
});

/** A request to the running API over HTTP. */
function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  return fetch(`${base}${url}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

function supplier(id: 'creamery' | 'oliveco', what: 'acknowledgements' | 'shipments', body: unknown) {
  return call('POST', `/suppliers/${id}/${what}`, body, { authorization: `Bearer ${id === 'creamery' ? TOKENS.LOOP_CREAMERY_TOKEN : TOKENS.LOOP_OLIVECO_TOKEN}` });
}

/** The CLI as an operator runs it, against this suite's Redis, key prefix and configuration. */
const dropship = dropshipCli({ cwd: () => tmp, configDir: () => configDir, env: () => ({ REDIS_URL: redis.url, QUEUE_PREFIX: PREFIX, DROPSHIP_DATA_KEY: generateDataKey() }) });

/** One sample of `/metrics`. */
async function metric(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const res = await call('GET', '/metrics');
  expect(res.status).toBe(200);
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inner = line.slice(name.length + 1, line.indexOf('}')).split(',');
    if (want.every((w) => inner.includes(w)) && inner.length === want.length) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** A console page's text as a person reads it. */
async function consolePage(url: string, init: RequestInit = {}): Promise<{ status: number; html: string; text: string }> {
  const res = await fetch(`${base}${url}`, { ...init, headers: { authorization: AUTH, ...(init.headers as Record<string, string> | undefined) } });
  const html = await res.text();
  const text = html
    .replace(/<\/?(?:span|strong|a|time|em|code)\b[^>]*>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#39;/g, "'")
    .replace(/&quot;|&#34;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
  return { status: res.status, html, text };
}

interface TimelineBody {
  orderId: string;
  shipments: Array<{ shipmentId: string; stage: string; events: Array<{ stage: string; by: string; reason?: string; channel?: string; carrier?: string; trackingNumbers?: string[] }> }>;
}

describe("a supplier's answers, as operators and API clients see them", () => {
  it('GET /orders/{id} gives each shipment its stage and the events that came back, with the supplier\'s reason', async () => {
    const res = await call('GET', '/orders/7001');
    expect(res.status).toBe(200);
    const raw = await res.text();
    const body = JSON.parse(raw) as TimelineBody;
    const creamery = body.shipments.find((s) => s.shipmentId === '7001+creamery')!;
    expect(creamery.stage).toBe('rejected');
    expect(creamery.events).toEqual([{ stage: 'rejected', at: expect.any(String), by: 'creamery', reason: 'VC-CHEVRE is discontinued', channel: 'api' }]);
    const oliveco = body.shipments.find((s) => s.shipmentId === '7001+oliveco')!;
    expect(oliveco.stage).toBe('shipped');
    expect(oliveco.events.map((e) => e.stage)).toEqual(['acknowledged', 'shipped']);
    expect(oliveco.events[1]).toMatchObject({ by: 'oliveco', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'], at: '2026-12-06T10:00:00Z', channel: 'api' });
    for (const value of PERSONAL) expect(raw).not.toContain(value);

    const backordered = (await (await call('GET', '/orders/7002')).json()) as TimelineBody;
    expect(backordered.shipments.find((s) => s.shipmentId === '7002+creamery')).toMatchObject({ stage: 'backordered', events: [{ stage: 'backordered', by: 'creamery', reason: 'Out of butter until Friday' }] });
    const unanswered = (await (await call('GET', '/orders/7003')).json()) as TimelineBody;
    expect(unanswered.shipments.find((s) => s.shipmentId === '7003+creamery')).toMatchObject({ stage: 'sent', events: [] });
  });

  it('`dropship status ORDER_ID` prints the rejection and the backorder as the shipment\'s stage, with the reason', () => {
    const rejected = dropship('status', '7001');
    expect([rejected.code, rejected.stderr]).toEqual([0, '']);
    expect(rejected.stdout).toMatch(/\nshipment 7001\+creamery: rejected\n(?: {2}.*\n)* {2}rejected \d{4}-\S+ by creamery: VC-CHEVRE is discontinued \(api\)\n/);
    const backordered = dropship('status', '7002');
    expect(backordered.stdout).toMatch(/\nshipment 7002\+creamery: backordered\n(?: {2}.*\n)* {2}backordered \d{4}-\S+ by creamery: Out of butter until Friday \(api\)\n/);
  }, 60_000);

  it('`dropship status` lists the unanswered, the rejected and the backordered, with what to run once handled', () => {
    const r = dropship('status');
    expect([r.code, r.stderr]).toEqual([0, '']);
    const lines = r.stdout.split('\n');
    expect(lines.filter((l) => /^(unanswered|rejected|backordered):/.test(l))).toEqual([
      'unanswered: creamery: 1 purchase order neither acknowledged nor shipped after 2 h (orders 7003)',
      'rejected: order 7001: creamery rejected its purchase order (dropship status 7001 shows why; once handled: dropship handled 7001 --supplier creamery)',
      'backordered: order 7002: creamery backordered its purchase order (dropship status 7002 shows why; once handled: dropship handled 7002 --supplier creamery)',
    ]);
    const json = JSON.parse(dropship('status', '--json').stdout) as { confirmations: Array<Record<string, unknown>> };
    expect(json.confirmations).toEqual([
      expect.objectContaining({ supplierId: 'creamery', expectWithinMs: 7_200_000, awaiting: 1, overdue: 1, overdueOrders: ['7003'], rejected: ['7001'], backordered: ['7002'], rejectedTotal: 1, backorderedTotal: 1 }),
      expect.objectContaining({ supplierId: 'oliveco', awaiting: 2, overdue: 0, overdueOrders: [], rejected: [], backordered: [] }),
    ]);
  }, 60_000);

  it('/metrics counts them per supplier (dropship_purchase_orders_unanswered)', async () => {
    const gauge = 'dropship_purchase_orders_unanswered';
    expect(await metric(gauge, { supplier: 'creamery', state: 'awaiting' })).toBe(1);
    expect(await metric(gauge, { supplier: 'creamery', state: 'overdue' })).toBe(1);
    expect(await metric(gauge, { supplier: 'creamery', state: 'rejected' })).toBe(1);
    expect(await metric(gauge, { supplier: 'creamery', state: 'backordered' })).toBe(1);
    // The olive co. owes answers for 7002 and 7003 (7001 it shipped, 7004 was cancelled), none overdue.
    expect(await metric(gauge, { supplier: 'oliveco', state: 'awaiting' })).toBe(2);
    expect(await metric(gauge, { supplier: 'oliveco', state: 'overdue' })).toBe(0);
    expect(await metric(gauge, { supplier: 'oliveco', state: 'rejected' })).toBe(0);
  });

  it("the console's suppliers page shows them in each supplier's confirmations column, with the command to run once handled", async () => {
    const page = await consolePage('/console/suppliers');
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/creamery \(supplier\) outbox \S+ 0 0 — 1 awaiting, oldest sent \S+ 1 overdue \(over 2 h\): 7003 rejected: 7001 backordered: 7002 once handled: dropship handled ORDER_ID --supplier creamery /);
    expect(page.text).toMatch(/oliveco \(supplier\) outbox \S+ 0 0 — 2 awaiting, oldest sent \S+ /);
    expect(page.html).toContain('<a href="/console/orders/7001">7001</a>');
    expect(page.html).toContain('<code>dropship handled ORDER_ID --supplier creamery</code>');
    // Nothing of the olive co. needs someone: no command for it. And no action but replay.
    expect(page.html).not.toContain('--supplier oliveco');
    expect(page.html).not.toContain('/console/handled');
    expect(page.text).not.toContain('mark handled');
    for (const value of PERSONAL) expect(page.html).not.toContain(value);
  });

  it('the console does not mark them handled (GET and POST /console/handled answer 404); `dropship handled` does, and the page then names the one left', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expect((await consolePage('/console/handled?supplier=creamery&order=7001')).status).toBe(404);
    expect((await consolePage('/console/handled', { method: 'POST', body: 'supplier=creamery&order=7001', headers: { ...form, origin: base } })).status).toBe(404);
    expect(await metric('dropship_purchase_orders_unanswered', { supplier: 'creamery', state: 'rejected' })).toBe(1);
    expect((await consolePage('/console/suppliers')).text).toContain('rejected: 7001');

    const r = dropship('handled', '7001', '7003', '--supplier', 'creamery');
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe('handled 2: order 7001 (was rejected); order 7003 (was unanswered)\n');
    const page = await consolePage('/console/suppliers');
    expect(page.text).not.toContain('rejected: 7001');
    expect(page.text).not.toContain('overdue');
    expect(page.text).toMatch(/backordered: 7002 once handled: dropship handled 7002 --supplier creamery /);
    expect(page.html).toContain('<code>dropship handled 7002 --supplier creamery</code>');
    // The timeline keeps what the supplier said.
    expect(((await (await call('GET', '/orders/7001')).json()) as TimelineBody).shipments.find((s) => s.shipmentId === '7001+creamery')!.stage).toBe('rejected');
    expect(await metric('dropship_purchase_orders_unanswered', { supplier: 'creamery', state: 'rejected' })).toBe(0);
    expect(await metric('dropship_purchase_orders_unanswered', { supplier: 'creamery', state: 'awaiting' })).toBe(0);
  }, 60_000);

  it('`dropship handled` takes the backorder off the lists, and exits 2 for an order on none', async () => {
    const r = dropship('handled', '7002', '--supplier', 'creamery');
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe('handled 1: order 7002 (was backordered)\n');
    const again = dropship('handled', '7002', '--supplier', 'creamery', '--json');
    expect(again.code).toBe(2);
    expect(JSON.parse(again.stdout)).toEqual({ handled: [], unknown: ['7002'] });
    expect(again.stderr).toBe('dropship: not on any list of creamery: 7002\n');
    const nobody = dropship('handled', '7002', '--supplier', 'nobody');
    expect([nobody.code, nobody.stderr]).toEqual([2, 'dropship: no supplier "nobody" that confirms is configured\n']);
    // Which supplier's lists: always named.
    expect(dropship('handled', '7002').code).toBe(2);

    const status = dropship('status');
    expect(status.stdout.split('\n').filter((l) => /^(unanswered|rejected|backordered):/.test(l))).toEqual([]);
    expect(await metric('dropship_purchase_orders_unanswered', { supplier: 'creamery', state: 'backordered' })).toBe(0);
    expect(await metric('dropship_purchase_orders_unanswered', { supplier: 'creamery', state: 'awaiting' })).toBe(0);
    // The olive co.'s are untouched.
    expect(await metric('dropship_purchase_orders_unanswered', { supplier: 'oliveco', state: 'awaiting' })).toBe(2);
    // Nothing left for the console to name.
    expect((await consolePage('/console/suppliers')).html).not.toContain('dropship handled');
  }, 120_000);
});
