import { createHash, randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Logger } from 'pino';
import type { Config, SupplierConfig } from '../config/config';
import type { Confirmation, ConfirmationOrigin } from '../core/confirmation';
import { DeliveryError, DropshipError } from '../errors';
import { confirmationFormatById } from '../formats/inbound';
import { MAX_CONFIRMATION_DOCUMENT_CHARS, type ReadDocument } from '../formats/inbound/format';
import { markerKeys } from '../queue/names';
import { type KeySpace, keySpaceOf } from '../queue/partitions';
import type { RedisClient } from '../queue/redis';
import type { PipelineMetrics } from '../telemetry/metrics';
import { type FolderEntry, isNoSuchFile, SftpFolder, suffixedName } from '../transports/sftp/folder';
import type { SftpOptions } from '../transports/sftp';
import type { ConfirmOutcome } from './confirm';
import { runScript } from '../queue/scripts';

/**
 * The pickup of a supplier's confirmation files from a folder of its SFTP server
 * (`confirmations.sftp`), one run per schedule (workers/confirmation-pickup.ts):
 *
 * - every plain file of `remoteDir` is taken, oldest first, but dotfiles and `*.part` (uploads
 *   under way); `processed/` and `failed/` are folders and so never listed as files;
 * - each file is claimed in Redis before anything is done with it (`SET NX PX`, keyed by
 *   supplier, name, size and modification time, renewed while the file is worked on): of
 *   workers racing, one takes it; a worker that dies mid-file lets its claim expire and the
 *   next run does the file again, which changes nothing twice (confirmations are recorded once
 *   by content, and a file whose sha256 was processed before is only moved);
 * - a file is read whole with the configured format and its options (`confirmations.csv`,
 *   `confirmations.x12`); a file that cannot be read goes to `failed/` with `<name>.reason.txt`
 *   (its problems, never its values) and an entry in the supplier's list of failed files
 *   (`markerKeys.pickupFailures`), a log line and a metric;
 * - a file that cannot be downloaded while the link is up, or whose reader fails otherwise than
 *   by refusing it (a fault of the reader), is left for the next run and counted in Redis
 *   (`markerKeys.pickupAttempts`); after {@link MAX_FILE_ATTEMPTS} such runs it goes to
 *   `failed/` as above, so no file is retried for ever;
 * - each confirmation is handed to the intake (`channel: sftp`, reference `<file>#<row…>`);
 *   then the file goes to `processed/`, with `<name>.reason.txt` beside it when some of its
 *   confirmations were refused (the intake records those in the order's timeline too);
 * - nothing moved over an existing file: a name taken gets `-1`, `-2`… before its extension.
 *
 * A connection that cannot be made, or is lost, fails the run (the next schedule tries
 * again, and counts no attempt); so does a format or options the reader refuses (a
 * configuration fault, not the files'). Anything else failing for one file is logged and
 * recorded, and the other files go on.
 */

/** The folders files are moved to, inside `remoteDir`. */
export const PROCESSED_DIR = 'processed';
export const FAILED_DIR = 'failed';
/** Failed files remembered per supplier (newest first). */
export const FAILURES_KEPT = 100;
/** A file larger than this is not downloaded, and goes to `failed/`. */
export const MAX_CONFIRMATION_FILE_BYTES = MAX_CONFIRMATION_DOCUMENT_CHARS;
/**
 * Runs that may fail on one file (a download refused while the link is up, a reader fault)
 * before it goes to `failed/`: a fault that lasts is an operator's, not the next run's.
 */
export const MAX_FILE_ATTEMPTS = 3;

/** What a pickup needs of a supplier's folder (an {@link SftpFolder}). */
export type PickupFolder = Pick<SftpFolder, 'open' | 'connected' | 'files' | 'stat' | 'read' | 'ensureDirectory' | 'moveInto' | 'write' | 'remove' | 'close' | 'isDirectory' | 'where'>;

/** An entry of a supplier's list of failed files (`markerKeys.pickupFailures`). */
export interface PickupFailure {
  file: string;
  at: string;
  /** `unreadable`: moved to failed/; `error`: left where it was, for the next run. */
  kind: 'unreadable' | 'error';
  problems: string[];
  /** Where it went (`failed/<name>`), when it was moved. */
  movedTo?: string;
  /** Of a file whose download or reader failed: the runs that failed on it so far. */
  attempts?: number;
}

/** What became of one file of a run. */
export interface PickedFile {
  file: string;
  outcome: 'processed' | 'duplicate' | 'failed' | 'error' | 'claimed' | 'changing' | 'gone';
  /** `processed/<name>` or `failed/<name>`. */
  movedTo?: string;
  confirmations?: number;
  refused?: number;
  /** With `error` (or `failed`) after a download or reader fault: the runs that failed on it so far. */
  attempts?: number;
}

export interface PickupDeps {
  redis: RedisClient;
  /** A plain prefix, or the partitions: a supplier's claims, seen files and failures live in its own. */
  prefix: string | KeySpace;
  config: Config;
  /** The intake (`ConfirmationIntake.confirm`). */
  confirm: (supplierId: string, confirmation: Confirmation, origin: ConfirmationOrigin & { controlNumber?: number }) => Promise<ConfirmOutcome>;
  /** Where `privateKeyEnv` and `passphraseEnv` are read. @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
  /** Opens a supplier's folder. @defaultValue its delivery login ({@link openSupplierFolder}) */
  openFolder?: (supplier: SupplierConfig) => PickupFolder;
  logger?: Logger;
  metrics?: Pick<PipelineMetrics, 'confirmationFile'>;
  /** How long a claim holds without being renewed (it is renewed every third of it). @defaultValue 5 minutes */
  leaseMs?: number;
  /** Runs that may fail on one file before it goes to failed/. @defaultValue {@link MAX_FILE_ATTEMPTS} */
  maxAttempts?: number;
  now?: () => Date;
}

/** The supplier's folder over its delivery login (its `delivery` is SFTP: the configuration checks it). */
export function openSupplierFolder(supplier: SupplierConfig, configDir: string, env: NodeJS.ProcessEnv = process.env): SftpFolder {
  if (supplier.delivery.transport !== 'sftp') {
    throw new DropshipError('ECONFIG', [`supplier ${supplier.id}: confirmations.sftp needs an SFTP delivery, but delivery.transport is ${supplier.delivery.transport}`]);
  }
  return new SftpFolder(supplier.delivery.options as SftpOptions, { instanceId: supplier.id, configDir, env });
}

/** Whether a listed file is a confirmation file to pick up (not hidden, not an upload under way). */
export function isPickable(name: string): boolean {
  return !name.startsWith('.') && !name.endsWith('.part');
}

/** The inbound format of a supplier's folder, with its options. */
export interface FolderReader {
  id: string;
  read(text: string): ReadDocument;
}

/**
 * The reader of a supplier's folder: its `sftp.format` with the options the configuration
 * gave it (`confirmations.csv` for CSV, `confirmations.x12` for X12 856/855: SKU qualifiers
 * and the REF carrying our 850's control number). Throws `ECONFIG` when they are refused.
 */
export function readerOf(supplier: SupplierConfig): FolderReader {
  const c = supplier.confirmations;
  const id = c?.sftp?.format as string;
  const format = confirmationFormatById(id);
  if (!format) throw new DropshipError('ECONFIG', [`supplier ${supplier.id}: no inbound format "${id}"`]);
  const block = format.optionsBlock;
  let options: unknown;
  if (format.parseOptions) {
    const parsed = format.parseOptions(block === undefined ? undefined : c?.[block]);
    if (!parsed.ok) throw new DropshipError('ECONFIG', parsed.problems.map((p) => `supplier ${supplier.id}: confirmations.${block ?? id}: ${p}`));
    options = parsed.options;
  }
  return { id, read: (text) => format.read(text, options) };
}

/**
 * Whether an error of an SFTP operation is the link's: the connection is down, or the error
 * says it went. An operation under way when the link drops fails with ssh2-sftp-client's
 * "Unexpected end/close event" before the connection learns it is down.
 */
function lostLink(folder: PickupFolder, error: unknown): boolean {
  if (!folder.connected) return true;
  if (error instanceof DeliveryError) return error.code === 'ECONNECTION' || error.code === 'ETIMEDOUT';
  const { code, message } = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; message?: unknown };
  // SSH_FX_NO_CONNECTION, SSH_FX_CONNECTION_LOST; ssh2-sftp-client's "not connected"; the socket's.
  if (code === 6 || code === 7 || code === 'ERR_NOT_CONNECTED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'EPIPE') return true;
  return typeof message === 'string' && /Unexpected (end|close) event|No SFTP connection/.test(message);
}

/** Whether the server still answers (a failed download is then the file's, not the link's). */
async function answers(folder: PickupFolder, dir: string): Promise<boolean> {
  try {
    await folder.isDirectory(dir);
    return true;
  } catch {
    return false;
  }
}

/** What kind of error a reader threw, without its message (which may quote the file). */
function errorKind(error: unknown): string {
  if (error instanceof DropshipError) return error.code;
  if (error instanceof Error) return error.name;
  return typeof error;
}

/** Deletes the claim only while it is still ours. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
/** Extends the claim only while it is still ours. */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

export class ConfirmationPickup {
  private readonly leaseMs: number;
  private readonly maxAttempts: number;

  constructor(private readonly deps: PickupDeps) {
    this.leaseMs = deps.leaseMs ?? 300_000;
    this.maxAttempts = Math.max(1, deps.maxAttempts ?? MAX_FILE_ATTEMPTS);
  }

  private now(): string {
    return (this.deps.now?.() ?? new Date()).toISOString();
  }

  /**
   * One pickup of the supplier's folder. Throws when the folder cannot be reached or listed
   * (or the connection is lost), or its format's options are refused; a supplier no longer
   * configured for it has nothing to do.
   */
  async run(supplierId: string): Promise<{ supplierId: string; files: PickedFile[] }> {
    const supplier = this.deps.config.suppliers.find((s) => s.id === supplierId);
    const sftp = supplier?.confirmations?.sftp;
    if (!supplier || !sftp) return { supplierId, files: [] };
    const reader = readerOf(supplier);
    const folder = this.deps.openFolder?.(supplier) ?? openSupplierFolder(supplier, this.deps.config.dir, this.deps.env);
    const picked: PickedFile[] = [];
    try {
      await folder.open();
      const entries = (await folder.files(sftp.remoteDir)).filter((e) => isPickable(e.name)).sort((a, b) => a.modifiedAt - b.modifiedAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const made = new Set<string>();
      for (const entry of entries) {
        try {
          picked.push(await this.pick(supplier, reader, folder, entry, made));
        } catch (error) {
          // The link is gone: the rest cannot be done either; the next schedule tries again.
          if (lostLink(folder, error)) throw error;
          picked.push({ file: entry.name, outcome: 'error' });
          await this.fileError(supplier.id, entry.name, error);
        }
      }
    } finally {
      await folder.close();
    }
    return { supplierId, files: picked };
  }

  /** One file: claimed, read, confirmed, moved; the claim released. */
  private async pick(supplier: SupplierConfig, reader: FolderReader, folder: PickupFolder, entry: FolderEntry, made: Set<string>): Promise<PickedFile> {
    const { redis } = this.deps;
    const prefix = keySpaceOf(this.deps.prefix).forSupplier(supplier.id);
    const dir = (supplier.confirmations?.sftp as { remoteDir: string }).remoteDir;
    const path = posix.join(dir, entry.name);
    const identity = `${entry.name}:${entry.size}:${entry.modifiedAt}`;
    const claim = markerKeys.pickupClaim(prefix, supplier.id, identity);
    const attemptsKey = markerKeys.pickupAttempts(prefix, supplier.id, identity);
    const token = randomBytes(12).toString('hex');
    if ((await redis.set(claim, token, 'PX', this.leaseMs, 'NX')) !== 'OK') return { file: entry.name, outcome: 'claimed' };
    const renew = setInterval(() => void runScript(redis, RENEW, 1, claim, token, String(this.leaseMs)).catch(() => undefined), Math.max(1000, Math.floor(this.leaseMs / 3)));
    renew.unref();
    try {
      const into = async (sub: string): Promise<string> => {
        const target = posix.join(dir, sub);
        if (!made.has(sub)) {
          await folder.ensureDirectory(target);
          made.add(sub);
        }
        return target;
      };
      const fail = async (problems: string[], attempts?: number): Promise<PickedFile> => {
        const failedDir = await into(FAILED_DIR);
        const what = attempts === undefined ? 'could not be read, and nothing in it was taken' : `could not be read in ${attempts} attempts, and nothing in it was taken`;
        const moved = await moveWithReason(folder, path, failedDir, entry.name, reasonText(entry.name, what, problems));
        const movedTo = `${FAILED_DIR}/${moved}`;
        const counted = attempts === undefined ? {} : { attempts };
        await this.recordFailure(supplier.id, { file: entry.name, at: this.now(), kind: 'unreadable', problems, movedTo, ...counted });
        if (attempts !== undefined) await redis.del(attemptsKey).catch(() => undefined);
        this.deps.metrics?.confirmationFile(supplier.id, 'failed');
        this.deps.logger?.warn({ supplier: supplier.id, file: entry.name, movedTo, problems, ...counted }, `confirmation file ${entry.name} of ${supplier.id} cannot be read: moved to ${movedTo}`);
        return { file: entry.name, outcome: 'failed', movedTo, ...counted };
      };
      /**
       * A fault that is neither the file's content nor the link (a download the server refuses,
       * a reader that throws): counted; the file is left for the next run until the last
       * attempt, which sends it to failed/.
       */
      const attempt = async (problem: string, detail: Record<string, unknown>): Promise<PickedFile> => {
        const attempts = await this.countAttempt(attemptsKey);
        if (attempts >= this.maxAttempts) return await fail([problem], attempts);
        const problems = [problem, `attempt ${attempts} of ${this.maxAttempts}: left for the next run`];
        this.deps.metrics?.confirmationFile(supplier.id, 'error');
        this.deps.logger?.error({ supplier: supplier.id, file: entry.name, attempts, ...detail }, `confirmation file ${entry.name} of ${supplier.id}: ${problem} (attempt ${attempts} of ${this.maxAttempts}, left for the next run)`);
        await this.recordFailure(supplier.id, { file: entry.name, at: this.now(), kind: 'error', problems, attempts });
        return { file: entry.name, outcome: 'error', attempts };
      };

      if (entry.size > MAX_CONFIRMATION_FILE_BYTES) return await fail([`the file is ${entry.size} bytes, more than the ${MAX_CONFIRMATION_FILE_BYTES} a confirmation file may have`]);
      let data: Buffer;
      let now: { size: number; modifiedAt: number } | undefined;
      try {
        data = await folder.read(path);
        now = await folder.stat(path);
      } catch (error) {
        // Another run moved it between our listing and our claim.
        if (isNoSuchFile(error)) return { file: entry.name, outcome: 'gone' };
        const message = error instanceof Error ? error.message : String(error);
        // The link went: the run fails, and the next one downloads the file again (no attempt counted).
        if (lostLink(folder, error) || !(await answers(folder, dir))) {
          throw DeliveryError.retryable('ECONNECTION', `SFTP connection to ${folder.where} was lost while ${entry.name} was downloaded (${message})`);
        }
        return await attempt(`it could not be downloaded: ${message}`, {});
      }
      // Still being written (the supplier uploads without a temporary name): left for the next run.
      if (now === undefined) return { file: entry.name, outcome: 'gone' };
      if (data.length !== entry.size || now.size !== entry.size || now.modifiedAt !== entry.modifiedAt) return { file: entry.name, outcome: 'changing' };

      const digest = createHash('sha256').update(data).digest('hex');
      const seen = markerKeys.pickupSeen(prefix, supplier.id, digest);
      if ((await redis.exists(seen)) === 1) {
        const moved = await folder.moveInto(path, await into(PROCESSED_DIR), entry.name);
        await redis.del(attemptsKey).catch(() => undefined);
        this.deps.metrics?.confirmationFile(supplier.id, 'duplicate');
        this.deps.logger?.info({ supplier: supplier.id, file: entry.name }, `confirmation file ${entry.name} of ${supplier.id} was processed before (same content): moved to ${PROCESSED_DIR}/${moved}`);
        return { file: entry.name, outcome: 'duplicate', movedTo: `${PROCESSED_DIR}/${moved}` };
      }

      let document: ReadDocument;
      try {
        // A BOM is dropped; bytes that are not UTF-8 become U+FFFD, which no reader takes as a value.
        document = reader.read(new TextDecoder('utf-8').decode(data));
      } catch (error) {
        if (error instanceof DropshipError && error.code === 'EINVALID_CONFIRMATION') return await fail([...error.problems]);
        // A fault of the reader, not a refusal: its message may quote the file, so only its kind is
        // told (the log has where in the code it was thrown).
        const kind = errorKind(error);
        const frame = error instanceof Error ? error.stack?.split('\n').find((l) => /^\s+at /.test(l))?.trim() : undefined;
        return await attempt(`the ${reader.id} reader failed on it unexpectedly (${kind})`, { error: kind, ...(frame ? { thrownAt: frame } : {}) });
      }

      const refused: string[] = [];
      for (const [i, read] of document.confirmations.entries()) {
        const outcome = await this.deps.confirm(supplier.id, read.confirmation, {
          channel: 'sftp',
          reference: `${entry.name}#${read.reference ?? i}`,
          ...(read.controlNumber !== undefined ? { controlNumber: read.controlNumber } : {}),
        });
        const where = read.reference ?? `confirmation ${i + 1}`;
        if (outcome.status === 'not-found') refused.push(`${where}: no purchase order for this order was sent to you`);
        if (outcome.status === 'conflict') refused.push(...outcome.problems.map((p) => `${where}: ${p}`));
      }
      // Remembered as long as the orders' loops are (the intake recognises each confirmation anyway).
      // With the file's attempts forgotten, in one round trip (both in the supplier's slot).
      await redis.multi().set(seen, JSON.stringify({ file: entry.name, at: this.now() }), 'PX', this.deps.config.store.retention.disclosuresMs).del(attemptsKey).exec();
      const processedDir = await into(PROCESSED_DIR);
      const moved =
        refused.length > 0
          ? await moveWithReason(folder, path, processedDir, entry.name, reasonText(entry.name, 'was read; these of its confirmations were refused (the others were taken)', refused))
          : await folder.moveInto(path, processedDir, entry.name);
      if (refused.length > 0) {
        this.deps.logger?.warn({ supplier: supplier.id, file: entry.name, refused: refused.length }, `confirmation file ${entry.name} of ${supplier.id}: ${refused.length} confirmation(s) refused`);
      }
      this.deps.metrics?.confirmationFile(supplier.id, 'processed');
      this.deps.logger?.info({ supplier: supplier.id, file: entry.name, confirmations: document.confirmations.length }, `confirmation file ${entry.name} of ${supplier.id}: ${document.confirmations.length} confirmation(s), moved to ${PROCESSED_DIR}/${moved}`);
      return { file: entry.name, outcome: 'processed', movedTo: `${PROCESSED_DIR}/${moved}`, confirmations: document.confirmations.length, refused: refused.length };
    } finally {
      clearInterval(renew);
      // Released either way: a run that listed the file before it moved finds it gone, and the
      // same name sent again (even with the same size, in the same second) is a file of its own.
      await runScript(redis, RELEASE, 1, claim, token).catch(() => undefined);
    }
  }

  /** One more run failed on a file: the count so far (kept as long as failed files are listed). */
  private async countAttempt(key: string): Promise<number> {
    const [[incrError, attempts] = [], [expireError] = []] = (await this.deps.redis.multi().incr(key).pexpire(key, this.deps.config.store.retention.disclosuresMs).exec()) ?? [];
    if (incrError || expireError) throw incrError ?? expireError;
    return Number(attempts);
  }

  /** A file that failed for another reason than its content: left for the next run, and recorded. */
  private async fileError(supplierId: string, file: string, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    this.deps.metrics?.confirmationFile(supplierId, 'error');
    this.deps.logger?.error({ supplier: supplierId, file }, `confirmation file ${file} of ${supplierId}: ${message} (left for the next run)`);
    await this.recordFailure(supplierId, { file, at: this.now(), kind: 'error', problems: [message] }).catch(() => undefined);
  }

  private async recordFailure(supplierId: string, failure: PickupFailure): Promise<void> {
    const key = markerKeys.pickupFailures(keySpaceOf(this.deps.prefix).forSupplier(supplierId), supplierId);
    await this.deps.redis
      .multi()
      .lpush(key, JSON.stringify(failure))
      .ltrim(key, 0, FAILURES_KEPT - 1)
      .pexpire(key, this.deps.config.store.retention.disclosuresMs)
      .exec();
  }
}

/** The supplier's recent failed files, newest first. */
export async function pickupFailures(redis: RedisClient, prefix: string | KeySpace, supplierId: string): Promise<PickupFailure[]> {
  return (await redis.lrange(markerKeys.pickupFailures(keySpaceOf(prefix).forSupplier(supplierId), supplierId), 0, -1)).map((raw) => JSON.parse(raw) as PickupFailure);
}

/**
 * Moves a file into `dir` with `<name>.reason.txt` beside it, the reason written first (under
 * the name the file is about to take): a worker that dies between the two, or a write that
 * fails, leaves the file where it was for the next run, never a moved file without its reason.
 */
async function moveWithReason(folder: PickupFolder, from: string, dir: string, name: string, reason: string): Promise<string> {
  let n = 0;
  while ((await folder.stat(posix.join(dir, suffixedName(name, n)))) !== undefined) n++;
  const planned = suffixedName(name, n);
  await folder.write(posix.join(dir, `${planned}.reason.txt`), reason);
  const moved = await folder.moveInto(from, dir, name);
  // Another file took that name meanwhile: the reason follows this one.
  if (moved !== planned) await folder.write(posix.join(dir, `${moved}.reason.txt`), reason);
  return moved;
}

function reasonText(file: string, what: string, problems: readonly string[]): string {
  return `${file} ${what}:\n${problems.map((p) => `- ${p}`).join('\n')}\n`;
}

/**
 * `dropship verify` for a supplier's confirmation folder: it exists, can be listed, and
 * `processed/` can be written (made when missing; a probe file written and removed). Throws
 * an error saying what is wrong.
 */
export async function verifyConfirmationFolder(supplier: SupplierConfig, configDir: string, env: NodeJS.ProcessEnv = process.env, open?: (s: SupplierConfig) => PickupFolder): Promise<void> {
  const dir = supplier.confirmations?.sftp?.remoteDir;
  if (dir === undefined) return;
  const folder = open?.(supplier) ?? openSupplierFolder(supplier, configDir, env);
  try {
    await folder.open();
    if (!(await folder.isDirectory(dir))) throw new Error(`confirmation folder ${dir} does not exist on ${folder.where}`);
    try {
      await folder.files(dir);
    } catch (error) {
      throw new Error(`confirmation folder ${dir} on ${folder.where} cannot be listed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const processed = posix.join(dir, PROCESSED_DIR);
    try {
      await folder.ensureDirectory(processed);
    } catch (error) {
      throw new Error(`${processed} does not exist on ${folder.where} and cannot be made: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const probe = posix.join(processed, `.dropship-verify-${randomBytes(6).toString('hex')}`);
    try {
      await folder.write(probe, 'dropship verify\n');
    } catch (error) {
      throw new Error(`${processed} on ${folder.where} is not writable (picked-up files are moved there): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    try {
      await folder.remove(probe);
    } catch (error) {
      throw new Error(`${processed} on ${folder.where} lets files be written but not removed (${probe} is left): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  } finally {
    await folder.close();
  }
}
