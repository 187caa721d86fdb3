import type { Config } from '../config/config';
import type { OrderEventSource } from '../core/order';
import { planOrder } from './plan';
import type { FieldPath } from '../core/field-paths';
import { ingestOrder } from '../sources/ingest';

/** One line of `dropship preview`'s output (docs/cli.md). */
export interface PreviewDelivery {
  recipient: string;
  kind: 'carrier' | 'dropship';
  transport: string;
  format: string;
  fields: FieldPath[];
  body: string;
}

/** What `dropship preview` prints (docs/cli.md). */
export interface PreviewResult {
  orderId: string;
  /**
   * What the pipeline would do with the order: send `deliveries` (planned), wait for a later
   * event (waiting: not paid yet), wait for an operator (held), or never send it (skipped).
   */
  status: 'planned' | 'waiting' | 'held' | 'skipped';
  /** Why it is not planned, unless planned: each reason's catalogue code and this order's case. */
  reasons?: Array<{ code: string; message: string }>;
  /** Empty unless planned. */
  deliveries: PreviewDelivery[];
  /** The reasons again when held: the name this had before `status` and `reasons` (kept for scripts that read it). */
  held?: Array<{ code: string; message: string }>;
}

/**
 * What every recipient would receive for one order payload: ingest (scrub, validate),
 * decide whether it ships (store.yaml `fulfil`), split and build, with no Redis and nothing
 * sent. Throws `DropshipError` on bad input.
 */
export function previewOrder(payload: unknown, config: Config, source?: OrderEventSource['kind']): PreviewResult {
  const event = ingestOrder(payload, source ? { source } : {});
  const plan = planOrder(event.order, config);
  if (plan.status !== 'planned') {
    const reasons = plan.reasons.map((r) => ({ code: r.code, message: r.message }));
    return { orderId: plan.orderId, status: plan.status, reasons, deliveries: [], ...(plan.status === 'held' ? { held: reasons } : {}) };
  }
  return {
    orderId: plan.orderId,
    status: 'planned',
    deliveries: plan.deliveries.map((d) => ({
      recipient: d.recipient,
      kind: d.kind,
      transport: d.transport,
      format: d.format,
      fields: d.fields,
      body: d.body,
    })),
  };
}
