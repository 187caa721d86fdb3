import { Worker, type Job } from 'bullmq';
import { KeySpace, mgetAcross } from '../src/queue/partitions';
import type { RedisClient } from '../src/queue/redis';
import type { Config, SupplierConfig } from '../src/config/config';
import { redactCardNumbers } from '../src/core/card-data';
import { DeliveryError, DropshipError, failureReason } from '../src/errors';
import { unrecoverable } from '../src/errors/unrecoverable';
import { formatById } from '../src/formats';
import { attachLabel, labelledView, renderBatchFilename, type BoughtLabel, type PlannedDelivery } from '../src/planning/plan';
import { type DisclosureLedger, RECORD_DISCLOSURE_LUA, sha256Hex } from '../src/ledger/disclosure-ledger';
import { BATCH_JOB, CUT_JOB, deliveryQueueName, type LabelRecoveryOutcome, markerKeys, type UnconfirmedLabel, VOID_JOB } from '../src/queue/names';
import { backoffStrategy } from '../src/queue/retry';
import { runScript } from '../src/queue/scripts';
import { type DataCipher, type DeliveryClear, openJobData, type SealedData } from '../src/queue/sealing';
import { type DeliveryPayload, type DeliveryReceipt, type LabelRecovery, type LabelVoid, redactSecrets, type Transport } from '../src/transports/transport';
import type { Cancellations, TrackingRecord } from './cancellation';
import type { BatchEntry, BatchJob, Batches } from './batches';
import { DeliveryQueues, type PlannedJobData } from './delivery-queues';

export interface DeliveryWorkerDeps {
  /** BullMQ's connection for this worker (it blocks on it while waiting for jobs). */
  connection: RedisClient;
  /**
   * A plain connection for the worker's own records (ledger, tracking, markers): a MULTI on
   * a BullMQ connection copies all of BullMQ's scripts first, ten times the cost.
   */
  records: RedisClient;
  /** The prefix of the partition this worker serves (its queue, and every key of its jobs' orders). */
  prefix: string;
  /** The partitioned key space, for a batch's orders (each in its own partition). @defaultValue one partition, `prefix` */
  keys?: KeySpace;
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
  /**
   * What closing the loop does once a delivery landed (awaits a supplier's confirmation, or
   * tells the store a label shipped: `ConfirmationIntake.afterDelivery`). Idempotent: a job
   * run again after landing calls it again.
   */
  afterDelivery?: (d: Pick<PlannedDelivery, 'deliveryId' | 'orderId' | 'shipmentId' | 'recipient' | 'kind' | 'purpose'>, trackingNumber: string | undefined) => Promise<void>;
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

/**
 * The label a waiting purchase order gets: what its carrier job handed on when it added it
 * (`bought`). A purchase order queued in a BullMQ flow by an earlier version (its carrier job a
 * child) takes its child's answer when the child bought it, else the tracking record.
 */
async function boughtLabel(job: Job, d: PlannedDelivery, connection: RedisClient, prefix: string, cipher: DataCipher): Promise<BoughtLabel | undefined> {
  const handed = (job.data as PlannedJobData).bought;
  if (handed !== undefined) return cipher.open<{ label: BoughtLabel | null }>(handed, 'result').label ?? undefined;
  const values = await job.getChildrenValues<DeliveryJobResult>();
  let bought = false;
  for (const v of Object.values(values)) {
    const label = labelOf(deliveryResponse(cipher, v));
    if (label) return label;
    bought ||= v != null && v.skipped === undefined;
  }
  // The child bought the label and its answer named no tracking number: none was recorded
  // either (its landing records one only from that answer; a landing before it would have
  // left the delivered marker, and the child would have been skipped).
  if (bought) return undefined;
  // The carrier job ran in an earlier life of this order (it was skipped as delivered
  // before, or its result is gone): the tracking number was recorded when it landed.
  const recorded = await connection.hget(markerKeys.tracking(prefix, d.orderId), d.shipmentId);
  if (recorded) return { trackingNumber: (JSON.parse(recorded) as TrackingRecord).trackingNumber };
  return undefined;
}

/** The label a carrier's answer names, for the purchase order waiting for it. */
function labelOf(response: Record<string, string> | undefined): BoughtLabel | undefined {
  const trackingNumber = response?.trackingNumber;
  return trackingNumber ? { trackingNumber, ...(response.label ? { label: response.label } : {}) } : undefined;
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

/** What the transport is handed for a planned delivery. */
function payloadOf(d: PlannedDelivery, out: Outgoing): DeliveryPayload {
  return {
    deliveryId: d.deliveryId,
    orderId: d.orderId,
    recipient: d.recipient,
    kind: d.kind,
    format: d.format,
    filename: d.filename,
    contentType: d.contentType,
    body: out.body,
    ...(d.purpose ? { purpose: d.purpose } : {}),
    ...(out.secrets.length > 0 ? { secrets: out.secrets } : {}),
  };
}

/** A delivery queue's job data: a sealed planned delivery, a label void, or a batch. */
export type DeliveryJobData = SealedData<DeliveryClear> | LabelVoid | BatchJob;

type DeliveryJob = Job<DeliveryJobData, DeliveryJobResult>;

/** A planned delivery as it leaves: the body after any send-time step, and the secrets it carries. */
interface Outgoing {
  body: string;
  secrets: readonly string[];
  /** Takes `secrets` out of what is recorded (a receiver may echo them back). */
  redact: (text: string) => string;
}

/**
 * The mark of a label being bought (carrier requests only), and what became of an earlier
 * attempt that ended without an answer, after which the carrier may hold a label no one
 * heard of: the carrier gave it back (`recovered`, nothing is bought), said what it did
 * (`recovery`), or could not be asked and the label bought now is flagged (`lost`).
 */
interface LabelAttempt {
  key: string;
  recovered?: DeliveryReceipt;
  recovery?: LabelRecoveryOutcome;
  lost?: UnconfirmedLabel;
}

/**
 * Lands one delivery: its disclosure (`record_disclosure`, the ledger's), a carrier's tracking
 * record, the label mark cleared and the delivered marker, all at once, and reads the order's
 * cancelled mark after them. Returns that mark (nil when there is none).
 * KEYS 1-3: the ledger's; 4: delivered marker; 5: cancelled mark; then the tracking hash when
 * ARGV[9] names a shipment, then the label mark when there is one.
 * ARGV 1-7: the ledger's; 8: delivered marker TTL ms; 9: shipment id ('' for no tracking
 * record); 10: the tracking record (JSON); 11: its hash's TTL ms.
 */
const LAND = `${RECORD_DISCLOSURE_LUA}
record_disclosure(1, 1)
local k = 6
if ARGV[9] ~= '' then
  redis.call('HSET', KEYS[6], ARGV[9], ARGV[10])
  redis.call('PEXPIRE', KEYS[6], ARGV[11])
  k = 7
end
if KEYS[k] then redis.call('DEL', KEYS[k]) end
redis.call('SET', KEYS[4], '1', 'PX', ARGV[8])
return redis.call('GET', KEYS[5])`;

/**
 * Lands a cut batch's purchase orders of one partition: each one's disclosure and delivered
 * marker, and, in the batch's own partition, the batch's delivered marker with the cut batch
 * and its pending entry removed. Returns the orders' cancelled marks, in entry order.
 * ARGV 1: how many orders (n); 2: delivered marker TTL ms; 3: the batch id when the batch is
 * closed here, else ''. Per order i (from 0): KEYS 5i+1 to 5i+3 and ARGV 7i+4 to 7i+10, the
 * ledger's; KEYS 5i+4, its delivered marker; KEYS 5i+5, its cancelled mark. Closing: KEYS
 * 5n+1, the batch's delivered marker; 5n+2, the cut batch; 5n+3, the pending set.
 */
const LAND_BATCH = `${RECORD_DISCLOSURE_LUA}
local n = tonumber(ARGV[1])
local marks = {}
for i = 0, n - 1 do
  record_disclosure(5 * i + 1, 7 * i + 4)
  redis.call('SET', KEYS[5 * i + 4], '1', 'PX', ARGV[2])
  marks[i + 1] = KEYS[5 * i + 5]
end
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[5 * n + 1], '1', 'PX', ARGV[2])
  redis.call('DEL', KEYS[5 * n + 2])
  redis.call('SREM', KEYS[5 * n + 3], ARGV[3])
end
local values = {}
-- MGET in slices: unpack takes at most a few thousand values, a batch may hold 10,000.
for from = 1, n, 1000 do
  local got = redis.call('MGET', unpack(marks, from, math.min(from + 999, n)))
  for j = 1, #got do values[#values + 1] = got[j] end
end
return values`;

/**
 * Thin delivery worker for one recipient's queue. A planned delivery goes through these steps:
 * open the job; skip it when it landed before or its order was cancelled; collect it into
 * the supplier's batch, or complete it (render it, attach its label) and prepare it for
 * sending; mark a label purchase; send it; then record the disclosure (and a carrier's
 * tracking number) and the delivered marker in one script (`LAND`), undoing it when the order
 * was cancelled meanwhile. Failures become retry decisions (`attempt`). The same queue also takes
 * label voids, cut batches and the batch timer's ticks.
 */
export function createDeliveryWorker(deps: DeliveryWorkerDeps): Worker<DeliveryJobData, DeliveryJobResult> {
  const { connection, records, prefix, transport, config, ledger, cancellations, batches, cipher } = deps;
  const keys = deps.keys ?? KeySpace.of(prefix);
  const env = deps.env ?? process.env;
  const suppliers = new Map(config.suppliers.map((s) => [s.id, s]));
  // Where a carrier request adds the purchase order that waited for its label.
  const nextQueues = new DeliveryQueues(deps.connection, config, cipher);
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
   * mark with the batch's in one script per partition (`LAND_BATCH`). Orders cancelled before
   * it leaves are left out; those cancelled while it was on its way get their cancellations.
   */
  const deliverBatch = async (batch: BatchJob, signal: AbortSignal | undefined): Promise<DeliveryJobResult> => {
    const supplier = suppliers.get(batch.supplierId);
    if (!supplier) throw unrecoverable('ECONFIG', `supplier ${batch.supplierId} is no longer configured`);
    const format = formatById(supplier.format);
    if (!format?.renderBatch) throw unrecoverable('ECONFIG', `the ${supplier.format} format cannot be batched`);
    const done = batches.doneKeys(supplier.id, batch.deliveryId);
    const cut = await batches.read(supplier.id, batch.deliveryId);
    if (!cut) return { location: 'empty batch', skipped: 'empty batch' };
    // The batch's orders may be in other partitions than the batch (its supplier's): each
    // order's keys are read and written under its own.
    const cancelledMarks = await mgetAcross(records, cut.entries.map((e) => markerKeys.cancelled(keys.forOrder(e.orderId), e.orderId)));
    const entries = cut.entries.filter((_, i) => cancelledMarks[i] === null);
    /** The batch's own marks: delivered, the cut batch and its pending entry gone (`LAND_BATCH`'s closing keys and id). */
    const closing = { keys: [markerKeys.delivered(prefix, batch.deliveryId), done.batch, done.pending], id: batch.deliveryId };
    /** Closes the batch alone (no order of it in this partition to record with it). */
    const closeBatch = () => runScript(records, LAND_BATCH, closing.keys.length, ...closing.keys, 0, retention.dedupeMs, closing.id);
    if (entries.length === 0) {
      await closeBatch();
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
    // One script per partition holding some of the batch's orders (one hash slot each on a
    // cluster): their disclosures and delivered marks, and their cancelled marks read back.
    // The batch's own marks go last, with its partition's script (or on their own): a crash
    // before them sends the batch again, which the ledger and the marks keep once.
    const byPartition = new Map<string, BatchEntry[]>();
    for (const e of entries) {
      const p = keys.forOrder(e.orderId);
      byPartition.set(p, [...(byPartition.get(p) ?? []), e]);
    }
    const meanwhile = new Set<BatchEntry>();
    const record = async ([p, group]: [string, BatchEntry[]]) => {
      const landing: string[] = [];
      const args: string[] = [];
      for (const e of group) {
        const disclosure = ledger.recordParts({
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
        landing.push(...disclosure.keys, markerKeys.delivered(p, e.deliveryId), markerKeys.cancelled(p, e.orderId));
        args.push(...disclosure.args);
      }
      const closes = p === prefix;
      if (closes) landing.push(...closing.keys);
      const marks = (await runScript(records, LAND_BATCH, landing.length, ...landing, group.length, retention.dedupeMs, closes ? closing.id : '', ...args)) as (string | null)[];
      group.forEach((e, i) => marks[i] && meanwhile.add(e));
    };
    await Promise.all([...byPartition].filter(([p]) => p !== prefix).map(record));
    const home = byPartition.get(prefix);
    if (home) await record([prefix, home]);
    else await closeBatch();
    for (const e of entries) {
      if (meanwhile.has(e)) await cancellations.undoDelivered(e.orderId, deliveredAt, [e.deliveryId]);
      else await deps.afterDelivery?.({ deliveryId: e.deliveryId, orderId: e.orderId, shipmentId: e.shipmentId, recipient: supplier.id, kind: 'dropship' }, undefined);
    }
    return { location: receipt.location, orders: entries.length };
  };

  /** The batch timer's tick: cuts this supplier's open batch and queues it. */
  const cutBatch = async (): Promise<DeliveryJobResult> => {
    const supplier = config.suppliers.find((s) => deliveryQueueName('dropship', s.id) === deps.queueName);
    const cut = supplier?.batch ? await batches.cut(supplier) : undefined;
    return { location: cut ? `batch ${cut} cut` : 'nothing to cut', ...(cut ? { cut } : {}) };
  };

  /** The supplier whose next batch file collects this purchase order, if it is collected. */
  const batchingSupplier = (d: PlannedDelivery): SupplierConfig | undefined => {
    const supplier = d.kind === 'dropship' ? suppliers.get(d.recipient) : undefined;
    return (d.collect || d.awaitsLabel) && supplier?.batch ? supplier : undefined;
  };

  /** Collects a purchase order into its supplier's open batch, with its label when it waited for one. */
  const collectIntoBatch = async (job: DeliveryJob, d: PlannedDelivery, supplier: SupplierConfig): Promise<DeliveryJobResult> => {
    const bought = d.awaitsLabel ? await boughtLabel(job, d, records, prefix, cipher) : undefined;
    const { view, fields } = labelledView(d, supplier, bought);
    const createdAt = d.awaitsLabel?.createdAt ?? d.collect?.createdAt ?? new Date(job.timestamp).toISOString();
    await batches.collect(supplier, { deliveryId: d.deliveryId, orderId: d.orderId, shipmentId: d.shipmentId, view, fields, createdAt });
    return { location: `batch:${supplier.id} (open)`, collected: true };
  };

  /**
   * The payload as planned, completed: rendered on its own when it was planned for a batch
   * its supplier no longer takes, and given its label when it waited for one.
   */
  const completePayload = async (job: DeliveryJob, planned: PlannedDelivery): Promise<PlannedDelivery> => {
    let d = planned;
    if (d.collect) {
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
    return d;
  };

  /** The body as it leaves: the format's send-time step (e.g. a cXML shared secret) done, its secrets known. */
  const prepareSend = (d: PlannedDelivery): Outgoing => {
    const supplier = d.kind === 'dropship' ? suppliers.get(d.recipient) : undefined;
    const format = supplier ? formatById(supplier.format) : undefined;
    const secrets = supplier && format?.sendSecrets ? format.sendSecrets(supplier.formatOptions, env) : [];
    const redact = secrets.length > 0 ? (text: string) => redactSecrets(text, secrets) : NOTHING_TO_REDACT;
    if (!supplier || !format?.beforeSend) return { body: d.body, secrets, redact };
    try {
      return { body: format.beforeSend(d.body, supplier.formatOptions, env), secrets, redact };
    } catch (err) {
      throw unrecoverable('ECONFIG', err instanceof DropshipError ? err.problems.join('; ') || err.message : 'the document could not be finished for sending');
    }
  };

  /**
   * Marks a label being bought. A label is bought once per attempt and no carrier takes an
   * idempotency key: an attempt that ended without an answer (worker killed, timeout
   * mid-request) may have bought one. Its mark, found by the next attempt, makes this one ask
   * the carrier first, by the reference the label carries (`recoverLabel`): a label sold then
   * is taken as it is (UPS) or cancelled (FedEx), and only then is one bought. When the
   * carrier cannot be asked or cannot answer, the label bought now is flagged for an operator.
   */
  const markLabelAttempt = async (d: PlannedDelivery, out: Outgoing, signal: AbortSignal | undefined): Promise<LabelAttempt> => {
    const key = markerKeys.labelAttempt(prefix, d.deliveryId);
    const at = new Date().toISOString();
    const lost = (await records.set(key, JSON.stringify({ at }), 'PX', retention.dedupeMs, 'GET')) as string | null;
    if (lost === null) return { key };
    // The first attempt without an answer, however many followed it: the carrier is asked from then.
    const earlier = JSON.parse(lost) as { at: string; since?: string };
    const lostAttemptAt = earlier.since ?? earlier.at;
    await records.set(key, JSON.stringify({ at, since: lostAttemptAt }), 'PX', retention.dedupeMs);
    const flag = async (reason: string): Promise<LabelAttempt> => {
      const unconfirmed: UnconfirmedLabel = { orderId: d.orderId, shipmentId: d.shipmentId, carrier: d.recipient, lostAttemptAt, at, reason: out.redact(reason) };
      const listKey = markerKeys.unconfirmedLabels(prefix);
      await records.multi().hset(listKey, d.deliveryId, JSON.stringify(unconfirmed)).pexpire(listKey, retention.disclosuresMs).exec();
      return { key, lost: unconfirmed };
    };
    const recover = transport.recoverLabel?.bind(transport);
    if (!recover) return flag(`the ${transport.kind} transport cannot ask the carrier for a label`);
    let recovery: LabelRecovery;
    try {
      recovery = await recover(payloadOf(d, out), new Date(lostAttemptAt), signal);
    } catch (err) {
      // This attempt is being stopped: the next one asks again.
      if (signal?.aborted) throw err;
      // The carrier could not answer (timeout, 5xx, refusal): buy, and let a person check.
      return flag(`the carrier could not be asked for the label: ${describe(err)}`);
    }
    if (recovery.outcome === 'unasked') return flag(recovery.reason);
    // Answered: a flag an earlier attempt left (it could not ask, then died) no longer stands.
    await records.hdel(markerKeys.unconfirmedLabels(prefix), d.deliveryId);
    if (recovery.outcome === 'recovered') return { key, recovered: recovery.receipt, recovery: 'reused' };
    return { key, recovery: recovery.outcome === 'cancelled' ? 'cancelled' : 'none found' };
  };

  /** Hands the payload to the transport; a carrier's sure refusal clears the label mark (nothing was bought). */
  const send = (d: PlannedDelivery, out: Outgoing, label: LabelAttempt | undefined, signal: AbortSignal | undefined): Promise<DeliveryReceipt> =>
    attempt(async () => {
      try {
        return await transport.deliver(payloadOf(d, out), signal);
      } catch (err) {
        // The carrier answered with a refusal, or was never reached: nothing was bought.
        if (label && err instanceof DeliveryError && !err.unsure) await records.del(label.key);
        throw err;
      }
    }, out.redact);

  /**
   * Records the delivery: its disclosure, a carrier's tracking number, the delivered marker,
   * the label mark cleared, in one script (`LAND`: one round trip, all or nothing). A crash
   * before it re-delivers and re-records the same delivery id, which the ledger and the
   * marker keep once. It also reads the cancelled mark: an order cancelled while this
   * delivery was on its way gets it undone.
   */
  const finish = async (d: PlannedDelivery, receipt: DeliveryReceipt, label: LabelAttempt | undefined): Promise<DeliveryJobResult> => {
    const deliveredAt = new Date().toISOString();
    // The recipient's last delivery is noted, and written every few seconds (not per delivery).
    const disclosure = ledger.recordParts(
      {
        orderId: d.orderId,
        deliveryId: d.deliveryId,
        recipient: d.recipient,
        kind: d.kind,
        transport: transport.kind,
        format: d.format,
        fields: d.fields,
        sha256: sha256Hex(d.body),
        deliveredAt,
      },
      { lastLater: true },
    );
    const landing = [...disclosure.keys, markerKeys.delivered(prefix, d.deliveryId), markerKeys.cancelled(prefix, d.orderId)];
    let tracked: [shipmentId: string, record: string] = ['', ''];
    const trackingNumber = receipt.response?.trackingNumber;
    if (d.kind === 'carrier' && trackingNumber) {
      const shipmentNumber = receipt.response?.shipmentNumber;
      const record: TrackingRecord = {
        carrier: d.recipient,
        trackingNumber,
        ...(shipmentNumber ? { shipmentNumber } : {}),
        at: deliveredAt,
        ...(label?.lost ? { lostAttemptAt: label.lost.lostAttemptAt } : {}),
        ...(label?.recovery ? { labelRecovery: label.recovery } : {}),
      };
      landing.push(markerKeys.tracking(prefix, d.orderId));
      tracked = [d.shipmentId, JSON.stringify(record)];
    }
    if (label) landing.push(label.key);
    const cancelledMeanwhile = (await runScript(records, LAND, landing.length, ...landing, ...disclosure.args, retention.dedupeMs, ...tracked, retention.disclosuresMs)) as string | null;
    ledger.noteLast({ orderId: d.orderId, kind: d.kind, recipient: d.recipient, deliveredAt });
    if (cancelledMeanwhile && d.purpose !== 'cancellation') await cancellations.undoDelivered(d.orderId, deliveredAt, [d.deliveryId]);
    // If this fails, the job is retried: it finds the delivered marker and runs it again.
    if (!cancelledMeanwhile) await deps.afterDelivery?.(d, trackingNumber);
    return { location: receipt.location, ...(receipt.response ? { sealed: cipher.seal(receipt.response, 'result') } : {}) };
  };

  /** A planned delivery (purchase order, carrier request, cancellation), step by step. */
  const deliverPlanned = async (job: DeliveryJob, orderCancelled: boolean, signal: AbortSignal | undefined): Promise<DeliveryJobResult> => {
    const planned = openJobData<PlannedDelivery>(cipher, job.data, 'delivery');
    // Nothing new leaves for a cancelled order; its cancellations do.
    if (orderCancelled && planned.purpose !== 'cancellation') {
      await handOn(job, undefined);
      return { location: 'order cancelled', skipped: 'cancelled' };
    }
    const batching = batchingSupplier(planned);
    if (batching) return collectIntoBatch(job, planned, batching);
    const d = await completePayload(job, planned);
    const out = prepareSend(d);
    const label = d.kind === 'carrier' ? await markLabelAttempt(d, out, signal) : undefined;
    // A label the carrier gave back after a lost answer is the delivery: nothing is bought.
    const receipt = label?.recovered ?? (await send(d, out, label, signal));
    const result = await finish(d, receipt, label);
    await handOn(job, labelOf(receipt.response));
    return result;
  };

  /**
   * Adds the purchase order a carrier request's label was bought for (`next`), with that label,
   * once the request is done with (landed, landed before, or skipped for a cancelled order,
   * which the purchase order then is too). Under its own id: adding it again adds nothing.
   */
  const handOn = async (job: DeliveryJob, bought: BoughtLabel | undefined): Promise<void> => {
    const next = (job.data as PlannedJobData).next;
    if (!next) return;
    // The label's image (it carries the ship-to) only for a supplier whose allow-list takes it.
    const image = bought?.label !== undefined && suppliers.get(next.data.recipient)?.fields.includes('shipment.label') === true;
    const handed = bought && !image ? { trackingNumber: bought.trackingNumber } : bought;
    await nextQueues.addJob(prefix, { ...next, data: { ...next.data, bought: cipher.seal({ label: handed ?? null }, 'result') } });
  };

  const worker = new Worker<DeliveryJobData, DeliveryJobResult>(
    deps.queueName,
    async (job, _token, signal) => {
      if (job.name === CUT_JOB) return cutBatch();
      // One round trip, whatever the job: has it landed, and was its order cancelled.
      const [landed, cancelled] = await records.mget(markerKeys.delivered(prefix, job.data.deliveryId), markerKeys.cancelled(prefix, job.data.orderId));
      // Run again after landing (its worker died before BullMQ heard of it): never twice.
      if (landed !== null) {
        // What follows a landing may not have run (it failed, or the worker died first); it is idempotent.
        const planned = job.name !== VOID_JOB && job.name !== BATCH_JOB ? openJobData<PlannedDelivery>(cipher, job.data, 'delivery') : undefined;
        const tracked = planned?.kind === 'carrier' ? await records.hget(markerKeys.tracking(prefix, planned.orderId), planned.shipmentId) : null;
        const trackingNumber = tracked ? (JSON.parse(tracked) as TrackingRecord).trackingNumber : undefined;
        if (planned && deps.afterDelivery && cancelled === null) await deps.afterDelivery(planned, trackingNumber);
        // Its purchase order, if the worker died before adding it: the label as recorded (its image is gone with the answer).
        if (planned?.kind === 'carrier') await handOn(job, trackingNumber ? { trackingNumber } : undefined);
        return { location: 'delivered before', skipped: 'delivered before' };
      }
      if (job.name === VOID_JOB) return voidLabel(job.data as LabelVoid, signal);
      if (job.name === BATCH_JOB) return deliverBatch(job.data as BatchJob, signal);
      return deliverPlanned(job, cancelled !== null, signal);
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
  worker.on('closed', () => void nextQueues.close());
  return worker;
}
