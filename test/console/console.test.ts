import { ConsoleQueries, reasonsInWords } from '../../src/ops/console-queries';
import { formatTimeline } from '../../src/cli/timeline';
import { CONSOLE_CSP } from '../../src/console/plugin';
import { CATALOGUE } from '../../src/errors';
import { ORDERS_QUEUE, orderJobId } from '../../src/queue/names';
import { buildApi } from '../../src/api/server';
import { DeliveryError } from '../../src/transports/transport';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ingestOrder } from '../../src/sources/ingest';
import { markerKeys } from '../../src/queue/names';
import { fixtureConfig, orderPayload } from '../support/orders';
import type { PipelineHarness } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';
import { AUTH, type ConsoleServer, noDefaultMethodConfig, PERSONAL, seedOrders, serveConsole, startHarness, trackingNumberOf } from './support';

/**
 * The operator console over HTTP: a real redis-server, the real pipeline (recording
 * transports) having planned and sent order 1001 and held order 1002, and the API serving the
 * dashboard and the console as `dropship start` does.
 */

let redis: TestRedis;
let harness: PipelineHarness;
let server: ConsoleServer;
let readOnly: ConsoleServer;
let unmasked: ConsoleServer;

const SAME_ORIGIN = { origin: 'http://localhost:80', host: 'localhost:80' };
const get = (s: ConsoleServer, url: string) => s.app.inject({ url, headers: { authorization: AUTH } });
/** The page's text as a person reads it: inline tags dropped, block tags as spaces, entities decoded, spaces collapsed. */
const text = (html: string) =>
  html
    .replace(/<\/?(?:span|strong|a|time|em|code)\b[^>]*>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;|&#34;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');

beforeAll(async () => {
  redis = await TestRedis.start();
  harness = await startHarness(noDefaultMethodConfig(), redis.url, 'console');
  await seedOrders(harness);
  server = await serveConsole(harness, noDefaultMethodConfig());
  readOnly = await serveConsole(harness, noDefaultMethodConfig(), { readOnly: true });
  unmasked = await serveConsole(harness, noDefaultMethodConfig(), { unmask: true });
}, 60_000);

afterAll(async () => {
  for (const s of [server, readOnly, unmasked]) await s?.close();
  await harness?.stop();
  await redis?.stop();
});

describe('the operator console', () => {
  it('answers 401 without credentials or with wrong ones, on every page and the replay', async () => {
    for (const url of ['/console', '/console/orders/1001', '/console/held', '/console/suppliers', '/console/style.css', '/console/replay?order=1002']) {
      const res = await server.app.inject({ url });
      expect([url, res.statusCode]).toEqual([url, 401]);
      expect(res.headers['www-authenticate']).toMatch(/^Basic realm="dropship dashboard"/);
      expect(res.body).not.toContain('1002');
      const wrong = await server.app.inject({ url, headers: { authorization: `Basic ${Buffer.from('ops:wrong password').toString('base64')}` } });
      expect([url, wrong.statusCode]).toEqual([url, 401]);
    }
    expect((await server.app.inject({ method: 'POST', url: '/console/replay', payload: 'order=1002', headers: { 'content-type': 'application/x-www-form-urlencoded', ...SAME_ORIGIN } })).statusCode).toBe(401);
  });

  it("counts every request against the dashboard's rate limit before authentication", async () => {
    const limited = buildApi({
      ready: async () => undefined,
      rateLimit: { redis: harness.pipeline.redis, prefix: 'console-rl', limits: { ...fixtureConfig().store.api.rateLimits, dashboard: { max: 2, windowMs: 60_000 } } },
      dashboard: { queues: [], auth: { user: 'ops', password: 'correct horse battery' }, console: { queries: new ConsoleQueries(server.ops) } },
    });
    try {
      const guess = await limited.inject({ url: '/console', headers: { authorization: `Basic ${Buffer.from('ops:wrong guess').toString('base64')}` } });
      expect(guess.statusCode).toBe(401);
      expect((await limited.inject({ url: '/console/held', headers: { authorization: AUTH } })).statusCode).toBe(200);
      const locked = await limited.inject({ url: '/console/orders/1001', headers: { authorization: AUTH } });
      expect(locked.statusCode).toBe(429);
      expect(locked.body).not.toContain('1001');
    } finally {
      await limited.close();
    }
  });

  it('sends a strict Content-Security-Policy with every page: nothing but its own stylesheet', async () => {
    expect(CONSOLE_CSP).toBe("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    for (const url of ['/console', '/console/orders/1001', '/console/held', '/console/suppliers', '/console/style.css', '/console/orders/nope']) {
      const res = await get(server, url);
      expect([url, res.headers['content-security-policy']]).toEqual([url, CONSOLE_CSP]);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
    const page = await get(server, '/console/orders/1001');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    // No script, no inline style, nothing from another origin.
    expect(page.body).not.toMatch(/<script|style=|https?:\/\//);
    expect((await get(server, '/console/style.css')).headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('finds an order by its exact id, and says so when no order has it', async () => {
    const found = await get(server, '/console?order=1001');
    expect(found.statusCode).toBe(303);
    expect(found.headers.location).toBe('/console/orders/1001');
    const missing = await get(server, '/console?order=9999');
    expect(missing.statusCode).toBe(404);
    expect(text(missing.body)).toContain('No order 9999 is known.');
    expect((await get(server, '/console/orders/9999')).statusCode).toBe(404);
  });

  it("shows an order's timeline: each shipment's recipients, transports, formats, fields, stages, tracking and disclosures", async () => {
    const res = await get(server, '/console/orders/1001');
    expect(res.statusCode).toBe(200);
    const t = text(res.body);
    expect(t).toContain('Order 1001');
    expect(t).toContain('Stage: planned');
    for (const shipment of ['1001+warehouse', '1001+creamery', '1001+oliveco']) expect(t).toContain(`Shipment ${shipment}`);
    // The creamery's purchase order: CSV through the transport that took it (this suite's
    // recording stand-in), with the paths its allow-list let through.
    expect(t).toMatch(/creamery \(supplier\) recording csv sent \d{4}-\d\d-\d\dT[\d:.]+Z — lines\.name, lines\.quantity, lines\.sku, order\.id, shipTo\.city, shipTo\.country, shipTo\.line1, shipTo\.line2, shipTo\.name, shipTo\.postalCode, shipTo\.region, shipment\.carrier, shipment\.service/);
    // The carrier's label request, with the tracking number it answered.
    expect(t).toMatch(new RegExp(`ups \\(carrier\\) recording ups-ship sent \\S+ ${trackingNumberOf('1001+creamery+carrier')} lines\\.weight`));
    expect(t).toMatch(new RegExp(`ups \\(carrier\\) recording ups-ship sent \\S+ ${trackingNumberOf('1001+warehouse+carrier')} lines\\.weight`));
    // The disclosure ledger's records: one per delivered payload.
    const disclosures = await server.ops.disclosures('1001');
    expect(disclosures.length).toBeGreaterThan(2);
    expect(t).toContain('Disclosures');
    for (const d of disclosures) expect(t).toContain(`${d.deliveredAt} ${d.recipient} ${d.transport} ${d.format}`);
  });

  it('shows a held order with its reason in the catalogue words and what to do', async () => {
    const order = text((await get(server, '/console/orders/1002')).body);
    expect(order).toContain('Stage: held');
    expect(order).toContain(`Why it is held ${CATALOGUE.UNKNOWN_SHIPPING_METHOD.message} UNKNOWN_SHIPPING_METHOD`);
    expect(order).toContain(`What to do: ${CATALOGUE.UNKNOWN_SHIPPING_METHOD.action}`);
    expect(order).toContain('Replay this order…');
    expect(order).toContain('No shipments planned yet.');

    const held = text((await get(server, '/console/held')).body);
    expect(held).toContain('Orders held or failed (1)');
    expect(held).toContain(`Order 1002 Since`);
    expect(held).toContain(CATALOGUE.UNKNOWN_SHIPPING_METHOD.message);
    expect(held).toContain(`What to do: ${CATALOGUE.UNKNOWN_SHIPPING_METHOD.action}`);
    expect(held).toContain('No delivery has failed.');
    expect(held).not.toContain('Order 1001');
  });

  it('prints each shipment\'s stages for `dropship status ORDER_ID`, and a held order\'s reasons with what to do', async () => {
    const queries = new ConsoleQueries(server.ops);
    const sent = formatTimeline((await queries.timeline('1001'))!);
    const at = '\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z';
    expect(sent).toMatch(
      new RegExp(
        [
          'shipment 1001\\+creamery: sent',
          `  ups \\(carrier\\): planned → sent ${at} via recording \\(ups-ship\\), tracking ${trackingNumberOf('1001+creamery+carrier')}`,
          `  creamery \\(supplier\\): planned → sent ${at} via recording \\(csv\\)`,
          'shipment 1001\\+oliveco: sent',
          `  oliveco \\(supplier\\): planned → sent ${at} via recording \\(json\\)`,
          'shipment 1001\\+warehouse: shipped',
          `  ups \\(carrier\\): planned → sent ${at} via recording \\(ups-ship\\), tracking ${trackingNumberOf('1001+warehouse+carrier')}`,
          // The warehouse ships on the label the store bought: shipped once it is bought.
          `  shipped ${at} by warehouse: UPS ${trackingNumberOf('1001+warehouse+carrier')} \\(2 units, label\\)`,
          '',
        ].join('\\n'),
      ),
    );
    const held = formatTimeline((await queries.timeline('1002'))!);
    expect(held).toBe(
      `held: ${CATALOGUE.UNKNOWN_SHIPPING_METHOD.message} (UNKNOWN_SHIPPING_METHOD); shipping method "pigeon-post" is not in store.yaml shipping.methods and no shipping.default is set; what to do: ${CATALOGUE.UNKNOWN_SHIPPING_METHOD.action}\n`,
    );
    for (const value of PERSONAL) expect(sent + held).not.toContain(value);
  });

  it("puts any failed job's reason in the catalogue's words, a code its parser does not split out included", () => {
    expect(reasonsInWords('held: UNCLAIMED_LINE Line l9 (SKU NOPE-1) is claimed by no supplier')).toEqual([
      { code: 'UNCLAIMED_LINE', message: CATALOGUE.UNCLAIMED_LINE.message, detail: 'Line l9 (SKU NOPE-1) is claimed by no supplier', action: CATALOGUE.UNCLAIMED_LINE.action },
    ]);
    expect(reasonsInWords('EAUTH: sftp.creamery.example refused the key')).toEqual([
      { code: 'EAUTH', message: CATALOGUE.EAUTH.message, detail: 'sftp.creamery.example refused the key', action: CATALOGUE.EAUTH.action },
    ]);
    // A hold code in a list this reader's parser cannot cut (written by another version): its words still show.
    expect(reasonsInWords('held: NO_SHIP_TO')).toEqual([{ code: 'NO_SHIP_TO', message: CATALOGUE.NO_SHIP_TO.message, action: CATALOGUE.NO_SHIP_TO.action }]);
    expect(reasonsInWords('job stalled more than allowable limit')).toEqual([{ message: 'job stalled more than allowable limit' }]);
  });

  it('lists every supplier and carrier with its last delivery, failures, pending work and key, and no label bought twice', async () => {
    const t = text((await get(server, '/console/suppliers')).body);
    // The last delivery is the ledger's: when the recipient last had a payload.
    const last = (recipient: string) => (server.ops.disclosures('1001').then((ds) => ds.filter((d) => d.recipient === recipient).map((d) => d.deliveredAt).sort().at(-1)));
    expect(t).toContain(`creamery (supplier) outbox ${await last('creamery')} 0 0 — not configured`);
    expect(t).toContain(`ups (carrier) https ${await last('ups')} 0 0 — —`);
    expect(t).toContain('fedex (carrier) https none yet 0 0 — —');
    expect(t).toMatch(/oliveco \(supplier\) \w+ \d{4}-\d\d-\d\dT[\d:.]+Z 0 0/);
    expect(t).toMatch(/ups \(carrier\) https \d{4}-/);
    expect(t).toContain('Labels possibly bought twice None: every label was bought with an answer.');
  });

  it("shows each supplier's PGP key expiry, flagged within 30 days, and a key that cannot be used", async () => {
    const keyed = await serveConsole(harness, noDefaultMethodConfig(), {
      keys: {
        // Checked at start-up with 30 days left; read on 20 December, 12 days are left.
        keys: [{ supplierId: 'creamery', fingerprint: 'a'.repeat(40), expiresAt: '2027-01-01T00:00:00.000Z', daysUntilExpiry: 30 }],
        unusableKeys: [{ supplierId: 'oliveco', problem: 'suppliers/oliveco.yaml: pgp.publicKeyFile: the key expired on 2026-11-01' }],
        now: () => Date.parse('2026-12-20T00:00:00.000Z'),
      },
    });
    try {
      const res = await get(keyed, '/console/suppliers');
      const t = text(res.body);
      expect(t).toMatch(/creamery \(supplier\) outbox \S+ 0 0 expires 2027-01-01T00:00:00\.000Z \(12 days\) not configured/);
      expect(res.body).toContain('<span class="bad">12 days</span>');
      expect(t).toMatch(/oliveco \(supplier\) outbox \S+ 0 0 unusable: suppliers\/oliveco\.yaml: pgp\.publicKeyFile: the key expired on 2026-11-01 not configured/);
    } finally {
      await keyed.close();
    }
  });

  it('shows no personal data on any page unless unmasked with the key', async () => {
    expect(PERSONAL.length).toBeGreaterThanOrEqual(6);
    for (const url of ['/console', '/console?order=1001', '/console/orders/1001', '/console/orders/1002', '/console/held', '/console/suppliers', '/console/replay?order=1002']) {
      const body = (await get(server, url)).body;
      for (const value of PERSONAL) expect([url, value, body.includes(value) || text(body).includes(value)]).toEqual([url, value, false]);
    }
    const opened = text((await get(unmasked, '/console/orders/1001')).body);
    expect(opened).toContain('Customer (unmasked) Customer Ada Example Email ada@example.com Phone +1 503 555 0199 Ship to Ada Example, Example Co, 12 Sample Street');
    expect(opened).toContain('Personal data is shown');
  });

  it('escapes order ids in pages and links', async () => {
    const id = '<script>alert(1)</script>"\'&';
    for (const url of [`/console?order=${encodeURIComponent(id)}`, `/console/orders/${encodeURIComponent(id)}`, `/console/replay?order=${encodeURIComponent(id)}`]) {
      const res = await get(server, url);
      expect([url, res.statusCode]).toEqual([url, expect.any(Number)]);
      expect(res.body).not.toContain('<script>');
      expect(res.body).not.toContain(id);
      if (res.statusCode === 404) expect(res.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;');
    }
    const held = (await get(server, '/console/held')).body;
    expect(held).toContain('href="/console/orders/1002"');
  });

  it('refuses a cross-site replay (403) and replays from the page after its confirmation', async () => {
    const orders = server.ops.queue(ORDERS_QUEUE);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    for (const headers of [{ origin: 'https://evil.example', host: 'localhost:80' }, { referer: 'https://evil.example/x', host: 'localhost:80' }, { host: 'localhost:80' }]) {
      const res = await server.app.inject({ method: 'POST', url: '/console/replay', payload: 'order=1002', headers: { authorization: AUTH, ...form, ...headers } });
      expect(res.statusCode).toBe(403);
      expect(JSON.parse(res.body)).toEqual({ error: 'ECSRF', message: CATALOGUE.ECSRF.message });
    }
    expect(await (await orders.getJob(orderJobId('1002')))?.getState()).toBe('failed');

    const confirm = await get(server, '/console/replay?order=1002');
    expect(confirm.statusCode).toBe(200);
    expect(text(confirm.body)).toContain('Replay order 1002?');
    expect(text(confirm.body)).toContain('fix the cause above and restart the workers first');
    expect(confirm.body).toContain('<form method="post" action="/console/replay">');
    // Nothing to replay for an order that went through.
    expect((await get(server, '/console/replay?order=1001')).statusCode).toBe(409);

    // Replayed with the configuration still unfixed: planned again, held again for the same reason.
    const res = await server.app.inject({ method: 'POST', url: '/console/replay', payload: 'order=1002', headers: { authorization: AUTH, ...form, ...SAME_ORIGIN } });
    expect(res.statusCode).toBe(200);
    expect(text(res.body)).toContain('Replayed Order 1002 is queued again to be planned.');
    await waitFor('order 1002 to be held again', async () => (await (await orders.getJob(orderJobId('1002')))?.getState()) === 'failed');
  });

  it('in read-only mode offers no replay and refuses one; no console marks a purchase order handled', async () => {
    const order = text((await get(readOnly, '/console/orders/1002')).body);
    expect(order).toContain(CATALOGUE.UNKNOWN_SHIPPING_METHOD.message);
    expect(order).not.toContain('Replay');
    expect((await get(readOnly, '/console/replay?order=1002')).statusCode).toBe(403);
    const res = await readOnly.app.inject({ method: 'POST', url: '/console/replay', payload: 'order=1002', headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded', ...SAME_ORIGIN } });
    expect(res.statusCode).toBe(403);
    // Replay is the console's one action: marking a supplier's purchase order handled is the
    // CLI's (`dropship handled`), so /console/handled is an unknown page, read-only or not.
    for (const served of [readOnly, server]) {
      const page = await get(served, '/console/handled?supplier=creamery&order=1001');
      expect([page.statusCode, text(page.body)]).toEqual([404, expect.stringContaining('No such page The console has no such page.')]);
      expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
      // A form posted to it (a page left open from before): 404 too, not the API's 415 for a form.
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const handled = await served.app.inject({ method: 'POST', url: '/console/handled', payload: 'supplier=creamery&order=1001', headers: { authorization: AUTH, ...form, ...SAME_ORIGIN } });
      expect(handled.statusCode).toBe(404);
      // Still behind the console's sign-in and same-origin check.
      expect((await served.app.inject({ method: 'GET', url: '/console/handled' })).statusCode).toBe(401);
      expect((await served.app.inject({ method: 'POST', url: '/console/handled', payload: 'supplier=creamery&order=1001', headers: { authorization: AUTH, ...form, origin: 'https://evil.example' } })).statusCode).toBe(403);
    }
  });

  it('lists a failed delivery with its reason and what to do, and replays it from its order page', async () => {
    harness.recorder('oliveco').then(DeliveryError.permanent('EREJECTED', 'HTTP 400 from oliveco: unknown sku OLV-EVOO'));
    expect((await harness.postOrder(orderPayload({ id: '1003' }))).statusCode).toBe(202);
    const oliveco = server.ops.queue('po-oliveco');
    await waitFor('the oliveco purchase order of 1003 to fail', async () => (await (await oliveco.getJob('1003+oliveco+po'))?.getState()) === 'failed');

    const held = text((await get(server, '/console/held')).body);
    expect(held).toMatch(
      new RegExp(
        `Failed deliveries oliveco: order 1003 1003\\+oliveco\\+po Failed \\S+ after 1 attempt ${CATALOGUE.EREJECTED.message} EREJECTED HTTP 400 from oliveco: unknown sku OLV-EVOO What to do: ${CATALOGUE.EREJECTED.action.replace(/[()]/g, '\\$&')} Replay…`,
      ),
    );
    const order = text((await get(server, '/console/orders/1003')).body);
    // Not sent: the transport it is configured for (the supplier file says outbox).
    expect(order).toMatch(/oliveco \(supplier\) outbox json failed \S+ — customer\.email/);
    expect(order).toContain(`${CATALOGUE.EREJECTED.message} EREJECTED HTTP 400 from oliveco: unknown sku OLV-EVOO What to do: ${CATALOGUE.EREJECTED.action} Replay this delivery…`);
    expect((await get(server, '/console/orders/1003')).body).toContain('href="/console/replay?delivery=1003%2Boliveco%2Bpo"');

    const confirm = text((await get(server, '/console/replay?delivery=1003%2Boliveco%2Bpo')).body);
    expect(confirm).toContain('Replay delivery 1003+oliveco+po?');
    expect(confirm).toContain('The delivery is sent again, to the same recipient, with the payload already built');
    const res = await server.app.inject({
      method: 'POST',
      url: '/console/replay',
      payload: 'delivery=1003%2Boliveco%2Bpo',
      headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded', ...SAME_ORIGIN },
    });
    expect(res.statusCode).toBe(200);
    expect(text(res.body)).toContain('Replayed Delivery 1003+oliveco+po is queued again to be sent. Its page shows where it goes next. Back to order 1003');
    await waitFor('the replayed purchase order to land', () => harness.recorder('oliveco').delivered.some((d) => d.orderId === '1003'));
    await waitFor('its page to show it sent', async () => /oliveco \(supplier\) recording json sent/.test(text((await get(server, '/console/orders/1003')).body)));
    expect(text((await get(server, '/console/held')).body)).toContain('No delivery has failed.');
    // A second replay finds nothing failed.
    expect((await get(server, '/console/replay?delivery=1003%2Boliveco%2Bpo')).statusCode).toBe(409);
  });
});

describe('the queue board, tidied', () => {
  it('shows every queue read-only, a held order as its reason in words, and no stack trace', async () => {
    const res = await get(server, '/admin/queues/api/queues?activeQueue=orders&status=failed&page=1');
    expect(res.statusCode).toBe(200);
    const body = JSON.parse(res.body) as { queues: Array<{ name: string; readOnlyMode: boolean; allowRetries: boolean; jobs: Array<{ id: string; failedReason?: string; stacktrace: string[]; data: unknown }> }> };
    expect(body.queues.length).toBeGreaterThan(3);
    for (const q of body.queues) expect([q.name, q.readOnlyMode, q.allowRetries]).toEqual([q.name, true, false]);
    const held = body.queues.find((q) => q.name === 'orders')?.jobs.find((j) => j.id === orderJobId('1002'));
    const stored = (await server.ops.queue(ORDERS_QUEUE).getJob(orderJobId('1002')))?.failedReason ?? '';
    const detail = stored.slice('held: UNKNOWN_SHIPPING_METHOD '.length);
    expect(stored.startsWith('held: UNKNOWN_SHIPPING_METHOD ')).toBe(true);
    expect(held?.failedReason).toBe(`Held: ${CATALOGUE.UNKNOWN_SHIPPING_METHOD.message} (UNKNOWN_SHIPPING_METHOD). ${detail}. What to do: ${CATALOGUE.UNKNOWN_SHIPPING_METHOD.action}`);
    expect(held?.stacktrace).toEqual([]);
    // The job's data keeps its masking.
    expect(JSON.stringify(held?.data)).toContain('AES-256-GCM ciphertext');
    for (const value of PERSONAL) expect(res.body).not.toContain(value);
  });
});

describe('GET /orders/:id: an order\'s timeline for API clients', () => {
  const TOKEN = 'timeline-token-0123456789';
  const api = () =>
    buildApi({
      ready: async () => undefined,
      submit: async (e) => ({ orderId: e.order.id, duplicate: false }),
      timeline: (id) => new ConsoleQueries(server.ops).timeline(id),
      env: { API_TOKEN: TOKEN },
    });
  const bearer = { authorization: `Bearer ${TOKEN}` };

  it('shows each shipment\'s deliveries with stage, recipient and tracking, and no personal data', async () => {
    const app = api();
    const res = await app.inject({ url: '/orders/1001', headers: bearer });
    await app.close();
    expect(res.statusCode).toBe(200);
    const body = res.json<{ orderId: string; stage: string; shipments: Array<{ deliveries: Array<{ recipient: string; stage: string; trackingNumber?: string }> }> }>();
    expect(body).toMatchObject({ orderId: '1001', stage: 'planned' });
    const deliveries = body.shipments.flatMap((s) => s.deliveries);
    expect(deliveries.length).toBeGreaterThan(0);
    expect(deliveries.every((d) => d.stage === 'sent')).toBe(true);
    expect(deliveries.filter((d) => d.trackingNumber !== undefined).map((d) => d.recipient)).toContain('ups');
    for (const value of PERSONAL) expect(res.body).not.toContain(value);
  });

  it('gives a held order its reasons in words, with what to do', async () => {
    const app = api();
    const res = await app.inject({ url: '/orders/1002', headers: bearer });
    await app.close();
    const body = res.json<{ stage: string; reasons: Array<{ code?: string; action?: string }> }>();
    expect(body.stage).toBe('held');
    expect(body.reasons).toEqual([expect.objectContaining({ code: 'UNKNOWN_SHIPPING_METHOD', action: CATALOGUE.UNKNOWN_SHIPPING_METHOD.action })]);
  });

  it('answers 404 for an unknown order, 400 for an id no order can have, 401 without the token', async () => {
    const app = api();
    const unknown = await app.inject({ url: '/orders/no-such-order', headers: bearer });
    const bad = await app.inject({ url: '/orders/a..b', headers: bearer });
    const anonymous = await app.inject({ url: '/orders/1001' });
    await app.close();
    expect([unknown.statusCode, unknown.json<{ error: string }>().error]).toEqual([404, 'ENOT_FOUND']);
    expect([bad.statusCode, bad.json<{ error: string }>().error]).toEqual([400, 'EINVALID_ORDER']);
    expect(anonymous.statusCode).toBe(401);
  });
});

describe('finding an order by the store\'s name for it', () => {
  it('finds a Shopify order by its name ("#A-77", or "A-77" without the "#"), as long as the order is kept', async () => {
    const shopify = JSON.parse(readFileSync(path.join(__dirname, '../fixtures/sources/shopify-order-create.json'), 'utf8')) as Record<string, unknown>;
    const event = ingestOrder({ ...shopify, order_number: 3001, name: '#A-77' }, { source: 'shopify' });
    expect((await harness.pipeline.intake.submit(event)).duplicate).toBe(false);
    for (const query of ['#A-77', 'A-77', '3001']) {
      const res = await get(server, `/console?order=${encodeURIComponent(query)}`);
      expect([query, res.statusCode, res.headers.location]).toEqual([query, 303, '/console/orders/3001']);
    }
    const unknown = await get(server, `/console?order=${encodeURIComponent('#A-78')}`);
    expect(unknown.statusCode).toBe(404);
    // The name is kept as long as the order's own record, and says nothing but the id.
    const key = markerKeys.orderName(harness.pipeline.prefix, '#A-77');
    expect(await harness.pipeline.redis.get(key)).toBe('3001');
    expect(await harness.pipeline.redis.pttl(key)).toBeGreaterThan(0);
  });
});
