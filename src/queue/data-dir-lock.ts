import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The lock file's name inside the data folder. */
export const LOCK_FILE = 'dropship.lock';

/** How long a lock file whose content cannot be read is taken for one being written. */
const UNREADABLE_GRACE_MS = 5_000;

/** Lock files this process holds, so that it cannot take one folder twice. */
const held = new Set<string>();

/** The data folder is held by another live process. */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number | undefined,
    readonly lockFile: string,
  ) {
    super(
      `the data folder ${dataDir} is in use by another "dropship start"${pid !== undefined ? ` (pid ${pid})` : ''}: ` +
        `stop that one first, or give this one its own --data-dir (if no dropship is running, remove ${lockFile})`,
    );
    this.name = 'DataDirLockedError';
  }
}

/** True when a process with this id exists (EPERM: it exists, under another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid a lock file names; undefined when it names none (torn, empty, not ours). */
function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function ageMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return Infinity;
  }
}

/**
 * One process's hold on a data folder (where the embedded Redis keeps its data and
 * `redis.url`): two `dropship start` on one folder would run two redis-servers on the same
 * append-only file and the second would overwrite the first's `redis.url`.
 *
 * The lock is `<dir>/dropship.lock` holding the owner's pid. It is created whole with
 * `link()` (a complete file appears, or EEXIST), so another process never reads it half
 * written. A lock whose pid is gone (a crash, SIGKILL) is stale and taken over: it is first
 * renamed to a name of this process's own, which only one contender can do, and checked to be
 * the stale one before it is removed.
 */
export class DataDirLock {
  private released = false;
  private readonly onExit = (): void => this.release();

  private constructor(
    readonly dataDir: string,
    readonly file: string,
  ) {
    held.add(path.resolve(file));
    // A start that fails after the lock (redis-server will not run) ends with process.exit:
    // leave no lock behind then either.
    process.once('exit', this.onExit);
  }

  /** Takes the data folder for this process, or throws `DataDirLockedError`. */
  static acquire(dataDir: string): DataDirLock {
    mkdirSync(dataDir, { recursive: true });
    const file = path.join(dataDir, LOCK_FILE);
    const mine = path.join(dataDir, `.${LOCK_FILE}.${process.pid}`);
    writeFileSync(mine, `${process.pid}\n`, { mode: 0o644 });
    try {
      // A few rounds at most: each one either takes the lock, finds it held, or clears a stale one.
      for (let round = 0; round < 5; round++) {
        try {
          linkSync(mine, file);
          return new DataDirLock(dataDir, file);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        const pid = readPid(file);
        if (pid === process.pid) {
          if (held.has(path.resolve(file))) throw new DataDirLockedError(dataDir, pid, file);
          // Our own pid but not our lock: left by an earlier process that had this pid (a
          // container restarted on a kept volume starts with the same pid), so stale.
          return new DataDirLock(dataDir, file);
        }
        if (pid !== undefined ? alive(pid) : ageMs(file) < UNREADABLE_GRACE_MS) throw new DataDirLockedError(dataDir, pid, file);
        DataDirLock.clearStale(file, pid, path.join(dataDir, `.${LOCK_FILE}.stale.${process.pid}`));
      }
      throw new DataDirLockedError(dataDir, readPid(file), file);
    } finally {
      rmSync(mine, { force: true });
    }
  }

  /** Removes a stale lock, unless another process replaced it meanwhile (then puts that back). */
  private static clearStale(file: string, stalePid: number | undefined, aside: string): void {
    try {
      renameSync(file, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else cleared it
      throw err;
    }
    if (readPid(aside) !== stalePid) {
      // Between our read and our rename another process took the lock over: restore it.
      try {
        linkSync(aside, file);
      } catch {
        // a third process holds the name now; the next round reads whichever lock is there
      }
    }
    rmSync(aside, { force: true });
  }

  /** Gives the folder up (only if the lock is still this process's). */
  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(path.resolve(this.file));
    process.removeListener('exit', this.onExit);
    if (readPid(this.file) !== process.pid) return;
    try {
      unlinkSync(this.file);
    } catch {
      // already gone: nothing to give up
    }
  }
}
