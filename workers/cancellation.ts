import { FlowProducer, type FlowJob } from 'bullmq';
import { type KeySpace, keySpaceOf } from '../src/queue/partitions';
import type { RedisClient } from '../src/queue/redis';
import type { Config } from '../src/config/config';
import type { CancelEvent } from '../src/core/order';
import { cancellationDeliveryId, planCancellation, type OrderManifest } from '../src/planning/plan';
import { formatById } from '../src/formats';
import { deliveryJobName, deliveryQueueName, type LabelRecoveryOutcome, markerKeys, VOID_JOB } from '../src/queue/names';
import { CARRIER_RETRY, deliveryJobOptions, BACKOFF_TYPE } from '../src/queue/retry';
import { type DataCipher, sealDelivery } from '../src/queue/sealing';
import type { LabelVoid } from '../src/transports/transport';
import { nextControlNumber } from './control-numbers';

/** What the tracking record of a shipment holds (see `markerKeys.tracking`). */
export interface TrackingRecord {
  carrier: string;
  trackingNumber: string;
  shipmentNumber?: string;
  at: string;
  voidedAt?: string;
  /** An earlier attempt to buy this label ended without an answer then: the carrier may hold a second label. */
  lostAttemptAt?: string;
  /** After an attempt whose answer was lost, what the carrier said when asked before buying again. */
  labelRecovery?: LabelRecoveryOutcome;
}

/** Suffix of a label void's delivery id. */
export function voidDeliveryId(labelDeliveryId: string): string {
  return `${labelDeliveryId}-void`;
}

/**
 * Undoing what a cancelled order already sent. Two paths find the deliveries to undo, so
 * that none slips between them:
 * - the cancel job marks the order cancelled, then undoes every delivery already marked
 *   delivered;
 * - a delivery worker that lands a delivery reads the cancelled mark in the same transaction
 *   as it sets the delivered mark, and undoes it when the mark is there.
 * Whichever runs second sees the other's mark; when both do, the jobs' deterministic ids make
 * them one. Deliveries not yet made are skipped by the delivery worker (it reads the mark
 * before sending), so nothing new leaves after a cancellation.
 *
 * Undoing means: a bought label is voided at its carrier (a `void` job on the carrier's
 * queue); a purchase order gets its cancellation in the supplier's format over the
 * supplier's transport (a delivery job with `purpose: "cancellation"`).
 */
export class Cancellations {
  private readonly producer: FlowProducer;
  private readonly keys: KeySpace;

  constructor(
    /** A connection for BullMQ (it loads its scripts there). */
    connection: RedisClient,
    /** A plain connection for reads and counters. */
    private readonly records: RedisClient,
    /** The key prefix, or the partitioned key space: an order's undoing runs in its partition. */
    prefix: string | KeySpace,
    private readonly config: Config,
    /** Seals cancellation deliveries' payloads, like every purchase order's. */
    private readonly cipher: DataCipher,
  ) {
    this.keys = keySpaceOf(prefix);
    this.producer = new FlowProducer({ connection, prefix: this.keys.prefixes[0]! });
  }

  /** Marks the order cancelled (kept as long as duplicates are recognised). */
  async markCancelled(event: CancelEvent, at: string): Promise<void> {
    await this.records.set(
      markerKeys.cancelled(this.keys.forOrder(event.orderId), event.orderId),
      JSON.stringify({ at, ...(event.reason ? { reason: event.reason } : {}) }),
      'PX',
      this.config.store.retention.dedupeMs,
    );
  }

  /**
   * Queues the undoing of those of `deliveryIds` (all of the order's, by default) that were
   * delivered. Returns the ids of the void and cancellation jobs queued.
   */
  async undoDelivered(orderId: string, now: string, deliveryIds?: readonly string[]): Promise<string[]> {
    const prefix = this.keys.forOrder(orderId);
    const [[, manifestText], [, trackingHash]] = (await this.records
      .pipeline()
      .get(markerKeys.manifest(prefix, orderId))
      .hgetall(markerKeys.tracking(prefix, orderId))
      .exec()) as [[Error | null, string | null], [Error | null, Record<string, string>]];
    if (!manifestText) return [];
    const manifest = JSON.parse(manifestText) as OrderManifest;
    const wanted = deliveryIds ? new Set(deliveryIds) : undefined;
    const candidates = manifest.deliveries.filter((d) => !wanted || wanted.has(d.deliveryId));
    if (candidates.length === 0) return [];
    const delivered = await this.records.mget(...candidates.map((d) => markerKeys.delivered(prefix, d.deliveryId)));
    const jobs: FlowJob[] = [];
    for (const [i, entry] of candidates.entries()) {
      if (delivered[i] === null) continue;
      if (entry.kind === 'carrier') {
        const recorded = trackingHash[entry.shipmentId];
        if (!recorded) continue;
        const tracking = JSON.parse(recorded) as TrackingRecord;
        if (tracking.voidedAt) continue;
        const label: LabelVoid = {
          deliveryId: voidDeliveryId(entry.deliveryId),
          orderId,
          shipmentId: entry.shipmentId,
          recipient: entry.recipient,
          labelDeliveryId: entry.deliveryId,
          trackingNumber: tracking.trackingNumber,
          ...(tracking.shipmentNumber ? { shipmentNumber: tracking.shipmentNumber } : {}),
        };
        jobs.push({
          name: VOID_JOB,
          queueName: deliveryQueueName('carrier', entry.recipient),
          prefix,
          data: label,
          opts: {
            jobId: label.deliveryId,
            attempts: CARRIER_RETRY.attempts,
            backoff: { type: BACKOFF_TYPE, delay: CARRIER_RETRY.backoffMs },
            removeOnComplete: { age: Math.ceil(this.config.store.retention.completedJobsMs / 1000) },
            removeOnFail: false,
          },
        });
        continue;
      }
      const supplier = this.config.suppliers.find((s) => s.id === entry.recipient);
      if (!supplier) continue;
      const already = await this.records.exists(markerKeys.delivered(prefix, cancellationDeliveryId(entry.deliveryId)));
      if (already) continue;
      const controlNumber = formatById(supplier.format)?.needsControlNumber ? await nextControlNumber(this.records, this.keys.forSupplier(supplier.id), supplier.id) : undefined;
      const cancellation = planCancellation(manifest, entry.deliveryId, supplier, { now, ...(controlNumber !== undefined ? { controlNumber } : {}) });
      if (!cancellation) continue;
      jobs.push({
        name: deliveryJobName('dropship'),
        queueName: deliveryQueueName('dropship', supplier.id),
        prefix,
        data: sealDelivery(this.cipher, cancellation),
        opts: deliveryJobOptions(cancellation, this.config),
      });
    }
    // All in the order's partition: one transaction, one hash slot.
    if (jobs.length > 0) await this.producer.addBulk(jobs);
    return jobs.map((j) => j.opts?.jobId ?? '');
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}
