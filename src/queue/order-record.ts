import type { RedisClient } from './redis';
import type { OrderReason } from '../errors';
import { markerKeys } from './names';
import { runScript } from './scripts';

/**
 * The record of one order in Redis: which version of it was accepted last, and what became
 * of it. It is what makes a corrected order replace a held or waiting one, an older version
 * be ignored, and a change after the order went out be held instead of sent:
 *
 * - intake accepts a version only if it is newer than the record's ({@link acceptVersion},
 *   one script: two events racing cannot both win) and stores its sealed data here;
 * - the order worker plans whatever version the record holds when it runs, and writes the
 *   outcome only if that is still the record's version ({@link commitOutcome}); if a newer
 *   one came in meanwhile, the job runs again for it.
 *
 * Nothing personal is in clear: the order is sealed with the data cipher (and removed once
 * planned or skipped), the fingerprint of what was planned is sealed too, and reasons name
 * statuses, SKUs and field paths only.
 */

/** What became of the version an order's record holds. */
export type OrderStage = 'queued' | 'waiting' | 'held' | 'skipped' | 'planned';

/** An order's record as read back. */
export interface OrderRecord {
  /** The version accepted last (ms since 1970 of the store's change, or a count). */
  version: string;
  stage: OrderStage;
  reasons: OrderReason[];
  /** The sealed order of `version`, while it is not yet planned or skipped. */
  data?: string;
  /** The version whose deliveries were planned (and may have gone out), once one was. */
  planned?: string;
  /** Sealed fingerprint (`OrderFingerprint`) of what was planned. */
  fingerprint?: string;
  /** When the stage was last written (ISO 8601). */
  at?: string;
}

/** How intake's version compared with the record's. */
export type VersionVerdict =
  /** No record: the order is new. */
  | 'new'
  /** Newer than the record's: it replaces it. */
  | 'newer'
  /** The same version again (a webhook retry, a re-post): a duplicate. */
  | 'same'
  /** Older than the record's: ignored. */
  | 'older';

// KEYS: record, the order's seen marker (orders accepted before records existed), its job,
// and (when the order has one) the key of the store's name for it.
// ARGV: version ('' when the event has none), replace ('1'), sealed data, ttl ms, now, the order id.
// A version-less event replaces only when it says so (`replace`) or the order is waiting
// (POST /orders again is how a canonical order is released); it then counts as the next one.
const ACCEPT_BODY = `
local version, stage = current[1], current[2]
if not version then
  if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then return 'same' end
  local v = ARGV[1] ~= '' and ARGV[1] or '0'
  redis.call('HSET', KEYS[1], 'version', v, 'stage', 'queued', 'reasons', '[]', 'data', ARGV[3], 'at', ARGV[5])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  if KEYS[4] then redis.call('SET', KEYS[4], ARGV[6], 'PX', ARGV[4]) end
  return 'new'
end
local v
if ARGV[1] ~= '' then
  local given, held = tonumber(ARGV[1]), tonumber(version)
  if given < held then return 'older' end
  if given == held and ARGV[2] ~= '1' then return 'same' end
  if given == held then v = tostring(held + 1) else v = ARGV[1] end
elseif ARGV[2] == '1' or stage == 'waiting' then
  v = tostring(tonumber(version) + 1)
else
  return 'same'
end
redis.call('HSET', KEYS[1], 'version', v, 'stage', 'queued', 'reasons', '[]', 'data', ARGV[3], 'at', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if KEYS[4] then redis.call('SET', KEYS[4], ARGV[6], 'PX', ARGV[4]) end
return 'newer'
`;
const ACCEPT = `
local current = redis.call('HMGET', KEYS[1], 'version', 'stage')
${ACCEPT_BODY}`;

// KEYS: as ACCEPT's first four (record, seen marker, job, name key or the record again), then
// the cancelled marker, the manifest, the order's sealed copy and the partition's planning
// index. ARGV: as ACCEPT's, then the sealed fingerprint, the manifest JSON, the copy's ttl ms,
// now in ms, the source JSON.
// An order never seen, not cancelled and with no job is recorded as planned at once (see
// {@link acceptPlanned}): 'planned'. Anything else is ACCEPT's verdict, and the order worker
// plans it. (No seen marker is set: the record, kept as long, says it.)
const ACCEPT_PLANNED = `
if redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[5]) == 0 then
  local v = ARGV[1] ~= '' and ARGV[1] or '0'
  redis.call('HSET', KEYS[1], 'version', v, 'stage', 'planned', 'reasons', '[]', 'at', ARGV[5], 'planned', v, 'fingerprint', ARGV[7], 'source', ARGV[11])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  if KEYS[4] ~= KEYS[1] then redis.call('SET', KEYS[4], ARGV[6], 'PX', ARGV[4]) end
  redis.call('SET', KEYS[6], ARGV[8], 'PX', ARGV[4])
  redis.call('SET', KEYS[7], ARGV[3], 'PX', ARGV[9])
  redis.call('ZADD', KEYS[8], ARGV[10], ARGV[6])
  return 'planned'
end
if KEYS[4] == KEYS[1] then KEYS[4] = nil end
local current = redis.call('HMGET', KEYS[1], 'version', 'stage')
${ACCEPT_BODY}`;

/** What {@link acceptPlanned} did: planned it, or ACCEPT's verdict. */
type PlannedVerdict = { planned: true } | { planned: false; verdict: VersionVerdict };

/**
 * Accepts an order already planned by the caller: when it was never seen (no record, seen
 * marker, job or cancellation), it is recorded in one script as planned, with its manifest, its sealed copy (for the unmasked console, and for planning it again) and an entry
 * in the partition's planning index, which the caller removes ({@link planQueued}) once its
 * deliveries are queued. Otherwise nothing of the plan is kept, and the version is judged as
 * {@link acceptVersion} does. Deliveries that landed before (an order whose record expired
 * before its delivered markers) are not looked for: their workers find the markers and skip.
 */
export async function acceptPlanned(
  redis: RedisClient,
  prefix: string,
  orderId: string,
  jobKey: string,
  offer: { version?: number; replace: boolean; sealed: string; ttlMs: number; name?: string; source: string },
  plan: { fingerprint: string; manifest: string; copyTtlMs: number },
): Promise<PlannedVerdict> {
  const record = markerKeys.order(prefix, orderId);
  const nameKey = offer.name === undefined || offer.name === orderId ? record : markerKeys.orderName(prefix, offer.name);
  const now = Date.now();
  const answer = (await runScript(redis, ACCEPT_PLANNED,
    8,
    record,
    markerKeys.orderSeen(prefix, orderId),
    jobKey,
    nameKey,
    markerKeys.cancelled(prefix, orderId),
    markerKeys.manifest(prefix, orderId),
    markerKeys.orderCopy(prefix, orderId),
    markerKeys.planning(prefix),
    offer.version === undefined ? '' : String(offer.version),
    offer.replace ? '1' : '0',
    offer.sealed,
    String(offer.ttlMs),
    new Date(now).toISOString(),
    orderId,
    plan.fingerprint,
    plan.manifest,
    String(plan.copyTtlMs),
    String(now),
    offer.source,
  )) as string;
  return answer === 'planned' ? { planned: true } : { planned: false, verdict: answer as VersionVerdict };
}

/**
 * The deliveries of an order {@link acceptPlanned} recorded are queued: it leaves the planning
 * index, and its source event (when it has one) is marked seen; with `copyTtlMs`, its sealed
 * copy (kept longer than that so that a recovery could plan it again) is given that lifetime
 * back. One round trip.
 */
export async function planQueued(redis: RedisClient, prefix: string, orderId: string, ttlMs: number, eventKey?: string, copyTtlMs?: number): Promise<void> {
  // Sent together, not as a pipeline: the intake's connection carries BullMQ's scripts, which
  // every ioredis pipeline object copies.
  await Promise.all([
    redis.zrem(markerKeys.planning(prefix), orderId),
    ...(eventKey === undefined ? [] : [redis.set(eventKey, '1', 'PX', ttlMs)]),
    // The sealed copy outlived its retention only to let a recovery plan it again: it is
    // needed no more.
    ...(copyTtlMs === undefined ? [] : [redis.pexpire(markerKeys.orderCopy(prefix, orderId), copyTtlMs)]),
  ]);
}

/** Orders the intake planned more than `olderThanMs` ago whose deliveries it never confirmed queued: its process died between the two. */
export async function unsettledPlans(redis: RedisClient, prefix: string, olderThanMs: number, limit = 100): Promise<Array<{ orderId: string; sealed?: string; source?: string }>> {
  const ids = await redis.zrangebyscore(markerKeys.planning(prefix), '-inf', Date.now() - olderThanMs, 'LIMIT', 0, limit);
  if (ids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.get(markerKeys.orderCopy(prefix, id)).hget(markerKeys.order(prefix, id), 'source');
  const rows = ((await pipeline.exec()) ?? []) as Array<[Error | null, string | null]>;
  return ids.map((orderId, i) => {
    const sealed = rows[2 * i]?.[1] ?? null;
    const source = rows[2 * i + 1]?.[1] ?? null;
    return { orderId, ...(sealed !== null ? { sealed } : {}), ...(source !== null ? { source } : {}) };
  });
}

/** Takes an order off the planning index (its sealed copy is gone: nothing is left to plan it from). */
export async function forgetPlan(redis: RedisClient, prefix: string, orderId: string): Promise<void> {
  await redis.zrem(markerKeys.planning(prefix), orderId);
}

// KEYS: record. ARGV: version planned, stage, reasons JSON, planned version ('' to leave),
// sealed fingerprint, drop data ('1'), ttl ms, now. 0 when the record moved on, else the
// stage it had before.
const COMMIT = `
local version = redis.call('HGET', KEYS[1], 'version')
local before = redis.call('HGET', KEYS[1], 'stage') or 'queued'
if not version then
  if ARGV[1] ~= '0' then return 0 end
  redis.call('HSET', KEYS[1], 'version', '0')
elseif version ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'stage', ARGV[2], 'reasons', ARGV[3], 'at', ARGV[8])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'planned', ARGV[4], 'fingerprint', ARGV[5]) end
if ARGV[6] == '1' then redis.call('HDEL', KEYS[1], 'data') end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return before
`;

/**
 * Accepts a version of an order into its record if it is newer than the one there (or there
 * is none), storing its sealed data. `replace` (POST /orders `"replace": true`) makes it
 * newer than the record's; without a version it counts as the next one.
 */
export async function acceptVersion(
  redis: RedisClient,
  prefix: string,
  orderId: string,
  jobKey: string,
  offer: { version?: number; replace: boolean; sealed: string; ttlMs: number; name?: string },
): Promise<VersionVerdict> {
  // The store's name for the order, when it has one, is found again as long as the order is.
  const nameKey = offer.name === undefined || offer.name === orderId ? [] : [markerKeys.orderName(prefix, offer.name)];
  const verdict = await runScript(redis, ACCEPT,
    3 + nameKey.length,
    markerKeys.order(prefix, orderId),
    markerKeys.orderSeen(prefix, orderId),
    jobKey,
    ...nameKey,
    offer.version === undefined ? '' : String(offer.version),
    offer.replace ? '1' : '0',
    offer.sealed,
    String(offer.ttlMs),
    new Date().toISOString(),
    orderId,
  );
  return verdict as VersionVerdict;
}

/** Reads an order's record; undefined when there is none (never accepted, or expired). */
export async function readRecord(redis: RedisClient, prefix: string, orderId: string): Promise<OrderRecord | undefined> {
  return parseRecord(await redis.hgetall(markerKeys.order(prefix, orderId)));
}

/** The record and whether the order was cancelled, in one round trip: what the order worker starts from. */
export async function readForPlanning(redis: RedisClient, prefix: string, orderId: string): Promise<{ record: OrderRecord | undefined; cancelled: boolean }> {
  const [[, raw], [, cancelled]] = (await redis.pipeline().hgetall(markerKeys.order(prefix, orderId)).exists(markerKeys.cancelled(prefix, orderId)).exec()) as [
    [Error | null, Record<string, string>],
    [Error | null, number],
  ];
  return { record: parseRecord(raw ?? {}), cancelled: cancelled === 1 };
}

function parseRecord(raw: Record<string, string>): OrderRecord | undefined {
  if (raw.version === undefined) return undefined;
  return {
    version: raw.version,
    stage: (raw.stage ?? 'queued') as OrderStage,
    reasons: raw.reasons ? (JSON.parse(raw.reasons) as OrderReason[]) : [],
    ...(raw.data !== undefined ? { data: raw.data } : {}),
    ...(raw.planned !== undefined ? { planned: raw.planned } : {}),
    ...(raw.fingerprint !== undefined ? { fingerprint: raw.fingerprint } : {}),
    ...(raw.at !== undefined ? { at: raw.at } : {}),
  };
}

/** What the worker writes about the version it planned. */
export interface Outcome {
  stage: Exclude<OrderStage, 'queued'>;
  reasons: readonly OrderReason[];
  /** Deliveries were planned: the sealed fingerprint of what they carry. */
  planned?: { fingerprint: string };
  /** The sealed order is not needed again (skipped, or its deliveries are queued). */
  dropData?: boolean;
}

/**
 * Writes what became of `version` of an order, only if it is still the record's version
 * (a record without one, an order queued before records existed, counts as version "0").
 * Returns false when a newer version came in meanwhile: the caller plans again. A waiting
 * order is listed in the waiting index, anything else taken off it.
 */
export async function commitOutcome(redis: RedisClient, prefix: string, orderId: string, version: string, outcome: Outcome, ttlMs: number): Promise<boolean> {
  const now = new Date();
  const done = await runScript(redis, COMMIT,
    1,
    markerKeys.order(prefix, orderId),
    version,
    outcome.stage,
    JSON.stringify(outcome.reasons),
    outcome.planned ? version : '',
    outcome.planned?.fingerprint ?? '',
    outcome.dropData ? '1' : '0',
    String(ttlMs),
    now.toISOString(),
  );
  if (done === 0) return false;
  // A separate key (its own slot on a cluster): a listing for operators, not a decision.
  if (outcome.stage === 'waiting') await redis.zadd(markerKeys.waitingOrders(prefix), now.getTime(), orderId);
  else if (done === 'waiting') await redis.zrem(markerKeys.waitingOrders(prefix), orderId);
  return true;
}

// KEYS: record, the order's seen marker, the planning index. ARGV: version, marker ttl ms,
// the order id. Marks the order seen, drops the sealed order once the version's deliveries
// are queued, and takes the order off the planning index.
const SETTLE = `
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
if redis.call('HGET', KEYS[1], 'version') == ARGV[1] then redis.call('HDEL', KEYS[1], 'data') end
redis.call('ZREM', KEYS[3], ARGV[3])
return 1
`;

/**
 * Once a planned version's deliveries are queued (or its order was cancelled meanwhile): marks
 * the order seen, removes the sealed order of `version` from its record, since nothing needs
 * it again, and takes the order off the planning index (where an order the intake planned is
 * until then). One command.
 */
export async function settlePlanned(redis: RedisClient, prefix: string, orderId: string, version: string, ttlMs: number): Promise<void> {
  await runScript(redis, SETTLE, 3, markerKeys.order(prefix, orderId), markerKeys.orderSeen(prefix, orderId), markerKeys.planning(prefix), version, String(ttlMs), orderId);
}
