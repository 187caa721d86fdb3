import { z } from 'zod';
import { COUNTRY_CODES } from './countries';

/**
 * The canonical order: what every source adapter produces and the only shape the core
 * reads. It holds no card data beyond brand and last four, no browser data, no
 * marketing flags: those are dropped at ingestion and have no place here.
 */

const text = (max: number) => z.string().trim().max(max, `must be at most ${max} characters`);
const required = (max: number) => text(max).min(1, 'must not be empty');

/** A decimal amount as a string ("12.50"), never a float: money is exact. */
export const Money = z
  .union([z.string().trim(), z.number().finite()])
  .transform((v) => (typeof v === 'number' ? String(v) : v))
  .refine((v) => /^\d{1,12}(\.\d{1,6})?$/.test(v), 'must be a non-negative decimal amount such as "12.50"');

const countries = new Set(COUNTRY_CODES);

export const Address = z.object({
  name: required(200),
  company: text(200).optional(),
  line1: required(200),
  line2: text(200).optional(),
  city: required(100),
  region: text(100).optional(),
  postalCode: text(20).optional(),
  country: z
    .string()
    .trim()
    .transform((v) => v.toUpperCase())
    .refine((v) => countries.has(v), 'must be an ISO 3166-1 alpha-2 country code such as "US"'),
  phone: text(40).optional(),
});
export type Address = z.infer<typeof Address>;

/**
 * The store platform's own id of an order or line (Shopify `id`, WooCommerce `id`): what the
 * store is told about when a shipment is fulfilled. An identifier: never scrubbed, never sent
 * to a supplier or carrier.
 */
export const StoreId = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$/, 'must be 1-100 letters, digits, ".", "_", ":", "/" or "-"');

export const OrderLine = z.object({
  /** Stable id of the line within its order (source line id, or its 1-based position). */
  id: required(64),
  /** The store platform's id of the line item (Shopify `line_items[].id`), for fulfillments. */
  storeLineId: StoreId.optional(),
  /** May be empty: real stores have lines without SKUs; no supplier pattern claims those. */
  sku: text(100).default(''),
  name: required(500),
  quantity: z
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(100000, 'must be at most 100000'),
  unitPrice: Money,
  /** Weight of one unit in grams, when the source knows it. */
  weight: z.number().finite().min(0, 'must not be negative').max(1_000_000).optional(),
  properties: z.record(z.string(), text(1000)).default({}),
  /**
   * False for a line nothing of which is sent: a gift card, a digital product or service, a
   * line an order edit removed (Shopify `requires_shipping: false`, `gift_card: true`,
   * `current_quantity: 0`). It never reaches a shipment, a purchase order or a carrier.
   */
  requiresShipping: z.boolean({ error: 'must be true or false' }).default(true),
});
export type OrderLine = z.infer<typeof OrderLine>;

/** What a canonical order may say about its readiness (`POST /orders` `state.status`). */
export const CANONICAL_STATUSES = ['ready', 'waiting', 'cancelled', 'refunded'] as const;

/**
 * The store's own state of the order, which `fulfil` in store.yaml reads to decide whether it
 * ships now, waits, or never ships (`src/core/readiness.ts`). Absent: ready.
 */
export const OrderState = z.discriminatedUnion('platform', [
  z
    .object({
      platform: z.literal('shopify'),
      /** `financial_status`: pending, authorized, partially_paid, paid, partially_refunded, refunded, voided. */
      financialStatus: text(40).optional(),
      /** `cancelled_at` is set. */
      cancelled: z.boolean().default(false),
      /** `test: true`: placed through a test gateway. */
      test: z.boolean().default(false),
    })
    .strict(),
  z
    .object({
      platform: z.literal('woocommerce'),
      /** `status`: pending, processing, on-hold, completed, cancelled, refunded, failed, or a plugin's own. */
      status: required(40),
    })
    .strict(),
  z
    .object({
      platform: z.literal('canonical'),
      status: z.enum(CANONICAL_STATUSES, { error: `must be one of ${CANONICAL_STATUSES.join(', ')}` }).default('ready'),
      test: z.boolean({ error: 'must be true or false' }).default(false),
    })
    .strict(),
]);
export type OrderState = z.infer<typeof OrderState>;

/**
 * An order id: it becomes part of job ids, Redis keys and the suppliers' file names
 * (`{orderId}-{supplierId}.csv`), so it is refused at intake if any file name made from it
 * could be refused at delivery, after a label was bought: no `/`, `\`, control or other
 * characters, no leading `.` (a hidden file), no `..` (a traversal, and what the transports'
 * file-name check refuses) and no trailing `.` (`{orderId}.{ext}` would hold `..`).
 */
export const ORDER_ID = /^(?!.*\.\.)[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$/;

/** What {@link ORDER_ID} asks for, as every refusal of an order id says it (never quoting the id). */
export const ORDER_ID_RULE = 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit, not ending with "." and without ".."';

export const Order = z.object({
  id: z.string().trim().regex(ORDER_ID, ORDER_ID_RULE),
  /**
   * The store's name for the order where it differs from the id (Shopify `name`, "#1001" or
   * with the store's own prefix and suffix): what staff search for. Never sent to anyone.
   */
  name: text(64).optional(),
  /** The store platform's own id of the order (Shopify `id`, WooCommerce `id`), for fulfillments. */
  storeId: StoreId.optional(),
  placedAt: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }),
  currency: z
    .string()
    .trim()
    .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code such as "USD"'),
  /** Key into the store's shipping-method map (config/store.yaml `shipping.methods`). */
  shippingMethod: text(100).default('default'),
  giftMessage: text(2000).optional(),
  notes: text(5000).optional(),
  customer: z
    .object({
      name: text(200).optional(),
      email: z.email('must be an email address').max(254).optional(),
      phone: text(40).optional(),
      contactRestricted: z.boolean().default(false),
    })
    .default({ contactRestricted: false }),
  /** Absent when the source had no shipping address: such an order is held, not guessed at. */
  shipTo: Address.optional(),
  billTo: Address.optional(),
  payment: z
    .object({
      brand: text(40).optional(),
      last4: z
        .string()
        .regex(/^\d{4}$/, 'must be exactly four digits')
        .optional(),
    })
    .optional(),
  lines: z.array(OrderLine).min(1, 'an order needs at least one line').max(5000, 'at most 5000 lines'),
  /** Whether the store has released the order for shipping (see {@link OrderState}). Absent: ready. */
  state: OrderState.optional(),
  /**
   * Which version of the order this is, as milliseconds since 1970 of its last change in the
   * store (Shopify `updated_at`, WooCommerce `date_modified_gmt`) or a number the client
   * counts up. A version older than the one already accepted is ignored.
   */
  version: z.number({ error: 'must be a number' }).int('must be a whole number').min(0, 'must not be negative').max(Number.MAX_SAFE_INTEGER).optional(),
});
export type Order = z.infer<typeof Order>;
/** What adapters hand to `Order.parse`: money may be numbers, defaults may be missing. */
export type OrderInput = z.input<typeof Order>;

/** Where an order event came from: enough to deduplicate it, nothing personal. */
export interface OrderEventSource {
  kind: 'canonical' | 'shopify' | 'woocommerce';
  /** The source's own event id (e.g. `X-Shopify-Event-Id`, else `X-Shopify-Webhook-Id`), used for deduplication. */
  eventId?: string;
}

/** A scrubbed, validated order as it travels through the queues. */
export interface OrderEvent {
  source: OrderEventSource;
  order: Order;
  /**
   * The sender says this replaces the order already accepted under its id (`POST /orders`
   * `"replace": true`, `dropship enqueue --replace`): it counts as newer than that one.
   */
  replace?: true;
}

/** Why an order was cancelled (Shopify's `cancel_reason` values; anything else is `other`). */
export const CANCEL_REASONS = ['customer', 'fraud', 'inventory', 'declined', 'staff', 'other'] as const;
export type CancelReason = (typeof CANCEL_REASONS)[number];

/** An order's cancellation as it travels through the queues: ids only, no personal data. */
export interface CancelEvent {
  source: OrderEventSource;
  orderId: string;
  reason?: CancelReason;
}
