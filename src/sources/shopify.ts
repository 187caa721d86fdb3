import { decodeHTML } from 'entities';
import type { OrderInput } from '../core/order';
import type { OrderSource } from './source';
import {
  addressOrNothing,
  asIs,
  compact,
  completeOrNothing,
  isRecord,
  isYes,
  joinName,
  list,
  money,
  normaliseName,
  optionalText,
  record,
  requireArrays,
  requireObject,
  shallow,
  text,
  type AddressInput,
  type JsonObject,
} from './payload';

/**
 * Shopify `orders/create` webhooks: the body is the REST Admin API Order resource, in the
 * shape of the webhook's API version. Both the current shape (`price_set`, `current_quantity`,
 * `payment_gateway_names`) and older ones (`price` strings only, `payment_details`) map.
 *
 * Only the fields below are read. Card data (`payment_details.credit_card_number`, `_bin`,
 * `avs_result_code`, `cvv_result_code`), browser data (`browser_ip`, `client_details`,
 * `landing_site`, `referring_site`, `cart_token`), marketing flags (`buyer_accepts_marketing`,
 * `customer.accepts_marketing`, `email_marketing_consent`) and tags are never copied.
 *
 * Decisions:
 * - `order.id` is the shop-facing `order_number` (1001, what staff and customers quote; `name`
 *   adds a configurable "#" prefix that the id pattern would reject), else the numeric `id`.
 * - Line ids are the 1-based position in `line_items`, not Shopify's line item id. (The reason
 *   was that about one in four of those 13-14 digit numbers passes the Luhn check somewhere
 *   and was redacted; identifiers are no longer scrubbed, but positions are what orders
 *   already carry.) Removed
 *   lines keep their position, so ids stay stable.
 * - The gift message is the note attribute named "gift_message" or "gift_note" in any case
 *   or spelling ("Gift Message", "gift-note"); several are joined by newlines. Other note
 *   attributes (often tracking or marketing data) are not copied.
 * - Shopify has no "contact data only for fulfilment" flag: a customer tag
 *   `contact-restricted`, or a note attribute `contact-restricted` with a yes value, sets
 *   `customer.contactRestricted`.
 * - `state` carries what `fulfil` in store.yaml decides on: `financial_status`, whether
 *   `cancelled_at` is set, `test`. `version` is `updated_at` (a later `orders/updated`
 *   replaces an earlier one, never the other way round).
 * - A line that needs no shipping (`requires_shipping: false`, `gift_card: true`) or has
 *   nothing left (`current_quantity: 0`) maps with `requiresShipping: false` or not at all.
 * - `payment.brand`/`last4` come from `payment_details` (older API versions) when present;
 *   newer payloads only name the gateway, which is not a card brand, so `payment` is absent.
 */

const GIFT_MESSAGE_NAMES = new Set(['giftmessage', 'giftnote']);
const CONTACT_RESTRICTED = 'contactrestricted';

function address(value: unknown): AddressInput | undefined {
  if (!isRecord(value)) return undefined;
  return addressOrNothing(
    compact({
      name: optionalText(value.name) ?? joinName(value.first_name, value.last_name) ?? '',
      company: optionalText(value.company),
      line1: text(value.address1) ?? '',
      line2: optionalText(value.address2),
      city: text(value.city) ?? '',
      region: optionalText(value.province_code) ?? optionalText(value.province),
      postalCode: optionalText(value.zip),
      // A country name instead of a code fails validation with a clear problem; no guessing.
      country: optionalText(value.country_code) ?? text(value.country) ?? '',
      phone: optionalText(value.phone),
    }),
  );
}

interface NoteAttribute {
  name: string;
  value: string | undefined;
}

function noteAttributes(order: JsonObject): NoteAttribute[] {
  return list(order.note_attributes)
    .filter(isRecord)
    .map((a) => ({ name: normaliseName(text(a.name) ?? ''), value: optionalText(a.value) }));
}

function giftMessage(attributes: readonly NoteAttribute[]): string | undefined {
  const messages = attributes
    .filter((a) => GIFT_MESSAGE_NAMES.has(a.name) && a.value !== undefined)
    .map((a) => a.value);
  return messages.length > 0 ? messages.join('\n') : undefined;
}

/** Customer tags: a comma-separated string in REST payloads, an array in some others. */
function tags(value: unknown): string[] {
  const raw = Array.isArray(value) ? value.map((t) => text(t) ?? '') : (text(value) ?? '').split(',');
  return raw.map((t) => normaliseName(t));
}

function customer(order: JsonObject, attributes: readonly NoteAttribute[]): OrderInput['customer'] {
  const c = record(order.customer);
  const billing = record(order.billing_address);
  const shipping = record(order.shipping_address);
  const contactRestricted =
    tags(c.tags).includes(CONTACT_RESTRICTED) ||
    attributes.some((a) => a.name === CONTACT_RESTRICTED && isYes(a.value));
  return compact({
    // `customer` is null for some channels and guest checkouts: fall back to the addresses.
    name:
      joinName(c.first_name, c.last_name) ??
      optionalText(billing.name) ??
      joinName(billing.first_name, billing.last_name) ??
      optionalText(shipping.name) ??
      joinName(shipping.first_name, shipping.last_name),
    email: optionalText(order.email) ?? optionalText(order.contact_email) ?? optionalText(c.email),
    phone: optionalText(order.phone) ?? optionalText(c.phone),
    contactRestricted,
  });
}

function payment(order: JsonObject): OrderInput['payment'] {
  const details = record(order.payment_details);
  // Only the last four digits of the masked number ("•••• •••• •••• 4242") are read.
  const last4 = /(\d{4})\s*$/.exec(text(details.credit_card_number) ?? '')?.[1];
  const brand = optionalText(details.credit_card_company);
  return brand === undefined && last4 === undefined ? undefined : compact({ brand, last4 });
}

function shippingMethod(order: JsonObject): string | undefined {
  const first = record(list(order.shipping_lines)[0]);
  return optionalText(first.code) ?? optionalText(first.title);
}

/** Line item properties: `[{ name, value }]`; private (`_`) ones are dropped by scrubbing. */
function properties(value: unknown): Record<string, string> {
  const pairs: [string, string][] = isRecord(value)
    ? Object.entries(value).map(([k, v]) => [k, text(v) ?? ''])
    : list(value)
        .filter(isRecord)
        .map((p) => [text(p.name) ?? '', text(p.value) ?? '']);
  // fromEntries, not assignment: a property named "__proto__" stays a plain key.
  return Object.fromEntries(pairs.filter(([k, v]) => k.trim() !== '' && v.trim() !== ''));
}

function weight(grams: unknown): number | undefined {
  // Shopify reports 0 grams for products whose weight was never entered: unknown, not weightless.
  if (grams === 0 || grams === null || grams === undefined) return undefined;
  return asIs<number>(shallow(grams));
}

function lines(order: JsonObject): OrderInput['lines'] {
  const mapped: OrderInput['lines'] = [];
  const removed: OrderInput['lines'] = [];
  list(order.line_items).forEach((item, index) => {
    if (!isRecord(item)) {
      mapped.push(asIs(shallow(item)));
      return;
    }
    // `current_quantity` (API 2023-01+) reflects order edits and refunds; a fully removed line has 0.
    const left = typeof item.current_quantity === 'number' ? item.current_quantity : item.quantity;
    const priceSet = record(record(item.price_set).shop_money);
    const line = (quantity: unknown, requiresShipping: boolean) =>
      compact({
        id: String(index + 1),
        storeLineId: optionalText(item.id),
        sku: optionalText(item.sku) ?? '',
        // Product titles are stored HTML-escaped ("Salt &amp; Pepper").
        name: decodeHTML(text(item.name) ?? text(item.title) ?? ''),
        quantity: asIs<number>(shallow(quantity)),
        unitPrice: money(item.price ?? priceSet.amount),
        weight: weight(item.grams),
        properties: properties(item.properties),
        // Gift cards (even physical ones: Shopify sends their codes by email) and digital
        // products never ship; `requires_shipping` absent (old payloads) means it does.
        requiresShipping: requiresShipping && item.requires_shipping !== false && item.gift_card !== true,
      });
    if (left === 0) removed.push(line(item.quantity, false));
    else mapped.push(line(left, true));
  });
  // Removed lines are left out; an order whose every line was removed keeps them as lines
  // that do not ship (with what was ordered), so it is recorded as having nothing to ship
  // instead of being refused as an order without lines.
  return mapped.length > 0 ? mapped : removed;
}

/** Milliseconds since 1970 of an ISO 8601 time with an offset, or undefined. */
function versionOf(value: unknown): number | undefined {
  const at = typeof value === 'string' && /(Z|[+-]\d{2}:?\d{2})$/i.test(value.trim()) ? Date.parse(value) : Number.NaN;
  return Number.isFinite(at) && at >= 0 ? at : undefined;
}

/**
 * The Order resource itself: a webhook body is the resource, while the REST Admin API
 * (`GET /orders/{id}.json`, what an operator saves to replay or preview an order) wraps it
 * as `{ "order": { ... } }`. A body with `line_items` of its own is the resource, whatever
 * else it holds.
 */
function unwrap(payload: unknown): unknown {
  return isRecord(payload) && !('line_items' in payload) && isRecord(payload.order) ? payload.order : payload;
}

/**
 * Shopify orders, recognised by `line_items` plus `order_number` or `admin_graphql_api_id`:
 * a webhook body, or the REST Admin API's `{ "order": { ... } }`.
 */
export const shopifySource: OrderSource = {
  kind: 'shopify',

  detect(payload: unknown): boolean {
    const order = unwrap(payload);
    return (
      isRecord(order) &&
      Array.isArray(order.line_items) &&
      ('order_number' in order || 'admin_graphql_api_id' in order)
    );
  },

  toOrderInput(payload: unknown): OrderInput {
    const order = requireObject(unwrap(payload), 'a Shopify order');
    requireArrays(order, ['line_items']);
    const attributes = noteAttributes(order);
    return compact({
      id: asIs<string>(text(order.order_number) ?? text(order.id)),
      name: optionalText(order.name),
      storeId: optionalText(order.id),
      placedAt: asIs<string>(optionalText(order.processed_at) ?? shallow(order.created_at)),
      currency: asIs<string>(shallow(order.currency)),
      shippingMethod: shippingMethod(order),
      giftMessage: giftMessage(attributes),
      notes: optionalText(order.note),
      customer: customer(order, attributes),
      shipTo: address(order.shipping_address),
      billTo: completeOrNothing(address(order.billing_address)),
      payment: payment(order),
      lines: lines(order),
      state: compact({
        platform: 'shopify' as const,
        financialStatus: optionalText(order.financial_status),
        cancelled: optionalText(order.cancelled_at) !== undefined,
        test: order.test === true,
      }),
      version: versionOf(order.updated_at),
    });
  },

  /**
   * An `orders/cancelled` payload: the Order resource with `cancelled_at` and `cancel_reason`.
   * The topic header is not covered by the webhook's signature, so the body alone decides: an
   * order without `cancelled_at` (a signed `orders/create` body sent as `orders/cancelled`)
   * cancels nothing.
   */
  cancellation(payload: unknown) {
    const order = requireObject(unwrap(payload), 'a Shopify order');
    if (optionalText(order.cancelled_at) === undefined) return undefined;
    const reason = optionalText(order.cancel_reason);
    return { orderId: text(order.order_number) ?? text(order.id), ...(reason !== undefined ? { reason } : {}) };
  },
};
