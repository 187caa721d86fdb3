import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { simpleParser } from 'mailparser';
import * as openpgp from 'openpgp';
import { SFTP_REMOTE_DIR } from '../../demo/environment';
import { Checks, log, round, sleep, waitUntil, type ScenarioResult, type Size } from '../common';
import { TinyDisk } from '../disk';
import { ChaosEnvironment, chaosOrder, expectedDeliveries, PREFIX, SUPPLIERS } from '../environment';
import { runCli, WorkerFleet } from '../processes';
import { queueReport } from '../queues';
import { submitPaced } from '../submit';
import { ReceiverTally } from '../tally';
import { ChaosCa, TlsFront } from '../tls';

/**
 * Scenario 4, "failures no retry can fix": each supplier's delivery breaks for a reason only
 * a person can fix, and the pipeline must say which, keep the job for replay, and deliver it
 * once the cause is fixed and `dropship replay` is run:
 * - SFTP: the supplier's disk is full (a 64 KiB tmpfs mounted on the drop folder and filled;
 *   where mounting is not allowed, a read-only SFTP server stands in, and the figures say so);
 * - email: the supplier's PGP key has been revoked (generated and revoked with openpgp);
 * - HTTPS: the receiver's TLS certificate has expired (issued by a CA of the harness with a
 *   validity window in the past, presented by a TLS front that passes requests on to the
 *   receiver).
 *
 * `dropship start --role workers` runs with the revoked supplier key, naming it in its log:
 * one supplier's key must not stop every other delivery. After the fixes, new CLI workers (a
 * replaced key is read at start) and `dropship replay` finish them.
 */

export interface PermanentFailuresSize {
  orders: number;
}

export const PERMANENT_FAILURES: Record<Size, PermanentFailuresSize> = {
  full: { orders: 12 },
  quick: { orders: 6 },
};

interface KeyPair {
  publicKey: string;
  privateKey: openpgp.PrivateKey;
}

async function supplierKey(): Promise<KeyPair> {
  const generated = await openpgp.generateKey({ userIDs: [{ name: 'Alpine Chocolatier orders (chaos)', email: 'orders@alpine-chocolatier.example' }], format: 'armored' });
  return { publicKey: generated.publicKey, privateKey: await openpgp.readPrivateKey({ armoredKey: generated.privateKey }) };
}

/** A failed delivery job as an operator would see it. */
interface FailedDelivery {
  id: string;
  reason: string;
  attempts: number;
}

async function failedOf(queue: Queue): Promise<FailedDelivery[]> {
  return (await queue.getFailed(0, -1)).map((j) => ({ id: j.id ?? '', reason: j.failedReason ?? '', attempts: j.attemptsMade }));
}

export async function permanentFailures(size: Size, _seed: number, override: Partial<PermanentFailuresSize> = {}): Promise<ScenarioResult> {
  const s = { ...PERMANENT_FAILURES[size], ...override };
  const started = Date.now();
  const checks = new Checks();
  const env = await ChaosEnvironment.start('permanent-failures');
  let disk: TinyDisk | undefined;
  let ca: ChaosCa | undefined;
  let front: TlsFront | undefined;
  let fleet: WorkerFleet | undefined;
  let tally: ReceiverTally | undefined;
  const client = env.client();
  const queues: Queue[] = [];
  try {
    const { sshd, https } = env.demo;
    if (sshd === undefined || https === undefined) throw new Error('receivers missing');
    // Three attempts 200 ms apart: a failure the pipeline takes for a passing one also ends
    // up failed within seconds, and the attempts made say whether it was retried.
    env.applyDefaults({ attempts: 3, backoff: '200ms' });

    // SFTP: a full disk under the drop folder (or, without mount rights, a read-only server).
    const fullDir = 'full-drop';
    disk = TinyDisk.mount(path.join(sshd.root, fullDir));
    const diskFault = disk ? 'tmpfs of 64 KiB mounted on the drop folder, filled until ENOSPC' : 'read-only SFTP server (internal-sftp -R): no right to mount a small disk here';
    if (disk) {
      disk.fill();
      env.editSupplier(SUPPLIERS.sftp, (doc) => {
        doc.delivery.remoteDir = fullDir;
      });
    } else {
      env.editSupplier(SUPPLIERS.sftp, (doc) => {
        doc.delivery.port = sshd.readOnlyPort;
      });
    }

    // Email: the supplier's key, revoked.
    const revoked = await supplierKey();
    const revocation = await openpgp.revokeKey({ key: revoked.privateKey, format: 'armored' });
    const keyFile = path.join(env.configDir, 'keys', 'alpine-chocolatier.asc');
    writeFileSync(keyFile, revocation.publicKey);

    // HTTPS: an expired certificate in front of the receiver.
    ca = await ChaosCa.create();
    const day = 86_400_000;
    const expired = await ca.issue('expired', new Date(Date.now() - 30 * day), new Date(Date.now() - day));
    front = await TlsFront.start(expired, { port: https.port, ca: https.ca.caPem });
    env.editSupplier(SUPPLIERS.https, (doc) => {
      doc.delivery.url = `https://127.0.0.1:${front!.port}/v1/purchase-orders`;
      doc.delivery.caFile = ca!.caFile;
    });

    // The CLI checks supplier keys at start-up: the workers start all the same, naming the key.
    const config = env.config();
    const firstFleet = new WorkerFleet(env.processEnv(), env.dir);
    fleet = firstFleet;
    await firstFleet.start(1);
    const startLog = firstFleet.processes[0]?.output() ?? '';
    checks.add(
      'CLI workers start with a revoked supplier key, naming it in their log',
      firstFleet.running.length === 1 && /revoked/i.test(startLog) && startLog.includes(SUPPLIERS.email),
      `${firstFleet.running.length} worker process running; log: ${startLog.split('\n').filter((l) => /revoked/i.test(l)).join(' ').slice(0, 300) || startLog.slice(-300)}`,
    );
    const orders = Array.from({ length: s.orders }, (_, i) => chaosOrder('P', i));
    const expected = expectedDeliveries(orders, config);
    tally = new ReceiverTally(env.demo, disk ? fullDir : SFTP_REMOTE_DIR);
    tally.expect(expected);
    tally.start();
    const producer = env.producer(config);
    await submitPaced(producer, orders, { perSecond: 50 });
    await producer.close();

    const broken = [SUPPLIERS.sftp, SUPPLIERS.email, SUPPLIERS.https];
    const brokenExpected = expected.filter((d) => broken.includes(d.recipient as (typeof broken)[number]));
    for (const id of broken) queues.push(new Queue(`po-${id}`, { connection: client, prefix: PREFIX }));
    const failed = async (): Promise<FailedDelivery[]> => (await Promise.all(queues.map(failedOf))).flat();
    // Wait until every broken delivery is over: failed (as it should be) or, wrongly, completed.
    const completedIds = async (): Promise<string[]> => (await Promise.all(queues.map((q) => q.getCompleted(0, -1)))).flat().map((j) => j.id ?? '');
    const allSettled = await waitUntil(async () => (await failed()).length + (await completedIds()).length >= brokenExpected.length, 60_000, 500);
    const failures = await failed();
    const completedAnyway = new Set(await completedIds());
    // Stopped before the fixes: a replaced key is read when workers start.
    await firstFleet.stopAll(5000);
    fleet = undefined;
    // A delivery reported done whose file is empty or cut short: lost without anyone knowing.
    const silentlyLost = brokenExpected.filter((d) => d.recipient === SUPPLIERS.sftp && completedAnyway.has(d.deliveryId));
    const emptyFiles = silentlyLost.filter((d) => (tally!.fileSize(d.filename) ?? 0) < 20).length;

    const of = (supplier: string) => failures.filter((f) => f.id.includes(`+${supplier}+`));
    const verdict = (supplier: string, cause: RegExp, what: string): void => {
      const mine = of(supplier);
      const count = brokenExpected.filter((d) => d.recipient === supplier).length;
      const sample = mine[0];
      checks.add(`${what}: kept as failed jobs for replay`, mine.length === count && count > 0, `${mine.length} of ${count} deliveries in the failed set`);
      checks.add(`${what}: the reason names the cause`, mine.length > 0 && mine.every((f) => cause.test(f.reason)), `"${sample?.reason ?? '(none)'}"`);
      checks.add(`${what}: failed at once, not retried`, mine.length > 0 && mine.every((f) => f.attempts === 1), `attempts made: ${[...new Set(mine.map((f) => f.attempts))].join(', ') || '(none)'}`);
    };
    if (disk) {
      checks.add(
        'SFTP disk full: no delivery reported done while the disk was full',
        silentlyLost.length === 0,
        `${silentlyLost.length} deliveries completed (and recorded as disclosed) while the disk was full; ${emptyFiles} of their files are empty on the server`,
      );
      verdict(SUPPLIERS.sftp, /no space|disk (is )?full|ENOSPC|quota/i, 'SFTP disk full');
    }
    else verdict(SUPPLIERS.sftp, /permission denied|read-only/i, 'SFTP read-only drop');
    verdict(SUPPLIERS.email, /revoked/i, 'revoked PGP key');
    verdict(SUPPLIERS.https, /CERT_HAS_EXPIRED|expired/i, 'expired TLS certificate');
    const others = expected.filter((d) => !broken.includes(d.recipient as (typeof broken)[number]));
    checks.add('the carriers were not held up', others.every((d) => tally!.arrival(d) !== undefined), `${others.filter((d) => tally!.arrival(d) !== undefined).length}/${others.length} carrier requests delivered`);

    // `dropship status` shows operators who is failing.
    const status = await runCli(['status', '--json'], env.processEnv());
    let failing: Array<{ recipient: string; failed: number }> = [];
    try {
      failing = (JSON.parse(status.stdout.trim().split('\n').pop() ?? '{}') as { failing?: typeof failing }).failing ?? [];
    } catch {
      // not JSON: the check below says so
    }
    const failingSuppliers = broken.filter((b) => of(b).length > 0);
    checks.add(
      'dropship status names the failing suppliers',
      failingSuppliers.length > 0 && failingSuppliers.every((b) => failing.some((f) => f.recipient === b && f.failed === of(b).length)),
      `suppliers with failed deliveries: ${failingSuppliers.join(', ')}; status says ${JSON.stringify(failing)}`,
    );

    // Fix every cause: free the disk, a new key from the supplier, a renewed certificate.
    disk?.free();
    if (!disk) {
      env.editSupplier(SUPPLIERS.sftp, (doc) => {
        doc.delivery.port = sshd.port;
      });
    }
    const renewedKey = await supplierKey();
    writeFileSync(keyFile, renewedKey.publicKey);
    front.renew(await ca.issue('renewed', new Date(Date.now() - day), new Date(Date.now() + 2 * day)));
    log('[permanent-failures] causes fixed (disk freed, new supplier key, certificate renewed); starting CLI workers and replaying');

    fleet = new WorkerFleet(env.processEnv(), env.dir);
    await fleet.start(1);
    const replays: string[] = [];
    for (const supplier of broken) {
      const r = await runCli(['replay', '--supplier', supplier], env.processEnv());
      replays.push(`${supplier}: exit ${r.code}, ${r.stdout.trim().split('\n').pop()?.slice(0, 80) ?? ''}`);
    }
    const replayed = await waitUntil(() => tally!.allArrived, 60_000, 250);
    await sleep(1000);
    const figures = tally.figures();
    const after = await queueReport(env, client);

    // The replayed mail is readable with the supplier's new key.
    let decrypted = 0;
    for (const mail of env.demo.smtp?.messages ?? []) {
      const outer = await simpleParser(mail.raw);
      const part = outer.attachments.find((a) => a.contentType === 'application/octet-stream');
      if (part === undefined) continue;
      try {
        await openpgp.decrypt({ message: await openpgp.readMessage({ armoredMessage: part.content.toString('utf8') }), decryptionKeys: renewedKey.privateKey });
        decrypted += 1;
      } catch {
        // encrypted to another key
      }
    }
    const emails = brokenExpected.filter((d) => d.recipient === SUPPLIERS.email).length;
    checks.add('replay delivered every failed delivery', replayed && figures.lost === 0 && figures.sftp.badContent === 0, `${figures.arrived}/${figures.expected} arrived after replay, ${figures.sftp.badContent} SFTP files empty or wrong (${replays.join('; ')})`);
    checks.add('replayed mail is encrypted to the new key', decrypted === emails && emails > 0, `${decrypted}/${emails} messages decrypted with the new key`);
    checks.add('nothing failed or duplicated after replay', after.failed === 0 && after.unfinished === 0 && figures.droppableDuplicates === 0 && figures.sftp.duplicateFiles === 0, `${after.failed} failed, ${after.unfinished} unfinished, ${figures.droppableDuplicates} duplicates, ${figures.sftp.duplicateFiles} extra files`);
    checks.add('no upload debris on SFTP', figures.sftp.leftoverTempFiles === 0, `${figures.sftp.leftoverTempFiles} .part files left`);
    if (!allSettled) log('[permanent-failures] not every broken delivery was over (failed or completed) in time');

    const reasons: Record<string, string> = {};
    for (const b of broken) reasons[b] = of(b)[0]?.reason ?? '(none)';
    return {
      name: 'permanent-failures',
      ok: checks.ok,
      seconds: round((Date.now() - started) / 1000),
      figures: {
        orders: s.orders,
        diskFull: diskFault,
        workerStartLog: startLog.split('\n').filter((l) => /revoked/i.test(l)).join(' ').slice(0, 300),
        failedDeliveries: failures.length,
        sftpReportedDeliveredWhileDiskFull: silentlyLost.length,
        sftpEmptyFilesWhileDiskFull: emptyFiles,
        sftpBadFilesAtEnd: figures.sftp.badContent,
        reasons,
        attempts: Object.fromEntries(broken.map((b) => [b, [...new Set(of(b).map((f) => f.attempts))]])),
        replays,
        deliveredAfterReplay: figures.arrived,
        deliveries: figures.expected,
        lost: figures.lost,
        decryptedWithNewKey: decrypted,
      },
      checks: checks.list,
    };
  } finally {
    tally?.stop();

    await fleet?.stopAll(5000);
    await Promise.all(queues.map((q) => q.close()));
    client.disconnect();
    await front?.stop();
    ca?.remove();
    // An sftp session may still hold the mount: kill sshd's sessions first, then unmount.
    env.demo.sshd?.kill();
    await sleep(200);
    disk?.unmount();
    await env.stop();
  }
}
