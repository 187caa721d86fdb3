import { createHash } from 'node:crypto';
import type { RedisClient } from './redis';

/**
 * Runs a Lua script by its SHA1 (`EVALSHA`), sending the whole text (`EVAL`) only when the
 * server does not have it yet (`NOSCRIPT`: a new or restarted server, or a cluster node seeing
 * it for the first time). `EVAL` also caches the script, so the next call is by hash again.
 * The result and the keys touched are the same as `EVAL`'s; Redis no longer reads and hashes
 * the whole script on every call.
 */
const SHAS = new Map<string, string>();

function shaOf(script: string): string {
  let sha = SHAS.get(script);
  if (sha === undefined) {
    sha = createHash('sha1').update(script).digest('hex');
    SHAS.set(script, sha);
  }
  return sha;
}

export async function runScript(redis: RedisClient, script: string, numKeys: number, ...args: Array<string | number | Buffer>): Promise<unknown> {
  try {
    return await redis.evalsha(shaOf(script), numKeys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return redis.eval(script, numKeys, ...args);
  }
}
