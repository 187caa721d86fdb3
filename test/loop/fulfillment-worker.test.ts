import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { enqueueFulfillment, type FulfilledRecord, type FulfillmentJobData, type FulfillmentJobResult } from '../../src/loop/fulfillments';
import { LoopStore } from '../../src/loop/record';
import { FULFILLMENTS_QUEUE } from '../../src/queue/names';
import { createStorePlatform } from '../../src/stores';
import { shopifyStoreOptionsSchema } from '../../src/stores/shopify/options';
import type { StorePlatform } from '../../src/stores/store';
import { wooCommerceStoreOptionsSchema } from '../../src/stores/woocommerce/options';
import { startShopifyStandIn, startWooCommerceStandIn, type ShopifyStandIn, type WooCommerceStandIn } from '../../testkit/receivers/stores';
import { createFulfillmentWorker, type ThrottleWait } from '../../workers/fulfillment-worker';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

/**
 * The fulfillment worker on real Redis against the store stand-ins: the store's throttle
 * (Shopify's cost throttle, a 429) delays a fulfillment without using its attempts, up to a
 * bound past which it is an ordinary failed attempt; a partial fulfillment is recorded as such
 * in the order's loop, where the timeline reads it.
 */

const ORDER = 450789470;
const SHOPIFY_TOKEN_ENV = 'TEST_FW_SHOPIFY_TOKEN';

let redis: TestRedis;
let shopifyStandIn: ShopifyStandIn;
let wooStandIn: WooCommerceStandIn;
let shopify: StorePlatform;
let woo: StorePlatform;
let n = 0;
const clients: Redis[] = [];

beforeAll(async () => {
  redis = await TestRedis.start();
  shopifyStandIn = await startShopifyStandIn();
  wooStandIn = await startWooCommerceStandIn();
  const shopifyOptions = shopifyStoreOptionsSchema.parse({
    shopDomain: 'test-larder.myshopify.com',
    accessTokenEnv: SHOPIFY_TOKEN_ENV,
    apiVersion: shopifyStandIn.apiVersion,
    baseUrl: shopifyStandIn.url,
    caFile: shopifyStandIn.caFile,
    timeout: '5s',
  });
  shopify = createStorePlatform({ dir: '/', store: { platform: { id: 'shopify', options: shopifyOptions } } }, { env: { [SHOPIFY_TOKEN_ENV]: shopifyStandIn.accessToken } })!;
  const wooOptions = wooCommerceStoreOptionsSchema.parse({
    url: 'https://shop.example.com',
    consumerKeyEnv: 'TEST_FW_WOO_KEY',
    consumerSecretEnv: 'TEST_FW_WOO_SECRET',
    baseUrl: wooStandIn.url,
    caFile: wooStandIn.caFile,
    timeout: '5s',
  });
  woo = createStorePlatform(
    { dir: '/', store: { platform: { id: 'woocommerce', options: wooOptions } } },
    { env: { TEST_FW_WOO_KEY: wooStandIn.consumerKey, TEST_FW_WOO_SECRET: wooStandIn.consumerSecret } },
  )!;
}, 60_000);

afterAll(async () => {
  await shopify.close();
  await woo.close();
  await shopifyStandIn.stop();
  await wooStandIn.stop();
  for (const c of clients) c.disconnect();
  await redis.stop();
});

beforeEach(() => {
  shopifyStandIn.reset();
  wooStandIn.reset();
});
afterEach(() => {
  expect(shopifyStandIn.violations).toEqual([]);
  expect(wooStandIn.violations).toEqual([]);
});

function client(): Redis {
  const c = redis.client();
  clients.push(c);
  return c;
}

/** A queue, the order's loop and a fulfillment worker on their own prefix. */
async function harness(store: StorePlatform, maxFreeThrottleMs?: number) {
  const prefix = `fw${++n}`;
  const connection = client();
  const queue = new Queue<FulfillmentJobData, FulfillmentJobResult>(FULFILLMENTS_QUEUE, { connection, prefix });
  const loop = new LoopStore(connection, prefix, 3_600_000);
  const waits: ThrottleWait[] = [];
  const failures: string[] = [];
  const worker = createFulfillmentWorker({
    connection: client(),
    prefix,
    store,
    loop,
    ...(maxFreeThrottleMs === undefined ? {} : { maxFreeThrottleMs }),
    onThrottled: (w) => waits.push(w),
  });
  worker.on('failed', (_job, err) => failures.push(err.message));
  void worker.run();
  await worker.waitUntilReady();
  /** Adds the job (2 attempts: two throttles would have failed it) and waits until it is done, for good. */
  const fulfil = async (data: FulfillmentJobData): Promise<Job<FulfillmentJobData, FulfillmentJobResult>> => {
    const id = await enqueueFulfillment(queue, data, { attempts: 2, backoffMs: 10 });
    await waitFor(`fulfillment job ${id} to finish`, async () => ['completed', 'failed'].includes(await queue.getJobState(id)));
    return (await queue.getJob(id))!;
  };
  const logs = async (job: Job): Promise<string[]> => (await queue.getJobLogs(job.id!)).logs;
  const close = async () => {
    await worker.close();
    await queue.close();
  };
  return { prefix, queue, loop, worker, waits, failures, fulfil, logs, close };
}

/** Loop event 1 of the order: its shipment shipped, 3 of line 1 and 2 of line 2. */
async function shipped(loop: LoopStore, orderId: string): Promise<number> {
  const applied = await loop.apply(orderId, {
    digest: `d-${orderId}`,
    increments: { '1': 3, '2': 2 },
    caps: { '1': 3, '2': 2 },
    event: { kind: 'shipped', at: '2026-12-01T10:00:00.000Z', shipper: 'creamery', shipmentId: `${orderId}+S1`, carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'], lines: { '1': 3, '2': 2 }, channel: 'api' },
  });
  if (applied.result !== 'applied') throw new Error(`not applied: ${applied.result}`);
  return applied.n;
}

const job = (orderId: string, storeOrderId: string, event: number, lines: FulfillmentJobData['lines']): FulfillmentJobData => ({
  orderId,
  shipmentId: `${orderId}+S1`,
  event,
  shipper: 'creamery',
  storeOrderId,
  lines,
  tracking: { company: 'UPS', numbers: ['1Z999AA10123456784'] },
  orderComplete: false,
});

function shopifyOrder(remaining101 = 3) {
  shopifyStandIn.addOrder({
    id: ORDER,
    fulfillmentOrders: [{ id: 7101, status: 'OPEN', locationId: 55, lines: [{ id: 9111, lineItemId: 101, remaining: remaining101 }, { id: 9112, lineItemId: 102, remaining: 2 }] }],
  });
}

describe('the store\'s throttle delays a fulfillment without using its attempts', () => {
  it('Shopify THROTTLED three times on a job of two attempts: it waits each out and fulfils once', async () => {
    const h = await harness(shopify);
    try {
      shopifyOrder();
      // Three throttled answers, each a pause of a few milliseconds (the points missing at the restore rate).
      const throttle = { throttle: { requestedQueryCost: 10, currentlyAvailable: 9, restoreRate: 100_000 } };
      shopifyStandIn.script(throttle, throttle, throttle);
      const n1 = await shipped(h.loop, '1001');
      const done = await h.fulfil(job('1001', String(ORDER), n1, [{ storeLineId: '101', quantity: 3 }, { storeLineId: '102', quantity: 2 }]));

      expect(await done.getState()).toBe('completed');
      expect(h.failures).toEqual([]);
      // Every throttle was a wait in the delayed set, none an attempt: the one that ran to the end is the first.
      expect(done.attemptsMade).toBe(1);
      expect(done.data.throttled).toEqual({ waits: 3, waitedMs: 3000 });
      expect(h.waits.map((w) => [w.free, w.waits, w.platform, w.orderId])).toEqual([
        [true, 1, 'shopify', '1001'],
        [true, 2, 'shopify', '1001'],
        [true, 3, 'shopify', '1001'],
      ]);
      const logs = await h.logs(done);
      expect(logs).toHaveLength(3);
      expect(logs[2]).toContain('ERATE_LIMITED: the store asked for a pause of');
      expect(logs[2]).toContain('waiting without using an attempt (3 waits');
      expect(logs.join('\n')).not.toContain(shopifyStandIn.accessToken);
      expect(shopifyStandIn.requests.filter((r) => r.throttled)).toHaveLength(3);
      expect(shopifyStandIn.orders.get(ORDER)!.fulfillments).toHaveLength(1);
      const record = await h.loop.read('1001');
      expect(record.events[0]!.fulfilled).toMatchObject({ storeFulfillmentId: `gid://shopify/Fulfillment/${shopifyStandIn.orders.get(ORDER)!.fulfillments[0]!.id}` });
    } finally {
      await h.close();
    }
  });

  it('WooCommerce 429 three times: the same, and the tracking item is added once', async () => {
    const h = await harness(woo);
    try {
      wooStandIn.addOrder(2002);
      wooStandIn.script({ status: 429, retryAfter: '0' }, { status: 429, retryAfter: '0' }, { status: 429, retryAfter: '0' });
      const done = await h.fulfil(job('2002', '2002', 1, [{ storeLineId: '1', quantity: 1 }]));
      expect(await done.getState()).toBe('completed');
      expect(done.attemptsMade).toBe(1);
      expect(done.data.throttled).toEqual({ waits: 3, waitedMs: 3000 });
      expect(h.waits.every((w) => w.free && w.platform === 'woocommerce')).toBe(true);
      expect(wooStandIn.requests.filter((r) => r.status === 429)).toHaveLength(3);
      expect(wooStandIn.orders.get(2002)!.trackings.map((t) => t.tracking_number)).toEqual(['1Z999AA10123456784']);
    } finally {
      await h.close();
    }
  });

  it('past the bound, a store that keeps throttling uses the attempts and fails the job, visibly', async () => {
    // 2.5 s of free waiting; each wait counts at least 1 s: two go free, then they are attempts.
    const h = await harness(shopify, 2500);
    try {
      shopifyOrder();
      shopifyStandIn.script({ status: 429, retryAfter: '0' }, { status: 429, retryAfter: '0' }, { status: 429, retryAfter: '0' }, { status: 429, retryAfter: '0' });
      const done = await h.fulfil(job('1003', String(ORDER), 1, [{ storeLineId: '101', quantity: 1 }]));
      expect(await done.getState()).toBe('failed');
      expect(done.attemptsMade).toBe(2);
      expect(done.failedReason).toMatch(/^ERATE_LIMITED: Shopify order query answered 429/);
      expect(h.waits.map((w) => w.free)).toEqual([true, true, false, false]);
      // Each attempt used is a failed event: what the pipeline logs and counts (dropship_jobs_retried_total, _failed_total).
      expect(h.failures).toHaveLength(2);
      const logs = await h.logs(done);
      expect(logs).toHaveLength(4);
      expect(logs[3]).toContain('this wait uses an attempt');
      expect(shopifyStandIn.orders.get(ORDER)!.fulfillments).toEqual([]);
    } finally {
      await h.close();
    }
  });
});

describe('a partial fulfillment is recorded as such', () => {
  it('the store had 1 of line 101 left of the 3 shipped: the loop says "fulfilled in part: 3 of 5"', async () => {
    const h = await harness(shopify);
    try {
      shopifyOrder(1);
      const n1 = await shipped(h.loop, '1004');
      const done = await h.fulfil(job('1004', String(ORDER), n1, [{ storeLineId: '101', quantity: 3 }, { storeLineId: '102', quantity: 2 }]));
      expect(await done.getState()).toBe('completed');
      const made = shopifyStandIn.orders.get(ORDER)!.fulfillments;
      expect(made).toHaveLength(1);
      expect(made[0]!.lines.map((l) => [l.foLineId, l.quantity])).toEqual([
        [9111, 1],
        [9112, 2],
      ]);
      expect(done.returnvalue).toEqual({ storeFulfillmentId: `gid://shopify/Fulfillment/${made[0]!.id}`, shortLines: [{ storeLineId: '101', requested: 3, fulfilled: 1 }] });

      // What the timeline reads: the event's `fulfilled` entry.
      const fulfilled = (await h.loop.read('1004')).events[0]!.fulfilled as FulfilledRecord;
      expect(fulfilled).toMatchObject({
        storeFulfillmentId: `gid://shopify/Fulfillment/${made[0]!.id}`,
        shortLines: [{ storeLineId: '101', requested: 3, fulfilled: 1 }],
        partial: { fulfilled: 3, requested: 5 },
        detail: 'fulfilled in part: 3 of 5 units; the store had the rest fulfilled already (line 101: 1 of 3)',
      });
      expect(fulfilled.alreadyFulfilled).toBeUndefined();
    } finally {
      await h.close();
    }
  });

  it('a whole fulfillment carries no partial record', async () => {
    const h = await harness(shopify);
    try {
      shopifyOrder(3);
      const n1 = await shipped(h.loop, '1005');
      await h.fulfil(job('1005', String(ORDER), n1, [{ storeLineId: '101', quantity: 3 }, { storeLineId: '102', quantity: 2 }]));
      const fulfilled = (await h.loop.read('1005')).events[0]!.fulfilled as FulfilledRecord;
      expect(fulfilled.storeFulfillmentId).toMatch(/^gid:\/\/shopify\/Fulfillment\/\d+$/);
      expect(Object.keys(fulfilled).sort()).toEqual(['at', 'storeFulfillmentId']);
    } finally {
      await h.close();
    }
  });
});
