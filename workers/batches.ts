import { Queue } from 'bullmq';
import { type KeySpace, keySpaceOf } from '../src/queue/partitions';
import type { RedisClient } from '../src/queue/redis';
import type { Config, SupplierConfig } from '../src/config/config';
import type { FieldPath } from '../src/core/field-paths';
import type { DropShipOrder } from '../src/formats/format';
import { formatById } from '../src/formats';
import { BATCH_JOB, CUT_JOB, deliveryQueueName, markerKeys } from '../src/queue/names';
import { deliveryJobOptions } from '../src/queue/retry';
import { type DataCipher, openJob } from '../src/queue/sealing';
import { runScript } from '../src/queue/scripts';

/** One purchase order waiting in a supplier's open batch. */
export interface BatchEntry {
  deliveryId: string;
  orderId: string;
  shipmentId: string;
  view: DropShipOrder;
  fields: FieldPath[];
  createdAt: string;
}

/** What a batch job carries: ids only (the purchase orders stay in the batch's hash). */
export interface BatchJob {
  /** The batch id, as delivery id: markers, ledger and idempotency keys use it. */
  deliveryId: string;
  /** The batch id again, where an order id is expected (e.g. the cancelled-mark lookup finds none). */
  orderId: string;
  supplierId: string;
}

/** What a cut batch remembers besides its entries (hash field `meta:`). */
export interface BatchMeta {
  createdAt: string;
  controlNumber?: number;
}

export const META_FIELD = 'meta:';

const keys = (prefix: string, supplierId: string) => ({
  open: `${prefix}:batch:${supplierId}:open`,
  seq: `${prefix}:batch:${supplierId}:seq`,
  pending: `${prefix}:batch:${supplierId}:pending`,
  cutPrefix: `${prefix}:batch:${supplierId}:cut:`,
});

/** Key of a cut batch's hash. */
export function batchKey(prefix: string, supplierId: string, batchId: string): string {
  return `${keys(prefix, supplierId).cutPrefix}${batchId}`;
}

/**
 * Cuts the open batch: numbers it, renames it to its own key with its time (and X12 control
 * number) and notes it as pending delivery, all at once. Leaves the id in `id`, or false when
 * nothing is open. KEYS 1-4: open, seq, pending, control-number counter.
 * ARGV 1-4: cut-key prefix, supplier id, now (ISO), "1" when a control number is needed.
 */
const CUT_BODY = `
local id = false
if redis.call('EXISTS', KEYS[1]) == 1 then
  local n = redis.call('INCR', KEYS[2])
  id = ARGV[2] .. '-batch-' .. string.format('%06d', n)
  local key = ARGV[1] .. id
  redis.call('RENAME', KEYS[1], key)
  local meta = { createdAt = ARGV[3] }
  if ARGV[4] == '1' then
    meta.controlNumber = ((redis.call('INCR', KEYS[4]) - 1) % 999999999) + 1
  end
  redis.call('HSET', key, '${META_FIELD}', cjson.encode(meta))
  redis.call('SADD', KEYS[3], id)
end`;

const CUT = `${CUT_BODY}
return id`;

/**
 * Adds an entry to the open batch unless this delivery was collected before (a re-run after
 * a crash), and cuts the batch in the same step once it holds `maxOrders`, so no batch ever
 * holds more. Returns the id of a batch cut, or false.
 * KEYS 1-5: as CUT, plus the collected marker. ARGV 1-4: as CUT; 5-8: delivery id, entry
 * JSON, marker TTL ms, maxOrders.
 */
const COLLECT = `
if redis.call('SET', KEYS[5], '1', 'NX', 'PX', ARGV[7]) then
  redis.call('HSET', KEYS[1], ARGV[5], ARGV[6])
end
if redis.call('HLEN', KEYS[1]) < tonumber(ARGV[8]) then return false end
${CUT_BODY}
return id`;

/**
 * Batching for suppliers that take one file per interval (`batch: { every, maxOrders }`).
 * Purchase orders are collected durably in Redis (a hash per supplier, written atomically
 * with a per-delivery marker, so a re-run collects nothing twice); the batch is cut when
 * `maxOrders` are in or when the supplier's timer fires (a BullMQ job scheduler: one cut per
 * interval across all worker processes). A cut batch is renamed to its own key and queued as
 * one delivery job with a stable id: retried whole, never split, and found again by the next
 * tick if a crash came between the cut and the queueing.
 */
export class Batches {
  private readonly queues = new Map<string, Queue>();
  private readonly keys: KeySpace;

  constructor(
    /** A connection for BullMQ. */
    private readonly connection: RedisClient,
    /** A plain connection for the batch records. */
    private readonly records: RedisClient,
    /**
     * The key prefix, or the partitioned key space: a supplier's batches, their markers, its
     * control numbers, its timer and its batch jobs all live in one partition
     * (`KeySpace.forSupplier`), so each script touches one hash slot.
     */
    prefix: string | KeySpace,
    private readonly config: Config,
    /** Seals each entry (a purchase order's view: ship-to, lines) in the batch hash. */
    private readonly cipher: DataCipher,
  ) {
    this.keys = keySpaceOf(prefix);
  }

  /** The prefix of the partition holding a supplier's batches. */
  prefixOf(supplierId: string): string {
    return this.keys.forSupplier(supplierId);
  }

  private queue(supplierId: string, prefix = this.prefixOf(supplierId)): Queue {
    let q = this.queues.get(`${prefix}\n${supplierId}`);
    if (!q) {
      q = new Queue(deliveryQueueName('dropship', supplierId), { connection: this.connection, prefix });
      this.queues.set(`${prefix}\n${supplierId}`, q);
    }
    return q;
  }

  /** Starts (or updates) each batching supplier's timer, and stops those of suppliers that no longer batch. */
  async schedule(): Promise<void> {
    for (const supplier of this.config.suppliers) {
      const home = this.prefixOf(supplier.id);
      for (const prefix of this.keys.prefixes) {
        const queue = this.queue(supplier.id, prefix);
        if (supplier.batch && prefix === home) {
          await queue.upsertJobScheduler(CUT_JOB, { every: supplier.batch.everyMs }, { name: CUT_JOB, data: {}, opts: { removeOnComplete: true, removeOnFail: 100 } });
        } else {
          await queue.removeJobScheduler(CUT_JOB);
        }
      }
    }
  }

  /** Collects a purchase order into the supplier's open batch; cuts and queues the batch when full. */
  async collect(supplier: SupplierConfig, entry: BatchEntry, now = new Date().toISOString()): Promise<string | undefined> {
    const prefix = this.prefixOf(supplier.id);
    const k = keys(prefix, supplier.id);
    const maxOrders = supplier.batch?.maxOrders ?? Number.MAX_SAFE_INTEGER;
    const cut = (await runScript(this.records, COLLECT,
      5,
      k.open,
      k.seq,
      k.pending,
      markerKeys.controlNumber(prefix, supplier.id),
      // In the supplier's partition, not the order's: the same script writes the batch.
      markerKeys.collected(prefix, entry.deliveryId),
      k.cutPrefix,
      supplier.id,
      now,
      this.needsControl(supplier) ? '1' : '0',
      entry.deliveryId,
      // A JSON object whose `sealed` holds the entry: the hash shows ciphertext.
      JSON.stringify({ sealed: this.cipher.seal(entry, 'batch-entry') }),
      this.config.store.retention.dedupeMs,
      maxOrders,
    )) as string | null;
    if (cut) await this.queuePending(supplier);
    return cut ?? undefined;
  }

  private needsControl(supplier: SupplierConfig): boolean {
    return formatById(supplier.format)?.needsControlNumber === true;
  }

  /**
   * Cuts the open batch (if anything is in it) and queues every cut batch not yet delivered.
   * Returns the id of the batch cut now, if any.
   */
  async cut(supplier: SupplierConfig, now = new Date().toISOString()): Promise<string | undefined> {
    const prefix = this.prefixOf(supplier.id);
    const k = keys(prefix, supplier.id);
    const id = (await runScript(this.records, CUT, 4, k.open, k.seq, k.pending, markerKeys.controlNumber(prefix, supplier.id), k.cutPrefix, supplier.id, now, this.needsControl(supplier) ? '1' : '0')) as
      | string
      | null;
    await this.queuePending(supplier);
    return id ?? undefined;
  }

  /** Queues every cut batch not yet delivered; a job id that exists is not added again. */
  private async queuePending(supplier: SupplierConfig): Promise<void> {
    const pending = await this.records.smembers(keys(this.prefixOf(supplier.id), supplier.id).pending);
    if (pending.length === 0) return;
    await this.queue(supplier.id).addBulk(
      pending.sort().map((batchId) => ({
        name: BATCH_JOB,
        data: { deliveryId: batchId, orderId: batchId, supplierId: supplier.id } satisfies BatchJob,
        opts: deliveryJobOptions({ kind: 'dropship', recipient: supplier.id, deliveryId: `batch+${batchId}` }, this.config),
      })),
    );
  }

  /** The entries of a cut batch, ordered by delivery id, and its meta; undefined once delivered. */
  async read(supplierId: string, batchId: string): Promise<{ entries: BatchEntry[]; meta: BatchMeta } | undefined> {
    const all = await this.records.hgetall(batchKey(this.prefixOf(supplierId), supplierId, batchId));
    const metaText = all[META_FIELD];
    if (metaText === undefined) return undefined;
    const entries = Object.entries(all)
      .filter(([field]) => field !== META_FIELD)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, value]) => openJob<BatchEntry>(this.cipher, JSON.parse(value), 'batch-entry'));
    return { entries, meta: JSON.parse(metaText) as BatchMeta };
  }

  /** Keys a delivered batch's transaction removes. */
  doneKeys(supplierId: string, batchId: string): { batch: string; pending: string } {
    const prefix = this.prefixOf(supplierId);
    return { batch: batchKey(prefix, supplierId, batchId), pending: keys(prefix, supplierId).pending };
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
