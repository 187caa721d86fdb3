import path from 'node:path';
import type { OrderInput } from '../../src/core/order';
import { keySlot } from '../../src/queue/key-slot';
import { markerKeys } from '../../src/queue/names';
import { Checks, forEachLimited, log, type Post, postOrder, Random, round, sleep, type ScenarioResult, type Size } from '../common';
import { ChaosEnvironment, chaosOrder, expectedDeliveries } from '../environment';
import { CliProcess, WorkerFleet } from '../processes';
import { deliveryFigures, settleAndCount } from '../queues';
import { ReceiverTally } from '../tally';

/**
 * Scenario "cluster-failover": the pipeline on a local Redis Cluster (3 primaries, a replica
 * each, `cluster-node-timeout` 1.5 s) with `QUEUE_PARTITIONS` partitions. Orders are posted to
 * `dropship start --role api` (and posted again after anything but a 202, as a store's
 * webhook is) while `--role workers` processes deliver them; mid-run one primary, serving
 * some of the partitions, is SIGKILLed and its replica promoted by the cluster, and the dead
 * node is started again a few seconds later (as an orchestrator restarts a container) to
 * rejoin as the new primary's replica. Every order answered 202 must be delivered (intake
 * answers 202 only once a replica has the order: `WAIT`), none twice where the receiver could
 * not drop the copy, and every partition must be served again afterwards. Between the failover and the rejoin, the promoted primary
 * has no replica: orders of its partitions are answered 503 `ENOT_DURABLE` (and posted again).
 */

export interface ClusterFailoverSize {
  orders: number;
  workers: number;
  perSecond: number;
  partitions: number;
  /** The primary is killed this long after the first order. */
  killAfterMs: number;
  /** The killed node is started again this long after the failover. */
  restartAfterMs: number;
  settleMs: number;
}

export const CLUSTER_FAILOVER: Record<Size, ClusterFailoverSize> = {
  full: { orders: 1200, workers: 2, perSecond: 30, partitions: 6, killAfterMs: 12_000, restartAfterMs: 5000, settleMs: 180_000 },
  quick: { orders: 180, workers: 2, perSecond: 15, partitions: 6, killAfterMs: 4000, restartAfterMs: 3000, settleMs: 120_000 },
};

export async function clusterFailover(size: Size, seed: number, override: Partial<ClusterFailoverSize> = {}): Promise<ScenarioResult> {
  const s = { ...CLUSTER_FAILOVER[size], ...override };
  const started = Date.now();
  const checks = new Checks();
  const random = new Random(seed);
  const env = await ChaosEnvironment.startOnCluster('cluster-failover', s.partitions);
  const cluster = env.cluster!;
  let fleet: WorkerFleet | undefined;
  let api: CliProcess | undefined;
  let tally: ReceiverTally | undefined;
  try {
    env.applyDefaults();
    const config = env.config();
    const keys = env.keys;
    const orders = Array.from({ length: s.orders }, (_, i) => chaosOrder('F', i));
    tally = new ReceiverTally(env.demo);
    tally.start();
    // Short lock and stall timings: a job whose lock was on the lost primary runs again soon.
    const processEnv = env.processEnv({ DROPSHIP_LOCK_DURATION: '5s', DROPSHIP_STALLED_INTERVAL: '5s' });
    api = await CliProcess.start('api', ['start', '--role', 'api'], processEnv, path.join(env.dir, 'api.log'));
    await api.ready();
    // The API records the partition count first; the workers then find it.
    fleet = new WorkerFleet(processEnv, env.dir);
    await fleet.start(s.workers);
    const base = api.url;

    // The victim: a primary serving at least one partition, chosen by the seed.
    const primaries = await cluster.primaries();
    const owners = await Promise.all(keys.prefixes.map((p) => cluster.primaryOf(keySlot(p))));
    const serving = primaries.filter((p) => owners.includes(p.address));
    const victim = random.pick(serving);
    const victimPartitions = owners.map((o, n) => (o === victim.address ? n : -1)).filter((n) => n >= 0);
    log(`[cluster-failover] API on ${base}, ${s.workers} worker processes; ${s.orders} orders at ${s.perSecond}/s; primary ${victim.address} (partitions ${victimPartitions.join(', ')}) is killed ${s.killAfterMs / 1000} s in`);

    const posts: Post[] = [];
    const accepted = new Map<string, OrderInput>();
    const acceptedAt = new Map<string, number>();
    let killedAt = Number.POSITIVE_INFINITY;
    let servedAgainAt = Number.POSITIVE_INFINITY;
    let primariesAfter = '';
    let rejoinedAt = Number.POSITIVE_INFINITY;

    const failover = (async () => {
      await sleep(s.killAfterMs);
      killedAt = Date.now();
      await cluster.kill(victim.address);
      log(`[cluster-failover] primary ${victim.address} SIGKILLed; ${accepted.size} orders accepted so far`);
      primariesAfter = await cluster.waitForFailover(victim.address, 60_000);
      servedAgainAt = Date.now();
      log(`[cluster-failover] every slot served again after ${round((servedAgainAt - killedAt) / 1000)} s; primaries now ${primariesAfter}`);
      await sleep(s.restartAfterMs);
      await cluster.restart(victim.address);
      rejoinedAt = Date.now();
      log(`[cluster-failover] ${victim.address} started again: a replica in sync ${round((rejoinedAt - killedAt) / 1000)} s after the kill`);
    })();

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
          acceptedAt.set(order.id, Date.now());
          return;
        }
        await sleep(500);
      }
    });
    await failover;

    // Orders accepted once the cluster served every slot again, by partition: all still served.
    const afterFailover = [...acceptedAt].filter(([, at]) => at > servedAgainAt).map(([id]) => id);
    const notDurable = posts.filter((p) => p.status === 503 && p.startedAt >= killedAt && p.endedAt <= rejoinedAt).length;
    const partitionsAfter = new Set(afterFailover.map((id) => keys.indexOf(id)));

    tally.expect(expectedDeliveries([...accepted.values()], config));
    const run = await settleAndCount(env, tally, 'cluster-failover', s.settleMs, 2000);
    const { figures, queues, missing } = run;
    const deliveredAfter = afterFailover.length > 0 && afterFailover.every((id) => !missing.some((m) => m.startsWith(`${id}+`)));
    const answers: Record<string, number> = {};
    for (const p of posts) answers[String(p.status)] = (answers[String(p.status)] ?? 0) + 1;

    checks.add('the primary failed over', Number.isFinite(servedAgainAt), `every slot served again ${round((servedAgainAt - killedAt) / 1000)} s after the kill`);
    checks.add('every order accepted in the end', accepted.size === s.orders, `${accepted.size}/${s.orders}; answers by status ${JSON.stringify(answers)}`);
    checks.add('0 accepted orders lost', figures.lost === 0, `${figures.arrived}/${figures.expected} deliveries of accepted orders arrived; failed jobs ${queues.failed} ${JSON.stringify(queues.failedReasons)}`);
    // A delivery in flight when its primary died can run again (its lock, or its delivered mark,
    // was on the primary and not yet on the replica), as after a worker's death: receivers
    // that take a key (Message-ID, Idempotency-Key) drop the copy; SFTP files keep their name;
    // carriers take no key, so an extra label must at least be flagged for an operator.
    checks.add(
      '0 duplicate deliveries a receiver cannot drop',
      figures.sftp.duplicateFiles === 0 && figures.sftp.leftoverTempFiles === 0 && figures.undroppableDuplicates === 0,
      `${figures.sftp.duplicateFiles} extra SFTP files, ${figures.sftp.leftoverTempFiles} .part files, ${figures.undroppableDuplicates} extra carrier labels; ${figures.droppableDuplicates} copies dropped by Message-ID/Idempotency-Key`,
    );
    const client = env.client();
    const flagged = new Set<string>();
    try {
      for (const prefix of keys.prefixes) for (const id of Object.keys(await client.hgetall(markerKeys.unconfirmedLabels(prefix)))) flagged.add(id);
    } finally {
      client.disconnect();
    }
    const unflagged = figures.duplicatedCarrierDeliveries.filter((id) => !flagged.has(id));
    checks.add('every extra carrier label flagged for an operator', unflagged.length === 0, `${figures.duplicatedCarrierDeliveries.length} labels bought twice, ${flagged.size} flagged`);
    checks.add(
      'every partition still served',
      partitionsAfter.size === s.partitions && deliveredAfter,
      `orders accepted after the failover fell in ${partitionsAfter.size}/${s.partitions} partitions, ${deliveredAfter ? 'all delivered' : 'not all delivered'}`,
    );
    checks.add('no process died by itself', fleet.figures.unexpectedExits.length === 0 && api.running, [...fleet.figures.unexpectedExits, api.running ? '' : `api: ${api.output().slice(-300)}`].filter(Boolean).join('; ') || 'none');

    return {
      name: 'cluster-failover',
      ok: checks.ok,
      seconds: round((Date.now() - started) / 1000),
      figures: {
        orders: s.orders,
        partitions: s.partitions,
        accepted: accepted.size,
        posts: posts.length,
        answers,
        killedPrimary: victim.address,
        killedPartitions: victimPartitions.length,
        failoverSeconds: round((servedAgainAt - killedAt) / 1000),
        replicaBackSeconds: round((rejoinedAt - killedAt) / 1000),
        answered503WithoutReplica: notDurable,
        acceptedAfterFailover: afterFailover.length,
        partitionsServedAfter: partitionsAfter.size,
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
