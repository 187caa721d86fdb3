import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../src/config/config';
import { redactCardNumbers } from '../src/domain/card-data';
import { DropshipError } from '../src/errors';
import { formatById } from '../src/formats';
import { attachLabel, type BoughtLabel, type PlannedDelivery } from '../src/domain/plan';
import { type DisclosureLedger, sha256Hex } from '../src/ledger/disclosure-ledger';
import { markerKeys } from '../src/queue/names';
import { backoffStrategy } from '../src/queue/retry';
import { DeliveryError, type Transport } from '../src/transports/transport';

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
  /** What the receiver answered that later steps need (a carrier's tracking number, label). */
  response?: Record<string, string>;
}

function describe(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return redactCardNumbers(text).slice(0, 300);
}

/** The label a waiting purchase order gets: its carrier child's answer, else the tracking record. */
async function boughtLabel(job: Job<PlannedDelivery>, connection: Redis, prefix: string): Promise<BoughtLabel | undefined> {
  const values = await job.getChildrenValues<DeliveryJobResult>();
  for (const v of Object.values(values)) {
    const tn = v?.response?.trackingNumber;
    if (tn) return { trackingNumber: tn, ...(v.response?.label ? { label: v.response.label } : {}) };
  }
  // The carrier job ran in an earlier life of this order (its result is gone): the
  // tracking number was recorded when it landed.
  const recorded = await connection.hget(markerKeys.tracking(prefix, job.data.orderId), job.data.shipmentId);
  if (recorded) return { trackingNumber: (JSON.parse(recorded) as { trackingNumber: string }).trackingNumber };
  return undefined;
}

/**
 * Thin delivery worker for one recipient's queue: complete a purchase order with its label
 * when it waited for one, hand the payload to the transport, record the disclosure (and a
 * carrier's tracking number) and the delivered marker in one transaction, and turn failures
 * into retry decisions.
 */
export function createDeliveryWorker(deps: DeliveryWorkerDeps): Worker<PlannedDelivery, DeliveryJobResult> {
  const { connection, records, prefix, transport, config, ledger } = deps;
  const env = deps.env ?? process.env;
  const suppliers = new Map(config.suppliers.map((s) => [s.id, s]));
  const retention = config.store.retention;
  return new Worker<PlannedDelivery, DeliveryJobResult>(
    deps.queueName,
    async (job, _token, signal) => {
      let d = job.data;
      if (d.awaitsLabel) {
        const supplier = suppliers.get(d.recipient);
        if (!supplier) throw new UnrecoverableError(`ECONFIG: supplier ${d.recipient} is no longer configured`);
        d = attachLabel(d, supplier, await boughtLabel(job, records, prefix));
      }
      let body = d.body;
      const supplier = d.kind === 'dropship' ? suppliers.get(d.recipient) : undefined;
      const format = supplier ? formatById(supplier.format) : undefined;
      if (supplier && format?.beforeSend) {
        try {
          body = format.beforeSend(body, supplier.formatOptions, env);
        } catch (err) {
          throw new UnrecoverableError(`ECONFIG: ${err instanceof DropshipError ? err.problems.join('; ') || err.message : 'the document could not be finished for sending'}`);
        }
      }
      let receipt;
      try {
        receipt = await transport.deliver(
          {
            deliveryId: d.deliveryId,
            orderId: d.orderId,
            recipient: d.recipient,
            kind: d.kind,
            format: d.format,
            filename: d.filename,
            contentType: d.contentType,
            body,
          },
          signal,
        );
      } catch (err) {
        if (err instanceof DeliveryError) {
          if (err.permanent) throw new UnrecoverableError(`${err.code}: ${err.message}`);
          throw err;
        }
        // Deliberately no `cause`: an unknown error's details could carry payload data, and
        // whatever is attached here ends up in Redis and on the dashboard.
        // eslint-disable-next-line preserve-caught-error
        throw new Error(describe(err));
      }
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
        multi.hset(key, d.shipmentId, JSON.stringify({ carrier: d.recipient, trackingNumber, at: deliveredAt })).pexpire(key, retention.disclosuresMs);
      }
      // One transaction: a crash before it re-delivers and re-records the same delivery id,
      // which the ledger and the marker keep once.
      await multi.set(markerKeys.delivered(prefix, d.deliveryId), '1', 'PX', retention.dedupeMs).exec();
      return { location: receipt.location, ...(receipt.response ? { response: receipt.response } : {}) };
    },
    {
      connection,
      prefix,
      concurrency: deps.concurrency ?? 4,
      autorun: false,
      settings: { backoffStrategy },
      ...(deps.lockDurationMs ? { lockDuration: deps.lockDurationMs } : {}),
      ...(deps.stalledIntervalMs ? { stalledInterval: deps.stalledIntervalMs } : {}),
    },
  );
}
