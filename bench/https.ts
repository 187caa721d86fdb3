import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { startHttpsReceiver } from '../testkit/receivers/https';
import type { PlannedDelivery } from '../src/planning/plan';
import { type BenchOutput, log, withPrivateRedis } from './common';
import { forEachLimited } from './pipeline';
import { bareWorkerRound, interleaved, Sides } from './bare-worker';
import { benchOrders, describeRound, plannedPayloads, timed, transportBenchConfig, TransportPipeline, type DeliveryRound } from './transport-harness';

/**
 * `https`: deliveries/s through the pipeline to a local TLS server (certificate verified
 * against its CA, Standard Webhooks signature, Idempotency-Key), against what a user would
 * write instead: a bare BullMQ worker (concurrency 4, the pipeline's delivery worker's) whose
 * job POSTs its body with undici on the same 2 keep-alive connections. `https_vs_loop` keeps
 * the older yardstick: a bare undici POST loop, no queue, with the same connections and 4
 * requests in flight.
 */

const ORDERS = Number(process.env.BENCH_HTTPS_ORDERS ?? 2000);
const REPS = Number(process.env.BENCH_HTTPS_REPS ?? 3);
const CONNECTIONS = 2;
const IN_FLIGHT = 4;
const SECRET = `whsec_${Buffer.from('bench webhook secret, not a real one').toString('base64')}`;

export async function httpsBench(): Promise<BenchOutput> {
  const receiver = await startHttpsReceiver();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dropship-bench-https-'));
  const pool = new Pool(receiver.url, { connections: CONNECTIONS, keepAliveTimeout: 30_000, connect: { ca: receiver.ca.caPem } });

  /** The bare transfer: POST the body on keep-alive connections, read the answer. */
  const post = async (p: PlannedDelivery): Promise<void> => {
    const response = await pool.request({ path: '/orders', method: 'POST', headers: { 'content-type': p.contentType }, body: p.body });
    await response.body.text();
    if (response.statusCode !== 200) throw new Error(`bare POST answered ${response.statusCode}`);
  };
  /** The bare library in a loop, no queue. */
  const loopRound = (payloads: readonly PlannedDelivery[]): Promise<DeliveryRound> => timed(payloads.length, () => forEachLimited(payloads, IN_FLIGHT, post));

  try {
    const config = transportBenchConfig(dir, {
      format: 'json',
      delivery: { transport: 'https', url: `${receiver.url}/orders`, caFile: receiver.ca.caFile, auth: { hmacSecretEnv: 'BENCH_WEBHOOK_SECRET' }, maxConnections: CONNECTIONS },
    });
    log(`[https] ${ORDERS} orders (one JSON purchase order each) per round, ${REPS} rounds; HTTPS server on ${receiver.url}; ${CONNECTIONS} keep-alive connections and ${IN_FLIGHT} requests in flight on both sides`);
    return await withPrivateRedis('https', async (url) => {
      const pipeline = await TransportPipeline.start(config, url, 'https', { BENCH_WEBHOOK_SECRET: SECRET }, { deliveryConcurrency: IN_FLIGHT });
      try {
        const sides = new Sides('https', 'delivery', 'deliveries/s', ORDERS);
        for (let r = 0; r <= REPS; r++) {
          // Round 0 warms up both sides (JIT, TLS connections) and is not counted.
          const count = r === 0 ? 300 : ORDERS;
          const events = benchOrders(count, `H${r}-`);
          const payloads = plannedPayloads(config, events);
          const [p, b, l] = await interleaved(
            r,
            () => pipeline.round(events),
            () => bareWorkerRound(url, `bare${r}`, payloads, IN_FLIGHT, post),
            () => loopRound(payloads),
          );
          log(`[https] ${r === 0 ? 'warm-up' : `round ${r}`}: pipeline ${describeRound(p, count)}; bare worker ${describeRound(b, count)}; bare loop ${describeRound(l, count)}`);
          receiver.reset();
          if (r === 0) continue;
          sides.add(p, b, l);
        }
        return sides.results(0.5, 'a bare BullMQ worker making the same POST', 'a bare undici POST loop with no queue');
      } finally {
        await pipeline.stop();
      }
    });
  } finally {
    await pool.close();
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
