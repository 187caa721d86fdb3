import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { EmbeddedRedis } from '../../src/embedded-redis';

/** A private redis-server for one test file, on a free port, removed afterwards. */
export class TestRedis {
  private constructor(
    readonly server: EmbeddedRedis,
    readonly dir: string,
  ) {}

  static async start(options: { appendOnly?: boolean } = {}): Promise<TestRedis> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dropship-redis-'));
    const server = await EmbeddedRedis.start({ dir, appendOnly: options.appendOnly ?? false });
    return new TestRedis(server, dir);
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
