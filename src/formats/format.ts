import type { z } from 'zod';
import type { FieldPath } from '../core/field-paths';

/**
 * A purchase order as one supplier may see it: only its own lines, and only the values
 * its allow-list names (absent keys were withheld). Built by `domain/minimise.ts`; a
 * format renders what is here and nothing else.
 */
export interface DropShipOrder {
  supplierId: string;
  order: { id?: string; placedAt?: string; currency?: string; giftMessage?: string; notes?: string };
  customer: { name?: string; email?: string; phone?: string; contactRestricted?: boolean };
  shipTo: {
    name?: string;
    company?: string;
    line1?: string;
    line2?: string;
    city?: string;
    region?: string;
    postalCode?: string;
    country?: string;
    phone?: string;
  };
  shipment: { id?: string; carrier?: string; service?: string; trackingNumber?: string; label?: string };
  lines: Array<{
    sku?: string;
    name?: string;
    quantity?: number;
    unitPrice?: string;
    weight?: number;
    properties?: Record<string, string>;
  }>;
}

/** What a format may need beyond the order, supplied by the caller so rendering stays pure. */
export interface RenderContext {
  /** Deterministic id of the delivery (e.g. for cXML's payloadID): the same on every retry. */
  deliveryId: string;
  /** When the document is created, ISO 8601: the caller's clock (the order's time in `preview`). */
  createdAt: string;
  /**
   * Interchange/group control number for formats that need one (X12), allocated per supplier
   * by the caller from a counter that survives restarts. @defaultValue 1
   */
  controlNumber?: number;
  /**
   * What the document says: a new purchase order, or the cancellation of one already sent
   * (`cancels` is then that purchase order's delivery id). @defaultValue "order"
   */
  purpose?: DocumentPurpose;
  cancels?: string;
}

/** One purchase order of a batch: its view and its own render context. */
export interface BatchItem {
  po: DropShipOrder;
  context: RenderContext;
}

/** What a batch file needs beyond its purchase orders. */
export interface BatchContext {
  /** Stable id of the batch (the same on every retry), e.g. `vermont-creamery-batch-000042`. */
  batchId: string;
  /** When the batch was cut, ISO 8601. */
  createdAt: string;
  /** Interchange control number of the batch (X12). @defaultValue 1 */
  controlNumber?: number;
}

/**
 * What a format finds when it writes a view, before anything is rendered or queued: the
 * values it cannot carry faithfully (the order is held with them), and the fields it leaves
 * out (so the delivery's `fields` does not claim them).
 */
export interface PayloadCheck {
  /** Why the view cannot be written as it is, naming fields and elements, never values. */
  problems: string[];
  /** Fields of the view the document will not carry (a code that cannot be sent unchanged). */
  unsent: FieldPath[];
}

/** A purchase order, or the cancellation of one. */
export type DocumentPurpose = 'order' | 'cancellation';

/** One purchase-order format (json, csv, ...): registers itself in `formats/index.ts`. */
export interface PurchaseOrderFormat<Options = unknown> {
  readonly id: string;
  readonly fileExtension: string;
  readonly contentType: string;
  /** Validates the supplier's `formatOptions` block. */
  readonly optionsSchema: z.ZodType<Options>;
  /** Whether the caller must allocate `context.controlNumber` (X12). @defaultValue false */
  readonly needsControlNumber?: boolean;
  /** Fields a supplier's allow-list must name for this format to make a usable document. */
  readonly requiredFields?: readonly FieldPath[];
  /**
   * Checks `po` as `render` would write it, without a tracking number or control number
   * (which never make a document unwritable). Planning calls it for every purchase order, so
   * an order that cannot be written is held before any label is bought or anything is
   * queued, even when the body is rendered later (after the label, or in a batch).
   * Formats without it can write every view.
   */
  check?(po: DropShipOrder, options: Options): PayloadCheck;
  /**
   * The document for `po`. Throws `DropshipError` (`EINVALID_ORDER`) with the problems
   * {@link PurchaseOrderFormat.check} reports, rather than write anything unfaithful. With `context.purpose` "cancellation", `po` is the
   * {@link cancellationView} of the order sent before, and the document cancels it in the
   * format's own terms (cXML `type="delete"`, X12 BEG01 `01`, ...).
   */
  render(po: DropShipOrder, options: Options, context: RenderContext): string;
  /**
   * `check`, and `render` when the check finds no problems, in one pass: for a format whose
   * check writes the whole document anyway (X12), so that planning a purchase order rendered
   * at once, or completing one with its label, does not write it twice. The same findings and
   * the same document as the two calls; no `body` when there are problems (`render` would
   * throw them).
   */
  checkAndRender?(po: DropShipOrder, options: Options, context: RenderContext): { check: PayloadCheck; body?: string };
  /**
   * Many purchase orders in one file, for suppliers that take one file per interval
   * (`batch` in the supplier file). Formats without it cannot be batched (cXML carries one
   * OrderRequest per document).
   */
  renderBatch?(items: readonly BatchItem[], options: Options, context: BatchContext): string;
  /**
   * Last touch at send time, for what must never be queued or previewed (cXML's shared
   * secret from the environment). Throws `DropshipError('ECONFIG')` when it cannot.
   */
  beforeSend?(body: string, options: Options, env: NodeJS.ProcessEnv): string;
  /**
   * The values `beforeSend` adds from the environment, in every form they take in the body.
   * A receiver may say them back (an error page quoting the request); the delivery worker
   * keeps them out of the error messages and receipts it records.
   */
  sendSecrets?(options: Options, env: NodeJS.ProcessEnv): string[];
}

/**
 * What a cancellation repeats of a purchase order already sent: which order and which lines
 * (SKU, name, quantity, price, weight as the allow-list let through) and the shipment's id,
 * carrier and service. Nothing about the customer, the ship-to, messages, line properties or
 * the label: a supplier needs none of it to stop, and it is kept (in Redis) until the order
 * can no longer be cancelled.
 */
export function cancellationView(po: DropShipOrder): DropShipOrder {
  const { id, placedAt, currency } = po.order;
  const { id: shipmentId, carrier, service } = po.shipment;
  // Key by key, not `{ ...(a ? { a } : {}), ...(b ? { b } : {}) }`: V8 (Node 20) gives an
  // object that gets keys after a leading spread a hidden class of its own.
  const order: DropShipOrder['order'] = {};
  if (id !== undefined) order.id = id;
  if (placedAt !== undefined) order.placedAt = placedAt;
  if (currency !== undefined) order.currency = currency;
  const shipment: DropShipOrder['shipment'] = {};
  if (shipmentId !== undefined) shipment.id = shipmentId;
  if (carrier !== undefined) shipment.carrier = carrier;
  if (service !== undefined) shipment.service = service;
  return {
    supplierId: po.supplierId,
    order,
    customer: {},
    shipTo: {},
    shipment,
    lines: po.lines.map(({ properties: _properties, ...line }) => line),
  };
}
