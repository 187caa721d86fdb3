import { Cluster } from 'ioredis';
import { keySlot } from './key-slot';
import type { RedisClient } from './redis';

/** How intake makes sure an accepted order survives the loss of the primary holding it. */
export interface Durability {
  /** Replicas that must have the order's writes before it is answered as accepted. @defaultValue 1 */
  replicas: number;
  /** How long to wait for them (`REDIS_WAIT_TIMEOUT`). */
  timeoutMs: number;
}

/**
 * Waits until `replicas` replicas of the primary serving `key`'s slot have every write this
 * client sent that primary (`WAIT numreplicas timeout`), and returns how many confirmed. On a
 * single server there is nothing to wait for: it returns `replicas`.
 *
 * ioredis does not route WAIT by key (it has none): the primary is found from the cluster's
 * slot table, and WAIT goes over the very connection the writes went over (the cluster
 * client's connection to that node), since WAIT counts that connection's writes.
 */
export async function waitForReplicas(redis: RedisClient, key: string, replicas: number, timeoutMs: number): Promise<number> {
  if (!(redis instanceof Cluster)) return replicas;
  const owner = redis.slots[keySlot(key)]?.[0];
  const node = owner === undefined ? undefined : redis.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
  if (!node) return 0;
  return Number(await node.call('WAIT', String(replicas), String(Math.max(1, Math.round(timeoutMs)))));
}
