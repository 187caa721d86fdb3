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

export interface PreviewResult {
  orderId: string;
  deliveries: PreviewDelivery[];
  /** Present when the order would be held instead of delivered. */
  held?: Array<{ code: string; message: string }>;
}

/**
 * What every recipient would receive for one order payload: ingest (scrub, validate),
 * split and build, with no Redis and nothing sent. Throws `DropshipError` on bad input.
 */
export function previewOrder(payload: unknown, config: Config, source?: OrderEventSource['kind']): PreviewResult {
  const event = ingestOrder(payload, source ? { source } : {});
  const plan = planOrder(event.order, config);
  if (plan.status === 'held') return { orderId: plan.orderId, deliveries: [], held: plan.reasons };
  return {
    orderId: plan.orderId,
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
