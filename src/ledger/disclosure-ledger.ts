import { createHash } from 'node:crypto';
import { type KeySpace, keySpaceOf } from '../queue/partitions';
import type { RedisClient } from '../queue/redis';
import { runScript } from '../queue/scripts';
import type { FieldPath } from '../core/field-paths';

/** What was shared about one order, with whom and when: one record per delivered payload. */
export interface Disclosure {
  orderId: string;
  deliveryId: string;
  recipient: string;
  kind: 'carrier' | 'dropship';
  transport: string;
  format: string;
  /** Canonical paths whose values the payload carried. */
  fields: FieldPath[];
  /** sha256 (hex) of the exact payload before encryption. */
  sha256: string;
  /** ISO 8601 time the receiver had it. */
  deliveredAt: string;
  /** The batch file it went in, for suppliers that take batches (`sha256` is then the file's). */
  batchId?: string;
}

export function sha256Hex(body: string): string {
  return createHash('sha256').update(body, 'utf8').digest('hex');
}

/** How often recipients' last deliveries noted with `noteLast` are written. */
const LAST_FLUSH_MS = 5000;

/**
 * Lua defining `record_disclosure(k, a)`, which records one disclosure from `KEYS[k..k+2]` and
 * `ARGV[a..a+6]` as {@link DisclosureLedger.recordParts} lays them out: the record in the
 * order's hash (its expiry renewed), the order in the partition's index by time, the
 * recipient's last delivery (unless its time is '': the caller notes it with `noteLast`).
 * For scripts that land a delivery (workers/delivery-worker.ts): its record goes in with its
 * delivered marker in one step, one round trip.
 */
export const RECORD_DISCLOSURE_LUA = `
local function record_disclosure(k, a)
  redis.call('HSET', KEYS[k], ARGV[a], ARGV[a + 1])
  redis.call('PEXPIRE', KEYS[k], ARGV[a + 2])
  redis.call('ZADD', KEYS[k + 1], ARGV[a + 3], ARGV[a + 4])
  if ARGV[a + 6] ~= '' then redis.call('HSET', KEYS[k + 2], ARGV[a + 5], ARGV[a + 6]) end
end`;

const RECORD = `${RECORD_DISCLOSURE_LUA}
record_disclosure(1, 1)`;

/** What `record_disclosure` takes for one record: 3 keys, 7 values. */
export interface RecordParts {
  keys: [hash: string, index: string, last: string];
  args: [deliveryId: string, record: string, retentionMs: string, score: string, orderId: string, recipient: string, deliveredAt: string];
}

/**
 * The disclosure ledger, kept in Redis apart from BullMQ job data (which is removed after a
 * while): `<prefix>:disclosures:<orderId>` is a hash of delivery id → record, so recording
 * the same delivery twice (a retry after a crash) keeps one record; an index sorted by time
 * lets `purge` drop records older than the retention. Records hold no payload, only paths
 * and a digest. With partitions (`QUEUE_PARTITIONS`), every key is the order's partition's:
 * a delivery records its disclosure in the same script (one hash slot) as its marker.
 */
export class DisclosureLedger {
  private readonly keys: KeySpace;
  /** Recipients' last deliveries noted and not yet written, by partition key: `<kind>:<recipient>` → time. */
  private readonly pendingLast = new Map<string, Map<string, string>>();
  private lastTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: { prefix: string | KeySpace; retentionMs: number },
  ) {
    this.keys = keySpaceOf(options.prefix);
  }

  private key(orderId: string): string {
    return `${this.keys.forOrder(orderId)}:disclosures:${orderId}`;
  }

  private indexKey(prefix: string): string {
    return `${prefix}:disclosures-index`;
  }

  /** `<kind>:<recipient>` → when it last had a payload: one small hash per partition, read by the console's suppliers page. */
  private lastKey(prefix: string): string {
    return `${prefix}:disclosures-last`;
  }

  async record(d: Disclosure): Promise<void> {
    const { keys, args } = this.recordParts(d);
    await runScript(this.redis, RECORD, keys.length, ...keys, ...args);
  }

  /**
   * The keys and values of one record for `RECORD_DISCLOSURE_LUA`, for a script the caller
   * runs with its own writes. Every key is in the order's partition (one hash slot). With
   * `lastLater`, the recipient's last delivery is left out: the caller notes it once the
   * script ran ({@link noteLast}).
   */
  recordParts(d: Disclosure, options: { lastLater?: boolean } = {}): RecordParts {
    const prefix = this.keys.forOrder(d.orderId);
    return {
      keys: [this.key(d.orderId), this.indexKey(prefix), this.lastKey(prefix)],
      args: [d.deliveryId, JSON.stringify(d), String(this.options.retentionMs), String(Date.parse(d.deliveredAt)), d.orderId, `${d.kind}:${d.recipient}`, options.lastLater ? '' : d.deliveredAt],
    };
  }

  /**
   * Notes a recipient's delivery as its last, written with the others every few seconds (one
   * `HSET` per partition then, instead of one per delivery): the console's "last delivery" may
   * lag by that much, and a process that dies loses at most that much of it.
   */
  noteLast(d: Pick<Disclosure, 'orderId' | 'kind' | 'recipient' | 'deliveredAt'>): void {
    this.keepLast(this.lastKey(this.keys.forOrder(d.orderId)), `${d.kind}:${d.recipient}`, d.deliveredAt);
    if (!this.lastTimer) {
      this.lastTimer = setInterval(() => void this.flushLast().catch(() => undefined), LAST_FLUSH_MS);
      this.lastTimer.unref();
    }
  }

  /** Keeps `at` as the recipient's (`field`) last delivery to write, unless a later one is kept. */
  private keepLast(key: string, field: string, at: string): void {
    let pending = this.pendingLast.get(key);
    if (!pending) this.pendingLast.set(key, (pending = new Map()));
    const kept = pending.get(field);
    if (kept === undefined || kept < at) pending.set(field, at);
  }

  /** Writes the last deliveries noted (the newest noted per recipient and partition); those that could not be are kept for the next time. */
  async flushLast(): Promise<void> {
    const batches = [...this.pendingLast.entries()];
    this.pendingLast.clear();
    const failed = await Promise.all(
      batches.map(async ([key, fields]) => {
        try {
          await this.redis.hset(key, Object.fromEntries(fields));
        } catch (error) {
          // Redis away: noted again (newer ones noted meanwhile win), for the next flush.
          for (const [field, at] of fields) this.keepLast(key, field, at);
          return error;
        }
        return undefined;
      }),
    );
    const error = failed.find((e) => e !== undefined);
    if (error !== undefined) throw error;
  }

  /** Writes what is noted and stops the timer. */
  async close(): Promise<void> {
    if (this.lastTimer) clearInterval(this.lastTimer);
    this.lastTimer = undefined;
    await this.flushLast();
  }

  /**
   * When each recipient last had a payload (ISO 8601), by `<kind>:<recipient>` (`dropship:creamery`,
   * `carrier:ups`), kept beyond the retention of jobs and records: it names only recipients and times.
   */
  async lastByRecipient(): Promise<Record<string, string>> {
    const last: Record<string, string> = {};
    for (const prefix of this.keys.prefixes) {
      for (const [recipient, at] of Object.entries(await this.redis.hgetall(this.lastKey(prefix)))) {
        if (last[recipient] === undefined || last[recipient] < at) last[recipient] = at;
      }
    }
    return last;
  }

  /** Every disclosure about one order, oldest first. */
  async forOrder(orderId: string): Promise<Disclosure[]> {
    const all = Object.values(await this.redis.hgetall(this.key(orderId))).map((v) => JSON.parse(v) as Disclosure);
    return all.sort((a, b) => a.deliveredAt.localeCompare(b.deliveredAt) || a.deliveryId.localeCompare(b.deliveryId));
  }

  /** Drops the records of orders whose last disclosure is older than `olderThanMs`; returns how many orders. */
  async purge(olderThanMs: number, now = Date.now()): Promise<number> {
    const cutoff = now - olderThanMs;
    let purged = 0;
    for (const prefix of this.keys.prefixes) {
      const orders = await this.redis.zrangebyscore(this.indexKey(prefix), '-inf', cutoff);
      for (let i = 0; i < orders.length; i += 500) {
        const batch = orders.slice(i, i + 500);
        await this.redis
          .multi()
          .del(...batch.map((o) => this.key(o)))
          .zrem(this.indexKey(prefix), ...batch)
          .exec();
      }
      purged += orders.length;
    }
    return purged;
  }
}
