import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync, readlinkSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { freePort } from '../src/queue/embedded-redis';
import { log, sleep } from './common';

/** The repository root: the CLI runs from here, as `npm run dropship` does. */
export const REPO_ROOT = path.resolve(__dirname, '..');
const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(REPO_ROOT, 'src', 'cli', 'dropship.ts');
/** Preloaded with `--expose-gc` when a scenario wants to collect garbage before reading heap figures. */
const GC_HOOK = path.join(__dirname, 'gc-hook.cjs');

/** `NODE_OPTIONS` that let {@link CliProcess.collectGarbage} run a full GC in the process. */
export function gcHookOptions(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return { NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} --expose-gc --require ${GC_HOOK}`.trim() };
}

/** Node processes of one process group (the tsx launcher and the program it runs). */
function nodeProcessesOfGroup(group: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === group && comm.startsWith('node')) found.push(Number(entry));
  }
  return found;
}

/** Every process group started here, so that none outlives the harness however it ends. */
const live = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pid of live) killGroup(pid, 'SIGKILL');
  });
}

/** How a process ended: its exit code, or the signal that ended it. */
export interface Ending {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One `dropship` CLI process (`tsx src/cli/dropship.ts …`), in its own process group: tsx runs
 * the program in a child node process, so a SIGKILL must go to the whole group to kill the
 * worker itself rather than only its tsx launcher.
 */
export class CliProcess {
  readonly ended: Promise<Ending>;
  private ending: Ending | undefined;
  private tail = '';
  private readonly logFile: WriteStream;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    /** Port of its HTTP server (/readyz, /metrics, and the API for `--role api`). */
    readonly port: number,
    logPath: string,
  ) {
    this.logFile = createWriteStream(logPath, { flags: 'a' });
    const keep = (chunk: Buffer): void => {
      this.logFile.write(chunk);
      this.tail = (this.tail + chunk.toString('utf8')).slice(-8000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.ended = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (child.pid !== undefined) live.delete(child.pid);
        this.ending = { code, signal };
        this.logFile.end();
        resolve(this.ending);
      });
    });
  }

  /**
   * Starts `dropship <args>` with `env` added to this process's environment, on a free port.
   * Its output goes to `logPath`.
   */
  static async start(name: string, args: string[], env: Record<string, string>, logPath: string): Promise<CliProcess> {
    installExitHook();
    const port = await freePort();
    const child = spawn(TSX, [CLI, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, LOG_LEVEL: 'warn', ...env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (child.pid === undefined) throw new Error(`${name}: could not be started`);
    live.add(child.pid);
    return new CliProcess(name, child, port, logPath);
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get running(): boolean {
    return this.ending === undefined;
  }

  /** The last few KB of what it printed. */
  output(): string {
    return this.tail;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resolves once `/readyz` answers 200 (Redis reachable, its workers running); throws when it exits first. */
  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited (${JSON.stringify(this.ending)}) before it was ready:\n${this.tail.slice(-2000)}`);
      try {
        const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    throw new Error(`${this.name} was not ready within ${timeoutMs / 1000} s:\n${this.tail.slice(-2000)}`);
  }

  /** A crash: SIGKILL to the whole process group, nothing flushed, no lock released. */
  async kill(): Promise<void> {
    if (!this.running) return;
    killGroup(this.pid, 'SIGKILL');
    await this.ended;
  }

  /** A graceful stop (SIGTERM: finish jobs in flight), then SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<Ending> {
    if (this.running) {
      try {
        process.kill(this.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timer = setTimeout(() => killGroup(this.pid, 'SIGKILL'), graceMs);
      await this.ended;
      clearTimeout(timer);
      // tsx's esbuild helper may linger in the group.
      killGroup(this.pid, 'SIGKILL');
    }
    return this.ending as Ending;
  }

  /**
   * Runs a full garbage collection in the process (it must have been started with
   * {@link gcHookOptions}), so that heap figures count live objects only.
   */
  async collectGarbage(): Promise<void> {
    for (const pid of nodeProcessesOfGroup(this.pid)) {
      try {
        process.kill(pid, 'SIGUSR2');
      } catch {
        // gone
      }
    }
    await sleep(1000);
  }

  /** The process's own Prometheus figures (prom-client default metrics, prefixed `dropship_process_`). */
  async metrics(): Promise<Record<string, number>> {
    const res = await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    const out: Record<string, number> = {};
    for (const line of text.split('\n')) {
      const m = /^(dropship_process_[a-z_]+)(?:\{[^}]*\})? ([0-9.eE+-]+)$/.exec(line);
      if (m && out[m[1] as string] === undefined) out[m[1] as string] = Number(m[2]);
    }
    return out;
  }
}

/** What the fleet did over a run. */
export interface FleetFigures {
  started: number;
  killed: number;
  /** Processes that ended without being told to (a crash the harness did not cause). */
  unexpectedExits: string[];
}

/** `127.0.0.1:port` as /proc/net/tcp writes it (address in host byte order, port big-endian). */
function procNetAddress(port: number): string {
  return `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * The process of `procs` (any node process of its group) that holds the loopback TCP
 * connection from `localPort` to `remotePort`, read from /proc (Linux); undefined when none does.
 */
export function processHoldingConnection(procs: readonly CliProcess[], localPort: number, remotePort: number): CliProcess | undefined {
  let inode: string | undefined;
  try {
    for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1] === procNetAddress(localPort) && f[2] === procNetAddress(remotePort)) inode = f[9];
    }
  } catch {
    return undefined;
  }
  if (inode === undefined || inode === '0') return undefined;
  const socket = `socket:[${inode}]`;
  for (const proc of procs) {
    for (const pid of [proc.pid, ...nodeProcessesOfGroup(proc.pid)]) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        try {
          if (readlinkSync(`/proc/${pid}/fd/${fd}`) === socket) return proc;
        } catch {
          // closed meanwhile
        }
      }
    }
  }
  return undefined;
}

/**
 * A set of `dropship start --role workers` processes: kill random ones, start replacements,
 * stop them all. Every process logs to its own file under `logDir`.
 */
export class WorkerFleet {
  readonly processes: CliProcess[] = [];
  private serial = 0;
  private readonly intended = new Set<CliProcess>();
  readonly figures: FleetFigures = { started: 0, killed: 0, unexpectedExits: [] };

  constructor(
    private readonly env: Record<string, string>,
    private readonly logDir: string,
    private readonly args: string[] = ['start', '--role', 'workers'],
  ) {}

  /** Starts one more worker process and waits until it is ready. */
  async add(): Promise<CliProcess> {
    const name = `workers-${++this.serial}`;
    const proc = await CliProcess.start(name, this.args, this.env, path.join(this.logDir, `${name}.log`));
    this.figures.started += 1;
    this.processes.push(proc);
    void proc.ended.then((ending) => {
      if (!this.intended.has(proc)) {
        this.figures.unexpectedExits.push(`${name}: ${JSON.stringify(ending)}: ${proc.output().slice(-300)}`);
        log(`!! ${name} exited by itself: ${JSON.stringify(ending)}`);
      }
    });
    await proc.ready();
    return proc;
  }

  /** Starts `n` worker processes at once. */
  async start(n: number): Promise<void> {
    await Promise.all(Array.from({ length: n }, () => this.add()));
  }

  get running(): CliProcess[] {
    return this.processes.filter((p) => p.running);
  }

  /** SIGKILLs one running process. */
  async kill(proc: CliProcess): Promise<void> {
    this.intended.add(proc);
    await proc.kill();
    this.figures.killed += 1;
  }

  /** Stops every running process gracefully (SIGKILL after the grace period). */
  async stopAll(graceMs = 15_000): Promise<void> {
    for (const p of this.processes) this.intended.add(p);
    await Promise.all(this.processes.map((p) => p.stop(graceMs)));
  }

  /** Kills every process at once (cleanup after a failure). */
  async killAll(): Promise<void> {
    for (const p of this.processes) this.intended.add(p);
    await Promise.all(this.processes.map((p) => p.kill()));
  }
}

/** Runs one `dropship` command to completion (e.g. `replay`), returning its exit code and output. */
export async function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  installExitHook();
  const child = spawn(TSX, [CLI, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  if (child.pid !== undefined) live.add(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const timer = setTimeout(() => child.pid !== undefined && killGroup(child.pid, 'SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  if (child.pid !== undefined) {
    killGroup(child.pid, 'SIGKILL');
    live.delete(child.pid);
  }
  return { code, stdout, stderr };
}

/** Lines matching `pattern` in every process log of a run folder (`*.log`). */
export function countInLogs(dir: string, pattern: RegExp): number {
  let n = 0;
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.log'))) {
    for (const line of readFileSync(path.join(dir, name), 'utf8').split('\n')) if (pattern.test(line)) n += 1;
  }
  return n;
}
