import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import type { RedisClient as Redis } from '../src/queue/redis';
import type { OrderInput } from '../src/core/order';
import { parseLoop } from '../src/loop/record';
import { FAILED_DIR, PROCESSED_DIR } from '../src/loop/pickup';
import { markerKeys, PICKUP_JOB, PICKUPS_QUEUE } from '../src/queue/names';
import { Checks, log, type Random, sleep } from './common';
import { PREFIX } from './environment';

/**
 * The SFTP pickup of a supplier's confirmation files under chaos: the harness plays the
 * supplier, dropping CSV files into its confirmation folder on the real sshd (written under a
 * dotfile name and renamed, as a supplier should upload), some with one order, some with a few,
 * some sent again (the same content under a new name, and the same name again once the first
 * was moved), one that cannot be read. It also adds pickup jobs to the pickups queue every
 * `triggerEveryMs` (the scheduler's shortest `every` is 10 s, too slow for a run of a minute).
 *
 * At the end it counts what the folder holds (every file in processed/ exactly once, under a
 * `-1` name only when that name was sent again; the unreadable one in failed/ with its reason
 * file; nothing left behind) and what each order's loop record holds (every confirmation's
 * shipment recorded once, with the quantities of its file; no line shipped beyond its quantity).
 */

/** The supplier's folder, relative to its SFTP login directory. */
export const PICKUP_REMOTE_DIR = 'outbound/confirmations';
/** The CSV columns the supplier's files use (its `confirmations.csv.columns`). */
export const PICKUP_CSV_COLUMNS = { orderId: 'PO Number', sku: 'SKU', quantity: 'Qty', carrier: 'Carrier', trackingNumber: 'Tracking #' };

/** One confirmation the supplier sends in a file: its order, tracking number and lines. */
export interface FileConfirmation {
  orderId: string;
  trackingNumber: string;
  lines: Array<{ lineId: string; sku: string; quantity: number }>;
}

/** A file the supplier puts in the folder. */
interface DroppedFile {
  name: string;
  text: string;
  /** What the pickup must do with it. */
  expect: 'processed' | 'failed';
  /** The name it must have in processed/ or failed/. */
  endsAs: string;
}

const CSV_HEADER = [PICKUP_CSV_COLUMNS.orderId, PICKUP_CSV_COLUMNS.sku, PICKUP_CSV_COLUMNS.quantity, PICKUP_CSV_COLUMNS.carrier, PICKUP_CSV_COLUMNS.trackingNumber];

function csv(rows: string[][]): string {
  return `${[CSV_HEADER, ...rows].map((r) => r.join(',')).join('\r\n')}\r\n`;
}

function rowsOf(c: FileConfirmation): string[][] {
  return c.lines.map((l) => [c.orderId, l.sku, String(l.quantity), 'UPS', c.trackingNumber]);
}

/** `name.csv` → `name-1.csv`, as the pickup names a file whose name is taken in processed/. */
function suffixed(name: string): string {
  return name.replace(/\.csv$/, '-1.csv');
}

export class PickupFolder {
  /** The files in the order they are dropped (the same-name resends come once their first is moved). */
  private readonly first: DroppedFile[] = [];
  private readonly resentSameName: DroppedFile[] = [];
  private readonly dropped: DroppedFile[] = [];
  private triggered = 0;
  private triggering = false;
  private trigger: Promise<void> | undefined;
  private queue: Queue | undefined;
  /** The tracking number of the unreadable file's row: nothing of it may be taken. */
  readonly malformedTrackingNumber = '1ZPICKBAD000000001';

  constructor(
    /** The folder on the local disk (the sshd's login directory joined with {@link PICKUP_REMOTE_DIR}). */
    readonly dir: string,
    readonly supplierId: string,
    readonly confirmations: readonly FileConfirmation[],
    random: Random,
    /** How many files are sent again under a new name, and how many under the same name. */
    resend: { newName: number; sameName: number },
  ) {
    mkdirSync(dir, { recursive: true });
    // One order per file mostly, two or three orders in some.
    let i = 0;
    let n = 0;
    while (i < confirmations.length) {
      const take = random.next() < 0.7 ? 1 : random.between(2, 3);
      const group = confirmations.slice(i, i + take);
      i += take;
      const name = `ship-${String(++n).padStart(4, '0')}.csv`;
      this.first.push({ name, text: csv(group.flatMap(rowsOf)), expect: 'processed', endsAs: name });
    }
    // The unreadable one, in the middle: a quantity that is not a number (for a real order).
    const victim = confirmations[Math.floor(confirmations.length / 2)] as FileConfirmation;
    const bad = 'ship-unreadable.csv';
    const malformed: DroppedFile = { name: bad, text: csv([[victim.orderId, victim.lines[0]?.sku ?? 'X', 'two', 'UPS', this.malformedTrackingNumber]]), expect: 'failed', endsAs: bad };
    this.first.splice(Math.floor(this.first.length / 2), 0, malformed);
    // The same content again under a new name (dropped soon after its first, so the two may race).
    const goods = this.first.filter((f) => f.expect === 'processed');
    const step = Math.max(1, Math.floor(goods.length / (resend.newName + resend.sameName + 1)));
    for (let k = 0; k < resend.newName; k++) {
      const original = goods[(k + 1) * step] as DroppedFile;
      const name = `again-${original.name}`;
      this.first.splice(this.first.indexOf(original) + 2, 0, { name, text: original.text, expect: 'processed', endsAs: name });
    }
    // The same name and content again, once the first left the folder: it must end as `-1`.
    for (let k = 0; k < resend.sameName; k++) {
      const original = goods[(resend.newName + k + 1) * step] as DroppedFile;
      this.resentSameName.push({ name: original.name, text: original.text, expect: 'processed', endsAs: suffixed(original.name) });
    }
  }

  get fileCount(): number {
    return this.first.length + this.resentSameName.length;
  }

  /** Writes a file as a careful supplier uploads it: under a dotfile name, then renamed. */
  private put(file: DroppedFile): void {
    const temporary = path.join(this.dir, `.${file.name}.uploading`);
    writeFileSync(temporary, file.text);
    renameSync(temporary, path.join(this.dir, file.name));
    this.dropped.push(file);
  }

  /**
   * Drops the files over `durationMs`; each same-name resend once its first has left the
   * folder (waiting up to `resendWithinMs` for that: one that never leaves is not sent again,
   * and the count of dropped files says so).
   */
  async dropAll(durationMs: number, resendWithinMs: number): Promise<void> {
    const t0 = Date.now();
    const every = durationMs / Math.max(1, this.first.length);
    for (const [i, file] of this.first.entries()) {
      const due = t0 + i * every;
      if (due > Date.now()) await sleep(due - Date.now());
      this.put(file);
    }
    for (const file of this.resentSameName) {
      const left = path.join(this.dir, file.name);
      const deadline = Date.now() + resendWithinMs;
      while (existsSync(left) && Date.now() < deadline) await sleep(250);
      if (existsSync(left)) log(`[pickup] ${file.name} is still in the folder after ${resendWithinMs / 1000} s: not sent again`);
      else this.put(file);
    }
    log(`[pickup] ${this.dropped.length} files dropped into ${PICKUP_REMOTE_DIR} (${this.confirmations.length} confirmations; ${this.resentSameName.length} names sent twice, 1 unreadable)`);
  }

  /** Adds a pickup job every `everyMs` until {@link stopTriggering}. */
  startTriggering(redis: Redis, everyMs: number): void {
    this.queue = new Queue(PICKUPS_QUEUE, { connection: redis, prefix: PREFIX });
    this.queue.on('error', () => undefined);
    this.triggering = true;
    const queue = this.queue;
    this.trigger = (async () => {
      while (this.triggering) {
        await queue.add(PICKUP_JOB, { supplierId: this.supplierId }, { attempts: 1, removeOnComplete: 1000, removeOnFail: 1000 }).catch(() => undefined);
        this.triggered += 1;
        await sleep(everyMs);
      }
    })();
  }

  async stopTriggering(): Promise<void> {
    this.triggering = false;
    await this.trigger;
  }

  /** Plain files still in the folder (not dotfiles, not the two subfolders). */
  waiting(): string[] {
    return readdirSync(this.dir, { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => e.name);
  }

  /** Whether every file was dropped and none is left to pick up. */
  get drained(): boolean {
    return this.dropped.length === this.fileCount && this.waiting().length === 0;
  }

  /** Pickup runs' outcomes, from the jobs kept in the queue. */
  async jobFigures(): Promise<{ completed: number; failed: number; failedReasons: Record<string, number>; filesProcessed: number; filesDuplicate: number; filesFailed: number; filesClaimedElsewhere: number; filesGone: number }> {
    const queue = this.queue as Queue;
    const completed = await queue.getJobs(['completed'], 0, -1);
    const failed = await queue.getJobs(['failed'], 0, -1);
    const outcomes: Record<string, number> = {};
    for (const job of completed) for (const f of (job.returnvalue as { files?: Array<{ outcome: string }> } | null)?.files ?? []) outcomes[f.outcome] = (outcomes[f.outcome] ?? 0) + 1;
    const failedReasons: Record<string, number> = {};
    for (const job of failed) failedReasons[job.failedReason ?? '?'] = (failedReasons[job.failedReason ?? '?'] ?? 0) + 1;
    return {
      completed: completed.length,
      failed: failed.length,
      failedReasons,
      filesProcessed: outcomes.processed ?? 0,
      filesDuplicate: outcomes.duplicate ?? 0,
      filesFailed: outcomes.failed ?? 0,
      filesClaimedElsewhere: outcomes.claimed ?? 0,
      filesGone: outcomes.gone ?? 0,
    };
  }

  async close(): Promise<void> {
    await this.stopTriggering();
    await this.queue?.close().catch(() => undefined);
  }

  /**
   * The folder and the loop records checked; the figures returned. `allConfirmations` are every
   * confirmation of the run (files and API) by tracking number: each must be one shipped event.
   */
  async check(checks: Checks, redis: Redis, orders: readonly OrderInput[], allTrackingNumbers: ReadonlyMap<string, string>): Promise<Record<string, unknown>> {
    const list = (sub: string): string[] => (existsSync(path.join(this.dir, sub)) ? readdirSync(path.join(this.dir, sub)).sort() : []);
    const processed = list(PROCESSED_DIR);
    const failed = list(FAILED_DIR);
    const left = this.waiting();
    const expectedProcessed = this.dropped.filter((f) => f.expect === 'processed').map((f) => f.endsAs).sort();
    const expectedFailed = this.dropped.filter((f) => f.expect === 'failed').flatMap((f) => [f.endsAs, `${f.endsAs}.reason.txt`]).sort();
    const missing = expectedProcessed.filter((n) => !processed.includes(n));
    const extra = processed.filter((n) => !expectedProcessed.includes(n));
    // Every file in processed/ holds what was dropped under its name (a moved file is never another's).
    const wrongContent = this.dropped.filter((f) => f.expect === 'processed' && processed.includes(f.endsAs) && readFileSync(path.join(this.dir, PROCESSED_DIR, f.endsAs), 'utf8') !== f.text).map((f) => f.endsAs);
    checks.add('every confirmation file dropped was picked up (none left in the folder)', this.dropped.length === this.fileCount && left.length === 0, `${this.dropped.length}/${this.fileCount} dropped; ${left.length} left in the folder${left.length > 0 ? ` (${left.slice(0, 5).join(', ')})` : ''}`);
    checks.add('every file in processed/ exactly once, -1 only for a name sent twice, no reason file', missing.length === 0 && extra.length === 0 && wrongContent.length === 0, `${processed.length} in processed/ for ${expectedProcessed.length} expected; missing ${JSON.stringify(missing.slice(0, 5))}, unexpected ${JSON.stringify(extra.slice(0, 5))}, wrong content ${JSON.stringify(wrongContent.slice(0, 5))}`);
    const reason = failed.includes('ship-unreadable.csv.reason.txt') ? readFileSync(path.join(this.dir, FAILED_DIR, 'ship-unreadable.csv.reason.txt'), 'utf8') : '';
    checks.add('the unreadable file in failed/ with its reason file, and nothing else there', JSON.stringify(failed) === JSON.stringify(expectedFailed) && /^ship-unreadable\.csv could not be read, and nothing in it was taken:\n- row 2/.test(reason), `failed/ holds ${JSON.stringify(failed)}; reason ${JSON.stringify(reason.split('\n')[0] ?? '')}`);

    // The orders' loop records: each confirmation one shipped event; the files' quantities; no line over.
    const loops = new Map<string, ReturnType<typeof parseLoop>>();
    for (const o of orders) loops.set(o.id, parseLoop(await redis.hgetall(markerKeys.loop(PREFIX, o.id))));
    const eventsPerNumber = new Map<string, number>();
    for (const loop of loops.values()) for (const e of loop.events) if (e.kind === 'shipped') for (const n of e.trackingNumbers) eventsPerNumber.set(n, (eventsPerNumber.get(n) ?? 0) + 1);
    const notOnce = [...allTrackingNumbers.entries()].filter(([n]) => eventsPerNumber.get(n) !== 1).map(([n, what]) => `${what}: ${eventsPerNumber.get(n) ?? 0}`);
    const linesWrong: string[] = [];
    for (const c of this.confirmations) {
      const events = (loops.get(c.orderId)?.events ?? []).filter((e) => e.kind === 'shipped' && e.trackingNumbers.includes(c.trackingNumber));
      const e = events[0];
      const want = Object.fromEntries(c.lines.map((l) => [l.lineId, l.quantity]));
      if (events.length !== 1 || e?.kind !== 'shipped' || e.channel !== 'sftp' || JSON.stringify(e.lines) !== JSON.stringify(want)) linesWrong.push(`${c.orderId}/${c.trackingNumber}: ${JSON.stringify(events.map((x) => (x.kind === 'shipped' ? { channel: x.channel, lines: x.lines } : x.kind)))}`);
    }
    let linesShort = 0;
    let linesOver = 0;
    for (const o of orders) {
      const shipped = loops.get(o.id)?.shipped ?? {};
      for (const l of o.lines) {
        const got = shipped[l.id as string] ?? 0;
        if (got < l.quantity) linesShort += 1;
        if (got > l.quantity) linesOver += 1;
      }
    }
    const malformedTaken = eventsPerNumber.get(this.malformedTrackingNumber) ?? 0;
    checks.add('every shipment confirmed recorded once in its order’s loop', notOnce.length === 0 && malformedTaken === 0, `${allTrackingNumbers.size} confirmations: ${notOnce.length} not recorded exactly once${notOnce.length > 0 ? ` (${notOnce.slice(0, 5).join(', ')})` : ''}; the unreadable file's row recorded ${malformedTaken} times`);
    checks.add('each file’s shipments recorded with its quantities, over sftp', linesWrong.length === 0, `${this.confirmations.length} file confirmations; ${linesWrong.length} wrong${linesWrong.length > 0 ? ` (${linesWrong.slice(0, 3).join('; ')})` : ''}`);
    checks.add('every line of every order shipped in full in the loop records, none beyond', linesShort === 0 && linesOver === 0, `${linesShort} lines short, ${linesOver} over their quantity`);
    const jobs = await this.jobFigures();
    return {
      pickupFilesDropped: this.dropped.length,
      pickupFileConfirmations: this.confirmations.length,
      pickupFilesInProcessed: processed.length,
      pickupFilesInFailed: failed.filter((n) => !n.endsWith('.reason.txt')).length,
      pickupFilesLeft: left.length,
      pickupFilesMissing: missing.length,
      pickupFilesUnexpected: extra.length,
      pickupNamesSentTwice: this.resentSameName.length,
      pickupJobsTriggered: this.triggered,
      pickupJobsCompleted: jobs.completed,
      pickupJobsFailed: jobs.failed,
      pickupJobsFailedReasons: jobs.failedReasons,
      pickupOutcomes: { processed: jobs.filesProcessed, duplicate: jobs.filesDuplicate, failed: jobs.filesFailed, claimedByAnotherRun: jobs.filesClaimedElsewhere, gone: jobs.filesGone },
      loopShipmentsNotOnce: notOnce.length,
      loopLinesShort: linesShort,
      loopLinesOver: linesOver,
    };
  }
}
