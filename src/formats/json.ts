import { z } from 'zod';
import type { BatchContext, BatchItem, DropShipOrder, PurchaseOrderFormat, RenderContext } from './format';

/**
 * Schema id of the JSON purchase order, and the `$id` of its JSON Schema
 * (`schemas/purchase-order.v1.schema.json`, draft 2020-12); bumped on any incompatible change.
 */
export const JSON_PO_SCHEMA = 'https://dropship-pipeline.dev/schemas/purchase-order/v1';

/** Schema id of a JSON cancellation (`schemas/purchase-order-cancellation.v1.schema.json`). */
export const JSON_CANCELLATION_SCHEMA = 'https://dropship-pipeline.dev/schemas/purchase-order-cancellation/v1';

/** Schema id of a JSON batch of purchase orders (`schemas/purchase-order-batch.v1.schema.json`). */
export const JSON_BATCH_SCHEMA = 'https://dropship-pipeline.dev/schemas/purchase-order-batch/v1';

const JsonOptions = z
  .object({
    /** Pretty-print with two-space indentation. @defaultValue false */
    pretty: z.boolean().default(false),
  })
  .strict();
export type JsonOptions = z.infer<typeof JsonOptions>;

/**
 * JSON purchase order: the allow-listed view, with a `$schema` marker naming the schema
 * it is valid against. Keys withheld by the allow-list are absent, never null. A
 * cancellation names the order, the shipment and the lines it cancels, under its own schema.
 */
export const jsonFormat: PurchaseOrderFormat<JsonOptions> = {
  id: 'json',
  fileExtension: 'json',
  contentType: 'application/json',
  optionsSchema: JsonOptions,
  render(po: DropShipOrder, options: JsonOptions, context: RenderContext): string {
    const doc =
      context.purpose === 'cancellation'
        ? { $schema: JSON_CANCELLATION_SCHEMA, supplierId: po.supplierId, order: po.order, shipment: po.shipment, lines: po.lines }
        : {
            $schema: JSON_PO_SCHEMA,
            supplierId: po.supplierId,
            order: po.order,
            customer: po.customer,
            shipTo: po.shipTo,
            shipment: po.shipment,
            lines: po.lines,
          };
    return JSON.stringify(doc, null, options.pretty ? 2 : undefined) + '\n';
  },
  /** `{ $schema, supplierId, batchId, createdAt, purchaseOrders: [version 1 purchase orders] }`. */
  renderBatch(items: readonly BatchItem[], options: JsonOptions, context: BatchContext): string {
    const purchaseOrders = items.map((item) => JSON.parse(jsonFormat.render(item.po, { pretty: false }, item.context)) as unknown);
    const doc = { $schema: JSON_BATCH_SCHEMA, supplierId: items[0]?.po.supplierId, batchId: context.batchId, createdAt: context.createdAt, purchaseOrders };
    return JSON.stringify(doc, null, options.pretty ? 2 : undefined) + '\n';
  },
};
