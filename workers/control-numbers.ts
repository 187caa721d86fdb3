import type { RedisClient } from '../src/queue/redis';
import { markerKeys } from '../src/queue/names';

/** X12 control numbers wrap after nine digits (ISA13). */
const MAX_CONTROL_NUMBER = 999_999_999;

/**
 * The next interchange control number of a supplier, from a counter in Redis: atomic across
 * workers and kept across restarts. `prefix` is the supplier's partition
 * (`KeySpace.forSupplier`), where its batches are numbered too.
 */
export async function nextControlNumber(redis: RedisClient, prefix: string, supplierId: string): Promise<number> {
  const n = await redis.incr(markerKeys.controlNumber(prefix, supplierId));
  return ((n - 1) % MAX_CONTROL_NUMBER) + 1;
}
