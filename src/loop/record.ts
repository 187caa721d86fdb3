import type { RedisClient } from '../queue/redis';
import { type KeySpace, keySpaceOf } from '../queue/partitions';
import type { AcknowledgementStatus } from '../core/confirmation';
import { markerKeys } from '../queue/names';
import { runScript } from '../queue/scripts';

/**
 * What came back about one order, in one Redis hash (`markerKeys.loop`), written only by the
 * scripts here so that two confirmations racing cannot both take the last units of a line,
 * and a confirmation seen before changes nothing:
 *
 * - `shipped:<lineId>`: units of the line shipped so far (by suppliers, or on labels the store bought);
 * - `ack:<supplierId>`: the supplier's latest acknowledgement (`AckEntry`);
 * - `seen:<digest>`: a confirmation already applied → the number of its event;
 * - `events` / `event:<n>`: the timeline's events (`LoopEvent`), numbered from 1;
 * - `fulfilled:<n>`: the store's answer to the fulfillment of event n (`FulfilledEntry`).
 *
 * Nothing personal: ids, SKUs, quantities, carriers, tracking numbers, statuses, the
 * supplier's reason (card numbers redacted at validation).
 */

/** One event of an order's loop, as the timeline shows it. */
export type LoopEvent =
  | {
      kind: 'acknowledged';
      at: string;
      supplierId: string;
      shipmentId: string;
      status: AcknowledgementStatus;
      reason?: string;
      lines?: Array<{ sku: string; quantity: number }>;
      channel: string;
      reference?: string;
    }
  | {
      kind: 'shipped';
      at: string;
      /** The supplier, or the warehouse, that shipped. */
      shipper: string;
      shipmentId: string;
      carrier: string;
      trackingNumbers: string[];
      trackingUrl?: string;
      /** Units per line id. */
      lines: Record<string, number>;
      shippedAt?: string;
      /** `api`, `sftp`, `cxml`, or `label` (a label the store bought). */
      channel: string;
      reference?: string;
    }
  | { kind: 'refused'; at: string; supplierId: string; what: 'acknowledgement' | 'shipment'; problems: string[]; channel: string; reference?: string };

export interface FulfilledEntry {
  at: string;
  storeFulfillmentId?: string;
  alreadyFulfilled?: boolean;
  /** Units the store fulfilled of those asked, when fewer (it had the rest fulfilled already). */
  partial?: { fulfilled: number; requested: number };
  /** For a person: "fulfilled in part: 3 of 5 units (…)". */
  detail?: string;
}

/** An order's loop as read back. */
export interface LoopRecord {
  shipped: Record<string, number>;
  acks: Record<string, { status: AcknowledgementStatus; at: string; reason?: string }>;
  events: Array<LoopEvent & { n: number; fulfilled?: FulfilledEntry }>;
  /** Digests of the confirmations applied → their event numbers. */
  seen: Record<string, number>;
}

/** How applying a confirmation went. */
export type ApplyResult =
  | { result: 'applied'; n: number; complete: boolean }
  | { result: 'duplicate'; n: number; complete: boolean }
  /** A line would exceed what was sent: someone else took the units first. Re-read and try again. */
  | { result: 'conflict'; lineId: string };

// KEYS[1]: the order's loop hash. ARGV: digest, increments JSON {lineId: n}, caps JSON
// {lineId: sent} for every line of the order, event JSON, ttl ms, ack field ('' for none),
// ack JSON. Returns {'applied'|'duplicate', n, complete} or {'conflict', lineId}.
const APPLY = `
local seen = redis.call('HGET', KEYS[1], 'seen:' .. ARGV[1])
local caps = cjson.decode(ARGV[3])
local function complete()
  for line, cap in pairs(caps) do
    if tonumber(redis.call('HGET', KEYS[1], 'shipped:' .. line) or '0') < cap then return 0 end
  end
  return 1
end
if seen then return {'duplicate', tonumber(seen), complete()} end
local inc = cjson.decode(ARGV[2])
for line, n in pairs(inc) do
  local now = tonumber(redis.call('HGET', KEYS[1], 'shipped:' .. line) or '0')
  if caps[line] == nil or now + n > caps[line] then return {'conflict', line} end
end
for line, n in pairs(inc) do redis.call('HINCRBY', KEYS[1], 'shipped:' .. line, n) end
local n = redis.call('HINCRBY', KEYS[1], 'events', 1)
redis.call('HSET', KEYS[1], 'event:' .. n, ARGV[4], 'seen:' .. ARGV[1], n)
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], ARGV[6], ARGV[7]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {'applied', n, complete()}
`;

// KEYS[1]: the loop hash. ARGV: event JSON, ttl ms. Appends an event (a refusal) and returns its number.
const APPEND = `
local n = redis.call('HINCRBY', KEYS[1], 'events', 1)
redis.call('HSET', KEYS[1], 'event:' .. n, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n
`;

/** The order's loop: every write is one script call. */
export class LoopStore {
  private readonly keys: KeySpace;

  constructor(
    private readonly redis: RedisClient,
    /** A plain prefix, or the partitions: an order's loop lives in its partition. */
    prefix: string | KeySpace,
    private readonly ttlMs: number,
  ) {
    this.keys = keySpaceOf(prefix);
  }

  private key(orderId: string): string {
    return markerKeys.loop(this.keys.forOrder(orderId), orderId);
  }

  /**
   * Applies a confirmation once: `digest` names it (the same confirmation again is a
   * duplicate, answered with its event's number). `increments` (units per line id) must fit
   * under `caps` (what was sent of every line of the order) with what already shipped.
   */
  async apply(
    orderId: string,
    change: { digest: string; increments: Record<string, number>; caps: Record<string, number>; event: LoopEvent; ack?: { supplierId: string; status: AcknowledgementStatus; at: string; reason?: string } },
  ): Promise<ApplyResult> {
    const reply = (await runScript(this.redis, APPLY,
      1,
      this.key(orderId),
      change.digest,
      // cjson decodes `{}` and `[]` alike; an empty object is written as one.
      JSON.stringify(change.increments),
      JSON.stringify(change.caps),
      JSON.stringify(change.event),
      String(this.ttlMs),
      change.ack ? `ack:${change.ack.supplierId}` : '',
      change.ack ? JSON.stringify({ status: change.ack.status, at: change.ack.at, ...(change.ack.reason ? { reason: change.ack.reason } : {}) }) : '',
    )) as [string, number | string, number?];
    if (reply[0] === 'conflict') return { result: 'conflict', lineId: String(reply[1]) };
    return { result: reply[0] as 'applied' | 'duplicate', n: Number(reply[1]), complete: reply[2] === 1 };
  }

  /** Records a refused confirmation in the timeline (what was wrong, never the values). */
  async refused(orderId: string, event: Extract<LoopEvent, { kind: 'refused' }>): Promise<void> {
    await runScript(this.redis, APPEND, 1, this.key(orderId), JSON.stringify(event), String(this.ttlMs));
  }

  /** Records the store's answer to the fulfillment of event `n`. */
  async fulfilled(orderId: string, n: number, entry: FulfilledEntry): Promise<void> {
    const key = this.key(orderId);
    await this.redis.multi().hset(key, `fulfilled:${n}`, JSON.stringify(entry)).pexpire(key, this.ttlMs).exec();
  }

  /** Units shipped so far per line id. */
  async shipped(orderId: string): Promise<Record<string, number>> {
    return (await this.read(orderId)).shipped;
  }

  async read(orderId: string): Promise<LoopRecord> {
    const all = await this.redis.hgetall(this.key(orderId));
    return parseLoop(all);
  }
}

/** Reads a loop hash's fields into a record. */
export function parseLoop(all: Record<string, string>): LoopRecord {
  const shipped: Record<string, number> = {};
  const acks: LoopRecord['acks'] = {};
  const events: LoopRecord['events'] = [];
  const fulfilled = new Map<number, FulfilledEntry>();
  const seen: Record<string, number> = {};
  for (const [field, value] of Object.entries(all)) {
    if (field.startsWith('seen:')) seen[field.slice(5)] = Number(value);
    else if (field.startsWith('shipped:')) shipped[field.slice(8)] = Number(value);
    else if (field.startsWith('ack:')) acks[field.slice(4)] = JSON.parse(value) as LoopRecord['acks'][string];
    else if (field.startsWith('event:')) events.push({ ...(JSON.parse(value) as LoopEvent), n: Number(field.slice(6)) });
    else if (field.startsWith('fulfilled:')) fulfilled.set(Number(field.slice(10)), JSON.parse(value) as FulfilledEntry);
  }
  events.sort((a, b) => a.n - b.n);
  for (const e of events) {
    const f = fulfilled.get(e.n);
    if (f) e.fulfilled = f;
  }
  return { shipped, acks, events, seen };
}
