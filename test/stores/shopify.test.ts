import { DeliveryError } from '../../src/errors';
import { createStorePlatform } from '../../src/stores';
import { shopifyStoreOptionsSchema } from '../../src/stores/shopify/options';
import { ESTIMATED_COST, ShopifyStore, throttleWaitMs } from '../../src/stores/shopify/client';
import type { PacerClock } from '../../src/stores/shopify/pacing';
import type { FulfillmentRequest, StorePlatform } from '../../src/stores/store';
import { startShopifyStandIn, type ShopifyStandIn, type StandInFulfillment, type StandInFulfillmentOrder } from '../../testkit/receivers/stores';

/**
 * The Shopify store client against the Shopify stand-in, which validates every operation
 * against Shopify's published Admin GraphQL schema (specs/shopify-admin-graphql-2026-07.graphql)
 * and executes it there.
 */

const ORDER = 450789469;
const TOKEN_ENV = 'TEST_SHOPIFY_ADMIN_TOKEN';

let standIn: ShopifyStandIn;
let store: StorePlatform;

/** A clock that only moves when the pacer sleeps: waits are recorded, never spent. */
function virtualClock(): PacerClock & { t: number; waits: number[] } {
  const clock = {
    t: 1_800_000_000_000,
    waits: [] as number[],
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.waits.push(ms);
      clock.t += ms;
    },
  };
  return clock;
}

const storeOptions = () =>
  shopifyStoreOptionsSchema.parse({
    shopDomain: 'test-larder.myshopify.com',
    accessTokenEnv: TOKEN_ENV,
    apiVersion: standIn.apiVersion,
    baseUrl: standIn.url,
    caFile: standIn.caFile,
    timeout: '5s',
  });

beforeAll(async () => {
  standIn = await startShopifyStandIn();
  // The tests' scripted answers leave the cost pacing odd states: its waits pass on a virtual clock.
  store = createStorePlatform({ dir: '/', store: { platform: { id: 'shopify', options: storeOptions() } } }, { env: { [TOKEN_ENV]: standIn.accessToken }, clock: virtualClock() })!;
}, 60_000);

afterAll(async () => {
  await store.close();
  await standIn.stop();
});

beforeEach(() => standIn.reset());
afterEach(() => expect(standIn.violations).toEqual([]));

/** Two fulfillment orders at one location, the lines 101 (2), 102 (1) and 103 (3). */
function twoFulfillmentOrders(): StandInFulfillmentOrder[] {
  return [
    { id: 7001, status: 'OPEN', locationId: 55, lines: [{ id: 9101, lineItemId: 101, remaining: 2 }, { id: 9102, lineItemId: 102, remaining: 1 }] },
    { id: 7002, status: 'OPEN', locationId: 55, lines: [{ id: 9201, lineItemId: 103, remaining: 3 }] },
  ];
}

const request = (lines: FulfillmentRequest['lines'], numbers = ['1Z999AA10123456784'], url?: string, fulfillmentId = '1001+S1+1'): FulfillmentRequest => ({
  fulfillmentId,
  orderId: '1001',
  storeOrderId: String(ORDER),
  lines,
  tracking: { company: 'UPS', numbers, ...(url === undefined ? {} : { url }) },
  orderComplete: false,
});

/** Every leaf value in a request's variables, and every key, for the "nothing else was sent" checks. */
function leaves(value: unknown, keys: Set<string>, values: unknown[]): void {
  if (Array.isArray(value)) value.forEach((v) => leaves(v, keys, values));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      keys.add(k);
      leaves(v, keys, values);
    }
  } else values.push(value);
}

function sentOnly(allowed: { keys: string[]; values: unknown[] }): void {
  const keys = new Set<string>();
  const values: unknown[] = [];
  for (const r of standIn.requests) {
    leaves(r.variables, keys, values);
    // The body is the query, the variables and the operation name: nothing else rides along.
    expect(Object.keys(JSON.parse(r.body) as object).sort()).toEqual(['operationName', 'query', 'variables']);
    expect(r.query).not.toMatch(/customer|address|email|phone|name\b/i);
  }
  expect([...keys].filter((k) => !allowed.keys.includes(k))).toEqual([]);
  expect(values.filter((v) => !allowed.values.includes(v))).toEqual([]);
}

const READ_KEYS = ['id', 'after'];
const CREATE_KEYS = ['fulfillment', 'lineItemsByFulfillmentOrder', 'fulfillmentOrderId', 'fulfillmentOrderLineItems', 'id', 'quantity', 'trackingInfo', 'company', 'numbers', 'url', 'notifyCustomer'];

async function failure(promise: Promise<unknown>): Promise<DeliveryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

describe('Shopify fulfillments', () => {
  it('fulfils lines that span two fulfillment orders in one fulfillment, with the carrier, tracking and notifyCustomer', async () => {
    standIn.addOrder({ id: ORDER, fulfillmentOrders: twoFulfillmentOrders() });
    const result = await store.fulfil(request([{ storeLineId: '101', quantity: 2 }, { storeLineId: '103', quantity: 3 }], ['1Z999AA10123456784'], 'https://www.ups.com/track?tracknum=1Z999AA10123456784'));

    const order = standIn.orders.get(ORDER)!;
    expect(order.fulfillments).toHaveLength(1);
    expect(result).toEqual({ storeFulfillmentId: `gid://shopify/Fulfillment/${order.fulfillments[0]!.id}` });
    expect(order.fulfillments[0]).toMatchObject({
      company: 'UPS',
      numbers: ['1Z999AA10123456784'],
      url: 'https://www.ups.com/track?tracknum=1Z999AA10123456784',
      notifyCustomer: true,
      lines: [
        { fulfillmentOrderId: 7001, foLineId: 9101, quantity: 2 },
        { fulfillmentOrderId: 7002, foLineId: 9201, quantity: 3 },
      ],
    });
    // Line 102 was not in the shipment: its fulfillment order stays open for it.
    expect(order.fulfillmentOrders.map((fo) => fo.status)).toEqual(['IN_PROGRESS', 'CLOSED']);
    expect(standIn.requests.map((r) => [r.operationName, r.status])).toEqual([
      ['DropshipFulfillmentState', 200],
      ['DropshipFulfillmentCreate', 200],
    ]);
    expect(standIn.requests.every((r) => r.headers['x-shopify-access-token'] === standIn.accessToken)).toBe(true);
    expect(standIn.requests[1]!.variables).toEqual({
      fulfillment: {
        lineItemsByFulfillmentOrder: [
          { fulfillmentOrderId: 'gid://shopify/FulfillmentOrder/7001', fulfillmentOrderLineItems: [{ id: 'gid://shopify/FulfillmentOrderLineItem/9101', quantity: 2 }] },
          { fulfillmentOrderId: 'gid://shopify/FulfillmentOrder/7002', fulfillmentOrderLineItems: [{ id: 'gid://shopify/FulfillmentOrderLineItem/9201', quantity: 3 }] },
        ],
        trackingInfo: { company: 'UPS', numbers: ['1Z999AA10123456784'], url: 'https://www.ups.com/track?tracknum=1Z999AA10123456784' },
        notifyCustomer: true,
      },
    });
    sentOnly({
      keys: [...READ_KEYS, ...CREATE_KEYS],
      values: [
        `gid://shopify/Order/${ORDER}`,
        null,
        'gid://shopify/FulfillmentOrder/7001',
        'gid://shopify/FulfillmentOrder/7002',
        'gid://shopify/FulfillmentOrderLineItem/9101',
        'gid://shopify/FulfillmentOrderLineItem/9201',
        2,
        3,
        'UPS',
        '1Z999AA10123456784',
        'https://www.ups.com/track?tracknum=1Z999AA10123456784',
        true,
      ],
    });
  });

  it('makes one fulfillment per location when the lines sit at two locations', async () => {
    const fos = twoFulfillmentOrders();
    fos[1]!.locationId = 66;
    standIn.addOrder({ id: ORDER, fulfillmentOrders: fos });
    const result = await store.fulfil(request([{ storeLineId: '102', quantity: 1 }, { storeLineId: '103', quantity: 1 }]));
    const made = standIn.orders.get(ORDER)!.fulfillments;
    expect(made.map((f) => [f.locationId, f.lines])).toEqual([
      [55, [{ fulfillmentOrderId: 7001, foLineId: 9102, quantity: 1 }]],
      [66, [{ fulfillmentOrderId: 7002, foLineId: 9201, quantity: 1 }]],
    ]);
    expect(result).toEqual({ storeFulfillmentId: made.map((f) => `gid://shopify/Fulfillment/${f.id}`).join(',') });
  });

  it('fulfils part of a line (fewer than remain), leaving the rest open', async () => {
    standIn.addOrder({ id: ORDER, fulfillmentOrders: twoFulfillmentOrders() });
    const result = await store.fulfil(request([{ storeLineId: '103', quantity: 1 }]));
    expect(result.alreadyFulfilled).toBeUndefined();
    expect(result.shortLines).toBeUndefined();
    const fo = standIn.orders.get(ORDER)!.fulfillmentOrders[1]!;
    expect(fo.lines[0]!.remaining).toBe(2);
    expect(fo.status).toBe('IN_PROGRESS');
  });

  it('creates nothing for lines already fulfilled (remaining 0, fulfillment order closed): alreadyFulfilled', async () => {
    const fos = twoFulfillmentOrders();
    fos[1] = { ...fos[1]!, status: 'CLOSED', lines: [{ id: 9201, lineItemId: 103, remaining: 0 }] };
    standIn.addOrder({ id: ORDER, fulfillmentOrders: fos });
    const result = await store.fulfil(request([{ storeLineId: '103', quantity: 3 }], ['9400111899560000000000']));
    expect(result).toEqual({ alreadyFulfilled: true, shortLines: [{ storeLineId: '103', requested: 3, fulfilled: 0 }] });
    expect(standIn.requests.map((r) => r.operationName)).toEqual(['DropshipFulfillmentState']);
    expect(standIn.orders.get(ORDER)!.fulfillments).toEqual([]);
  });

  it('fulfils what remains of a line partly fulfilled elsewhere, and says so', async () => {
    const fos = twoFulfillmentOrders();
    fos[1]!.lines[0]!.remaining = 1;
    standIn.addOrder({ id: ORDER, fulfillmentOrders: fos });
    const result = await store.fulfil(request([{ storeLineId: '101', quantity: 2 }, { storeLineId: '103', quantity: 3 }]));
    expect(result.shortLines).toEqual([{ storeLineId: '103', requested: 3, fulfilled: 1 }]);
    expect(result.alreadyFulfilled).toBeUndefined();
    expect(standIn.orders.get(ORDER)!.fulfillments[0]!.lines).toEqual([
      { fulfillmentOrderId: 7001, foLineId: 9101, quantity: 2 },
      { fulfillmentOrderId: 7002, foLineId: 9201, quantity: 1 },
    ]);
  });

  it('skips cancelled fulfillment orders and takes the line from the open one', async () => {
    standIn.addOrder({
      id: ORDER,
      fulfillmentOrders: [
        { id: 7003, status: 'CANCELLED', locationId: 55, lines: [{ id: 9301, lineItemId: 104, remaining: 2 }] },
        { id: 7004, status: 'OPEN', locationId: 55, lines: [{ id: 9401, lineItemId: 104, remaining: 2 }] },
      ],
    });
    await store.fulfil(request([{ storeLineId: '104', quantity: 2 }]));
    expect(standIn.orders.get(ORDER)!.fulfillments[0]!.lines).toEqual([{ fulfillmentOrderId: 7004, foLineId: 9401, quantity: 2 }]);
  });

  it('reads every page of fulfillment orders and of their line items', async () => {
    const fulfillmentOrders: StandInFulfillmentOrder[] = Array.from({ length: 12 }, (_, i) => ({
      id: 8000 + i,
      status: 'OPEN' as const,
      locationId: 55,
      lines: Array.from({ length: i === 11 ? 60 : 1 }, (_, j) => ({ id: 80_000 + i * 100 + j, lineItemId: 2000 + i * 100 + j, remaining: 1 })),
    }));
    standIn.addOrder({ id: ORDER, fulfillmentOrders });
    await store.fulfil(request([{ storeLineId: String(2000 + 11 * 100 + 59), quantity: 1 }]));
    // Fulfillment orders come 5 a page (3 pages), line items 25 with the order, then 100 a page.
    expect(standIn.requests.map((r) => r.operationName)).toEqual([
      'DropshipFulfillmentState',
      'DropshipFulfillmentState',
      'DropshipFulfillmentState',
      'DropshipFulfillmentOrderLines',
      'DropshipFulfillmentCreate',
    ]);
    expect(standIn.orders.get(ORDER)!.fulfillments[0]!.lines).toEqual([{ fulfillmentOrderId: 8011, foLineId: 81_159, quantity: 1 }]);
  });

  it('refuses a line the order does not have, without creating anything', async () => {
    standIn.addOrder({ id: ORDER, fulfillmentOrders: twoFulfillmentOrders() });
    const error = await failure(store.fulfil(request([{ storeLineId: '999', quantity: 1 }])));
    expect(error).toMatchObject({ code: 'ESTORE_REJECTED', permanent: true });
    expect(standIn.orders.get(ORDER)!.fulfillments).toEqual([]);
  });

  it('turns userErrors into a permanent ESTORE_REJECTED with Shopify\'s messages, never the token', async () => {
    standIn.addOrder({ id: ORDER, fulfillmentOrders: twoFulfillmentOrders() });
    standIn.refuseNextCreate({ field: ['fulfillment'], message: `Fulfillment order 7001 has an unfulfillable status= closed. (${standIn.accessToken})` });
    const error = await failure(store.fulfil(request([{ storeLineId: '101', quantity: 1 }])));
    expect(error).toMatchObject({ code: 'ESTORE_REJECTED', permanent: true });
    expect(error.message).toContain('fulfillment: Fulfillment order 7001 has an unfulfillable status= closed.');
    expect(error.message).not.toContain(standIn.accessToken);
    expect(error.message).toContain('[redacted]');
  });

  it('waits out the cost throttle for the time the missing points take to restore', async () => {
    standIn.addOrder({ id: ORDER, fulfillmentOrders: twoFulfillmentOrders() });
    standIn.script({ throttle: { requestedQueryCost: 752, currentlyAvailable: 666, restoreRate: 50 } });
    const error = await failure(store.fulfil(request([{ storeLineId: '101', quantity: 1 }])));
    // (752 - 666) points at 50 a second: 1.72 s.
    expect(error).toMatchObject({ code: 'ERATE_LIMITED', permanent: false, retryAfterMs: 1720 });
    expect(standIn.orders.get(ORDER)!.fulfillments).toEqual([]);
    expect(throttleWaitMs({ requestedQueryCost: 1000, throttleStatus: { currentlyAvailable: 0, restoreRate: 100 } })).toBe(10_000);
    expect(throttleWaitMs({ requestedQueryCost: 10, throttleStatus: { currentlyAvailable: 50, restoreRate: 100 } })).toBe(10);
    expect(throttleWaitMs(undefined)).toBeUndefined();
  });

  it('retries a 429 after its Retry-After, a 5xx with backoff, and refuses a bad token for good', async () => {
    standIn.addOrder({ id: ORDER, fulfillmentOrders: twoFulfillmentOrders() });
    standIn.script({ status: 429, retryAfter: '2' });
    expect(await failure(store.fulfil(request([{ storeLineId: '101', quantity: 1 }])))).toMatchObject({ code: 'ERATE_LIMITED', retryAfterMs: 2000, permanent: false });
    standIn.script({ status: 502 }, { normal: true }, { status: 503 });
    expect(await failure(store.fulfil(request([{ storeLineId: '101', quantity: 1 }])))).toMatchObject({ code: 'EREMOTE', permanent: false });
    expect(await failure(store.fulfil(request([{ storeLineId: '101', quantity: 1 }])))).toMatchObject({ code: 'EREMOTE', permanent: false });
    expect(standIn.orders.get(ORDER)!.fulfillments).toEqual([]);
    await store.fulfil(request([{ storeLineId: '101', quantity: 1 }]));
    expect(standIn.orders.get(ORDER)!.fulfillments).toHaveLength(1);

    const wrong = createStorePlatform(
      { dir: '/', store: { platform: { id: 'shopify', options: shopifyStoreOptionsSchema.parse({ shopDomain: 'x.myshopify.com', accessTokenEnv: 'T', apiVersion: standIn.apiVersion, baseUrl: standIn.url, caFile: standIn.caFile }) } } },
      { env: { T: 'shpat_00000000000000000000000000000000' } },
    )!;
    try {
      const error = await failure(wrong.fulfil(request([{ storeLineId: '101', quantity: 1 }])));
      expect(error).toMatchObject({ code: 'EAUTH', permanent: true });
      expect(error.message).not.toContain('shpat_0000');
    } finally {
      await wrong.close();
    }
  });

  it('after a lost answer, the retry finds its fulfillment by tracking number and creates exactly one', async () => {
    standIn.addOrder({ id: ORDER, fulfillmentOrders: twoFulfillmentOrders() });
    standIn.script({ normal: true }, { loseAnswer: true });
    const lost = await failure(store.fulfil(request([{ storeLineId: '101', quantity: 1 }])));
    expect(lost).toMatchObject({ code: 'ECONNECTION', permanent: false, unsure: true });
    expect(standIn.orders.get(ORDER)!.fulfillments).toHaveLength(1);

    // Line 101 still has one left, so the retry would fulfil it again without the check.
    const retry = await store.fulfil(request([{ storeLineId: '101', quantity: 1 }]));
    const made = standIn.orders.get(ORDER)!.fulfillments;
    expect(made).toHaveLength(1);
    expect(retry).toEqual({ storeFulfillmentId: `gid://shopify/Fulfillment/${made[0]!.id}`, alreadyFulfilled: true });
    expect(standIn.orders.get(ORDER)!.fulfillmentOrders[0]!.lines[0]!.remaining).toBe(1);
    expect(standIn.requests.map((r) => r.operationName)).toEqual(['DropshipFulfillmentState', 'DropshipFulfillmentCreate', 'DropshipFulfillmentState']);
  });

  it('after a lost answer that took every unit, the retry reports the earlier fulfillment', async () => {
    standIn.addOrder({ id: ORDER, fulfillmentOrders: twoFulfillmentOrders() });
    standIn.script({ normal: true }, { loseAnswer: true });
    await failure(store.fulfil(request([{ storeLineId: '103', quantity: 3 }])));
    const retry = await store.fulfil(request([{ storeLineId: '103', quantity: 3 }]));
    const made = standIn.orders.get(ORDER)!.fulfillments;
    expect(made).toHaveLength(1);
    expect(retry).toMatchObject({ storeFulfillmentId: `gid://shopify/Fulfillment/${made[0]!.id}`, alreadyFulfilled: true });
  });

  it('two confirmations that share a tracking number but not their lines are both fulfilled', async () => {
    standIn.addOrder({ id: ORDER, fulfillmentOrders: twoFulfillmentOrders() });
    // The supplier confirms the lines of one parcel in two messages: same label, other lines.
    const first = await store.fulfil(request([{ storeLineId: '101', quantity: 2 }], ['1Z999AA10123456784'], undefined, '1001+S1+1'));
    const second = await store.fulfil(request([{ storeLineId: '103', quantity: 3 }], ['1Z999AA10123456784'], undefined, '1001+S1+2'));
    const order = standIn.orders.get(ORDER)!;
    expect(order.fulfillments.map((f) => f.lines)).toEqual([
      [{ fulfillmentOrderId: 7001, foLineId: 9101, quantity: 2 }],
      [{ fulfillmentOrderId: 7002, foLineId: 9201, quantity: 3 }],
    ]);
    expect(first).toEqual({ storeFulfillmentId: `gid://shopify/Fulfillment/${order.fulfillments[0]!.id}` });
    expect(second).toEqual({ storeFulfillmentId: `gid://shopify/Fulfillment/${order.fulfillments[1]!.id}` });
    expect(order.fulfillmentOrders.flatMap((fo) => fo.lines.map((l) => [l.lineItemId, l.remaining]))).toEqual([
      [101, 0],
      [102, 1],
      [103, 0],
    ]);
  });

  it('a second part under the same label (other quantities, or one more line) is fulfilled too', async () => {
    standIn.addOrder({ id: ORDER, fulfillmentOrders: twoFulfillmentOrders() });
    const T = ['1Z999AA10123456784'];
    await store.fulfil(request([{ storeLineId: '103', quantity: 1 }], T, undefined, '1001+S1+1'));
    const more = await store.fulfil(request([{ storeLineId: '103', quantity: 2 }], T, undefined, '1001+S1+2'));
    await store.fulfil(request([{ storeLineId: '101', quantity: 1 }], T, undefined, '1001+S1+3'));
    const last = await store.fulfil(request([{ storeLineId: '101', quantity: 1 }, { storeLineId: '102', quantity: 1 }], T, undefined, '1001+S1+4'));
    const order = standIn.orders.get(ORDER)!;
    expect(order.fulfillments.map((f) => f.lines.map((l) => [l.foLineId, l.quantity]))).toEqual([
      [[9201, 1]],
      [[9201, 2]],
      [[9101, 1]],
      [
        [9101, 1],
        [9102, 1],
      ],
    ]);
    expect(more.alreadyFulfilled).toBeUndefined();
    expect(last).toEqual({ storeFulfillmentId: `gid://shopify/Fulfillment/${order.fulfillments[3]!.id}` });
    expect(order.fulfillmentOrders.flatMap((fo) => fo.lines.map((l) => l.remaining))).toEqual([0, 0, 0]);
  });

  it('a fulfillment by staff under our tracking number, or a cancelled one of ours, is not taken for ours', async () => {
    standIn.addOrder({
      id: ORDER,
      fulfillmentOrders: twoFulfillmentOrders().map((fo) => (fo.id === 7001 ? { ...fo, lines: [{ ...fo.lines[0]!, remaining: 1 }, fo.lines[1]!] } : fo)),
      fulfillments: [
        { id: 4001, status: 'SUCCESS', locationId: 55, numbers: ['1Z999AA10123456784'], notifyCustomer: false, lines: [{ fulfillmentOrderId: 7001, foLineId: 9101, quantity: 1 }] },
        { id: 4002, status: 'CANCELLED', locationId: 55, numbers: ['1Z999AA10123456784'], notifyCustomer: false, lines: [{ fulfillmentOrderId: 7002, foLineId: 9201, quantity: 3 }] },
      ],
    });
    const result = await store.fulfil(request([{ storeLineId: '101', quantity: 2 }, { storeLineId: '103', quantity: 3 }]));
    const made = standIn.orders.get(ORDER)!.fulfillments;
    expect(made).toHaveLength(3);
    // Staff took one unit of 101 under the label: ours holds what was left of it, and all of 103.
    expect(made[2]!.lines).toEqual([
      { fulfillmentOrderId: 7001, foLineId: 9101, quantity: 1 },
      { fulfillmentOrderId: 7002, foLineId: 9201, quantity: 3 },
    ]);
    expect(result).toEqual({ storeFulfillmentId: `gid://shopify/Fulfillment/${made[2]!.id}`, shortLines: [{ storeLineId: '101', requested: 2, fulfilled: 1 }] });
  });

  it('after a lost answer that was short of a line, the retry creates nothing and reports the same shortfall', async () => {
    const fos = twoFulfillmentOrders();
    fos[1]!.lines[0]!.remaining = 1;
    standIn.addOrder({ id: ORDER, fulfillmentOrders: fos });
    standIn.script({ normal: true }, { loseAnswer: true });
    await failure(store.fulfil(request([{ storeLineId: '101', quantity: 1 }, { storeLineId: '103', quantity: 3 }])));
    const made = standIn.orders.get(ORDER)!.fulfillments;
    expect(made.map((f) => f.lines)).toEqual([
      [
        { fulfillmentOrderId: 7001, foLineId: 9101, quantity: 1 },
        { fulfillmentOrderId: 7002, foLineId: 9201, quantity: 1 },
      ],
    ]);
    // Line 101 still has one left: only the line item match keeps the retry from taking it.
    const retry = await store.fulfil(request([{ storeLineId: '101', quantity: 1 }, { storeLineId: '103', quantity: 3 }]));
    expect(standIn.orders.get(ORDER)!.fulfillments).toHaveLength(1);
    expect(retry).toEqual({ storeFulfillmentId: `gid://shopify/Fulfillment/${made[0]!.id}`, alreadyFulfilled: true, shortLines: [{ storeLineId: '103', requested: 3, fulfilled: 1 }] });
    expect(standIn.orders.get(ORDER)!.fulfillmentOrders[0]!.lines[0]!.remaining).toBe(1);
  });

  it('after the first of two locations was fulfilled and the second failed, the retry fulfils the second only', async () => {
    const fos = twoFulfillmentOrders();
    fos[1]!.locationId = 66;
    standIn.addOrder({ id: ORDER, fulfillmentOrders: fos });
    standIn.script({ normal: true }, { normal: true }, { status: 503 });
    await failure(store.fulfil(request([{ storeLineId: '101', quantity: 1 }, { storeLineId: '103', quantity: 1 }])));
    expect(standIn.orders.get(ORDER)!.fulfillments).toHaveLength(1);
    const retry = await store.fulfil(request([{ storeLineId: '101', quantity: 1 }, { storeLineId: '103', quantity: 1 }]));
    const made = standIn.orders.get(ORDER)!.fulfillments;
    expect(made.map((f) => [f.locationId, f.lines])).toEqual([
      [55, [{ fulfillmentOrderId: 7001, foLineId: 9101, quantity: 1 }]],
      [66, [{ fulfillmentOrderId: 7002, foLineId: 9201, quantity: 1 }]],
    ]);
    expect(retry).toEqual({ storeFulfillmentId: made.map((f) => `gid://shopify/Fulfillment/${f.id}`).join(',') });
    // Once more: both are ours now, nothing is created.
    expect(await store.fulfil(request([{ storeLineId: '101', quantity: 1 }, { storeLineId: '103', quantity: 1 }]))).toEqual({
      storeFulfillmentId: made.map((f) => `gid://shopify/Fulfillment/${f.id}`).join(','),
      alreadyFulfilled: true,
    });
    expect(standIn.orders.get(ORDER)!.fulfillments).toHaveLength(2);
  });

  it('reads every line item of a fulfillment under our tracking number before taking it for ours', async () => {
    const lines = Array.from({ length: 14 }, (_, j) => ({ id: 9500 + j, lineItemId: 500 + j, remaining: 2 }));
    standIn.addOrder({ id: ORDER, fulfillmentOrders: [{ id: 7005, status: 'OPEN', locationId: 55, lines }] });
    const asked = lines.map((l) => ({ storeLineId: String(l.lineItemId), quantity: 1 }));
    standIn.script({ normal: true }, { loseAnswer: true });
    await failure(store.fulfil(request(asked)));
    const retry = await store.fulfil(request(asked));
    const made = standIn.orders.get(ORDER)!.fulfillments;
    expect(made).toHaveLength(1);
    expect(retry).toEqual({ storeFulfillmentId: `gid://shopify/Fulfillment/${made[0]!.id}`, alreadyFulfilled: true });
    // 10 line items come with the order, the other 4 in a page of their own.
    expect(standIn.requests.map((r) => r.operationName)).toEqual(['DropshipFulfillmentState', 'DropshipFulfillmentCreate', 'DropshipFulfillmentState', 'DropshipFulfillmentLines']);
    expect(standIn.requests.every((r) => (r.requestedQueryCost ?? 0) < 1000)).toBe(true);

    // The same label on another request over 13 of those lines is not ours: it is fulfilled.
    await store.fulfil(request(asked.slice(1), ['1Z999AA10123456784'], undefined, '1001+S1+2'));
    expect(standIn.orders.get(ORDER)!.fulfillments).toHaveLength(2);
  });

  it('finds its earlier fulfillment among more than the 20 fulfillments the order query reads', async () => {
    // Staff fulfilled line 101 one unit at a time, 25 times, under their own tracking numbers.
    const staff: StandInFulfillment[] = Array.from({ length: 25 }, (_, i) => ({
      id: 4100 + i,
      status: 'SUCCESS' as const,
      locationId: 55,
      numbers: [`STAFF${i}`],
      notifyCustomer: false,
      lines: [{ fulfillmentOrderId: 7001, foLineId: 9101, quantity: 1 }],
    }));
    const fos = twoFulfillmentOrders();
    fos[0]!.lines[0]!.remaining = 5;
    standIn.addOrder({ id: ORDER, fulfillmentOrders: fos, fulfillments: staff });
    // The order query, the fulfillment order's 25 fulfillments (one page), then the create's answer is lost.
    standIn.script({ normal: true }, { normal: true }, { loseAnswer: true });
    await failure(store.fulfil(request([{ storeLineId: '101', quantity: 2 }])));
    expect(standIn.requests.map((r) => r.operationName)).toEqual(['DropshipFulfillmentState', 'DropshipFulfillmentOrderFulfillments', 'DropshipFulfillmentCreate']);
    const made = standIn.orders.get(ORDER)!.fulfillments;
    // Ours is the 26th: past what the order query lists.
    expect(made).toHaveLength(26);

    // Line 101 has 3 left: without finding ours, the retry would fulfil 2 more.
    const retry = await store.fulfil(request([{ storeLineId: '101', quantity: 2 }]));
    expect(standIn.orders.get(ORDER)!.fulfillments).toHaveLength(26);
    expect(retry).toEqual({ storeFulfillmentId: `gid://shopify/Fulfillment/${made[25]!.id}`, alreadyFulfilled: true });
    expect(standIn.orders.get(ORDER)!.fulfillmentOrders[0]!.lines[0]!.remaining).toBe(3);
    // The fulfillments of the fulfillment order holding line 101 are read, 25 a page; the other's not.
    expect(standIn.requests.slice(3).map((r) => [r.operationName, r.variables.id])).toEqual([
      ['DropshipFulfillmentState', `gid://shopify/Order/${ORDER}`],
      ['DropshipFulfillmentOrderFulfillments', 'gid://shopify/FulfillmentOrder/7001'],
      ['DropshipFulfillmentOrderFulfillments', 'gid://shopify/FulfillmentOrder/7001'],
    ]);
    expect(standIn.requests.every((r) => (r.requestedQueryCost ?? 0) < 1000)).toBe(true);

    // Another shipment of line 101 under a new label is not taken for ours: it is fulfilled.
    const next = await store.fulfil(request([{ storeLineId: '101', quantity: 1 }], ['1Z999AA10123456799'], undefined, '1001+S1+2'));
    expect(standIn.orders.get(ORDER)!.fulfillments).toHaveLength(27);
    expect(next.alreadyFulfilled).toBeUndefined();
  });

  it('refuses an order Shopify does not have, and ids that are not Shopify ids, for good', async () => {
    expect(await failure(store.fulfil(request([{ storeLineId: '101', quantity: 1 }])))).toMatchObject({ code: 'ESTORE_REJECTED', permanent: true });
    expect(await failure(store.fulfil({ ...request([{ storeLineId: '101', quantity: 1 }]), storeOrderId: '#1001' }))).toMatchObject({ code: 'EPAYLOAD', permanent: true });
    expect(await failure(store.fulfil(request([{ storeLineId: 'gid://shopify/Order/5', quantity: 1 }])))).toMatchObject({ code: 'EPAYLOAD' });
    expect(await failure(store.fulfil(request([{ storeLineId: '101', quantity: 0 }])))).toMatchObject({ code: 'EPAYLOAD' });
  });

  it('fails at creation, naming the variable, when the token is not set', () => {
    const options = shopifyStoreOptionsSchema.parse({ shopDomain: 'x.myshopify.com', accessTokenEnv: 'NOT_SET_HERE', apiVersion: '2026-07' });
    expect(() => createStorePlatform({ dir: '/', store: { platform: { id: 'shopify', options } } }, { env: {} })).toThrow(
      'store.shopify.accessTokenEnv: environment variable NOT_SET_HERE (the Admin API access token) is not set',
    );
    expect(createStorePlatform({ dir: '/', store: {} })).toBeUndefined();
    const unreadable = shopifyStoreOptionsSchema.parse({ shopDomain: 'x.myshopify.com', accessTokenEnv: 'T', apiVersion: '2026-07', caFile: 'no-such-ca.pem' });
    expect(() => createStorePlatform({ dir: '/nonexistent-config', store: { platform: { id: 'shopify', options: unreadable } } }, { env: { T: 'shpat_x' } })).toThrow(
      'store.shopify.caFile: /nonexistent-config/no-such-ca.pem cannot be read (ENOENT)',
    );
  });
});

describe('pacing by Shopify\'s cost bucket (throttleStatus)', () => {
  /** A client of its own, on a virtual clock shared with the stand-in's bucket. */
  function pacedStore(clock: ReturnType<typeof virtualClock>, maxPacingWaitMs?: number): ShopifyStore {
    return new ShopifyStore(storeOptions(), { configDir: '/', env: { [TOKEN_ENV]: standIn.accessToken }, clock, ...(maxPacingWaitMs === undefined ? {} : { maxPacingWaitMs }) });
  }
  const orderOf = (id: number): { id: number; fulfillmentOrders: StandInFulfillmentOrder[] } => ({
    id,
    fulfillmentOrders: [{ id: id * 10, status: 'OPEN', locationId: 55, lines: [{ id: id * 10 + 1, lineItemId: 101, remaining: 1 }] }],
  });
  const requestFor = (id: number): FulfillmentRequest => ({ ...request([{ storeLineId: '101', quantity: 1 }]), orderId: String(id), storeOrderId: String(id) });

  it('waits for the bucket to restore before a request it cannot hold, so Shopify never throttles', async () => {
    const clock = virtualClock();
    standIn.costLimit({ maximumAvailable: 1000, restoreRate: 50, now: () => clock.t });
    const paced = pacedStore(clock);
    try {
      standIn.addOrder(orderOf(1));
      standIn.addOrder(orderOf(2));
      await paced.fulfil(requestFor(1));
      expect(clock.waits).toEqual([]);
      const [state, create] = standIn.requests.map((r) => r.requestedQueryCost!);
      // What the last answer left: the bucket less the order query and the fulfillmentCreate.
      const left = 1000 - state! - create!;
      expect(paced.pacer.state()).toMatchObject({ maximumAvailable: 1000, currentlyAvailable: left, restoreRate: 50 });

      // The next order query needs `state` points: it waits exactly for the missing ones at 50 a
      // second; it empties the bucket, so the fulfillmentCreate then waits for its own points.
      await paced.fulfil(requestFor(2));
      expect(clock.waits).toEqual([Math.ceil(((state! - left) / 50) * 1000), Math.ceil((create! / 50) * 1000)]);
      expect(standIn.requests.filter((r) => r.throttled)).toEqual([]);
      expect(standIn.orders.get(1)!.fulfillments).toHaveLength(1);
      expect(standIn.orders.get(2)!.fulfillments).toHaveLength(1);

      // Checks the check: a client that knows nothing of the bucket is throttled on it.
      const blind = pacedStore(clock);
      standIn.addOrder(orderOf(3));
      try {
        expect(await failure(blind.fulfil(requestFor(3)))).toMatchObject({ code: 'ERATE_LIMITED', permanent: false });
        expect(standIn.requests.at(-1)!.throttled).toBe(true);
      } finally {
        await blind.close();
      }
    } finally {
      await paced.close();
    }
  });

  it('hands a wait longer than it holds a request back as ERATE_LIMITED, without sending', async () => {
    const clock = virtualClock();
    standIn.costLimit({ maximumAvailable: 1000, restoreRate: 10, now: () => clock.t });
    const paced = pacedStore(clock, 15_000);
    try {
      standIn.addOrder(orderOf(1));
      standIn.addOrder(orderOf(2));
      await paced.fulfil(requestFor(1));
      const sent = standIn.requests.length;
      const left = paced.pacer.state()!.currentlyAvailable;
      const error = await failure(paced.fulfil(requestFor(2)));
      // The order query's points at 10 a second: far more than 15 s.
      expect(error).toMatchObject({ code: 'ERATE_LIMITED', permanent: false, retryAfterMs: Math.ceil(((standIn.requests[0]!.requestedQueryCost! - left) / 10) * 1000) });
      expect(standIn.requests).toHaveLength(sent);
      expect(clock.waits).toEqual([]);
      // Nothing was spent: the bucket is as the last answer left it.
      expect(paced.pacer.state()!.currentlyAvailable).toBe(left);
    } finally {
      await paced.close();
    }
  });

  it('after a throttled answer or a 429 with Retry-After, the next request waits first', async () => {
    const clock = virtualClock();
    const paced = pacedStore(clock);
    try {
      standIn.addOrder(orderOf(1));
      standIn.script({ throttle: { requestedQueryCost: 900, currentlyAvailable: 300, restoreRate: 100, maximumAvailable: 1000 } });
      expect(await failure(paced.fulfil(requestFor(1)))).toMatchObject({ code: 'ERATE_LIMITED', retryAfterMs: 6000 });
      // The order query expected at Shopify's 900: 600 points short at 100 a second.
      await paced.fulfil(requestFor(1));
      expect(clock.waits).toEqual([6000]);

      standIn.addOrder(orderOf(2));
      standIn.script({ status: 429, retryAfter: '3' });
      expect(await failure(paced.fulfil(requestFor(2)))).toMatchObject({ code: 'ERATE_LIMITED', retryAfterMs: 3000 });
      await paced.fulfil(requestFor(2));
      expect(clock.waits).toEqual([6000, 3000]);
      expect(standIn.orders.get(2)!.fulfillments).toHaveLength(1);
    } finally {
      await paced.close();
    }
  });
});

describe('the Shopify stand-in (checks the check)', () => {
  async function post(body: unknown): Promise<{ status: number; json: unknown }> {
    const { Agent, request: send } = await import('undici');
    const { readFileSync } = await import('node:fs');
    const agent = new Agent({ connect: { ca: readFileSync(standIn.caFile, 'utf8') } });
    try {
      const answer = await send(`${standIn.url}/admin/api/${standIn.apiVersion}/graphql.json`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json', 'x-shopify-access-token': standIn.accessToken },
        body: JSON.stringify(body),
      });
      return { status: answer.statusCode, json: await answer.body.json() };
    } finally {
      await agent.close();
    }
  }

  it('refuses a field the pinned schema does not have, and variables whose input object does not match', async () => {
    standIn.addOrder({ id: ORDER, fulfillmentOrders: twoFulfillmentOrders() });
    await post({ query: `query { order(id: "gid://shopify/Order/${ORDER}") { id customerEmailAddressThatDoesNotExist } }` });
    await post({
      query: 'mutation M($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { userErrors { message } } }',
      variables: { f: { lineItemsByFulfillmentOrder: [{ fulfillmentOrderId: 'gid://shopify/FulfillmentOrder/7001' }], trackingInfo: { carrier: 'UPS' } } },
    });
    expect(standIn.violations).toHaveLength(2);
    expect(standIn.violations[0]).toContain('Cannot query field "customerEmailAddressThatDoesNotExist" on type "Order"');
    expect(standIn.violations[1]).toContain('Field "carrier" is not defined by type "FulfillmentTrackingInput"');
    expect(standIn.orders.get(ORDER)!.fulfillments).toEqual([]);
    standIn.violations.length = 0;
  });
});

describe('query cost', () => {
  it('keeps every operation under Shopify\'s 1000-point limit for one query', async () => {
    standIn.addOrder({ id: ORDER, fulfillmentOrders: twoFulfillmentOrders() });
    standIn.orders.get(ORDER)!.fulfillmentOrders[1]!.lines = Array.from({ length: 30 }, (_, j) => ({ id: 9300 + j, lineItemId: 300 + j, remaining: 1 }));
    await store.fulfil(request([{ storeLineId: '329', quantity: 1 }]));
    const costs = Object.fromEntries(standIn.requests.map((r) => [r.operationName, r.requestedQueryCost]));
    expect(Object.keys(costs)).toEqual(['DropshipFulfillmentState', 'DropshipFulfillmentOrderLines', 'DropshipFulfillmentCreate']);
    for (const cost of Object.values(costs)) expect(cost).toBeLessThan(1000);
    expect(costs.DropshipFulfillmentState).toBeGreaterThan(100);
  });

  it('expects of each operation the cost Shopify requests for it (the pacing\'s estimates before Shopify says)', async () => {
    const staff: StandInFulfillment[] = Array.from({ length: 21 }, (_, i) => ({ id: 4200 + i, status: 'SUCCESS' as const, locationId: 55, numbers: [`STAFF${i}`], notifyCustomer: false, lines: [{ fulfillmentOrderId: 7002, foLineId: 9201, quantity: 0 }] }));
    staff.push({ id: 4300, status: 'SUCCESS', locationId: 55, numbers: ['1Z999AA10123456784'], notifyCustomer: false, lines: Array.from({ length: 11 }, (_, j) => ({ fulfillmentOrderId: 7002, foLineId: 9300 + j, quantity: 1 })) });
    standIn.addOrder({ id: ORDER, fulfillmentOrders: twoFulfillmentOrders(), fulfillments: staff });
    standIn.orders.get(ORDER)!.fulfillmentOrders[1]!.lines = Array.from({ length: 30 }, (_, j) => ({ id: 9300 + j, lineItemId: 300 + j, remaining: 1 }));
    await store.fulfil(request([{ storeLineId: '329', quantity: 1 }]));
    const costs = Object.fromEntries(standIn.requests.map((r) => [r.operationName, r.requestedQueryCost]));
    expect(Object.keys(costs).sort()).toEqual(Object.keys(ESTIMATED_COST).sort());
    expect(costs).toEqual(ESTIMATED_COST);
  });

  it('refuses an operation over the limit, as Shopify does (checks the check)', async () => {
    const { parse } = await import('graphql');
    const { requestedQueryCost, shopifyAdminSchema } = await import('../../testkit/receivers/stores');
    const big = parse('query { order(id: "gid://shopify/Order/1") { fulfillmentOrders(first: 50) { nodes { id lineItems(first: 250) { nodes { id lineItem { id } } } } } } }');
    expect(requestedQueryCost(shopifyAdminSchema(), big, {})).toBeGreaterThan(1000);
  });
});
