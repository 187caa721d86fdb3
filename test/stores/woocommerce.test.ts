import { DeliveryError } from '../../src/errors';
import { createStorePlatform } from '../../src/stores';
import type { FulfillmentRequest, StorePlatform } from '../../src/stores/store';
import { shipmentNote } from '../../src/stores/woocommerce/client';
import { wooCommerceStoreOptionsSchema } from '../../src/stores/woocommerce/options';
import { startWooCommerceStandIn, type WooCommerceStandIn } from '../../testkit/receivers/stores';

/**
 * The WooCommerce store client against the WooCommerce stand-in, which checks basic auth and
 * every request against the documented routes (specs/woocommerce-fulfillment-routes.json).
 */

const ORDER = 723;
let standIn: WooCommerceStandIn;
const opened: StorePlatform[] = [];

beforeAll(async () => {
  standIn = await startWooCommerceStandIn();
}, 60_000);

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await standIn.stop();
});

beforeEach(() => {
  standIn.reset();
  standIn.addOrder(ORDER);
});
afterEach(() => expect(standIn.violations).toEqual([]));

function client(options: Record<string, unknown> = {}, env?: NodeJS.ProcessEnv): StorePlatform {
  const parsed = wooCommerceStoreOptionsSchema.parse({
    url: 'https://shop.example.com',
    consumerKeyEnv: 'WOO_KEY',
    consumerSecretEnv: 'WOO_SECRET',
    baseUrl: standIn.url,
    caFile: standIn.caFile,
    timeout: '5s',
    ...options,
  });
  const store = createStorePlatform(
    { dir: '/', store: { platform: { id: 'woocommerce', options: parsed } } },
    { env: env ?? { WOO_KEY: standIn.consumerKey, WOO_SECRET: standIn.consumerSecret } },
  )!;
  opened.push(store);
  return store;
}

const request = (orderComplete: boolean, tracking: FulfillmentRequest['tracking'] = { company: 'UPS', numbers: ['1Z999AA10123456784', '1Z999AA10123456785'] }): FulfillmentRequest => ({
  fulfillmentId: '723+S1+1',
  orderId: '723',
  storeOrderId: String(ORDER),
  lines: [{ storeLineId: '311', quantity: 2 }],
  tracking,
  orderComplete,
});

const seen = () => standIn.requests.map((r) => `${r.method} ${r.path}${r.query._fields ? ` _fields=${r.query._fields}` : ''}${r.query.type ? ` type=${r.query.type}` : ''} ${r.status}`);

/** Every key and value of every request body: nothing but carrier, tracking, the note made of them, and the status. */
function sentOnly(keys: string[], values: unknown[]): void {
  for (const r of standIn.requests) {
    expect(r.headers.authorization).toBe(`Basic ${Buffer.from(`${standIn.consumerKey}:${standIn.consumerSecret}`).toString('base64')}`);
    if (r.method === 'GET') {
      expect(r.body).toBe('');
      continue;
    }
    const body = JSON.parse(r.body) as Record<string, unknown>;
    expect(Object.keys(body).filter((k) => !keys.includes(k))).toEqual([]);
    expect(Object.values(body).filter((v) => !values.includes(v))).toEqual([]);
  }
}

async function failure(promise: Promise<unknown>): Promise<DeliveryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

describe('WooCommerce fulfillments: the Shipment Tracking extension', () => {
  it('adds one tracking item per number and leaves the order as it is while lines are still to ship', async () => {
    const result = await client().fulfil(request(false));
    const order = standIn.orders.get(ORDER)!;
    expect(order.trackings.map((t) => [t.tracking_provider, t.tracking_number])).toEqual([
      ['UPS', '1Z999AA10123456784'],
      ['UPS', '1Z999AA10123456785'],
    ]);
    expect(result).toEqual({ storeFulfillmentId: order.trackings.map((t) => t.tracking_id).join(',') });
    expect(order.status).toBe('processing');
    const route = `/wp-json/wc-shipment-tracking/v3/orders/${ORDER}/shipment-trackings`;
    expect(seen()).toEqual([
      `GET ${route} _fields=tracking_id,tracking_number 200`,
      `POST ${route} _fields=tracking_id,tracking_number 201`,
      `POST ${route} _fields=tracking_id,tracking_number 201`,
    ]);
    sentOnly(['tracking_provider', 'tracking_number'], ['UPS', '1Z999AA10123456784', '1Z999AA10123456785']);
  });

  it('completes the order once every line has shipped, after the tracking (the Completed email shows it)', async () => {
    await client().fulfil(request(true));
    expect(standIn.orders.get(ORDER)!.status).toBe('completed');
    expect(seen().at(-1)).toBe(`PUT /wp-json/wc/v3/orders/${ORDER} _fields=id,status 200`);
    expect(standIn.requests.at(-1)!.body).toBe('{"status":"completed"}');
  });

  it('does not complete the order when complete is off', async () => {
    await client({ complete: false }).fulfil(request(true));
    expect(standIn.orders.get(ORDER)!.status).toBe('processing');
    expect(standIn.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'POST']);
  });

  it('sends a custom provider with its link when the shipment has a tracking URL', async () => {
    const url = 'https://www.ups.com/track?tracknum=1Z999AA10123456784';
    await client().fulfil(request(false, { company: 'UPS', numbers: ['1Z999AA10123456784'], url }));
    expect(JSON.parse(standIn.requests[1]!.body)).toEqual({ custom_tracking_provider: 'UPS', custom_tracking_link: url, tracking_number: '1Z999AA10123456784' });
    expect(standIn.orders.get(ORDER)!.trackings[0]!.tracking_link).toBe(url);
  });

  it('is idempotent: a second run adds nothing and says so; after a lost answer the retry adds only what is missing', async () => {
    const store = client();
    const first = await store.fulfil(request(true));
    standIn.requests.length = 0;
    const again = await store.fulfil(request(true));
    expect(again).toEqual({ storeFulfillmentId: first.storeFulfillmentId, alreadyFulfilled: true });
    expect(standIn.orders.get(ORDER)!.trackings).toHaveLength(2);
    expect(standIn.requests.map((r) => r.method)).toEqual(['GET', 'PUT']);

    standIn.reset();
    standIn.addOrder(ORDER);
    standIn.script({ normal: true }, { loseAnswer: true });
    const lost = await failure(store.fulfil(request(false)));
    expect(lost).toMatchObject({ code: 'ECONNECTION', permanent: false, unsure: true });
    expect(standIn.orders.get(ORDER)!.trackings).toHaveLength(1);
    const retry = await store.fulfil(request(false));
    const items = standIn.orders.get(ORDER)!.trackings;
    expect(items.map((t) => t.tracking_number)).toEqual(['1Z999AA10123456784', '1Z999AA10123456785']);
    expect(retry).toEqual({ storeFulfillmentId: items.map((t) => t.tracking_id).join(',') });
  });

  it('retries 429 after Retry-After and 5xx, refuses bad credentials and a 400 for good', async () => {
    standIn.script({ status: 429, retryAfter: '3' });
    expect(await failure(client().fulfil(request(false)))).toMatchObject({ code: 'ERATE_LIMITED', retryAfterMs: 3000, permanent: false });
    standIn.script({ status: 500 });
    expect(await failure(client().fulfil(request(false)))).toMatchObject({ code: 'EREMOTE', permanent: false });
    standIn.script({ normal: true }, { status: 400, body: { code: 'woocommerce_rest_invalid_order', message: 'Invalid order.', data: { status: 400 } } });
    const refused = await failure(client().fulfil(request(false)));
    expect(refused).toMatchObject({ code: 'ESTORE_REJECTED', permanent: true });
    expect(refused.message).toContain('woocommerce_rest_invalid_order Invalid order.');
    expect(standIn.orders.get(ORDER)!.trackings).toEqual([]);

    const wrong = await failure(client({}, { WOO_KEY: standIn.consumerKey, WOO_SECRET: 'cs_wrongwrongwrongwrong' }).fulfil(request(false)));
    expect(wrong).toMatchObject({ code: 'EAUTH', permanent: true });
    expect(wrong.message).not.toContain('cs_wrong');
  });

  it('says the extension is missing when its route is not there', async () => {
    standIn.trackingExtension = false;
    const error = await failure(client().fulfil(request(false)));
    expect(error).toMatchObject({ code: 'ESTORE_REJECTED', permanent: true });
    expect(error.message).toContain('Shipment Tracking extension');
  });
});

describe('WooCommerce fulfillments: a customer note', () => {
  it('adds one customer note with the carrier and tracking, then completes the order; a retry adds no second note', async () => {
    const store = client({ tracking: 'note' });
    const tracking = { company: 'FedEx', numbers: ['794912345678'], url: 'https://www.fedex.com/fedextrack/?trknbr=794912345678' };
    const result = await store.fulfil(request(true, tracking));
    const order = standIn.orders.get(ORDER)!;
    expect(order.notes).toEqual([{ id: expect.any(Number) as number, note: 'Shipped with FedEx, tracking number 794912345678: https://www.fedex.com/fedextrack/?trknbr=794912345678.', customer_note: true, author: 'system' }]);
    expect(result).toEqual({ storeFulfillmentId: String(order.notes[0]!.id) });
    expect(order.status).toBe('completed');
    expect(seen()).toEqual([
      `GET /wp-json/wc/v3/orders/${ORDER}/notes _fields=id,note,customer_note type=customer 200`,
      `POST /wp-json/wc/v3/orders/${ORDER}/notes _fields=id 201`,
      `PUT /wp-json/wc/v3/orders/${ORDER} _fields=id,status 200`,
    ]);
    sentOnly(['note', 'customer_note', 'status'], [shipmentNote(tracking), true, 'completed']);

    const again = await store.fulfil(request(false, tracking));
    expect(again).toEqual({ storeFulfillmentId: String(order.notes[0]!.id), alreadyFulfilled: true });
    expect(order.notes).toHaveLength(1);
  });

  it('writes the note from the carrier and numbers only', () => {
    expect(shipmentNote({ company: 'UPS', numbers: ['1Z1', ' 1Z2 ', ''] })).toBe('Shipped with UPS, tracking numbers 1Z1, 1Z2.');
    expect(shipmentNote({ company: '', numbers: [] })).toBe('Shipped.');
  });
});

describe('WooCommerce client configuration', () => {
  it('names the unset variable at creation, never a value', () => {
    expect(() => client({}, { WOO_KEY: 'ck_x' })).toThrow('store.woocommerce.consumerSecretEnv: environment variable WOO_SECRET (the REST API consumer secret) is not set');
  });

  it('refuses a non-numeric order id, and tracking without a carrier, for good', async () => {
    expect(await failure(client().fulfil({ ...request(false), storeOrderId: 'wc_723' }))).toMatchObject({ code: 'EPAYLOAD', permanent: true });
    expect(await failure(client().fulfil(request(false, { company: ' ', numbers: ['1Z1'] })))).toMatchObject({ code: 'EPAYLOAD', permanent: true });
    expect(standIn.requests).toEqual([]);
  });
});

describe('the WooCommerce stand-in (checks the check)', () => {
  it('refuses a body field the documented route does not take, and an undocumented route', async () => {
    const { Agent, request: send } = await import('undici');
    const { readFileSync } = await import('node:fs');
    const agent = new Agent({ connect: { ca: readFileSync(standIn.caFile, 'utf8') } });
    const authorization = `Basic ${Buffer.from(`${standIn.consumerKey}:${standIn.consumerSecret}`).toString('base64')}`;
    try {
      const bad = await send(`${standIn.url}/wp-json/wc/v3/orders/${ORDER}/notes`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({ note: 'Shipped.', customer_note: true, shipping: { address_1: '1 Road' } }),
      });
      await bad.body.dump();
      expect(bad.statusCode).toBe(400);
      const unknown = await send(`${standIn.url}/wp-json/wc/v3/orders/${ORDER}/shipments`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json', authorization }, body: '{}' });
      await unknown.body.dump();
      expect(unknown.statusCode).toBe(404);
    } finally {
      await agent.close();
    }
    expect(standIn.violations).toHaveLength(2);
    expect(standIn.violations[0]).toContain('must NOT have additional properties');
    expect(standIn.orders.get(ORDER)!.notes).toEqual([]);
    standIn.violations.length = 0;
  });
});
