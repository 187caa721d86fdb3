import type { OrderInput } from '../../src/core/order';
import { Checks, forEachLimited, log, type Post, postOrder, round, sleep, type ScenarioResult, type Size } from '../common';
import { ChaosEnvironment, chaosOrder, expectedDeliveries } from '../environment';
import { CliProcess, WorkerFleet } from '../processes';
import { deliveryFigures, settleAndCount } from '../queues';
import { ReceiverTally } from '../tally';
import path from 'node:path';

/**
 * Scenario 2, "Redis restarted": orders are posted to `dropship start --role api` while
 * `dropship start --role workers` processes deliver them; mid-run the private redis-server
 * (append-only file, `appendfsync everysec`) is SIGKILLed and started again on the same port
 * and data folder after a pause. While it is away the API must answer 503 (not accept what it
 * cannot keep) and `/readyz` must say so; afterwards it must accept again by itself, and every
 * order it answered 202 must be delivered.
 */

export interface RedisRestartSize {
  orders: number;
  workers: number;
  perSecond: number;
  /** Redis is killed this long after the first order. */
  downAfterMs: number;
  /** And stays away this long. */
  downForMs: number;
  settleMs: number;
}

export const REDIS_RESTART: Record<Size, RedisRestartSize> = {
  full: { orders: 1200, workers: 2, perSecond: 30, downAfterMs: 12_000, downForMs: 15_000, settleMs: 180_000 },
  quick: { orders: 150, workers: 2, perSecond: 15, downAfterMs: 3000, downForMs: 5000, settleMs: 120_000 },
};

export async function redisRestart(size: Size, _seed: number, override: Partial<RedisRestartSize> = {}): Promise<ScenarioResult> {
  const s = { ...REDIS_RESTART[size], ...override };
  const started = Date.now();
  const checks = new Checks();
  const env = await ChaosEnvironment.start('redis-restart');
  let fleet: WorkerFleet | undefined;
  let api: CliProcess | undefined;
  let tally: ReceiverTally | undefined;
  try {
    env.applyDefaults();
    const config = env.config();
    const orders = Array.from({ length: s.orders }, (_, i) => chaosOrder('R', i));
    tally = new ReceiverTally(env.demo);
    tally.start();
    fleet = new WorkerFleet(env.processEnv(), env.dir);
    api = await CliProcess.start('api', ['start', '--role', 'api'], env.processEnv(), path.join(env.dir, 'api.log'));
    await Promise.all([fleet.start(s.workers), api.ready()]);
    const base = api.url;
    log(`[redis-restart] API on ${base}, ${s.workers} worker processes; ${s.orders} orders at ${s.perSecond}/s; Redis goes away ${s.downAfterMs / 1000} s in, for ${s.downForMs / 1000} s`);

    const posts: Post[] = [];
    const accepted = new Map<string, OrderInput>();
    let downAt = Number.POSITIVE_INFINITY;
    let upAt = Number.POSITIVE_INFINITY;
    const readyz: Array<{ at: number; status: number }> = [];

    const outage = (async () => {
      await sleep(s.downAfterMs);
      downAt = Date.now();
      await env.redis.kill();
      log(`[redis-restart] redis-server SIGKILLed; ${accepted.size} orders accepted so far`);
      const probe = setInterval(() => {
        void fetch(`${base}/readyz`, { signal: AbortSignal.timeout(3000) })
          .then(async (r) => {
            await r.arrayBuffer();
            readyz.push({ at: Date.now(), status: r.status });
          })
          .catch(() => readyz.push({ at: Date.now(), status: 0 }));
      }, 500);
      await sleep(s.downForMs);
      clearInterval(probe);
      await env.restartRedis();
      upAt = Date.now();
      log(`[redis-restart] redis-server started again on the same port and append-only file`);
    })();

    // The client: each order posted at its time, and posted again after anything but a 202
    // (as a store's webhook delivery would be), until accepted.
    const t0 = Date.now();
    await forEachLimited(orders, 8, async (order, i) => {
      const due = t0 + (i * 1000) / s.perSecond;
      if (due > Date.now()) await sleep(due - Date.now());
      for (let tries = 0; tries < 400; tries++) {
        const startedAt = Date.now();
        const status = await postOrder(base, order);
        posts.push({ orderId: order.id, startedAt, endedAt: Date.now(), status });
        if (status === 202) {
          accepted.set(order.id, order);
          return;
        }
        await sleep(500);
      }
    });
    await outage;

    const during = posts.filter((p) => p.startedAt > downAt + 50 && p.endedAt < upAt);
    const acceptedWhileDown = during.filter((p) => p.status === 202).length;
    const answeredWhileDown: Record<string, number> = {};
    for (const p of during) answeredWhileDown[String(p.status)] = (answeredWhileDown[String(p.status)] ?? 0) + 1;
    const firstAfter = posts.filter((p) => p.startedAt >= upAt && p.status === 202).sort((a, b) => a.endedAt - b.endedAt)[0];
    const recoverySeconds = firstAfter === undefined ? Number.NaN : (firstAfter.endedAt - upAt) / 1000;
    const readyzDown = readyz.filter((r) => r.at > downAt + 200 && r.at < upAt);

    tally.expect(expectedDeliveries([...accepted.values()], config));
    const run = await settleAndCount(env, tally, 'redis-restart', s.settleMs, 2000);
    const { figures, queues } = run;

    checks.add('the API answered while Redis was away', during.length > 0, `${during.length} posts during the outage: ${JSON.stringify(answeredWhileDown)}`);
    checks.add('nothing accepted while Redis was away', acceptedWhileDown === 0, `${acceptedWhileDown} answered 202 while Redis was down`);
    checks.add('503 while Redis was away', during.length > 0 && (answeredWhileDown['503'] ?? 0) === during.length, `answers during the outage by status: ${JSON.stringify(answeredWhileDown)}`);
    checks.add(
      '/readyz 503 while Redis was away',
      readyzDown.length > 0 && readyzDown.every((r) => r.status === 503),
      `${readyzDown.filter((r) => r.status === 503).length}/${readyzDown.length} probes answered 503`,
    );
    checks.add('the API recovered by itself', Number.isFinite(recoverySeconds) && recoverySeconds < 20, `first 202 ${round(recoverySeconds)} s after Redis was back`);
    checks.add('every order accepted in the end', accepted.size === s.orders, `${accepted.size}/${s.orders}`);
    checks.add('0 accepted orders lost', figures.lost === 0, `${figures.arrived}/${figures.expected} deliveries of accepted orders arrived; failed jobs ${queues.failed} ${JSON.stringify(queues.failedReasons)}`);
    checks.add('0 duplicate files on SFTP', figures.sftp.duplicateFiles === 0 && figures.sftp.leftoverTempFiles === 0, `${figures.sftp.duplicateFiles} extra files, ${figures.sftp.leftoverTempFiles} .part files`);
    checks.add('no process died by itself', fleet.figures.unexpectedExits.length === 0 && api.running, [...fleet.figures.unexpectedExits, api.running ? '' : `api: ${api.output().slice(-300)}`].filter(Boolean).join('; ') || 'none');

    return {
      name: 'redis-restart',
      ok: checks.ok,
      seconds: round((Date.now() - started) / 1000),
      figures: {
        orders: s.orders,
        accepted: accepted.size,
        posts: posts.length,
        redisDownSeconds: round((upAt - downAt) / 1000),
        postsWhileDown: during.length,
        answersWhileDown: answeredWhileDown,
        acceptedWhileDown,
        readyzWhileDown: readyzDown.length,
        recoverySeconds: round(recoverySeconds),
        ...deliveryFigures(run),
      },
      checks: checks.list,
    };
  } finally {
    tally?.stop();
    await Promise.all([fleet?.stopAll(5000), api?.stop(5000)]);
    await env.stop();
  }
}
