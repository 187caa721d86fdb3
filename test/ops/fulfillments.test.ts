import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatTimeline } from '../../src/cli/timeline';
import { CATALOGUE, DeliveryError } from '../../src/errors';
import { parseLoop } from '../../src/loop/record';
import { ConsoleQueries } from '../../src/ops/console-queries';
import { Operations } from '../../src/ops/operations';
import { FULFILLMENTS_QUEUE, markerKeys } from '../../src/queue/names';
import { generateDataKey } from '../../src/queue/sealing';
import type { FulfillmentRequest, StorePlatform } from '../../src/stores/store';
import { AUTH, type ConsoleServer, serveConsole } from '../console/support';
import { FIXTURE_CONFIG_DIR, fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { dropshipCli } from '../support/cli';
import { waitFor } from '../support/wait';

/**
 * A fulfillment the store refused, as an operator meets it: the real pipeline (recording
 * transports) buys the warehouse's label and queues the store's fulfillment; the store
 * stand-in refuses it (ESTORE_REJECTED) or fails for a while (EREMOTE). It shows in the
 * order's timeline (`dropship status ORDER_ID`, the console), in `dropship status` and on the
 * console's held and failed page, each in the catalogue's words with what to do, and is
 * replayed from the CLI, the console or `Operations`, after which the store has it.
 */

const PREFIX = 'ful';
const SAME_ORIGIN = { origin: 'http://localhost:80', host: 'localhost:80' };

/** A store that refuses (or fails on) the warehouse's shipments of the orders named, and takes the rest. */
class ScriptedStore implements StorePlatform {
  readonly id = 'shopify' as const;
  readonly fulfilled: FulfillmentRequest[] = [];
  /** Order id → what its warehouse fulfillment fails with, while set. */
  readonly failing = new Map<string, DeliveryError>();
  /** Orders whose warehouse shipment the store fulfils one unit short on its first line (it had that one fulfilled already). */
  readonly short = new Set<string>();
  async fulfil(request: FulfillmentRequest) {
    const warehouse = request.fulfillmentId.includes('+warehouse+');
    const error = warehouse ? this.failing.get(request.orderId) : undefined;
    if (error) throw error;
    this.fulfilled.push(request);
    const first = request.lines[0];
    const shortLines = warehouse && first && this.short.has(request.orderId) ? [{ storeLineId: first.storeLineId, requested: first.quantity, fulfilled: first.quantity - 1 }] : undefined;
    return { storeFulfillmentId: `gid://shopify/Fulfillment/${this.fulfilled.length}`, ...(shortLines ? { shortLines } : {}) };
  }
  async close() {}
}

/** An order with the store's ids, as a Shopify source gives it. */
function storeOrder(id: string) {
  const payload = orderPayload({ id, storeId: `45078946${id.replace(/\D/g, '')}` });
  return { ...payload, lines: payload.lines.map((l, i) => ({ ...l, storeLineId: `8660${i}` })) };
}

const refusal = (orderId: string) => DeliveryError.permanent('ESTORE_REJECTED', `Shopify refused the fulfillment of order ${orderId}: "Line items are already fulfilled"`);

let redis: TestRedis;
let h: PipelineHarness;
let ops: Operations;
let queries: ConsoleQueries;
let server: ConsoleServer;
let readOnly: ConsoleServer;
let tmp: string;
const store = new ScriptedStore();

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dropship-fulfil-'));
  redis = await TestRedis.start();
  h = await PipelineHarness.start(fixtureConfig(), redis.url, { prefix: PREFIX, store });
  h.recorder('ups').respond = (p) => ({ carrier: 'ups', trackingNumber: `1Z${p.deliveryId.replace(/\W/g, '').toUpperCase()}` });
  ops = new Operations(h.pipeline.redis, PREFIX, fixtureConfig());
  queries = new ConsoleQueries(ops);
  server = await serveConsole(h, fixtureConfig());
  readOnly = await serveConsole(h, fixtureConfig(), { readOnly: true });
}, 60_000);

afterAll(async () => {
  for (const s of [server, readOnly]) await s?.close();
  await ops?.close();
  await h?.stop();
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** The CLI as an operator runs it, against this suite's Redis and key prefix. */
const dropship = dropshipCli({ cwd: () => tmp, configDir: FIXTURE_CONFIG_DIR, env: () => ({ REDIS_URL: redis.url, QUEUE_PREFIX: PREFIX, DROPSHIP_DATA_KEY: generateDataKey() }) });

/** Places an order whose warehouse fulfillment fails with `error`; waits until it failed for good. */
async function failedOrder(orderId: string, error = refusal(orderId)): Promise<string> {
  store.failing.set(orderId, error);
  expect((await h.postOrder(storeOrder(orderId))).statusCode).toBe(202);
  let id = '';
  await waitFor(`the warehouse fulfillment of ${orderId} to fail`, async () => {
    const found = (await ops.failedFulfillments(100)).failed.find((f) => f.orderId === orderId);
    id = found?.fulfillmentId ?? '';
    return found !== undefined;
  });
  return id;
}

const loopOf = async (orderId: string) => parseLoop(await h.pipeline.redis.hgetall(markerKeys.loop(PREFIX, orderId)));
const fulfilledInLoop = async (orderId: string, shipmentId: string) => (await loopOf(orderId)).events.some((e) => e.kind === 'shipped' && e.shipmentId === shipmentId && e.fulfilled !== undefined);
const text = (html: string) =>
  html
    .replace(/<\/?(?:span|strong|a|time|em|code)\b[^>]*>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&quot;|&#34;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
const get = (s: ConsoleServer, url: string) => s.app.inject({ url, headers: { authorization: AUTH } });

describe('a fulfillment the store refused', () => {
  let id = '';

  it('is listed with its reason in words, in the timeline and on the held and failed page', async () => {
    id = await failedOrder('F1');
    expect(id).toMatch(/^fulfil\+F1\+warehouse\+\d+$/);
    // The creamery's shipment (it ships on the store's label and never confirms) was told.
    await waitFor('the creamery fulfillment', () => store.fulfilled.some((r) => r.orderId === 'F1'));

    const { failed, total } = await ops.failedFulfillments();
    expect(total).toBe(1);
    expect(failed).toEqual([
      {
        fulfillmentId: id,
        orderId: 'F1',
        shipmentId: 'F1+warehouse',
        shipper: 'warehouse',
        failedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        attempts: 1,
        failedReason: 'ESTORE_REJECTED: Shopify refused the fulfillment of order F1: "Line items are already fulfilled"',
        code: 'ESTORE_REJECTED',
      },
    ]);

    await waitFor('the creamery fulfillment recorded', () => fulfilledInLoop('F1', 'F1+creamery'));
    const timeline = (await queries.timeline('F1'))!;
    const warehouse = timeline.shipments.find((s) => s.shipmentId === 'F1+warehouse')!;
    expect(warehouse.stage).toBe('fulfillment failed');
    expect(warehouse.events.map((e) => e.stage)).toEqual(['shipped', 'fulfillment failed']);
    expect(warehouse.events[1]).toEqual({
      stage: 'fulfillment failed',
      at: expect.stringMatching(/^\d{4}-/),
      by: 'warehouse',
      trackingNumbers: ['1ZF1WAREHOUSECARRIER'],
      fulfillmentId: id,
      failure: {
        code: 'ESTORE_REJECTED',
        message: CATALOGUE.ESTORE_REJECTED.message,
        detail: 'Shopify refused the fulfillment of order F1: "Line items are already fulfilled"',
        action: CATALOGUE.ESTORE_REJECTED.action,
      },
      attempts: 1,
      replayable: true,
    });
    expect(timeline.shipments.find((s) => s.shipmentId === 'F1+creamery')!.stage).toBe('fulfilled');

    const printed = formatTimeline(timeline);
    expect(printed).toContain('shipment F1+warehouse: fulfillment failed\n');
    expect(printed).toMatch(
      new RegExp(
        `\\n {2}fulfillment failed \\S+ \\(${id.replace(/\+/g, '\\+')}, after 1 attempt\\): ${CATALOGUE.ESTORE_REJECTED.message} \\(ESTORE_REJECTED\\); Shopify refused the fulfillment of order F1: "Line items are already fulfilled"; what to do: ${literal(CATALOGUE.ESTORE_REJECTED.action)}; once fixed: dropship replay --fulfillment ${id.replace(/\+/g, '\\+')}\\n`,
      ),
    );

    const held = await queries.held();
    expect(held.failedFulfillmentsTotal).toBe(1);
    expect(held.failedFulfillments).toEqual([
      { fulfillmentId: id, orderId: 'F1', shipmentId: 'F1+warehouse', shipper: 'warehouse', failedAt: expect.any(String), attempts: 1, reason: warehouse.events[1]!.failure },
    ]);

    const page = text((await get(server, '/console/held')).body);
    expect(page).toMatch(
      new RegExp(
        `Failed fulfillments \\(1\\) The store: order F1, shipment F1\\+warehouse ${id.replace(/\+/g, '\\+')} Failed \\S+ after 1 attempt ${CATALOGUE.ESTORE_REJECTED.message} ESTORE_REJECTED Shopify refused the fulfillment of order F1: "Line items are already fulfilled" What to do: ${literal(CATALOGUE.ESTORE_REJECTED.action)} Replay…`,
      ),
    );
    const order = await get(server, '/console/orders/F1');
    expect(text(order.body)).toContain(`Shipment F1+warehouse (fulfillment failed)`);
    expect(text(order.body)).toMatch(new RegExp(`the store was not told: fulfillment failed \\S+ ${id.replace(/\+/g, '\\+')}, after 1 attempt 1ZF1WAREHOUSECARRIER ${CATALOGUE.ESTORE_REJECTED.message} ESTORE_REJECTED`));
    expect(order.body).toContain(`href="/console/replay?fulfillment=${encodeURIComponent(id)}"`);
    // A read-only console shows it, and offers no replay.
    const quiet = await get(readOnly, '/console/orders/F1');
    expect(text(quiet.body)).toContain('the store was not told: fulfillment failed');
    expect(quiet.body).not.toContain('Replay');
    expect(text((await get(readOnly, '/console/held')).body)).not.toContain('Replay…');
  });

  it('is shown by `dropship status` and `dropship status ORDER_ID`, and replayed by `dropship replay --fulfillment`', async () => {
    const one = dropship('status', 'F1');
    expect([one.code, one.stderr]).toEqual([0, '']);
    expect(one.stdout).toContain('shipment F1+warehouse: fulfillment failed\n');
    expect(one.stdout).toContain(`  fulfillment failed `);
    expect(one.stdout).toContain(`; once fixed: dropship replay --fulfillment ${id}\n`);
    const json = JSON.parse(dropship('status', 'F1', '--json').stdout) as { shipments: Array<{ shipmentId: string; stage: string; events: Array<{ stage: string; fulfillmentId?: string }> }> };
    expect(json.shipments.find((s) => s.shipmentId === 'F1+warehouse')).toMatchObject({ stage: 'fulfillment failed', events: [{ stage: 'shipped' }, { stage: 'fulfillment failed', fulfillmentId: id }] });

    const all = dropship('status');
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(
      new RegExp(
        `\\nfulfillment: order F1: the store was not told of shipment F1\\+warehouse \\(${id.replace(/\+/g, '\\+')}, failed \\S+ after 1 attempt\\): ${CATALOGUE.ESTORE_REJECTED.message} \\(ESTORE_REJECTED\\); Shopify refused the fulfillment of order F1: "Line items are already fulfilled"; what to do: ${literal(CATALOGUE.ESTORE_REJECTED.action)}; once fixed: dropship replay --fulfillment ${id.replace(/\+/g, '\\+')}\\n`,
      ),
    );
    expect((JSON.parse(dropship('status', '--json').stdout) as { failedFulfillments: Array<{ fulfillmentId: string; code: string }> }).failedFulfillments).toEqual([expect.objectContaining({ fulfillmentId: id, code: 'ESTORE_REJECTED' })]);

    // An id that is not kept, or not a fulfillment's: exit 2, saying so.
    const unknown = dropship('replay', '--fulfillment', 'fulfil+NOPE+warehouse+1');
    expect([unknown.code, unknown.stderr]).toEqual([2, 'dropship: no fulfillment fulfil+NOPE+warehouse+1 is kept (fulfillment ids read fulfil+ORDER+ORIGIN+N; dropship status ORDER_ID shows them)\n']);
    expect(dropship('replay', '--fulfillment', id, '--held').code).toBe(2);

    // Fixed in the store: replayed, told, recorded.
    store.failing.delete('F1');
    const replayed = dropship('replay', '--fulfillment', id);
    expect([replayed.code, replayed.stdout]).toEqual([0, `replayed 1: ${id}\n`]);
    await waitFor('F1 told to the store', () => fulfilledInLoop('F1', 'F1+warehouse'));
    expect(store.fulfilled.filter((r) => r.fulfillmentId === id)).toHaveLength(1);
    const after = (await queries.timeline('F1'))!.shipments.find((s) => s.shipmentId === 'F1+warehouse')!;
    expect([after.stage, after.events.map((e) => e.stage)]).toEqual(['fulfilled', ['shipped', 'fulfilled']]);
    expect((await ops.failedFulfillments()).total).toBe(0);
    expect(dropship('replay', '--fulfillment', id).stdout).toBe('replayed 0 (nothing failed there)\n');
  }, 120_000);

  it('is replayed from the console after its confirmation page', async () => {
    const id2 = await failedOrder('F2');
    const confirm = await get(server, `/console/replay?fulfillment=${encodeURIComponent(id2)}`);
    expect(confirm.statusCode).toBe(200);
    expect(text(confirm.body)).toContain(`Replay fulfillment ${id2}?`);
    expect(text(confirm.body)).toContain(`Why it is not through ${CATALOGUE.ESTORE_REJECTED.message} ESTORE_REJECTED`);
    expect(text(confirm.body)).toContain('The store is asked again to fulfil the lines that shipped');
    expect(confirm.body).toContain(`<input type="hidden" name="fulfillment" value="${id2}">`);
    expect((await get(readOnly, `/console/replay?fulfillment=${encodeURIComponent(id2)}`)).statusCode).toBe(403);

    store.failing.delete('F2');
    const res = await server.app.inject({
      method: 'POST',
      url: '/console/replay',
      payload: `fulfillment=${encodeURIComponent(id2)}`,
      headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded', ...SAME_ORIGIN },
    });
    expect(res.statusCode).toBe(200);
    expect(text(res.body)).toContain(`Replayed Fulfillment ${id2} is queued again: the store is told again. Its page shows where it goes next. Back to order F2`);
    await waitFor('F2 told to the store', () => fulfilledInLoop('F2', 'F2+warehouse'));
    // Nothing failed any more: nothing to replay.
    expect((await get(server, `/console/replay?fulfillment=${encodeURIComponent(id2)}`)).statusCode).toBe(409);
    expect(text((await get(server, '/console/held')).body)).toContain('Failed fulfillments (0) No fulfillment has failed.');
  });

  it('is replayed with every other failed one (`replay --fulfillments`), and purged with the failed jobs', async () => {
    const id3 = await failedOrder('F3');
    const id4 = await failedOrder('F4');
    store.failing.delete('F3');
    store.failing.delete('F4');
    expect((await ops.replay({ fulfillments: true })).sort()).toEqual([id3, id4].sort());
    await waitFor('F3 and F4 told to the store', async () => (await fulfilledInLoop('F3', 'F3+warehouse')) && (await fulfilledInLoop('F4', 'F4+warehouse')));

    await failedOrder('F5');
    expect((await ops.failedFulfillments()).total).toBe(1);
    expect(await ops.purgeFailed(0)).toBe(1);
    expect((await ops.failedFulfillments()).total).toBe(0);
    expect(await h.pipeline.redis.zcard(`${PREFIX}:${FULFILLMENTS_QUEUE}:failed`)).toBe(0);
  });

  it('shows a fulfillment the store failed on for now as being retried, not replayable', async () => {
    store.failing.set('F6', DeliveryError.retryable('EREMOTE', 'HTTP 502 from the store'));
    expect((await h.postOrder(storeOrder('F6'))).statusCode).toBe(202);
    await waitFor('F6 retrying', async () => {
      const events = (await queries.timeline('F6'))?.shipments.find((s) => s.shipmentId === 'F6+warehouse')?.events ?? [];
      return events.some((e) => e.stage === 'fulfillment retrying');
    });
    const warehouse = (await queries.timeline('F6'))!.shipments.find((s) => s.shipmentId === 'F6+warehouse')!;
    expect(warehouse.stage).toBe('shipped');
    expect(warehouse.events[1]).toMatchObject({
      stage: 'fulfillment retrying',
      attempts: 1,
      failure: { code: 'EREMOTE', message: CATALOGUE.EREMOTE.message, detail: 'HTTP 502 from the store' },
    });
    expect(warehouse.events[1]!.replayable).toBeUndefined();
    expect(formatTimeline((await queries.timeline('F6'))!)).toMatch(/ {2}fulfillment retrying \S+ \(fulfil\+F6\+warehouse\+\d+, after 1 attempt\): The receiver failed on its side \(EREMOTE\); HTTP 502 from the store\n/);
    // Not failed: nothing to replay yet.
    await expect(ops.replay({ fulfillment: warehouse.events[1]!.fulfillmentId! })).resolves.toEqual([]);
  });
});

describe('a fulfillment the store made in part', () => {
  it('shows the shipment partly fulfilled, with the units and the line the store had fulfilled already', async () => {
    store.short.add('F9');
    expect((await h.postOrder(storeOrder('F9'))).statusCode).toBe(202);
    await waitFor('the warehouse fulfillment recorded', () => fulfilledInLoop('F9', 'F9+warehouse'));
    const warehouse = (await queries.timeline('F9'))!.shipments.find((s) => s.shipmentId === 'F9+warehouse')!;
    expect(warehouse.stage).toBe('partly fulfilled');
    const fulfilled = warehouse.events.find((e) => e.stage === 'fulfilled')!;
    const requested = store.fulfilled.find((r) => r.orderId === 'F9' && r.fulfillmentId.includes('+warehouse+'))!.lines;
    const units = requested.reduce((n, l) => n + l.quantity, 0);
    expect(fulfilled.partial).toEqual({ fulfilled: units - 1, requested: units });
    expect(fulfilled.reason).toBe(`fulfilled in part: ${units - 1} of ${units} units; the store had the rest fulfilled already (line ${requested[0]!.storeLineId}: ${requested[0]!.quantity - 1} of ${requested[0]!.quantity})`);
    expect(formatTimeline((await queries.timeline('F9'))!)).toContain(`(${fulfilled.reason})`);
  });
});

/** `text` as a regular expression matching it literally. */
function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
