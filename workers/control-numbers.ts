import type { Redis } from 'ioredis';
import { markerKeys } from '../src/queue/names';

/** X12 control numbers wrap after nine digits (ISA13). */
const MAX_CONTROL_NUMBER = 999_999_999;

/**
 * The next interchange control number of a supplier, from a counter in Redis: atomic across
 * workers and kept across restarts.
 */
export async function nextControlNumber(redis: Redis, prefix: string, supplierId: string): Promise<number> {
  const n = await redis.incr(markerKeys.controlNumber(prefix, supplierId));
  return ((n - 1) % MAX_CONTROL_NUMBER) + 1;
}
