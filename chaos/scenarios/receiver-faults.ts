import { Queue } from 'bullmq';
import type { RedisClient as Redis } from '../../src/queue/redis';
import type { OrderInput } from '../../src/core/order';
import type { OrderProducer } from '../../src/app/producer';
import { Checks, log, percentile, round, sleep, waitUntil, type ScenarioResult, type Size } from '../common';
import { ChaosEnvironment, chaosOrder, expectedDeliveries, PREFIX, SUPPLIERS } from '../environment';
import { FaultProxy } from '../fault-proxy';
import { WorkerFleet } from '../processes';
import { queueReport } from '../queues';
import { submitPaced } from '../submit';
import { ReceiverTally } from '../tally';

/**
 * Scenario 3, "a receiver misbehaves": orders flow at a steady rate through
 * `dropship start --role workers` processes while, one phase at a time,
 * - the SFTP supplier's OpenSSH sshd is down (SIGKILLed with its sessions, started again after
 *   the phase: connections refused meanwhile);
 * - the SMTP supplier's server hangs (a proxy in front accepts connections and never answers);
 * - the HTTPS supplier answers slowly (every byte from it arrives 5 s late).
 * Each phase is compared with a fault-free phase at the same rate: the other recipients'
 * delivery latency and rate must not suffer, the misbehaving one is retried with a growing
 * backoff, and everything lands once it recovers.
 */

export interface ReceiverFaultsSize {
  perSecond: number;
  baselineMs: number;
  downMs: number;
  hangMs: number;
  slowMs: number;
  /** How late the slow receiver's answers come. */
  slowDelayMs: number;
  /** SMTP timeout (how soon a hung server is given up on, per attempt). */
  smtpTimeout: string;
  /** HTTPS timeout: longer than a slow answer, which must still land. */
  httpsTimeout: string;
  workers: number;
  /** How long a phase's deliveries may take to land after the fault is lifted. */
  recoverMs: number;
}

export const RECEIVER_FAULTS: Record<Size, ReceiverFaultsSize> = {
  full: { perSecond: 6, baselineMs: 20_000, downMs: 60_000, hangMs: 30_000, slowMs: 30_000, slowDelayMs: 5000, smtpTimeout: '10s', httpsTimeout: '20s', workers: 3, recoverMs: 150_000 },
  quick: { perSecond: 5, baselineMs: 6000, downMs: 10_000, hangMs: 6000, slowMs: 10_000, slowDelayMs: 5000, smtpTimeout: '3s', httpsTimeout: '15s', workers: 3, recoverMs: 60_000 },
};

interface Fault {
  /** The recipient that misbehaves. */
  recipient: string;
  what: string;
  apply(): Promise<void>;
  lift(): Promise<void>;
}

interface PhaseResult {
  name: string;
  faulty?: string;
  orders: number;
  /** Latency per recipient (ms from acceptance to arrival): p50, p95, count. */
  latency: Record<string, { p50: number; p95: number; n: number }>;
  /** Deliveries per second that landed during the phase window, per recipient. */
  rate: Record<string, number>;
  /** Seconds from lifting the fault until the phase's last delivery landed. */
  recoverySeconds: number;
  allLanded: boolean;
  /** When the fault was on (ms since epoch). */
  window: [number, number];
}

/** Attempts and last-attempt duration (ms) of the delivery jobs `ids` of one queue (completed jobs are kept for retention.completedJobs). */
async function jobsOf(client: Redis, queueName: string, ids: ReadonlySet<string>): Promise<Array<{ attempts: number; ms: number; startedAt: number }>> {
  const queue = new Queue(queueName, { connection: client, prefix: PREFIX });
  try {
    const jobs = await queue.getJobs(['completed', 'failed'], 0, -1);
    return jobs
      .filter((j) => j.id !== undefined && ids.has(j.id))
      .map((j) => ({ attempts: j.attemptsMade, ms: (j.finishedOn ?? Number.NaN) - (j.processedOn ?? Number.NaN), startedAt: j.processedOn ?? Number.NaN }));
  } finally {
    await queue.close();
  }
}

export async function receiverFaults(size: Size, _seed: number, override: Partial<ReceiverFaultsSize> = {}): Promise<ScenarioResult> {
  const s = { ...RECEIVER_FAULTS[size], ...override };
  const started = Date.now();
  const checks = new Checks();
  const env = await ChaosEnvironment.start('receiver-faults');
  const demo = env.demo;
  let fleet: WorkerFleet | undefined;
  let tally: ReceiverTally | undefined;
  let producer: OrderProducer | undefined;
  const proxies: FaultProxy[] = [];
  const client = env.client();
  try {
    const { smtp, https, sshd } = demo;
    if (smtp === undefined || https === undefined || sshd === undefined) throw new Error('receivers missing');
    const smtpProxy = await FaultProxy.start({ host: smtp.host, port: smtp.port });
    const httpsProxy = await FaultProxy.start({ host: '127.0.0.1', port: https.port });
    proxies.push(smtpProxy, httpsProxy);
    env.applyDefaults();
    env.editSupplier(SUPPLIERS.email, (doc) => {
      const smtpOptions = doc.delivery.smtp as Record<string, unknown>;
      smtpOptions.port = smtpProxy.port;
      smtpOptions.timeout = s.smtpTimeout;
    });
    env.editSupplier(SUPPLIERS.https, (doc) => {
      doc.delivery.url = `https://127.0.0.1:${httpsProxy.port}/v1/purchase-orders`;
      doc.delivery.timeout = s.httpsTimeout;
    });
    const config = env.config();
    producer = env.producer(config);
    tally = new ReceiverTally(demo);
    tally.start();
    fleet = new WorkerFleet(env.processEnv(), env.dir);
    await fleet.start(s.workers);

    const faults: Array<{ name: string; ms: number; fault?: Fault }> = [
      { name: 'baseline', ms: s.baselineMs },
      {
        name: 'sftp-down',
        ms: s.downMs,
        fault: { recipient: SUPPLIERS.sftp, what: `OpenSSH sshd down for ${s.downMs / 1000} s`, apply: async () => sshd.kill(), lift: () => sshd.restart() },
      },
      {
        name: 'smtp-hang',
        ms: s.hangMs,
        fault: { recipient: SUPPLIERS.email, what: `SMTP server accepting connections and never answering for ${s.hangMs / 1000} s`, apply: () => smtpProxy.set('hang'), lift: () => smtpProxy.set('pass') },
      },
      {
        name: 'https-slow',
        ms: s.slowMs,
        fault: {
          recipient: SUPPLIERS.https,
          what: `HTTPS server answering ${s.slowDelayMs / 1000} s late for ${s.slowMs / 1000} s`,
          apply: () => httpsProxy.set({ delayMs: s.slowDelayMs }),
          lift: () => httpsProxy.set('pass'),
        },
      },
    ];

    const phases: PhaseResult[] = [];
    let index = 0;
    const recipientsIn = new Set<string>();
    const phaseOrders = new Map<string, Set<string>>();
    for (const phase of faults) {
      const count = Math.round((phase.ms / 1000) * s.perSecond);
      const orders: OrderInput[] = Array.from({ length: count }, () => chaosOrder('F', index++));
      const expected = expectedDeliveries(orders, config);
      for (const d of expected) recipientsIn.add(d.recipient);
      tally.expect(expected);
      const ids = new Set(orders.map((o) => o.id));
      phaseOrders.set(phase.name, new Set(expected.map((d) => d.deliveryId)));
      log(`[receiver-faults] phase ${phase.name}: ${phase.fault?.what ?? 'no fault'}; ${count} orders at ${s.perSecond}/s`);
      await phase.fault?.apply();
      const windowStart = Date.now();
      const submission = await submitPaced(producer, orders, { perSecond: s.perSecond });
      const windowEnd = Date.now();
      await phase.fault?.lift();
      const liftedAt = Date.now();
      const landed = await waitUntil(() => expected.every((d) => tally!.arrival(d) !== undefined), s.recoverMs, 250);
      const lastArrival = Math.max(...expected.map((d) => tally!.arrival(d)?.firstAt ?? Number.NaN));
      const latency: PhaseResult['latency'] = {};
      for (const [recipient, values] of Object.entries(tally.latencies(ids, (id) => submission.acceptedAt.get(id)))) {
        latency[recipient] = { p50: Math.round(percentile(values, 50)), p95: Math.round(percentile(values, 95)), n: values.length };
      }
      const rate: Record<string, number> = {};
      for (const d of expected) {
        const arrival = tally.arrival(d);
        if (arrival !== undefined && arrival.firstAt >= windowStart && arrival.firstAt <= windowEnd) rate[d.recipient] = (rate[d.recipient] ?? 0) + 1;
      }
      for (const r of Object.keys(rate)) rate[r] = round((rate[r] as number) / ((windowEnd - windowStart) / 1000), 2);
      phases.push({
        name: phase.name,
        ...(phase.fault ? { faulty: phase.fault.recipient } : {}),
        orders: count,
        latency,
        rate,
        recoverySeconds: round((lastArrival - liftedAt) / 1000),
        allLanded: landed,
        window: [windowStart, windowEnd],
      });
      log(`[receiver-faults] phase ${phase.name}: ${landed ? 'everything landed' : 'NOT everything landed'}; latency ${JSON.stringify(latency)}`);
    }

    await sleep(1500);
    const figures = tally.figures();
    const queues = await queueReport(env, client);
    const baseline = phases[0] as PhaseResult;
    const others: Record<string, unknown> = {};
    let slowAnswer: Record<string, number> = {};
    for (const phase of phases.slice(1)) {
      const faulty = phase.faulty as string;
      // Attempts per delivery of the faulty recipient in this phase: retried, with a growing backoff.
      const queueName = `po-${faulty}`;
      const jobs = await jobsOf(client, queueName, phaseOrders.get(phase.name) ?? new Set());
      const retried = jobs.filter((j) => j.attempts > 1).length;
      const maxAttempts = jobs.length > 0 ? Math.max(...jobs.map((j) => j.attempts)) : 0;
      const slowed: string[] = [];
      const compared: Record<string, string> = {};
      for (const recipient of recipientsIn) {
        if (recipient === faulty) continue;
        const b = baseline.latency[recipient];
        const p = phase.latency[recipient];
        if (b === undefined || p === undefined) continue;
        compared[recipient] = `p95 ${p.p95} ms vs ${b.p95} ms, ${phase.rate[recipient] ?? 0}/s vs ${baseline.rate[recipient] ?? 0}/s`;
        // Not slowed: within 3× the fault-free p95 or 1.5 s of it, whichever is looser (two
        // shared cores make single-digit-millisecond baselines noisy).
        if (p.p95 > Math.max(3 * b.p95, b.p95 + 1500)) slowed.push(recipient);
        if ((phase.rate[recipient] ?? 0) < 0.7 * (baseline.rate[recipient] ?? 0)) slowed.push(`${recipient} (rate)`);
      }
      others[phase.name] = compared;
      checks.add(`${phase.name}: the other recipients not slowed`, slowed.length === 0, `${slowed.length > 0 ? `slowed: ${slowed.join(', ')}; ` : ''}${JSON.stringify(compared)}`);
      if (phase.name === 'https-slow') {
        // How long the successful attempt took, as the worker saw it: the slow answer itself.
        // Attempts that began while the receiver was slow and had the whole delay to run into it.
        const during = jobs.filter((j) => j.startedAt >= phase.window[0] && j.startedAt <= phase.window[1] - s.slowDelayMs);
        const answerMs = Math.round(percentile(during.map((j) => j.ms).filter(Number.isFinite), 50));
        slowAnswer = { p50Ms: answerMs, retried, deliveries: jobs.length };
        checks.add(
          `${phase.name}: the slow receiver still took its deliveries`,
          phase.allLanded && answerMs >= 0.9 * s.slowDelayMs,
          `${during.length} attempts started while it was slow took ${answerMs} ms (p50); ${retried} of ${jobs.length} deliveries needed another attempt`,
        );
      } else {
        // Without backoff a delivery would be tried every 500 ms: 2 per second of fault.
        const hotLoop = Math.ceil((phase.orders / s.perSecond) * 2);
        checks.add(
          `${phase.name}: retried with backoff`,
          retried > 0 && maxAttempts < hotLoop,
          `${retried} of ${jobs.length} deliveries retried, at most ${maxAttempts} attempts (a fixed 500 ms retry would make ~${hotLoop})`,
        );
      }
      checks.add(`${phase.name}: everything delivered after recovery`, phase.allLanded, `last delivery ${phase.recoverySeconds} s after the fault was lifted`);
    }
    checks.add('0 deliveries lost', figures.lost === 0, `${figures.arrived}/${figures.expected}; failed jobs ${queues.failed} ${JSON.stringify(queues.failedReasons)}`);
    checks.add('0 duplicate files on SFTP', figures.sftp.duplicateFiles === 0 && figures.sftp.leftoverTempFiles === 0, `${figures.sftp.duplicateFiles} extra files, ${figures.sftp.leftoverTempFiles} .part files left`);
    checks.add('no worker died by itself', fleet.figures.unexpectedExits.length === 0, fleet.figures.unexpectedExits.join('; ') || 'none');

    return {
      name: 'receiver-faults',
      ok: checks.ok,
      seconds: round((Date.now() - started) / 1000),
      figures: {
        ordersPerSecond: s.perSecond,
        deliveries: figures.expected,
        lost: figures.lost,
        phases: phases.map(({ window: _window, ...rest }) => rest),
        othersVersusBaseline: others,
        sftpDuplicateFiles: figures.sftp.duplicateFiles,
        sftpLeftoverTempFiles: figures.sftp.leftoverTempFiles,
        droppableDuplicates: figures.droppableDuplicates,
        carrierDuplicateLabels: figures.undroppableDuplicates,
        failedJobs: queues.failed,
        failedReasons: queues.failedReasons,
        smtpConnectionsHung: smtpProxy.counts.hung,
        httpsSlowAnswers: slowAnswer,
      },
      checks: checks.list,
    };
  } finally {
    tally?.stop();
    await fleet?.stopAll(5000);
    await producer?.close().catch(() => undefined);
    client.disconnect();
    await Promise.all(proxies.map((p) => p.stop()));
    await env.stop();
  }
}
