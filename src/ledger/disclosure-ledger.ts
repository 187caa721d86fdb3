import { createHash } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import { type KeySpace, keySpaceOf } from '../queue/partitions';
import type { RedisClient } from '../queue/redis';
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

/**
 * The disclosure ledger, kept in Redis apart from BullMQ job data (which is removed after a
 * while): `<prefix>:disclosures:<orderId>` is a hash of delivery id → record, so recording
 * the same delivery twice (a retry after a crash) keeps one record; an index sorted by time
 * lets `purge` drop records older than the retention. Records hold no payload, only paths
 * and a digest. With partitions (`QUEUE_PARTITIONS`), every key is the order's partition's:
 * a delivery records its disclosure in the same transaction (one hash slot) as its marker.
 */
export class DisclosureLedger {
  private readonly keys: KeySpace;

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
    await this.recordIn(this.redis.multi(), d).exec();
  }

  /** Adds the record's commands to a transaction the caller runs (one round trip with its own). */
  recordIn(multi: ChainableCommander, d: Disclosure): ChainableCommander {
    const prefix = this.keys.forOrder(d.orderId);
    return multi
      .hset(this.key(d.orderId), d.deliveryId, JSON.stringify(d))
      .pexpire(this.key(d.orderId), this.options.retentionMs)
      .zadd(this.indexKey(prefix), Date.parse(d.deliveredAt), d.orderId)
      .hset(this.lastKey(prefix), `${d.kind}:${d.recipient}`, d.deliveredAt);
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
