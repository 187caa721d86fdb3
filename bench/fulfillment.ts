import type { AddressInfo } from 'node:net';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { buildApi } from '../src/api/server';
import type { Config } from '../src/config/config';
import type { OrderEvent } from '../src/core/order';
import { createRedis } from '../src/queue/redis';
import { FULFILLMENTS_QUEUE } from '../src/queue/names';
import { ingestOrder } from '../src/sources/ingest';
import { createStorePlatform } from '../src/stores';
import { shopifyStoreOptionsSchema } from '../src/stores/shopify/options';
import type { FulfillmentRequest, StorePlatform } from '../src/stores/store';
import { startShopifyStandIn, type ShopifyStandIn } from '../testkit/receivers/stores';
import { type BenchOutput, log, median, now, result, round, withPrivateRedis, withTimeout } from './common';
import { BenchPipeline } from './harness';
import { benchConfig, DELIVERIES_PER_ORDER, syntheticOrder } from './orders';
import { forEachLimited } from './pipeline';
import { perUnit, startWindow, type RedisWindow } from './redis-stats';

/**
 * `fulfillment`: confirmations/s from a supplier's `POST /suppliers/creamery/shipments` (real
 * HTTP to the API) to the fulfillment created in the Shopify stand-in, through the real loop:
 * the confirmation intake records the shipment in the order's loop and adds a fulfillment job,
 * the fulfillment worker runs the Shopify client (reads the order's fulfillment orders, then
 * `fulfillmentCreate`), and records the store's answer. The orders are delivered first
 * (untimed): a purchase order the creamery has not received cannot be confirmed.
 *
 * Baseline: a bare BullMQ worker with the same concurrency (the fulfillment worker's 4) whose
 * job calls the same Shopify client (the same two GraphQL operations, the same pool) for the
 * same kind of order, one job per confirmation, added with `addBulk`, on the same Redis and the
 * same stand-in, in the same run.
 *
 * Both are timed until the stand-in has answered N `fulfillmentCreate`s; at the end each
 * tracking number must have exactly one fulfillment in the stand-in.
 */

const CONFIRMATIONS = Number(process.env.BENCH_FULFILLMENT_CONFIRMATIONS ?? 400);
const REPS = Number(process.env.BENCH_FULFILLMENT_REPS ?? 3);
const WARMUP = 100;
/** POSTs in flight at once (suppliers confirming concurrently), over this many connections. */
const POST_CONCURRENCY = 16;
const POST_CONNECTIONS = 8;
/** The fulfillment worker's concurrency (createFulfillmentWorker's default, which the pipeline keeps). */
const WORKER_CONCURRENCY = 4;
const TOKEN_ENV = 'BENCH_SHOPIFY_ADMIN_TOKEN';
const CONFIRM_TOKEN_ENV = 'BENCH_CREAMERY_CONFIRM_TOKEN';
const CONFIRM_TOKEN = 'bench-creamery-confirm-token';
/** Store order ids: 1000000 + n; line item ids: order id × 100 + line. */
const STORE_ORDER_BASE = 1_000_000;

function fulfillmentConfig(standIn: ShopifyStandIn): Config {
  const config = structuredClone(benchConfig());
  const options = shopifyStoreOptionsSchema.parse({
    shopDomain: 'bench-larder.myshopify.com',
    accessTokenEnv: TOKEN_ENV,
    apiVersion: standIn.apiVersion,
    baseUrl: standIn.url,
    caFile: standIn.caFile,
    timeout: '10s',
  });
  config.store.platform = { id: 'shopify', options };
  // The bench's own client posts far faster than a supplier would.
  config.store.api.rateLimits.suppliers = { max: 1_000_000, windowMs: 60_000 };
  for (const s of config.suppliers) {
    if (s.id === 'creamery') s.confirmations = { https: { auth: { bearerTokenEnv: CONFIRM_TOKEN_ENV } }, expectWithinMs: 48 * 3_600_000 };
  }
  return config;
}

function storeClient(config: Config, standIn: ShopifyStandIn): StorePlatform {
  return createStorePlatform(config, { env: { [TOKEN_ENV]: standIn.accessToken } })!;
}

/** Order n of a batch: a synthetic order with the store's ids, and the same order in the stand-in (one open fulfillment order). */
function storeOrder(standIn: ShopifyStandIn, id: string, n: number, i: number): { event: OrderEvent; storeOrderId: number } {
  const storeOrderId = STORE_ORDER_BASE + n;
  const payload = syntheticOrder(id, i);
  const lines = payload.lines.map((l, k) => ({ ...l, storeLineId: String(storeOrderId * 100 + k + 1) }));
  standIn.addOrder({
    id: storeOrderId,
    fulfillmentOrders: [{ id: storeOrderId, status: 'OPEN', locationId: 55, lines: lines.map((l, k) => ({ id: storeOrderId * 100 + k + 1, lineItemId: Number(l.storeLineId), remaining: l.quantity })) }],
  });
  return { event: ingestOrder({ ...payload, storeId: String(storeOrderId), lines }, { source: 'canonical' }), storeOrderId };
}

/** Counts `fulfillmentCreate`s the stand-in answered, from a cursor over its request log. */
class CreateCounter {
  private cursor: number;
  count = 0;
  constructor(private readonly standIn: ShopifyStandIn) {
    this.cursor = standIn.requests.length;
  }
  poll(): number {
    const r = this.standIn.requests;
    for (; this.cursor < r.length; this.cursor++) {
      const q = r[this.cursor]!;
      // status 0: answered but not yet marked (only a scripted lost answer stays 0).
      if (q.operationName === 'DropshipFulfillmentCreate' && q.status === 200) this.count++;
    }
    return this.count;
  }
}

async function until(what: string, done: () => boolean, ms: number): Promise<number> {
  return withTimeout(
    what,
    new Promise<number>((resolve) => {
      const tick = () => (done() ? resolve(now()) : setTimeout(tick, 1));
      tick();
    }),
    ms,
  );
}

/** Fulfillments per tracking number in the stand-in, for the numbers given. */
function fulfillmentsPerNumber(standIn: ShopifyStandIn, numbers: readonly string[]): { missing: number; extra: number } {
  const count = new Map<string, number>(numbers.map((n) => [n, 0]));
  for (const order of standIn.orders.values()) {
    for (const f of order.fulfillments) for (const n of f.numbers) if (count.has(n)) count.set(n, count.get(n)! + 1);
  }
  let missing = 0;
  let extra = 0;
  for (const c of count.values()) {
    if (c === 0) missing++;
    if (c > 1) extra += c - 1;
  }
  return { missing, extra };
}

interface Round {
  perSecond: number;
  ms: number;
  cpuMs: number;
  redis: RedisWindow;
  graphql: number;
  detail: string;
}

const tracking = (tag: string, i: number) => `1Z${tag}${String(i).padStart(8, '0')}`;

async function pipelineRound(config: Config, url: string, prefix: string, standIn: ShopifyStandIn, tag: string, firstN: number, count: number): Promise<Round> {
  const orders = Array.from({ length: count }, (_, i) => storeOrder(standIn, `${tag}${i + 1}`, firstN + i, i));
  let delivered = 0;
  const store = storeClient(config, standIn);
  const bench = await BenchPipeline.start(config, url, prefix, { store }, () => void delivered++);
  const api = buildApi({
    ready: () => bench.pipeline.ready(),
    env: { [CONFIRM_TOKEN_ENV]: CONFIRM_TOKEN },
    confirmations: { suppliers: config.suppliers, confirm: (s, c, o) => bench.pipeline.confirmations.confirm(s, c, o) },
    rateLimit: { redis: bench.pipeline.redis, prefix: bench.pipeline.prefix, limits: config.store.api.rateLimits },
  });
  await api.listen({ port: 0, host: '127.0.0.1' });
  const origin = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  const client = new Pool(origin, { connections: POST_CONNECTIONS });
  try {
    // Untimed: the orders in and every delivery made (the creamery has its purchase orders).
    await forEachLimited(orders, 64, (o) => bench.pipeline.intake.submit(o.event));
    await until(`${count} orders delivered`, () => delivered >= count * DELIVERIES_PER_ORDER, 90_000);
    const fulfillments = new Queue(FULFILLMENTS_QUEUE, { connection: bench.pipeline.redis, prefix });
    // Labels the store bought for its warehouse are fulfilled too (when a carrier answers a tracking number): let them finish.
    for (;;) {
      const c = await fulfillments.getJobCounts('wait', 'active', 'delayed', 'prioritized');
      if (Object.values(c).every((v) => v === 0)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await fulfillments.close();

    const counter = new CreateCounter(standIn);
    const graphql0 = standIn.requests.length;
    const endWindow = await startWindow(bench.pipeline.redis);
    const cpu0 = process.cpuUsage();
    let refused = 0;
    const t0 = now();
    await forEachLimited(
      orders.map((o, i) => ({ o, i })),
      POST_CONCURRENCY,
      async ({ o, i }) => {
        const res = await client.request({
          method: 'POST',
          path: '/suppliers/creamery/shipments',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${CONFIRM_TOKEN}` },
          body: JSON.stringify({ orderId: o.event.order.id, carrier: 'UPS', trackingNumbers: [tracking(tag, i)] }),
        });
        await res.body.text();
        if (res.statusCode !== 202) refused++;
      },
    );
    const postedAt = now();
    if (refused > 0) throw new Error(`${refused} confirmations were not accepted (202)`);
    const doneAt = await until(`${count} fulfillments created`, () => counter.poll() >= count, 90_000);
    const ms = doneAt - t0;
    const cpu = process.cpuUsage(cpu0);
    const redis = await endWindow();
    const graphql = standIn.requests.length - graphql0;
    const check = fulfillmentsPerNumber(standIn, orders.map((_, i) => tracking(tag, i)));
    if (check.missing > 0 || check.extra > 0) throw new Error(`stand-in: ${check.missing} tracking numbers without a fulfillment, ${check.extra} extra fulfillments`);
    return { perSecond: (count / ms) * 1000, ms, cpuMs: (cpu.user + cpu.system) / 1000, redis, graphql, detail: `POSTs answered at ${Math.round(postedAt - t0)} ms` };
  } finally {
    await client.close();
    await api.close();
    await bench.stop();
  }
}

async function baselineRound(config: Config, url: string, prefix: string, standIn: ShopifyStandIn, tag: string, firstN: number, count: number): Promise<Round> {
  const requests: FulfillmentRequest[] = Array.from({ length: count }, (_, i) => {
    const { event, storeOrderId } = storeOrder(standIn, `${tag}${i + 1}`, firstN + i, i);
    return {
      fulfillmentId: `bare+${tag}+${i}`,
      orderId: event.order.id,
      storeOrderId: String(storeOrderId),
      lines: event.order.lines.filter((l) => l.sku !== undefined && /^(VC-|BUTTER)/.test(l.sku)).map((l) => ({ storeLineId: l.storeLineId!, quantity: l.quantity })),
      tracking: { company: 'UPS', numbers: [tracking(tag, i)], url: `https://www.ups.com/track?tracknum=${tracking(tag, i)}` },
      orderComplete: false,
    };
  });
  // The bare library as users get it: plain ioredis connections.
  const queueConn = new Redis(url, { maxRetriesPerRequest: null });
  const workerConn = new Redis(url, { maxRetriesPerRequest: null });
  const store = storeClient(config, standIn);
  const queue = new Queue<FulfillmentRequest>('bare-fulfil', { connection: queueConn, prefix });
  const worker = new Worker<FulfillmentRequest>('bare-fulfil', async (job) => store.fulfil(job.data), { connection: workerConn, prefix, concurrency: WORKER_CONCURRENCY, autorun: false });
  worker.on('error', () => undefined);
  void worker.run();
  await worker.waitUntilReady();
  try {
    const counter = new CreateCounter(standIn);
    const graphql0 = standIn.requests.length;
    const endWindow = await startWindow(queueConn);
    const cpu0 = process.cpuUsage();
    const t0 = now();
    await queue.addBulk(requests.map((r) => ({ name: 'fulfil', data: r, opts: { removeOnComplete: { age: 3600 }, removeOnFail: false } })));
    const addedAt = now();
    const doneAt = await until(`${count} bare fulfillments`, () => counter.poll() >= count, 90_000);
    const ms = doneAt - t0;
    const cpu = process.cpuUsage(cpu0);
    const redis = await endWindow();
    const graphql = standIn.requests.length - graphql0;
    const check = fulfillmentsPerNumber(standIn, requests.map((_, i) => tracking(tag, i)));
    if (check.missing > 0 || check.extra > 0) throw new Error(`stand-in (baseline): ${check.missing} missing, ${check.extra} extra fulfillments`);
    return { perSecond: (count / ms) * 1000, ms, cpuMs: (cpu.user + cpu.system) / 1000, redis, graphql, detail: `addBulk done at ${Math.round(addedAt - t0)} ms` };
  } finally {
    await worker.close();
    await queue.close();
    await store.close();
    await Promise.all([queueConn.quit(), workerConn.quit()]);
  }
}

function describe(label: string, r: Round, units: number): string {
  return (
    `${label}: ${Math.round(r.perSecond)} confirmations/s (${units} in ${Math.round(r.ms)} ms; ${r.detail}; ` +
    `node CPU ${Math.round(r.cpuMs)} ms = ${round((r.cpuMs / r.ms) * 100, 0)}% of a core, ${Math.round((r.cpuMs * 1000) / units)} µs each; ` +
    `GraphQL requests/confirmation ${(r.graphql / units).toFixed(2)}; redis CPU ${Math.round(r.redis.cpuSeconds * 1000)} ms; ` +
    `redis commands/confirmation ${(r.redis.totalCalls / units).toFixed(1)}: ${perUnit(r.redis, units, 30)})`
  );
}

export async function fulfillmentBench(): Promise<BenchOutput> {
  const standIn = await startShopifyStandIn();
  try {
    const config = fulfillmentConfig(standIn);
    log(`[fulfillment] ${CONFIRMATIONS} confirmations per round, ${REPS} rounds; fulfillment worker and bare worker concurrency ${WORKER_CONCURRENCY}; ${POST_CONCURRENCY} POSTs in flight`);
    return await withPrivateRedis('fulfillment', async (url) => {
      const admin = createRedis(url);
      let n = 0;
      const take = (k: number) => {
        const first = n;
        n += k;
        return first;
      };
      try {
        log('[fulfillment] warm-up');
        await baselineRound(config, url, 'warm-base', standIn, 'WB', take(WARMUP), WARMUP);
        await pipelineRound(config, url, 'warm-pipe', standIn, 'WP', take(WARMUP), WARMUP);
        await admin.flushall();
        const pipe: number[] = [];
        const base: number[] = [];
        const pipeCommands: number[] = [];
        const baseCommands: number[] = [];
        const pipeCpu: number[] = [];
        const baseCpu: number[] = [];
        for (let r = 0; r < REPS; r++) {
          // The stand-in looks fulfillment orders up by scanning its orders: start each round afresh.
          standIn.reset();
          const b = await baselineRound(config, url, `base${r}`, standIn, `B${r}X`, take(CONFIRMATIONS), CONFIRMATIONS);
          await admin.flushall();
          log(`[fulfillment] round ${r + 1} ${describe('baseline', b, CONFIRMATIONS)}`);
          standIn.reset();
          const p = await pipelineRound(config, url, `pipe${r}`, standIn, `P${r}X`, take(CONFIRMATIONS), CONFIRMATIONS);
          await admin.flushall();
          log(`[fulfillment] round ${r + 1} ${describe('pipeline', p, CONFIRMATIONS)}`);
          if (standIn.violations.length > 0) throw new Error(`stand-in violations: ${standIn.violations.slice(0, 3).join('; ')}`);
          pipe.push(p.perSecond);
          base.push(b.perSecond);
          pipeCommands.push(p.redis.totalCalls / CONFIRMATIONS);
          baseCommands.push(b.redis.totalCalls / CONFIRMATIONS);
          pipeCpu.push((p.cpuMs * 1000) / CONFIRMATIONS);
          baseCpu.push((b.cpuMs * 1000) / CONFIRMATIONS);
        }
        const out = result(median(pipe), median(base), 'confirmations/s');
        log(`[fulfillment] median ${out.value} vs a bare BullMQ worker making the same Shopify calls ${out.baseline}/s: ratio ${out.ratio} (higher is better)`);
        log(`[fulfillment] median node CPU per confirmation (API, pipeline, client and the in-process stand-in): pipeline ${Math.round(median(pipeCpu))} µs, bare ${Math.round(median(baseCpu))} µs`);
        const commands = result(median(pipeCommands), median(baseCommands), 'redis commands/confirmation');
        log(`[fulfillment] Redis commands per confirmation: ${commands.value} against ${commands.baseline} for a bare job (ratio ${commands.ratio}; lower is better)`);
        return { fulfillment: out, fulfillment_redis_commands: commands };
      } finally {
        await admin.quit();
      }
    });
  } finally {
    await standIn.stop();
  }
}
