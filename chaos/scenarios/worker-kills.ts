import type { OrderProducer } from '../../src/app/producer';
import { markerKeys } from '../../src/queue/names';
import { Checks, log, Random, round, sleep, type ScenarioResult, type Size } from '../common';
import { ChaosEnvironment, chaosOrder, expectedDeliveries, PREFIX } from '../environment';
import { countInLogs, WorkerFleet, type CliProcess } from '../processes';
import { settleAndCount } from '../queues';
import { submitPaced } from '../submit';
import { ReceiverTally } from '../tally';

/**
 * Scenario 1, "workers killed": N orders flow through `dropship start --role workers`
 * processes to the real receivers while random worker processes are SIGKILLed at random
 * moments and replaced. Then everything settles and each receiver's view is counted: lost
 * deliveries, duplicate and leftover files on SFTP, messages per Message-ID, requests per
 * Idempotency-Key, labels per carrier transaction (live ones: a label cancelled after a lost
 * answer does not count).
 */

export interface WorkerKillsSize {
  orders: number;
  workers: number;
  /** Orders submitted per second (the flow lasts orders / perSecond). */
  perSecond: number;
  /** Random pause between kills, in ms. */
  killEveryMs: [number, number];
  /** Kills go on this long after the last order is in (deliveries are still flowing then). */
  killAfterSubmitMs: number;
  /** How long the deliveries may take to settle after the last kill. */
  settleMs: number;
}

export const WORKER_KILLS: Record<Size, WorkerKillsSize> = {
  full: { orders: 2000, workers: 3, perSecond: 40, killEveryMs: [2000, 8000], killAfterSubmitMs: 10_000, settleMs: 300_000 },
  quick: { orders: 150, workers: 3, perSecond: 15, killEveryMs: [2500, 5000], killAfterSubmitMs: 3000, settleMs: 150_000 },
};

/** BullMQ's own defaults, which `dropship start` leaves in place (it has no option to lower them). */
/** Lock and stall timings of the workers (env of `dropship start`): a killed worker's jobs run again within about 15 s. */
const CLI_LOCK_TIMINGS = { DROPSHIP_LOCK_DURATION: '10s', DROPSHIP_STALLED_INTERVAL: '5s' };

export async function workerKills(size: Size, seed: number, override: Partial<WorkerKillsSize> = {}): Promise<ScenarioResult> {
  const s = { ...WORKER_KILLS[size], ...override };
  const random = new Random(seed);
  const started = Date.now();
  const checks = new Checks();
  const env = await ChaosEnvironment.start('worker-kills');
  let fleet: WorkerFleet | undefined;
  let tally: ReceiverTally | undefined;
  let producer: OrderProducer | undefined;
  try {
    env.applyDefaults();
    const config = env.config();
    producer = env.producer(config);
    const orders = Array.from({ length: s.orders }, (_, i) => chaosOrder('K', i));
    const expected = expectedDeliveries(orders, config);
    tally = new ReceiverTally(env.demo);
    tally.expect(expected);
    tally.start();
    fleet = new WorkerFleet(env.processEnv(CLI_LOCK_TIMINGS), env.dir);
    await fleet.start(s.workers);
    log(`[worker-kills] ${s.workers} worker processes ready; ${s.orders} orders (${expected.length} deliveries) at ${s.perSecond}/s, seed ${seed}`);

    let submitting = true;
    let lastKillAt = Date.now();
    const kills: string[] = [];
    const t0 = Date.now();
    const chaos = (async () => {
      const f = fleet as WorkerFleet;
      const t = tally as ReceiverTally;
      let submittedAt: number | undefined;
      for (;;) {
        await sleep(random.between(s.killEveryMs[0], s.killEveryMs[1]));
        if (!submitting) submittedAt ??= Date.now();
        if (submittedAt !== undefined && Date.now() - submittedAt > s.killAfterSubmitMs) break;
        if (t.allArrived) break;
        const victim: CliProcess = random.pick(f.running);
        await f.kill(victim);
        lastKillAt = Date.now();
        kills.push(`${victim.name}@${round((lastKillAt - t0) / 1000)}s`);
        log(`[worker-kills] SIGKILL ${victim.name} (pid ${victim.pid}) at ${round((lastKillAt - t0) / 1000)} s; ${t.arrivedCount}/${expected.length} delivered so far`);
        await f.add();
      }
    })();
    const submission = await submitPaced(producer, orders, { perSecond: s.perSecond });
    submitting = false;
    await chaos;
    log(`[worker-kills] ${kills.length} kills done; waiting for the deliveries to settle (stalled jobs come back once their 10 s lock lapses)`);

    // Settled: nothing left to run (a delivery that failed for good will not arrive later).
    // A late duplicate (a stalled job re-run) would land within a few seconds.
    const { settledAt, figures, queues, missing } = await settleAndCount(env, tally, 'worker-kills', s.settleMs, 3000);
    const settleSeconds = (settledAt - lastKillAt) / 1000;

    checks.add('workers were killed', kills.length > 0, `${kills.length} SIGKILLs: ${kills.join(' ')}`);
    checks.add('every order accepted', submission.accepted === s.orders, `${submission.accepted}/${s.orders} accepted; errors ${JSON.stringify(submission.errors)}`);
    checks.add('0 deliveries lost', figures.lost === 0, `${figures.arrived}/${figures.expected} arrived; failed jobs ${queues.failed} ${JSON.stringify(queues.failedReasons)}`);
    checks.add('0 duplicate files on SFTP', figures.sftp.duplicateFiles === 0, `${figures.sftp.duplicateFiles} extra files for one order`);
    checks.add('no upload debris on SFTP', figures.sftp.leftoverTempFiles === 0 && figures.sftp.badContent === 0, `${figures.sftp.leftoverTempFiles} .part files left, ${figures.sftp.badContent} files with wrong content`);
    checks.add(
      'duplicates only where the receiver can drop them, or the carrier was asked first',
      figures.undroppableDuplicates <= figures.labels.cancelled,
      `${figures.droppableDuplicates} droppable by Message-ID/Idempotency-Key; ${figures.undroppableDuplicates} carrier purchases beyond one per delivery: ${figures.labels.cancelled} of their labels cancelled after a lost answer, ${figures.labels.boughtTwice.length} still live`,
    );
    // No carrier takes an idempotency key: after an attempt whose answer died with its worker,
    // the carrier is asked by the label's reference (UPS gives the label back, FedEx's shipment
    // is cancelled) before one is bought again. Target: no delivery holds two live labels.
    const client = env.client();
    const flagged = new Set(Object.keys(await client.hgetall(markerKeys.unconfirmedLabels(PREFIX))));
    client.disconnect();
    const { labels } = figures;
    checks.add(
      '0 labels bought twice',
      labels.boughtTwice.length === 0,
      `${labels.boughtTwice.length} deliveries with two live labels${labels.boughtTwice.length > 0 ? ` (${labels.boughtTwice.slice(0, 5).join(', ')})` : ''}; ${labels.recoveryQuestions} lost answers asked about: ${labels.recovered} labels given back by UPS, ${labels.cancelled} FedEx shipments cancelled; ${flagged.size} flagged as possibly bought twice`,
    );
    const unflagged = labels.boughtTwice.filter((id) => !flagged.has(id));
    checks.add('every label bought twice flagged for an operator', unflagged.length === 0, unflagged.length > 0 ? `not flagged: ${unflagged.slice(0, 5).join(', ')}` : 'none unflagged');
    checks.add('no worker died by itself', fleet.figures.unexpectedExits.length === 0, fleet.figures.unexpectedExits.join('; ') || 'none');
    checks.add('nothing left in the queues', queues.unfinished === 0 && queues.failed === 0, `${queues.unfinished} unfinished, ${queues.failed} failed`);

    return {
      name: 'worker-kills',
      ok: checks.ok,
      seconds: round((Date.now() - started) / 1000),
      figures: {
        orders: s.orders,
        deliveries: figures.expected,
        workerProcesses: s.workers,
        kills: kills.length,
        workerProcessesStarted: fleet.figures.started,
        lost: figures.lost,
        sftpDuplicateFiles: figures.sftp.duplicateFiles,
        sftpLeftoverTempFiles: figures.sftp.leftoverTempFiles,
        sftpRewrites: figures.sftp.rewrites,
        smtpDuplicateMessages: figures.byRecipient['alpine-chocolatier']?.extraCopies ?? 0,
        httpsDuplicateRequests: figures.byRecipient['olive-grove']?.extraCopies ?? 0,
        carrierPurchasesBeyondOne: figures.undroppableDuplicates,
        carrierLabelsBoughtTwice: labels.boughtTwice.length,
        carrierLostAnswersAsked: labels.recoveryQuestions,
        carrierLabelsRecovered: labels.recovered,
        carrierLabelsCancelled: labels.cancelled,
        carrierLabelsFlagged: flagged.size,
        carrierDuplicatesUnflagged: unflagged.length,
        stalledJobsRecovered: countInLogs(env.dir, /stalled \(its worker died\)/),
        failedJobs: queues.failed,
        failedReasons: queues.failedReasons,
        missing: missing.slice(0, 10),
        unfinishedJobs: queues.unfinished,
        settleSecondsAfterLastKill: round(settleSeconds),
        flowSeconds: round((lastKillAt - t0) / 1000),
        lockTimings: CLI_LOCK_TIMINGS,
        byRecipient: figures.byRecipient,
      },
      checks: checks.list,
    };
  } finally {
    tally?.stop();
    await fleet?.stopAll(5000);
    await producer?.close().catch(() => undefined);
    await env.stop();
  }
}
