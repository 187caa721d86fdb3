/**
 * Every error code the pipeline uses, in one table (after fastify's `lib/errors.js`): what
 * it means in words a person can act on, the HTTP status the API answers with where the code
 * reaches a client, and what happens to the work that failed with it.
 *
 * The codes are stable: clients, operators, logs and the failed jobs kept for replay show
 * them. Messages and actions are fixed text; they never carry personal or card data. What
 * varies (a path, a host, a status) goes into the error's detail, never into this table.
 */

/**
 * What happens to work that failed with a code:
 * - `permanent`: retrying cannot help; the job fails now and is kept for replay;
 * - `retry`: try again with the recipient's backoff;
 * - `retry-after`: try again, no sooner than the other side asked (`Retry-After`);
 * - `hold`: the order cannot be planned as it is; it waits, failed, for an operator;
 * - `wait`: the order is not ready to ship yet (not paid); a later event for it starts it;
 * - `skip`: the order is never to ship (cancelled, refunded, a test, nothing physical); it is
 *   recorded with its reason and never planned.
 */
export type RetryClass = 'permanent' | 'retry' | 'retry-after' | 'hold' | 'wait' | 'skip';

/** One code's entry in the catalogue. */
export interface CatalogueEntry {
  /** What went wrong, for a person to act on (the default message of an error with the code). */
  readonly message: string;
  /** The status the HTTP API answers with, for codes that reach an API client. */
  readonly status?: number;
  readonly retry: RetryClass;
  /** What an operator does about it; every hold, wait and skip reason has one. */
  readonly action?: string;
}

/** How an operator replays a held order once its cause is fixed. */
const REPLAY_ORDER = 'then replay the order (dropship replay --order ID, or --held for all)';

/** The catalogue: every code, with its entry. */
export const CATALOGUE = {
  // Intake and the HTTP API: answered to the client, nothing is queued.
  EINVALID_ORDER: { status: 400, retry: 'permanent', message: 'The order is invalid' },
  EINVALID_JSON: { status: 400, retry: 'permanent', message: 'The body is not valid JSON' },
  EUNKNOWN_SOURCE: { status: 400, retry: 'permanent', message: 'The order source could not be recognised' },
  EBAD_SIGNATURE: { status: 401, retry: 'permanent', message: 'The webhook signature does not match the body' },
  ESTALE_WEBHOOK: { status: 400, retry: 'permanent', message: 'The webhook is stale or replayed' },
  ETOO_LARGE: { status: 413, retry: 'permanent', message: 'The body is too large' },
  EMEDIA_TYPE: { status: 415, retry: 'permanent', message: 'Send the body as application/json' },
  EBAD_REQUEST: { status: 400, retry: 'permanent', message: 'The request could not be read' },
  EUNAUTHORIZED: { status: 401, retry: 'permanent', message: 'A valid bearer token is required' },
  ECSRF: { status: 403, retry: 'permanent', message: 'Write requests must come from the dashboard page itself' },
  EFORBIDDEN: { status: 403, retry: 'permanent', message: 'This action is disabled: it could lose orders kept for replay, or overwrite payloads' },
  ENOT_FOUND: { status: 404, retry: 'permanent', message: 'Not found' },
  EUNAVAILABLE: { status: 503, retry: 'retry-after', message: 'The queue store is unavailable; try again shortly' },
  ENOT_DURABLE: {
    status: 503,
    retry: 'retry-after',
    message: 'The order could not be confirmed on a replica of the queue store in time; send it again shortly (a repeat is recognised)',
  },
  EINTERNAL: { status: 500, retry: 'retry', message: 'Internal error' },

  // Supplier confirmations (acknowledgements and shipments) and what the store is told.
  EINVALID_CONFIRMATION: { status: 400, retry: 'permanent', message: 'The confirmation is invalid' },
  ECONFIRMATION_CONFLICT: {
    status: 409,
    retry: 'permanent',
    message: 'The confirmation contradicts what was sent or already confirmed',
    action: "Ask the supplier what it shipped; the purchase order's timeline (dropship status ORDER_ID) shows what was sent and confirmed",
  },
  ESTORE_REJECTED: {
    retry: 'permanent',
    message: 'The store refused the fulfillment',
    action: "Read the store's answer in the detail (a line already fulfilled elsewhere, a closed order), fix it in the store, then replay the fulfillment",
  },

  // Both sides: the API's own limit (answered 429), or a receiver's (a delivery waits for it).
  ERATE_LIMITED: { status: 429, retry: 'retry-after', message: 'Too many requests; try again after Retry-After seconds' },

  // Configuration and job data: fixed by an operator, then replayed.
  ECONFIG: {
    status: 500,
    retry: 'permanent',
    message: 'The configuration is invalid',
    action: 'Fix the configuration the detail names, restart the workers, then replay the failed work (dropship replay)',
  },
  EPOLICY: { status: 500, retry: 'permanent', message: 'The configuration breaks the privacy policy' },
  ESEALED: {
    status: 500,
    retry: 'permanent',
    message: 'Sealed job data cannot be opened',
    action: 'Give the workers the key that sealed it (DROPSHIP_DATA_KEY, or DROPSHIP_DATA_KEY_PREVIOUS for a retired key), then replay',
  },

  // Deliveries: how a transport's failure is retried. A transport may still say more than the
  // class here (a timeout after which the receiver may have acted; the wait it asked for).
  ECONNECTION: { retry: 'retry', message: 'The receiver could not be reached' },
  ETIMEDOUT: { retry: 'retry', message: 'The receiver did not answer in time' },
  EREMOTE: { retry: 'retry', message: 'The receiver failed on its side' },
  EAUTH: {
    retry: 'permanent',
    message: 'The receiver refused our credentials',
    action: "Check the recipient's credentials (user, key, token) with them, fix them, then replay (dropship replay --supplier ID)",
  },
  EHOSTKEY: {
    retry: 'permanent',
    message: "The SFTP server's host key is not the one configured",
    action: "Confirm the new host key with the supplier out of band, update hostKey in the supplier's file, then replay",
  },
  ETLS: {
    retry: 'permanent',
    message: "TLS failed: the receiver's certificate is not trusted, has expired or names another host, or TLS was refused",
    action: 'Have the receiver fix its certificate (or configure its CA file), then replay',
  },
  EREJECTED: {
    retry: 'permanent',
    message: 'The receiver refused the payload',
    action: "Read the receiver's answer in the detail, fix the cause (a SKU, an address, a setting), then replay",
  },
  EPAYLOAD: {
    retry: 'permanent',
    message: 'The payload cannot be sent as it is',
    action: 'Fix what the detail names (a file name template, a format, a key), restart the workers, then replay',
  },

  // Hold reasons: the order is not planned; it stays, failed, until an operator acts.
  NO_SHIP_TO: {
    retry: 'hold',
    message: 'The order has no shipping address',
    action: 'Replaying plans the same order again: correct it in the store and fulfil it outside the pipeline',
  },
  UNCLAIMED_LINE: {
    retry: 'hold',
    message: 'A line is claimed by no supplier and there is no warehouse',
    action: `Add the SKU to a supplier's skus, or set warehouse in store.yaml; restart the workers, ${REPLAY_ORDER}`,
  },
  AMBIGUOUS_LINE: {
    retry: 'hold',
    message: 'A line is claimed by more than one supplier',
    action: `Narrow the suppliers' skus patterns until one claims the SKU; restart the workers, ${REPLAY_ORDER}`,
  },
  UNKNOWN_SHIPPING_METHOD: {
    retry: 'hold',
    message: "The order's shipping method maps to no carrier",
    action: `Add the method to shipping.methods in store.yaml, or set shipping.default; restart the workers, ${REPLAY_ORDER}`,
  },
  UNSHIPPABLE: {
    retry: 'hold',
    message: 'A shipment cannot be written for its carrier or supplier',
    action: `Correct what the detail names (in the order at the store, or in the supplier's format options); restart the workers, ${REPLAY_ORDER}`,
  },
  CHANGED_AFTER_SENT: {
    retry: 'hold',
    message: 'The order changed after its deliveries were planned or sent',
    action:
      'The pipeline does not send a changed order twice: the detail names the changed fields (never their values). Tell the recipients in dropship status about the change yourself, or cancel the order (POST /orders/ID/cancel) and place it again under a new id',
  },

  // Waiting: the store has not released the order yet (store.yaml `fulfil`). Nothing is sent;
  // the next event for the order (Shopify orders/updated or orders/paid, WooCommerce
  // order.updated, POST /orders again) that makes it ready starts it.
  NOT_PAID: {
    retry: 'wait',
    message: 'The order is not paid yet',
    action: 'Nothing to do: the order starts when the store reports it paid. To ship it anyway, add its status to fulfil in store.yaml, restart, and send the order again',
  },
  WAITING_STATUS: {
    retry: 'wait',
    message: "The order's status in the store is not one that ships",
    action: 'Nothing to do if the store will move it on; otherwise add the status to fulfil in store.yaml, restart, and send the order again',
  },

  // Skipped: the order is recorded with its reason and never planned.
  CANCELLED: {
    retry: 'skip',
    message: 'The order was cancelled in the store',
    action: 'Nothing to do: a cancelled order never ships. Place a new order if it should',
  },
  REFUNDED: {
    retry: 'skip',
    message: 'The order was refunded or its payment voided',
    action: 'Nothing to do: a refunded order never ships. Place a new order if it should',
  },
  COMPLETED: {
    retry: 'skip',
    message: 'The order is already completed in the store',
    action: 'Nothing to do: the store marked it fulfilled. Add the status to fulfil in store.yaml if such orders should ship',
  },
  TEST_ORDER: {
    retry: 'skip',
    message: 'The order is a test order',
    action: 'Nothing to do: test orders never ship unless fulfil.testOrders is true in store.yaml',
  },
  NOTHING_TO_SHIP: {
    retry: 'skip',
    message: 'No line of the order needs shipping',
    action: 'Nothing to do: gift cards, digital and removed lines and fulfil.skipSkus lines never ship',
  },
} as const satisfies Record<string, CatalogueEntry>;

/** Every code in the catalogue. */
export type Code = keyof typeof CATALOGUE;

/** The codes of hold reasons: an order that cannot be planned as it is. */
export type HoldCode = { [K in Code]: (typeof CATALOGUE)[K]['retry'] extends 'hold' ? K : never }[Code];

/** The codes of a waiting order's reasons: not ready to ship yet. */
export type WaitCode = { [K in Code]: (typeof CATALOGUE)[K]['retry'] extends 'wait' ? K : never }[Code];

/** The codes of a skipped order's reasons: never to ship. */
export type SkipCode = { [K in Code]: (typeof CATALOGUE)[K]['retry'] extends 'skip' ? K : never }[Code];

/** The codes of errors (everything but hold, wait and skip reasons): what `DropshipError` and failed jobs carry. */
export type ErrorCode = Exclude<Code, HoldCode | WaitCode | SkipCode>;

/** Why an order cannot go out as it is: shown to operators, who fix the cause and replay. */
export interface HoldReason {
  code: HoldCode;
  /** This order's case in a sentence: which line, which method (SKUs and ids, never personal data). */
  message: string;
}

/** Why an order waits or is skipped: its code and this order's case (statuses and SKUs, never personal data). */
export interface OrderReason<C extends WaitCode | SkipCode | HoldCode = WaitCode | SkipCode | HoldCode> {
  code: C;
  message: string;
}

/** Whether `value` is a code of the catalogue (own keys only: `toString` is not a code). */
export function isCode(value: string): value is Code {
  return Object.hasOwn(CATALOGUE, value);
}

/** Whether `code` is a hold reason's. */
export function isHoldCode(code: Code): code is HoldCode {
  return CATALOGUE[code].retry === 'hold';
}

/** Whether `code` is a reason an order waits or is skipped for (not an error, not a hold). */
export function isOrderStateCode(code: Code): code is WaitCode | SkipCode {
  const retry: RetryClass = CATALOGUE[code].retry;
  return retry === 'wait' || retry === 'skip';
}

/** The entry of `code`. */
export function entryOf(code: Code): CatalogueEntry {
  return CATALOGUE[code];
}
