import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataDirLock, DataDirLockedError, LOCK_FILE } from '../../src/queue/data-dir-lock';

/**
 * The data folder lock of `dropship start` with an embedded Redis, on real files and real
 * processes: one holder at a time, and a holder that died leaves a lock the next start takes.
 */

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dropship-lock-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** The pid of a process that has exited (so no process has it, for now). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('DataDirLock', () => {
  it('creates the folder and a lock file naming this process, and removes it on release', () => {
    const dir = path.join(tmp, 'var');
    const lock = DataDirLock.acquire(dir);
    expect(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    lock.release();
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    // Given up, the folder can be taken again.
    DataDirLock.acquire(dir).release();
  });

  it('refuses a folder held by a live process, naming it and the way out, and leaves its lock alone', () => {
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const file = path.join(tmp, LOCK_FILE);
      writeFileSync(file, `${holder.pid}\n`);
      let error: unknown;
      try {
        DataDirLock.acquire(tmp);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(DataDirLockedError);
      expect((error as DataDirLockedError).pid).toBe(holder.pid);
      expect((error as Error).message).toBe(
        `the data folder ${tmp} is in use by another "dropship start" (pid ${holder.pid}): stop that one first, or give this one its own --data-dir (if no dropship is running, remove ${file})`,
      );
      expect(readFileSync(file, 'utf8')).toBe(`${holder.pid}\n`);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('refuses a folder this process already holds', () => {
    const lock = DataDirLock.acquire(tmp);
    try {
      expect(() => DataDirLock.acquire(tmp)).toThrow(DataDirLockedError);
    } finally {
      lock.release();
    }
  });

  it('takes over the lock of a process that is gone (a crash, SIGKILL)', () => {
    const file = path.join(tmp, LOCK_FILE);
    writeFileSync(file, `${deadPid()}\n`);
    const lock = DataDirLock.acquire(tmp);
    expect(readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
    lock.release();
  });

  it('takes over a lock left with its own pid by an earlier process (a container restarted on a kept volume)', () => {
    const file = path.join(tmp, LOCK_FILE);
    writeFileSync(file, `${process.pid}\n`);
    const lock = DataDirLock.acquire(tmp);
    expect(() => DataDirLock.acquire(tmp)).toThrow(DataDirLockedError);
    lock.release();
    expect(existsSync(file)).toBe(false);
  });

  it('waits out a lock file naming no pid while it may still be being written, then takes it', () => {
    const file = path.join(tmp, LOCK_FILE);
    writeFileSync(file, '');
    expect(() => DataDirLock.acquire(tmp)).toThrow(DataDirLockedError);
    const old = new Date(Date.now() - 60_000);
    utimesSync(file, old, old);
    DataDirLock.acquire(tmp).release();
  });

  it('lets one of four processes racing for a stale lock have it', async () => {
    const file = path.join(tmp, LOCK_FILE);
    writeFileSync(file, `${deadPid()}\n`);
    // Each racer reports, then holds on (the winner keeps its lock) until its stdin closes.
    const script = `
      const { DataDirLock } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'src', 'queue', 'data-dir-lock.ts'))});
      try { DataDirLock.acquire(${JSON.stringify(tmp)}); process.stdout.write('held'); }
      catch (err) { process.stdout.write(err.name); }
      process.stdin.on('end', () => process.exit(0)).resume();
    `;
    const racers = Array.from({ length: 4 }, () => {
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      const reported = new Promise<string>((resolve) => child.stdout.on('data', (d: Buffer) => resolve((out += d.toString()))));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      return { child, reported, exited };
    });
    const outcomes = await Promise.all(racers.map((r) => r.reported));
    for (const r of racers) r.child.stdin.end();
    await Promise.all(racers.map((r) => r.exited));
    expect(outcomes.filter((o) => o === 'held')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'DataDirLockedError')).toHaveLength(3);
    // The winner gave the folder up as it exited, and no racer left a temporary file behind.
    expect(readdirSync(tmp)).toEqual([]);
  }, 30_000);
});
