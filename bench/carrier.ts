import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import type { Config } from '../src/config/config';
import { loadConfig } from '../src/config/load';
import { startCarrierStandIn, type Carrier, type CarrierStandIn } from '../testkit/receivers/carriers';
import type { PlannedDelivery } from '../src/planning/plan';
import { deliveryQueueName } from '../src/queue/names';
import { UPS_DEFAULT_API_VERSION, upsTransId } from '../src/carriers/ups/client';
import { type BenchOutput, log, withPrivateRedis } from './common';
import { forEachLimited } from './pipeline';
import { bareWorkerRound, interleaved, Sides } from './bare-worker';
import { benchOrders, describeRound, plannedPayloads, timed, TransportPipeline, type DeliveryRound } from './transport-harness';
import { deliveryResponse, type DeliveryJobResult } from '../workers/delivery-worker';

/**
 * `carrier`: labels/s through the pipeline to a local carrier API stand-in (HTTPS with a
 * local CA, OAuth client-credentials token, Ship endpoint answering a tracking number and a
 * label), against what a user would write instead: a bare BullMQ worker (concurrency 4, the
 * carrier delivery worker's) whose job POSTs the same request body to the same Ship endpoint
 * with undici, with the same headers (a bearer token fetched once) on the same connections (4,
 * the carrier clients' pool). `carrier_vs_loop` keeps the older yardstick: the same POSTs in a
 * loop, no queue, 4 in flight.
 *
 * Orders are warehouse-only (no suppliers configured): each makes exactly one carrier
 * delivery, timed from the first order submitted to the last carrier job completed.
 */

const CARRIER: Carrier = process.env.BENCH_CARRIER === 'fedex' ? 'fedex' : 'ups';
const ORDERS = Number(process.env.BENCH_CARRIER_ORDERS ?? 1500);
const REPS = Number(process.env.BENCH_CARRIER_REPS ?? 3);
const WARMUP_ORDERS = 300;
/** `connections` of the carrier clients' undici Pool (carrierIo in src/carriers/api-client.ts). */
const CONNECTIONS = 4;
/** The delivery worker's concurrency (Pipeline's default `deliveryConcurrency`). */
const IN_FLIGHT = 4;
const ENV_ID = 'BENCH_CARRIER_CLIENT_ID';
const ENV_SECRET = 'BENCH_CARRIER_CLIENT_SECRET';

/** Writes and loads a configuration: a warehouse, no suppliers, every method by `CARRIER`. */
function carrierBenchConfig(dir: string, standIn: CarrierStandIn): Config {
  mkdirSync(path.join(dir, 'suppliers'), { recursive: true });
  const client = { environment: 'test', clientIdEnv: ENV_ID, clientSecretEnv: ENV_SECRET, baseUrl: standIn.url, caFile: standIn.caFile, timeout: '10s' };
  const store = {
    store: { name: 'Bench Larder' },
    warehouse: {
      id: 'warehouse',
      address: { name: 'Bench Larder', company: 'Bench Larder LLC', line1: '120 Market Street', city: 'Portland', region: 'OR', postalCode: '97204', country: 'US', phone: '+1 503 555 0142' },
    },
    shipping: {
      methods: { standard: CARRIER === 'ups' ? { carrier: 'ups', service: '03' } : { carrier: 'fedex', service: 'FEDEX_GROUND' } },
      default: 'standard',
    },
    carriers:
      CARRIER === 'ups'
        ? { ups: { shipperNumber: 'A1B2C3', labelFormat: 'GIF', ...client } }
        : { fedex: { accountNumber: '740561073', labelImageType: 'PDF', ...client } },
  };
  writeFileSync(path.join(dir, 'store.yaml'), stringify(store));
  return loadConfig(dir);
}

/** The Ship endpoint and headers the carrier's API client sends (src/transports/{ups,fedex}-api.ts). */
function shipRequest(p: PlannedDelivery, token: string): { path: string; headers: Record<string, string> } {
  const common = { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' };
  return CARRIER === 'ups'
    ? { path: `/api/shipments/${UPS_DEFAULT_API_VERSION}/ship`, headers: { ...common, transId: upsTransId(p.deliveryId), transactionSrc: 'dropship' } }
    : { path: '/ship/v1/shipments', headers: { ...common, 'x-customer-transaction-id': p.deliveryId, 'x-locale': 'en_US' } };
}

/** One token from the stand-in's OAuth endpoint, as the carrier's client asks for it. */
async function fetchToken(pool: Pool, standIn: CarrierStandIn): Promise<string> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', ...(CARRIER === 'fedex' ? { client_id: standIn.clientId, client_secret: standIn.clientSecret } : {}) });
  const response = await pool.request({
    path: CARRIER === 'ups' ? '/security/v1/oauth/token' : '/oauth/token',
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      ...(CARRIER === 'ups' ? { authorization: `Basic ${Buffer.from(`${standIn.clientId}:${standIn.clientSecret}`).toString('base64')}` } : {}),
    },
    body: form.toString(),
  });
  const answer = (await response.body.json()) as { access_token?: unknown };
  if (response.statusCode !== 200 || typeof answer.access_token !== 'string') throw new Error(`bare token request answered ${response.statusCode}`);
  return answer.access_token;
}

/** Every ship request since the last check was answered 200 and conformed; `count` of them. */
function checkStandIn(standIn: CarrierStandIn, side: string, count: number): void {
  const ships = standIn.requestsTo('ship');
  const refused = ships.filter((r) => r.status !== 200).length;
  if (standIn.violations.length > 0) throw new Error(`${side}: the stand-in recorded violations: ${standIn.violations.slice(0, 3).join(' | ')}`);
  if (ships.length !== count || refused > 0) throw new Error(`${side}: the stand-in saw ${ships.length} ship requests (${refused} not 200), expected ${count}`);
  // Not reset(): that would also forget the issued tokens, and both sides' tokens must stay valid.
  standIn.requests.length = 0;
}

export async function carrierBench(): Promise<BenchOutput> {
  // No `checks`: the stand-in checks paths, methods, headers, credentials and bearer tokens,
  // but validates neither side's bodies nor its own answers against the OpenAPI documents.
  const standIn = await startCarrierStandIn(CARRIER);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dropship-bench-carrier-'));
  const pool = new Pool(standIn.url, { connections: CONNECTIONS, keepAliveTimeout: 30_000, connect: { ca: readFileSync(standIn.caFile, 'utf8') } });
  try {
    const config = carrierBenchConfig(dir, standIn);
    const token = await fetchToken(pool, standIn);
    standIn.requests.length = 0;

    /** The bare transfer: POST the body to the Ship endpoint on keep-alive connections, read the answer. */
    const ship = async (p: PlannedDelivery): Promise<void> => {
      const { path: shipPath, headers } = shipRequest(p, token);
      const response = await pool.request({ path: shipPath, method: 'POST', headers, body: p.body });
      await response.body.text();
      if (response.statusCode !== 200) throw new Error(`bare ship request answered ${response.statusCode}`);
    };
    /** The bare library in a loop, no queue. */
    const loopRound = (payloads: readonly PlannedDelivery[]): Promise<DeliveryRound> => timed(payloads.length, () => forEachLimited(payloads, IN_FLIGHT, ship));

    log(
      `[carrier] ${CARRIER.toUpperCase()} stand-in on ${standIn.url}; ${ORDERS} warehouse-only orders (no suppliers: one ${CARRIER} label each) per round, ${REPS} rounds; ` +
        `${CONNECTIONS} keep-alive connections and ${IN_FLIGHT} requests in flight on both sides; OpenAPI schema checks off for both sides (paths, headers, credentials and tokens still checked)`,
    );
    return await withPrivateRedis('carrier', async (url) => {
      // intake → order worker → carrier delivery worker → API client → stand-in.
      const pipeline = await TransportPipeline.start(config, url, 'carrier', { [ENV_ID]: standIn.clientId, [ENV_SECRET]: standIn.clientSecret }, {
        deliveryConcurrency: IN_FLIGHT,
        queueName: deliveryQueueName('carrier', CARRIER),
        unit: 'label',
        realCarriers: true,
        // What the client parsed from the Ship answer: a label without both is a failed round.
        check: (job, cipher) => {
          const bought = deliveryResponse(cipher, job.returnvalue as DeliveryJobResult | undefined);
          return bought?.trackingNumber === undefined || bought.label === undefined ? 'no tracking number or label in the result' : undefined;
        },
      });
      try {
        const sides = new Sides('carrier', 'label', 'labels/s', ORDERS);
        /** A side's round, then the stand-in's check that it saw exactly that side's requests. */
        const checked = (side: string, count: number, run: () => Promise<DeliveryRound>) => async () => {
          const round = await run();
          checkStandIn(standIn, side, count);
          return round;
        };
        for (let r = 0; r <= REPS; r++) {
          // Round 0 warms up both sides (JIT, TLS connections, the pipeline's OAuth token) and is not counted.
          const count = r === 0 ? WARMUP_ORDERS : ORDERS;
          const events = benchOrders(count, `C${r}-`);
          const payloads = plannedPayloads(config, events);
          const [p, b, l] = await interleaved(
            r,
            checked('pipeline', count, () => pipeline.round(events)),
            checked('bare worker', count, () => bareWorkerRound(url, `bare${r}`, payloads, IN_FLIGHT, ship, 'label')),
            checked('bare loop', count, () => loopRound(payloads)),
          );
          log(`[carrier] ${r === 0 ? 'warm-up' : `round ${r}`}: pipeline ${describeRound(p, count)}; bare worker ${describeRound(b, count)}; bare loop ${describeRound(l, count)}`);
          if (r === 0) continue;
          sides.add(p, b, l);
        }
        log(`[carrier] the stand-in issued ${standIn.tokens.length} tokens (1 bare, the rest the pipeline's)`);
        return sides.results(0.5, 'a bare BullMQ worker making the same Ship request', 'a bare undici POST loop with no queue');
      } finally {
        await pipeline.stop();
      }
    });
  } finally {
    await pool.close();
    await standIn.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
