import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** A free TCP port on loopback, as the OS hands it out. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface EmbeddedRedisOptions {
  /** Where redis-server keeps its data. */
  dir: string;
  /** Append-only file on: accepted orders survive a restart. @defaultValue true */
  appendOnly?: boolean;
  /** @defaultValue a free port */
  port?: number;
  /** @defaultValue "redis-server" on PATH */
  binary?: string;
}

export const REDIS_MISSING_HINT =
  'redis-server was not found: install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to an existing Redis';

/** True when a redis-server binary can be run. */
export function redisServerAvailable(binary = 'redis-server'): boolean {
  return spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * A private redis-server for one process: loopback only, on a free port, data in `dir`,
 * `noeviction` (BullMQ must never lose jobs to eviction). Stopped by `stop()` or when this
 * process exits.
 */
export class EmbeddedRedis {
  private exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(options: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
    const binary = options.binary ?? 'redis-server';
    if (!redisServerAvailable(binary)) throw new Error(REDIS_MISSING_HINT);
    mkdirSync(options.dir, { recursive: true });
    const port = options.port ?? (await freePort());
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', path.resolve(options.dir),
      '--save', '',
      '--appendonly', options.appendOnly === false ? 'no' : 'yes',
      '--appendfsync', 'everysec',
      '--maxmemory-policy', 'noeviction',
      '--protected-mode', 'yes',
      '--daemonize', 'no',
      '--loglevel', 'warning',
    ];
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const onExit = () => child.kill('SIGKILL');
    process.once('exit', onExit);
    child.once('exit', () => process.removeListener('exit', onExit));
    const server = new EmbeddedRedis(child, port);
    await server.waitReady();
    return server;
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + 10_000;
    let output = '';
    this.child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`redis-server exited at start-up: ${output.trim().slice(-500)}`);
      if (await ping(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    this.child.kill('SIGKILL');
    throw new Error(`redis-server did not answer on port ${this.port} within 10s`);
  }

  /** Stops the server (SIGTERM: it flushes the append-only file first). */
  async stop(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }

  /** Kills the server without letting it flush (for crash tests). */
  async kill(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * Shuts down a redis-server still answering at `url` with its data in `dir`: one left behind
 * by a start that was killed (SIGKILL, out of memory) before it could stop it. A new server on
 * the same append-only file beside it would lose writes. A server whose data directory is
 * not `dir` is left alone (the port may belong to someone else by now). SHUTDOWN flushes the
 * append-only file first. Returns true when one was shut down.
 */
export async function shutDownOrphanedServer(url: string, dir: string): Promise<boolean> {
  let port: number;
  try {
    port = Number(new URL(url).port);
  } catch {
    return false;
  }
  // Plain RESP over a socket, like `ping`: an ioredis client would keep this process alive
  // on its connect timer after a refused connection, the usual case here.
  const reply = await exchange(port, '*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$3\r\ndir\r\n', (text) => /^\*2\r\n\$3\r\ndir\r\n\$\d+\r\n.*\r\n/s.test(text) || text.startsWith('-'));
  const answered = reply === undefined ? undefined : /^\*2\r\n\$3\r\ndir\r\n\$\d+\r\n(.*)\r\n/s.exec(reply)?.[1];
  if (answered === undefined || answered !== path.resolve(dir)) return false;
  // The server closes the connection as it exits, without a reply.
  await exchange(port, 'SHUTDOWN\r\n', () => false);
  const deadline = Date.now() + 10_000;
  while ((await ping(port)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return true;
}

/** Sends `request` to a server on loopback; resolves with what came back once `complete` says so, or the connection ends. */
function exchange(port: number, request: string, complete: (text: string) => boolean): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const done = (value: string | undefined): void => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(2000);
    socket.once('connect', () => socket.write(request));
    socket.on('data', (d: Buffer) => {
      text += d.toString();
      if (complete(text)) done(text);
    });
    socket.once('end', () => done(text));
    socket.once('close', () => done(text === '' ? undefined : text));
    socket.once('error', () => done(undefined));
    socket.once('timeout', () => done(undefined));
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
