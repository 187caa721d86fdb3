import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../src/config/config';
import { redactCardNumbers } from '../src/core/card-data';
import { DeliveryError, DropshipError, failureReason } from '../src/errors';
import { unrecoverable } from '../src/errors/unrecoverable';
import { formatById } from '../src/formats';
import { attachLabel, labelledView, renderBatchFilename, type BoughtLabel, type PlannedDelivery } from '../src/planning/plan';
import { type DisclosureLedger, sha256Hex } from '../src/ledger/disclosure-ledger';
import { BATCH_JOB, CUT_JOB, deliveryQueueName, markerKeys, type UnconfirmedLabel, VOID_JOB } from '../src/queue/names';
import { backoffStrategy } from '../src/queue/retry';
import { type DataCipher, type DeliveryClear, openJobData, type SealedData } from '../src/queue/sealing';
import { type DeliveryReceipt, type LabelVoid, redactSecrets, type Transport } from '../src/transports/transport';
import type { Cancellations, TrackingRecord } from './cancellation';
import type { BatchJob, Batches } from './batches';

export interface DeliveryWorkerDeps {
  /** BullMQ's connection for this worker (it blocks on it while waiting for jobs). */
  connection: Redis;
  /**
   * A plain connection for the worker's own records (ledger, tracking, markers): a MULTI on
   * a BullMQ connection copies all of BullMQ's scripts first, ten times the cost.
   */
  records: Redis;
  prefix: string;
  queueName: string;
  transport: Transport;
  config: Config;
  /** Where each delivered payload's disclosure is recorded. */
  ledger: DisclosureLedger;
  /** Undoes a delivery that lands after its order was cancelled. */
  cancellations: Cancellations;
  /** Collects, cuts and reads the batches of suppliers that take one file per interval. */
  batches: Batches;
  /** Opens delivery jobs and seals what receivers answered (label images carry the ship-to). */
  cipher: DataCipher;
  /** Deliveries in flight at once for this recipient. @defaultValue 4 */
  concurrency?: number;
  /** Lock and stall timings; lower them in tests that kill workers. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Where send-time secrets (e.g. a cXML shared secret) are read. @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
}

export interface DeliveryJobResult {
  location: string;
  /** What the receiver answered that later steps need (a carrier's tracking number, label), sealed. */
  sealed?: string;
  /** The same, in clear: results stored before sealing. */
  response?: Record<string, string>;
  /** Why nothing was sent: the order was cancelled first, or this delivery had landed before. */
  skipped?: 'cancelled' | 'delivered before' | 'empty batch';
  /** A purchase order collected into its supplier's open batch (sent when the batch is). */
  collected?: true;
  /** A batch delivered: how many purchase orders it held. */
  orders?: number;
  /** The batch cut by a timer tick. */
  cut?: string;
}

function describe(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return redactCardNumbers(text).slice(0, 300);
}

/** What a delivery's receiver answered, from its job's result. */
export function deliveryResponse(cipher: DataCipher, result: DeliveryJobResult | null | undefined): Record<string, string> | undefined {
  if (!result) return undefined;
  if (result.sealed !== undefined) return openJobData<Record<string, string>>(cipher, { sealed: result.sealed }, 'result');
  return result.response;
}

/** The label a waiting purchase order gets: its carrier child's answer, else the tracking record. */
async function boughtLabel(job: Job, d: PlannedDelivery, connection: Redis, prefix: string, cipher: DataCipher): Promise<BoughtLabel | undefined> {
  const values = await job.getChildrenValues<DeliveryJobResult>();
  for (const v of Object.values(values)) {
    const response = deliveryResponse(cipher, v);
    const tn = response?.trackingNumber;
    if (tn) return { trackingNumber: tn, ...(response.label ? { label: response.label } : {}) };
  }
  // The carrier job ran in an earlier life of this order (its result is gone): the
  // tracking number was recorded when it landed.
  const recorded = await connection.hget(markerKeys.tracking(prefix, d.orderId), d.shipmentId);
  if (recorded) return { trackingNumber: (JSON.parse(recorded) as TrackingRecord).trackingNumber };
  return undefined;
}

const NOTHING_TO_REDACT = (text: string): string => text;

/**
 * Hands a payload or a void to the transport; failures become retry decisions. `redact`
 * takes send-time secrets out of what is recorded (a receiver may echo them back).
 */
async function attempt(run: () => Promise<DeliveryReceipt>, redact: (text: string) => string = NOTHING_TO_REDACT): Promise<DeliveryReceipt> {
  try {
    const receipt = await run();
    return {
      location: redact(receipt.location),
      ...(receipt.response ? { response: Object.fromEntries(Object.entries(receipt.response).map(([k, v]) => [k, redact(v)])) } : {}),
    };
  } catch (err) {
    if (err instanceof Error) {
      err.message = redact(err.message);
      if (err.stack !== undefined) err.stack = redact(err.stack);
    }
    if (err instanceof DeliveryError) {
      if (err.permanent) throw unrecoverable(err.code, err.message);
      // Thrown as it is (its retry-after drives the backoff), its code in front: the reason a
      // job keeps after its last attempt then names the code, as a permanent failure's does.
      // Once only: the same error object may be thrown again (a scripted one, in tests).
      if (!err.message.startsWith(`${err.code}: `)) err.message = failureReason(err.code, err.message);
      throw err;
    }
    // Deliberately no `cause`: an unknown error's details could carry payload data, and
    // whatever is attached here ends up in Redis and on the dashboard.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(describe(err));
  }
}

/**
 * Thin delivery worker for one recipient's queue: complete a purchase order with its label
 * when it waited for one, hand the payload to the transport, record the disclosure (and a
 * carrier's tracking number) and the delivered marker in one transaction, and turn failures
 * into retry decisions.
 */
/** A delivery queue's job data: a sealed planned delivery, a label void, or a batch. */
export type DeliveryJobData = SealedData<DeliveryClear> | LabelVoid | BatchJob;

export function createDeliveryWorker(deps: DeliveryWorkerDeps): Worker<DeliveryJobData, DeliveryJobResult> {
  const { connection, records, prefix, transport, config, ledger, cancellations, batches, cipher } = deps;
  const env = deps.env ?? process.env;
  const suppliers = new Map(config.suppliers.map((s) => [s.id, s]));
  const retention = config.store.retention;

  /** Voids a bought label; the tracking record says when. */
  const voidLabel = async (label: LabelVoid, signal: AbortSignal | undefined): Promise<DeliveryJobResult> => {
    const voidable = transport.voidLabel?.bind(transport);
    if (!voidable) throw unrecoverable('ECONFIG', `the ${transport.kind} transport cannot void labels`);
    const receipt = await attempt(() => voidable(label, signal));
    const key = markerKeys.tracking(prefix, label.orderId);
    const recorded = await records.hget(key, label.shipmentId);
    const multi = records.multi();
    if (recorded) {
      const tracking = { ...(JSON.parse(recorded) as TrackingRecord), voidedAt: new Date().toISOString() };
      multi.hset(key, label.shipmentId, JSON.stringify(tracking)).pexpire(key, retention.disclosuresMs);
    }
    await multi.set(markerKeys.delivered(prefix, label.deliveryId), '1', 'PX', retention.dedupeMs).exec();
    return { location: receipt.location };
  };

  /**
   * Sends a cut batch as one file, then records each purchase order's disclosure and delivered
   * mark with the batch's in one transaction. Orders cancelled before it leaves are left out;
   * those cancelled while it was on its way get their cancellations.
   */
  const deliverBatch = async (batch: BatchJob, signal: AbortSignal | undefined): Promise<DeliveryJobResult> => {
    const supplier = suppliers.get(batch.supplierId);
    if (!supplier) throw unrecoverable('ECONFIG', `supplier ${batch.supplierId} is no longer configured`);
    const format = formatById(supplier.format);
    if (!format?.renderBatch) throw unrecoverable('ECONFIG', `the ${supplier.format} format cannot be batched`);
    const done = batches.doneKeys(supplier.id, batch.deliveryId);
    const cut = await batches.read(supplier.id, batch.deliveryId);
    if (!cut) return { location: 'empty batch', skipped: 'empty batch' };
    const cancelledMarks = cut.entries.length > 0 ? await records.mget(...cut.entries.map((e) => markerKeys.cancelled(prefix, e.orderId))) : [];
    const entries = cut.entries.filter((_, i) => cancelledMarks[i] === null);
    if (entries.length === 0) {
      await records.multi().del(done.batch).srem(done.pending, batch.deliveryId).set(markerKeys.delivered(prefix, batch.deliveryId), '1', 'PX', retention.dedupeMs).exec();
      return { location: 'empty batch', skipped: 'empty batch' };
    }
    const body = format.renderBatch(
      entries.map((e) => ({ po: e.view, context: { deliveryId: e.deliveryId, createdAt: e.createdAt } })),
      supplier.formatOptions,
      { batchId: batch.deliveryId, createdAt: cut.meta.createdAt, ...(cut.meta.controlNumber !== undefined ? { controlNumber: cut.meta.controlNumber } : {}) },
    );
    const receipt = await attempt(() =>
      transport.deliver(
        {
          deliveryId: batch.deliveryId,
          orderId: batch.deliveryId,
          recipient: supplier.id,
          kind: 'dropship',
          format: format.id,
          filename: renderBatchFilename(supplier.delivery.batchFilename, { batchId: batch.deliveryId, supplierId: supplier.id, ext: format.fileExtension }),
          contentType: format.contentType,
          body,
        },
        signal,
      ),
    );
    const deliveredAt = new Date().toISOString();
    const sha256 = sha256Hex(body);
    const multi = records.multi();
    for (const e of entries) {
      ledger.recordIn(multi, {
        orderId: e.orderId,
        deliveryId: e.deliveryId,
        recipient: supplier.id,
        kind: 'dropship',
        transport: transport.kind,
        format: format.id,
        fields: e.fields,
        sha256,
        deliveredAt,
        batchId: batch.deliveryId,
      });
      multi.set(markerKeys.delivered(prefix, e.deliveryId), '1', 'PX', retention.dedupeMs);
    }
    multi
      .set(markerKeys.delivered(prefix, batch.deliveryId), '1', 'PX', retention.dedupeMs)
      .del(done.batch)
      .srem(done.pending, batch.deliveryId)
      .mget(...entries.map((e) => markerKeys.cancelled(prefix, e.orderId)));
    const results = await multi.exec();
    const meanwhile = (results?.[results.length - 1]?.[1] ?? []) as (string | null)[];
    for (const [i, e] of entries.entries()) {
      if (meanwhile[i]) await cancellations.undoDelivered(e.orderId, deliveredAt, [e.deliveryId]);
    }
    return { location: receipt.location, orders: entries.length };
  };

  return new Worker<DeliveryJobData, DeliveryJobResult>(
    deps.queueName,
    async (job, _token, signal) => {
      if (job.name === CUT_JOB) {
        const supplier = config.suppliers.find((s) => deliveryQueueName('dropship', s.id) === deps.queueName);
        const cut = supplier?.batch ? await batches.cut(supplier) : undefined;
        return { location: cut ? `batch ${cut} cut` : 'nothing to cut', ...(cut ? { cut } : {}) };
      }
      const [landed, cancelled] = await records.mget(markerKeys.delivered(prefix, job.data.deliveryId), markerKeys.cancelled(prefix, job.data.orderId));
      // Run again after landing (its worker died before BullMQ heard of it): never twice.
      if (landed !== null) return { location: 'delivered before', skipped: 'delivered before' };
      if (job.name === VOID_JOB) return voidLabel(job.data as LabelVoid, signal);
      if (job.name === BATCH_JOB) return deliverBatch(job.data as BatchJob, signal);
      let d = openJobData<PlannedDelivery>(cipher, job.data, 'delivery');
      // Nothing new leaves for a cancelled order; its cancellations do.
      if (cancelled !== null && d.purpose !== 'cancellation') return { location: 'order cancelled', skipped: 'cancelled' };
      const batching = d.kind === 'dropship' ? suppliers.get(d.recipient) : undefined;
      if ((d.collect || d.awaitsLabel) && batching?.batch) {
        // Collected into the supplier's next batch file, with its label when it waited for one.
        const bought = d.awaitsLabel ? await boughtLabel(job, d, records, prefix, cipher) : undefined;
        const { view, fields } = labelledView(d, batching, bought);
        const createdAt = d.awaitsLabel?.createdAt ?? d.collect?.createdAt ?? new Date(job.timestamp).toISOString();
        await batches.collect(batching, { deliveryId: d.deliveryId, orderId: d.orderId, shipmentId: d.shipmentId, view, fields, createdAt });
        return { location: `batch:${batching.id} (open)`, collected: true };
      }
      if (d.collect) {
        // Planned for a batch, but the supplier no longer batches: sent on its own.
        const supplier = suppliers.get(d.recipient);
        const format = supplier ? formatById(supplier.format) : undefined;
        if (!supplier || !format) throw unrecoverable('ECONFIG', `supplier ${d.recipient} is no longer configured`);
        d = { ...d, body: format.render(d.collect.view, supplier.formatOptions, { deliveryId: d.deliveryId, createdAt: d.collect.createdAt }) };
      }
      if (d.awaitsLabel) {
        const supplier = suppliers.get(d.recipient);
        if (!supplier) throw unrecoverable('ECONFIG', `supplier ${d.recipient} is no longer configured`);
        d = attachLabel(d, supplier, await boughtLabel(job, d, records, prefix, cipher));
      }
      let body = d.body;
      const supplier = d.kind === 'dropship' ? suppliers.get(d.recipient) : undefined;
      const format = supplier ? formatById(supplier.format) : undefined;
      const secrets = supplier && format?.sendSecrets ? format.sendSecrets(supplier.formatOptions, env) : [];
      const redact = secrets.length > 0 ? (text: string) => redactSecrets(text, secrets) : NOTHING_TO_REDACT;
      if (supplier && format?.beforeSend) {
        try {
          body = format.beforeSend(body, supplier.formatOptions, env);
        } catch (err) {
          throw unrecoverable('ECONFIG', err instanceof DropshipError ? err.problems.join('; ') || err.message : 'the document could not be finished for sending');
        }
      }
      const purpose = d.purpose;
      // A label is bought once per attempt and no carrier takes an idempotency key: an attempt
      // that ended without an answer (worker killed, timeout mid-request) may have bought one.
      // Its mark, found by the next attempt, flags the label for an operator to check.
      const buying = d.kind === 'carrier';
      const attemptKey = markerKeys.labelAttempt(prefix, d.deliveryId);
      let lostAttempt: UnconfirmedLabel | undefined;
      if (buying) {
        const at = new Date().toISOString();
        const lost = (await records.set(attemptKey, JSON.stringify({ at }), 'PX', retention.dedupeMs, 'GET')) as string | null;
        if (lost !== null) {
          lostAttempt = { orderId: d.orderId, shipmentId: d.shipmentId, carrier: d.recipient, lostAttemptAt: (JSON.parse(lost) as { at: string }).at, at };
          const key = markerKeys.unconfirmedLabels(prefix);
          await records.multi().hset(key, d.deliveryId, JSON.stringify(lostAttempt)).pexpire(key, retention.disclosuresMs).exec();
        }
      }
      const receipt = await attempt(async () => {
        try {
          return await transport.deliver(
            {
              deliveryId: d.deliveryId,
              orderId: d.orderId,
              recipient: d.recipient,
              kind: d.kind,
              format: d.format,
              filename: d.filename,
              contentType: d.contentType,
              body,
              ...(purpose ? { purpose } : {}),
              ...(secrets.length > 0 ? { secrets } : {}),
            },
            signal,
          );
        } catch (err) {
          // The carrier answered with a refusal, or was never reached: nothing was bought.
          if (buying && err instanceof DeliveryError && !err.unsure) await records.del(attemptKey);
          throw err;
        }
      }, redact);
      const deliveredAt = new Date().toISOString();
      const multi = ledger.recordIn(records.multi(), {
        orderId: d.orderId,
        deliveryId: d.deliveryId,
        recipient: d.recipient,
        kind: d.kind,
        transport: transport.kind,
        format: d.format,
        fields: d.fields,
        sha256: sha256Hex(d.body),
        deliveredAt,
      });
      const trackingNumber = receipt.response?.trackingNumber;
      if (d.kind === 'carrier' && trackingNumber) {
        const key = markerKeys.tracking(prefix, d.orderId);
        const shipmentNumber = receipt.response?.shipmentNumber;
        const record: TrackingRecord = {
          carrier: d.recipient,
          trackingNumber,
          ...(shipmentNumber ? { shipmentNumber } : {}),
          at: deliveredAt,
          ...(lostAttempt ? { lostAttemptAt: lostAttempt.lostAttemptAt } : {}),
        };
        multi.hset(key, d.shipmentId, JSON.stringify(record)).pexpire(key, retention.disclosuresMs);
      }
      if (buying) multi.del(attemptKey);
      // One transaction: a crash before it re-delivers and re-records the same delivery id,
      // which the ledger and the marker keep once. It also reads the cancelled mark: an order
      // cancelled while this delivery was on its way gets it undone.
      const results = await multi
        .set(markerKeys.delivered(prefix, d.deliveryId), '1', 'PX', retention.dedupeMs)
        .get(markerKeys.cancelled(prefix, d.orderId))
        .exec();
      const cancelledMeanwhile = results?.[results.length - 1]?.[1];
      if (cancelledMeanwhile && d.purpose !== 'cancellation') await cancellations.undoDelivered(d.orderId, deliveredAt, [d.deliveryId]);
      return { location: receipt.location, ...(receipt.response ? { sealed: cipher.seal(receipt.response, 'result') } : {}) };
    },
    {
      connection,
      prefix,
      concurrency: deps.concurrency ?? 4,
      autorun: false,
      // A job whose worker died is run again; twice in a row must not fail it for good (the
      // delivered marker and deterministic ids make re-runs safe).
      maxStalledCount: 5,
      settings: { backoffStrategy },
      ...(deps.lockDurationMs ? { lockDuration: deps.lockDurationMs } : {}),
      ...(deps.stalledIntervalMs ? { stalledInterval: deps.stalledIntervalMs } : {}),
    },
  );
}
