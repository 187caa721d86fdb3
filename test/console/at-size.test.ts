import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { RedisClient as Redis } from '../../src/queue/redis';
import { buildApi } from '../../src/api/server';
import { pipelineQueueNames } from '../../src/app/start';
import { ConsoleQueries } from '../../src/ops/console-queries';
import { Operations } from '../../src/ops/operations';
import { createRedis } from '../../src/queue/redis';
import { fixtureConfig } from '../support/orders';
import { TestRedis } from '../support/redis';
import { AUTH, PASSWORD, USER } from './support';

/**
 * The console at size: Redis holding 100,000 orders' worth of keys (each order's job, seen
 * marker, plan, disclosure record and purchase-order job; one in ten held). Finding an order,
 * its timeline and the held list read a bounded number of keys: counted in Redis's own
 * command statistics (never timings), they are the same with 100,000 orders as with 1,000,
 * and never SCAN or KEYS.
 */

const PREFIX = 'size';
const HELD_EVERY = 10;
const T0 = Date.parse('2026-11-20T00:00:00Z');

let redis: TestRedis;
let connection: Redis;
let stats: Redis;
let app: FastifyInstance;
let ops: Operations;
const queues: Queue[] = [];

const id = (i: number) => String(100_000 + i);

/** Seeds orders `from` to `to` (exclusive) the way the pipeline leaves them, pipelined. */
async function seed(from: number, to: number): Promise<void> {
  const k = (rest: string) => `${PREFIX}:${rest}`;
  for (let start = from; start < to; start += 5_000) {
    const p = connection.pipeline();
    for (let i = start; i < Math.min(to, start + 5_000); i++) {
      const orderId = id(i);
      const at = T0 + i * 1_000;
      const held = i % HELD_EVERY === 0;
      const job = { name: 'order', data: JSON.stringify({ source: { kind: 'shopify', eventId: `e${orderId}` }, orderId }), opts: '{}', timestamp: at, processedOn: at, finishedOn: at + 50, attemptsMade: 1 };
      if (held) {
        p.hset(k(`orders:order+${orderId}`), { ...job, failedReason: `held: UNCLAIMED_LINE Line l1 (SKU NOPE-${i}) is claimed by no supplier and there is no warehouse`, stacktrace: '[]' });
        p.zadd(k('orders:failed'), at + 50, `order+${orderId}`);
        continue;
      }
      p.hset(k(`orders:order+${orderId}`), { ...job, returnvalue: JSON.stringify({ deliveries: [`${orderId}+creamery+po`] }) });
      p.zadd(k('orders:completed'), at + 50, `order+${orderId}`);
      p.set(k(`seen:order:${orderId}`), '1');
      const deliveryId = `${orderId}+creamery+po`;
      p.set(k(`manifest:${orderId}`), JSON.stringify({ orderId, deliveries: [{ deliveryId, shipmentId: `${orderId}+creamery`, recipient: 'creamery', kind: 'dropship' }], cancellations: {} }));
      const fields = ['lines.sku', 'order.id', 'shipTo.line1'];
      p.hset(k(`disclosures:${orderId}`), deliveryId, JSON.stringify({ orderId, deliveryId, recipient: 'creamery', kind: 'dropship', transport: 'sftp', format: 'csv', fields, sha256: 'ab'.repeat(32), deliveredAt: new Date(at + 90).toISOString() }));
      p.zadd(k('disclosures-index'), at + 90, orderId);
      p.hset(k(`po-creamery:${deliveryId}`), {
        name: 'dropship',
        data: JSON.stringify({ deliveryId, orderId, shipmentId: `${orderId}+creamery`, recipient: 'creamery', kind: 'dropship', transport: 'sftp', format: 'csv', fields, sealed: 'dsk1.x' }),
        opts: '{}',
        timestamp: at + 60,
        processedOn: at + 70,
        finishedOn: at + 90,
        attemptsMade: 1,
        returnvalue: JSON.stringify({ delivered: deliveryId }),
      });
      p.zadd(k('po-creamery:completed'), at + 90, deliveryId);
    }
    await p.exec();
  }
}

/** Calls per command Redis has served so far (INFO commandstats). */
async function commandCalls(): Promise<Map<string, number>> {
  const info = await stats.info('commandstats');
  const calls = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1]!, Number(m[2]));
  return calls;
}

/** The commands one request made Redis run (the INFO call that measures excluded). */
async function commandsOf(url: string): Promise<{ status: number; body: string; calls: Record<string, number>; total: number }> {
  const before = await commandCalls();
  const res = await app.inject({ url, headers: { authorization: AUTH } });
  const after = await commandCalls();
  const calls: Record<string, number> = {};
  for (const [cmd, n] of after) {
    const d = n - (before.get(cmd) ?? 0) - (cmd === 'info' ? 1 : 0);
    if (d > 0) calls[cmd] = d;
  }
  return { status: res.statusCode, body: res.body, calls, total: Object.values(calls).reduce((a, b) => a + b, 0) };
}

beforeAll(async () => {
  redis = await TestRedis.start();
  connection = createRedis(redis.url);
  stats = createRedis(redis.url);
  const config = fixtureConfig();
  ops = new Operations(connection, PREFIX, config);
  queues.push(...pipelineQueueNames(config).map((name) => new Queue(name, { connection, prefix: PREFIX })));
  app = buildApi({ ready: async () => undefined, dashboard: { queues, auth: { user: USER, password: PASSWORD }, console: { queries: new ConsoleQueries(ops) } } });
  await app.ready();
}, 30_000);

afterAll(async () => {
  await app?.close();
  await ops?.close();
  for (const q of queues) await q.close();
  connection?.disconnect();
  stats?.disconnect();
  await redis?.stop();
});

describe('the console with 100,000 orders in Redis', () => {
  it('finds an order, shows its timeline and the held list with the same few commands as with 1,000, never scanning', async () => {
    const PAGES = {
      find: `/console?order=${id(777)}`,
      order: `/console/orders/${id(777)}`,
      heldOrder: `/console/orders/${id(770)}`,
      held: '/console/held',
      heldPage: '/console/held?page=2',
    };
    await seed(0, 1_000);
    for (const url of Object.values(PAGES)) await commandsOf(url); // connections and scripts loaded
    const small: Record<string, Awaited<ReturnType<typeof commandsOf>>> = {};
    for (const [name, url] of Object.entries(PAGES)) small[name] = await commandsOf(url);

    await seed(1_000, 100_000);
    expect(await connection.zcard(`${PREFIX}:orders:failed`)).toBe(100_000 / HELD_EVERY);
    expect(await connection.dbsize()).toBeGreaterThan(450_000);

    for (const [name, url] of Object.entries(PAGES)) {
      const large = await commandsOf(url);
      expect([name, large.status]).toEqual([name, name === 'find' ? 303 : 200]);
      // The same commands, as many of each, as with 1,000 orders.
      expect([name, large.calls]).toEqual([name, small[name]!.calls]);
      for (const cmd of ['scan', 'keys', 'hscan', 'zscan', 'sscan']) expect([name, cmd, large.calls[cmd]]).toEqual([name, cmd, undefined]);
      // An order: its few keys and its deliveries' jobs. The held list: two commands per listed
      // job (a page of 50 held orders) and four per queue (the 4 recipients' queues and the
      // fulfillments queue: its failed page and count), and (since #13) the waiting orders:
      // one command for a page of 50, one per order listed.
      expect([name, large.total <= (name.startsWith('held') ? 2 * 50 + 4 * 5 + 1 + 50 : 30)]).toEqual([name, true]);
    }

    // And they show what they should: the order delivered, the held one with its reason, a page of 50.
    const order = (await commandsOf(PAGES.order)).body;
    expect(order).toContain(`Order ${id(777)}`);
    expect(order).toContain('sent');
    const held = (await commandsOf(PAGES.held)).body;
    expect(held).toContain('Orders held or failed (10000)');
    expect(held.match(/<section class="held">/g)).toHaveLength(50);
    expect(held).toContain('Page 1 of 200.');
    expect((await commandsOf(PAGES.heldOrder)).body).toContain('A line is claimed by no supplier and there is no warehouse');
  }, 120_000);
});
