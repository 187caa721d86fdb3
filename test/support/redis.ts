import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { EmbeddedRedis } from '../../src/queue/embedded-redis';

/** A private redis-server for one test file, on a free port, removed afterwards. */
export class TestRedis {
  private constructor(
    public server: EmbeddedRedis,
    readonly dir: string,
    private readonly appendOnly: boolean,
  ) {}

  static async start(options: { appendOnly?: boolean; port?: number } = {}): Promise<TestRedis> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dropship-redis-'));
    const appendOnly = options.appendOnly ?? false;
    const server = await EmbeddedRedis.start({ dir, appendOnly, ...(options.port !== undefined ? { port: options.port } : {}) });
    return new TestRedis(server, dir, appendOnly);
  }

  /** Starts the server again on the same port and data folder (after `server.kill()`). */
  async restart(): Promise<void> {
    this.server = await EmbeddedRedis.start({ dir: this.dir, appendOnly: this.appendOnly, port: this.server.port });
  }

  get url(): string {
    return this.server.url;
  }

  client(): Redis {
    return new Redis(this.url, { maxRetriesPerRequest: null });
  }

  /** Every key and every value (strings, hashes, lists, sets, sorted sets, streams) as text. */
  async dump(): Promise<string[]> {
    const redis = this.client();
    const out: string[] = [];
    try {
      for (const key of await redis.keys('*')) {
        out.push(key);
        const type = await redis.type(key);
        if (type === 'string') out.push((await redis.get(key)) ?? '');
        else if (type === 'hash') out.push(...Object.entries(await redis.hgetall(key)).flat());
        else if (type === 'list') out.push(...(await redis.lrange(key, '0', '-1')));
        else if (type === 'set') out.push(...(await redis.smembers(key)));
        else if (type === 'zset') out.push(...(await redis.zrange(key, '0', '-1')));
        else if (type === 'stream') out.push(JSON.stringify(await redis.xrange(key, '-', '+')));
        else out.push(`<${type}>`);
      }
    } finally {
      redis.disconnect();
    }
    return out;
  }

  async stop(): Promise<void> {
    await this.server.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
