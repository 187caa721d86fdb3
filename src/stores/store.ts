/**
 * A store platform (Shopify, WooCommerce): where the pipeline tells the store what shipped,
 * so the store marks the order fulfilled and its customer hears that it shipped. One
 * interface, one folder per platform (`shopify/`, `woocommerce/`), like carriers.
 *
 * Nothing but the store's own ids, quantities, the carrier and tracking numbers goes back.
 */

/** What shipped, to be told to the store: the unit of a fulfillment job. */
export interface FulfillmentRequest {
  /**
   * Deterministic: the same on every retry (`<orderId>+<shipmentId>+<n>`). Platforms that take
   * an idempotency key, or let us find our earlier attempt, use it so a retry after a lost
   * answer never fulfils twice.
   */
  fulfillmentId: string;
  /** The canonical order id (Shopify's order number, WooCommerce's order number). */
  orderId: string;
  /** The platform's own id of the order (Shopify `id`, WooCommerce `id`). */
  storeOrderId: string;
  /** The lines that shipped, by the platform's own line item ids, with how many of each. */
  lines: Array<{ storeLineId: string; quantity: number }>;
  /** Carrier as the platform names it, and its tracking numbers. */
  tracking: { company: string; numbers: string[]; url?: string };
  /** Every line of the order that ships has now shipped (WooCommerce: set status `completed`). */
  orderComplete: boolean;
}

/** What the store made of it. */
export interface FulfillmentResult {
  /** The platform's id of the fulfillment (Shopify `gid://shopify/Fulfillment/…`) or tracking item. */
  storeFulfillmentId?: string;
  /**
   * The lines had already been fulfilled in the store (by staff, or by an earlier attempt whose
   * answer was lost): nothing new was created.
   */
  alreadyFulfilled?: boolean;
  /**
   * Lines the store took fewer of than asked, because the rest had already been fulfilled
   * there (by staff, or another shipment): what was asked and what this fulfillment holds
   * (0: nothing left of that line). Absent when every line was taken as asked.
   */
  shortLines?: Array<{ storeLineId: string; requested: number; fulfilled: number }>;
}

/**
 * A store platform's client. Failures throw `DeliveryError`s (src/errors) so the job's retry
 * follows the catalogue: `ERATE_LIMITED` with the wait the platform asked for (Shopify's cost
 * throttle, a 429's Retry-After), `ECONNECTION`/`ETIMEDOUT`/`EREMOTE` retried, `EAUTH` and
 * `ESTORE_REJECTED` (Shopify `userErrors`, a 4xx) kept for an operator.
 */
export interface StorePlatform {
  readonly id: 'shopify' | 'woocommerce';
  fulfil(request: FulfillmentRequest): Promise<FulfillmentResult>;
  close(): Promise<void>;
}
