import { UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { redactCardNumbers } from '../src/domain/card-data';
import type { PlannedDelivery } from '../src/domain/plan';
import { markerKeys } from '../src/queue/names';
import { backoffStrategy } from '../src/queue/retry';
import { DeliveryError, type Transport } from '../src/transports/transport';

export interface DeliveryWorkerDeps {
  connection: Redis;
  prefix: string;
  queueName: string;
  transport: Transport;
  dedupeMs: number;
  /** Deliveries in flight at once for this recipient. @defaultValue 4 */
  concurrency?: number;
  /** Lock and stall timings; lower them in tests that kill workers. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

export interface DeliveryJobResult {
  location: string;
  /** True when an earlier run already delivered it (a replay, or a crash after delivery). */
  alreadyDelivered?: boolean;
}

function describe(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return redactCardNumbers(text).slice(0, 300);
}

/**
 * Thin delivery worker for one recipient's queue: hand the payload to the transport,
 * remember that it landed, and turn failures into retry decisions.
 */
export function createDeliveryWorker(deps: DeliveryWorkerDeps): Worker<PlannedDelivery, DeliveryJobResult> {
  const { connection, prefix, transport } = deps;
  return new Worker<PlannedDelivery, DeliveryJobResult>(
    deps.queueName,
    async (job, _token, signal) => {
      const d = job.data;
      const marker = markerKeys.delivered(prefix, d.deliveryId);
      if (await connection.exists(marker)) return { location: 'already delivered', alreadyDelivered: true };
      let location: string;
      try {
        ({ location } = await transport.deliver(
          {
            deliveryId: d.deliveryId,
            orderId: d.orderId,
            recipient: d.recipient,
            kind: d.kind,
            format: d.format,
            filename: d.filename,
            contentType: d.contentType,
            body: d.body,
          },
          signal,
        ));
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
      await connection.set(marker, '1', 'PX', deps.dedupeMs);
      return { location };
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
