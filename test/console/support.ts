import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/server';
import type { Config } from '../../src/config/config';
import { Queue } from 'bullmq';
import { ConsoleQueries } from '../../src/ops/console-queries';

type ConsoleQueriesOptions = ConstructorParameters<typeof ConsoleQueries>[1];
import { Operations } from '../../src/ops/operations';
import { pipelineQueueNames } from '../../src/app/start';
import { ORDERS_QUEUE, orderJobId } from '../../src/queue/names';
import type { DataCipher } from '../../src/queue/sealing';
import { RecordingTransport } from '../../src/transports/recording';
import { fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness, TEST_CIPHER } from '../support/pipeline';
import { waitFor } from '../support/wait';

export const USER = 'ops';
export const PASSWORD = 'correct horse battery';
export const AUTH = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

/**
 * The fixture configuration without a default shipping method: an order whose method maps to
 * no carrier is then held (UNKNOWN_SHIPPING_METHOD), as it is in a store that set no default.
 */
export function noDefaultMethodConfig(): Config {
  const c = fixtureConfig();
  return { ...c, store: { ...c.store, shipping: { methods: c.store.shipping.methods, defaultLineWeightGrams: c.store.shipping.defaultLineWeightGrams } } };
}

/** The fixture configuration once the operator added the held order's method. */
export function fixedConfig(): Config {
  const c = noDefaultMethodConfig();
  return { ...c, store: { ...c.store, shipping: { ...c.store.shipping, methods: { ...c.store.shipping.methods, 'pigeon-post': { carrier: 'ups', service: '03' } } } } };
}

/** A tracking number as the stand-in carriers answer it: `1ZTEST` and the label request's delivery id. */
export const trackingNumberOf = (deliveryId: string) => `1ZTEST${deliveryId.replace(/[^A-Za-z0-9]/g, '').toUpperCase()}`;

/** The pipeline on `redisUrl` with recording transports; the carriers answer a tracking number. */
export function startHarness(config: Config, redisUrl: string, prefix: string): Promise<PipelineHarness> {
  return PipelineHarness.start(config, redisUrl, {
    prefix,
    custom: (t) => {
      if (t.kind !== 'carrier') return undefined;
      const carrier = new RecordingTransport(t.recipient);
      carrier.respond = (p) => ({ trackingNumber: trackingNumberOf(p.deliveryId) });
      return carrier;
    },
  });
}

/** What the seeded orders carry that no page may show unless unmasked. */
export const PERSONAL = (() => {
  const o = orderPayload();
  return [o.customer?.name, o.customer?.email, o.customer?.phone, o.shipTo?.line1, o.shipTo?.line2, o.shipTo?.company, o.billTo?.name, o.billTo?.line1].filter(
    (s): s is string => typeof s === 'string' && s.length > 0,
  );
})();

/**
 * A store's day, processed by the real pipeline (recording transports): order 1001 planned and
 * sent everywhere, order 1002 held (its shipping method maps to no carrier).
 */
export async function seedOrders(harness: PipelineHarness): Promise<void> {
  expect((await harness.postOrder(orderPayload({ id: '1001' }))).statusCode).toBe(202);
  expect((await harness.postOrder(orderPayload({ id: '1002', shippingMethod: 'pigeon-post' }))).statusCode).toBe(202);
  const q = new Queue(ORDERS_QUEUE, { connection: harness.pipeline.redis, prefix: harness.pipeline.prefix });
  try {
    await waitFor('order 1002 to be held', async () => (await (await q.getJob(orderJobId('1002')))?.getState()) === 'failed');
    const ops = new Operations(harness.pipeline.redis, harness.pipeline.prefix, noDefaultMethodConfig());
    await waitFor('order 1001 to be delivered everywhere', async () => {
      const s = await ops.orderStatus('1001');
      return s.deliveries.length > 0 && s.deliveries.every((d) => d.state === 'completed');
    });
    await ops.close();
    // Recipients' last deliveries are written every few seconds; the pages read them now.
    await harness.pipeline.ledger.flushLast();
  } finally {
    await q.close();
  }
}

export interface ConsoleServer {
  app: FastifyInstance;
  ops: Operations;
  queues: Queue[];
  close(): Promise<void>;
}

/** The API with the dashboard and the console, over the harness's Redis (as `dropship start` wires it). */
export async function serveConsole(
  harness: PipelineHarness,
  config: Config,
  options: { readOnly?: boolean; unmask?: boolean; cipher?: DataCipher; keys?: ConsoleQueriesOptions } = {},
): Promise<ConsoleServer> {
  const ops = new Operations(harness.pipeline.redis, harness.pipeline.prefix, config);
  const queues = pipelineQueueNames(config).map((name) => new Queue(name, { connection: harness.pipeline.redis, prefix: harness.pipeline.prefix }));
  const app = buildApi({
    ready: async () => undefined,
    dashboard: {
      queues,
      auth: { user: USER, password: PASSWORD },
      readOnly: options.readOnly ?? false,
      unmask: options.unmask ?? false,
      cipher: options.cipher ?? TEST_CIPHER,
      console: { queries: new ConsoleQueries(ops, options.keys ?? {}) },
    },
  });
  await app.ready();
  return {
    app,
    ops,
    queues,
    async close() {
      await app.close();
      await ops.close();
      await Promise.all(queues.map((q) => q.close()));
    },
  };
}
