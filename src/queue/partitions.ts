import { Cluster } from 'ioredis';
import { keySlot } from './key-slot';
import { metaKeys, partitionIndex, partitionPrefix } from './names';
import type { RedisClient } from './redis';

/**
 * Where an order's keys and jobs live: the partition prefixes of one deployment
 * (`QUEUE_PARTITIONS`, on a Redis Cluster or a single node). Every part of the pipeline
 * derives an order's prefix from its id here, so the same order lands in the same partition
 * in every process.
 */
export class KeySpace {
  /** Every partition's prefix, in partition order. */
  readonly prefixes: readonly string[];

  private constructor(
    /** The deployment's prefix (`QUEUE_PREFIX`): keys about the whole deployment live under it. */
    readonly base: string,
    /** How many partitions orders are spread over. */
    readonly count: number,
    /** Whether prefixes carry a hash tag: on a cluster always, on a single node with more than one partition. */
    readonly tagged: boolean,
  ) {
    this.prefixes = Array.from({ length: count }, (_, n) => partitionPrefix(base, n, count, tagged));
  }

  /**
   * The key space of `count` partitions under `base`. On a cluster (`cluster: true`) every
   * prefix is hash-tagged, even with one partition; on a single node with one partition the
   * prefix is `base` itself, the keys as they were before partitions.
   */
  static of(base: string, count = 1, cluster = false): KeySpace {
    if (!Number.isInteger(count) || count < 1 || count > 1024) throw new RangeError(`QUEUE_PARTITIONS must be a whole number from 1 to 1024, not ${count}`);
    return new KeySpace(base, count, cluster || count > 1);
  }

  /** The partition of an order. */
  indexOf(orderId: string): number {
    return partitionIndex(orderId, this.count);
  }

  /** The prefix of an order's partition: its queue jobs and every key about it. */
  forOrder(orderId: string): string {
    return this.prefixes[this.indexOf(orderId)]!;
  }

  /** The prefix of the partition holding a supplier's batches and X12 control numbers. */
  forSupplier(supplierId: string): string {
    return this.prefixes[partitionIndex(`supplier:${supplierId}`, this.count)]!;
  }
}

/** A key space as given: one already made, or a plain prefix (one partition on a single node). */
export function keySpaceOf(given: string | KeySpace): KeySpace {
  return typeof given === 'string' ? KeySpace.of(given) : given;
}

/**
 * MGET of keys that may lie in different hash slots: one MGET on a single server, one per
 * slot on a cluster (a cluster refuses an MGET across slots). Values in the order of `keys`.
 */
export async function mgetAcross(redis: RedisClient, keys: readonly string[]): Promise<Array<string | null>> {
  if (keys.length === 0) return [];
  if (!(redis instanceof Cluster)) return redis.mget(...keys);
  const bySlot = new Map<number, number[]>();
  keys.forEach((key, i) => {
    const slot = keySlot(key);
    bySlot.set(slot, [...(bySlot.get(slot) ?? []), i]);
  });
  const values: Array<string | null> = new Array<string | null>(keys.length).fill(null);
  await Promise.all(
    [...bySlot.values()].map(async (at) => {
      const got = await redis.mget(...at.map((i) => keys[i]!));
      at.forEach((i, j) => (values[i] = got[j] ?? null));
    }),
  );
  return values;
}

/** A change of `QUEUE_PARTITIONS` while jobs are still laid out the old way. */
export class PartitionsChangedError extends Error {}

/**
 * Jobs a queue still holds that are not done with (waiting, active, paused, delayed,
 * prioritized, waiting for children, failed), read from BullMQ's keys one by one (lists and
 * sorted sets): opening a Queue object on a layout would write its meta key there.
 */
async function unfinishedJobs(redis: RedisClient, prefix: string, name: string): Promise<number> {
  const key = (kind: string) => `${prefix}:${name}:${kind}`;
  const counts = await Promise.all([
    ...['wait', 'active', 'paused'].map((kind) => redis.llen(key(kind))),
    ...['delayed', 'prioritized', 'waiting-children', 'failed'].map((kind) => redis.zcard(key(kind))),
  ]);
  return counts.reduce((a, b) => a + b, 0);
}

/** The partition count the queues were laid out with, if one was recorded. */
export async function recordedPartitions(redis: RedisClient, base: string): Promise<number | undefined> {
  const stored = await redis.get(metaKeys.partitions(base));
  return stored === null ? undefined : Number(stored);
}

/**
 * Records the partition count `keys` lays the queues out with, or refuses it: a change of
 * `QUEUE_PARTITIONS` would strand every job and marker of the old layout (an order's keys
 * would be looked for in another partition), so it is taken only while the queues
 * (`queueNames`, in every partition of the old layout) hold no unfinished or failed job.
 */
export async function claimPartitions(redis: RedisClient, keys: KeySpace, queueNames: readonly string[]): Promise<void> {
  const key = metaKeys.partitions(keys.base);
  const stored = await recordedPartitions(redis, keys.base);
  if (stored === keys.count) return;
  const cluster = redis instanceof Cluster;
  // Nothing recorded: a deployment from before partitions (one partition, single node), or a new one.
  const before = stored !== undefined ? KeySpace.of(keys.base, stored, cluster) : cluster ? undefined : KeySpace.of(keys.base);
  if (before && before.prefixes.join() !== keys.prefixes.join()) {
    let left = 0;
    for (const prefix of before.prefixes) for (const name of queueNames) left += await unfinishedJobs(redis, prefix, name);
    if (left > 0) {
      throw new PartitionsChangedError(
        `QUEUE_PARTITIONS is ${keys.count}, but the queues were laid out for ${before.count} partition${before.count === 1 ? '' : 's'} and still hold ${left} unfinished or failed job${left === 1 ? '' : 's'}: ` +
          `start with QUEUE_PARTITIONS=${before.count} until they are done (and failed ones replayed or purged), then change it`,
      );
    }
  }
  await redis.set(key, String(keys.count));
}

/**
 * The key space a process that does not start the pipeline (the CLI, a producer) works in:
 * the partition count the pipeline recorded, else `partitions` (`QUEUE_PARTITIONS`), else 1.
 */
export async function keySpaceFor(redis: RedisClient, base: string, partitions?: number): Promise<KeySpace> {
  return KeySpace.of(base, (await recordedPartitions(redis, base)) ?? partitions ?? 1, redis instanceof Cluster);
}
