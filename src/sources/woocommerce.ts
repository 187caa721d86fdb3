import { decodeHTML } from 'entities';
import { isSensitiveKey } from '../core/card-data';
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
 * WooCommerce order webhooks (`order.created`): the body is the REST API v3 order object.
 *
 * Only the fields below are read. `customer_ip_address`, `customer_user_agent`,
 * `payment_method`/`payment_method_title`, `transaction_id`, `cart_hash`, `order_key` and
 * order `meta_data` other than the two keys named below are never copied. WooCommerce does
 * not report a card brand or last four, so `payment` is absent.
 *
 * Decisions:
 * - `order.id` is `number` (what the store shows the customer; plugins may customise it),
 *   else `id`.
 * - `placedAt` is `date_created_gmt`, which is UTC without an offset, so "Z" is added.
 *   `date_created` is the store's local time without an offset and is used only when it
 *   carries one; otherwise validation reports that `placedAt` is not a usable date-time.
 * - An all-blank `shipping` object means no shipping address: `shipTo` is absent.
 * - Gift message and contact restriction come from order `meta_data` (where checkout-field
 *   plugins store them), keys compared ignoring case, separators and a leading underscore:
 *   "gift_message"/"gift_note" (several joined by newlines) and "contact_restricted" with
 *   a yes value.
 * - `state` is the order `status` (which `fulfil` in store.yaml decides on); `version` is
 *   `date_modified_gmt`, so a later `order.updated` replaces an earlier one, never the reverse.
 * - Line `meta_data` becomes line properties: hidden meta (key starting with `_`, e.g.
 *   `_reduced_stock`) and non-text values are skipped; the name is `display_key` and the
 *   value `display_value` as plain text (what the customer saw), else `key` and `value`.
 */

const GIFT_MESSAGE_KEYS = new Set(['giftmessage', 'giftnote']);
const CONTACT_RESTRICTED = 'contactrestricted';
const NO_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/;
const HAS_OFFSET = /(Z|[+-]\d{2}:?\d{2})$/i;

function address(value: unknown): AddressInput | undefined {
  if (!isRecord(value)) return undefined;
  return addressOrNothing(
    compact({
      name: joinName(value.first_name, value.last_name) ?? '',
      company: optionalText(value.company),
      line1: text(value.address_1) ?? '',
      line2: optionalText(value.address_2),
      city: text(value.city) ?? '',
      region: optionalText(value.state),
      postalCode: optionalText(value.postcode),
      country: text(value.country) ?? '',
      phone: optionalText(value.phone),
    }),
  );
}

/** `date_modified_gmt` (UTC without an offset), else `date_modified` if it has one, as ms since 1970. */
function version(order: JsonObject): number | undefined {
  const gmt = optionalText(order.date_modified_gmt);
  const local = optionalText(order.date_modified);
  const iso = gmt !== undefined ? (NO_OFFSET.test(gmt) ? `${gmt}Z` : gmt) : local !== undefined && HAS_OFFSET.test(local) ? local : undefined;
  const at = iso !== undefined ? Date.parse(iso) : Number.NaN;
  return Number.isFinite(at) && at >= 0 ? at : undefined;
}

function placedAt(order: JsonObject): string {
  const gmt = optionalText(order.date_created_gmt);
  if (gmt !== undefined) return NO_OFFSET.test(gmt) ? `${gmt}Z` : gmt;
  const local = optionalText(order.date_created);
  return asIs<string>(local !== undefined && HAS_OFFSET.test(local) ? local : shallow(order.date_created));
}

/** HTML such as `<p>Blue</p>` (WooCommerce's `display_value`) as the text a customer saw. */
function plainText(html: string): string {
  return decodeHTML(html.replace(/<[^>]*>/g, '')).trim();
}

interface Meta {
  key: string;
  value: unknown;
  displayKey: unknown;
  displayValue: unknown;
}

function meta(value: unknown): Meta[] {
  return list(value)
    .filter(isRecord)
    .map((m) => ({ key: text(m.key) ?? '', value: m.value, displayKey: m.display_key, displayValue: m.display_value }));
}

function orderMetaText(entries: readonly Meta[], names: ReadonlySet<string>): string[] {
  return entries
    .filter((m) => names.has(normaliseName(m.key)))
    .map((m) => optionalText(m.value))
    .filter((v): v is string => v !== undefined);
}

function properties(entries: readonly Meta[]): Record<string, string> {
  const pairs: [string, string][] = [];
  for (const m of entries) {
    if (m.key === '' || m.key.startsWith('_') || isSensitiveKey(m.key)) continue;
    const name = optionalText(m.displayKey) ?? m.key;
    const shown = typeof m.displayValue === 'string' ? plainText(m.displayValue) : undefined;
    const value = shown !== undefined && shown !== '' ? shown : optionalText(m.value);
    if (value !== undefined) pairs.push([name, value]);
  }
  // fromEntries, not assignment: a property named "__proto__" stays a plain key.
  return Object.fromEntries(pairs);
}

function lines(order: JsonObject): OrderInput['lines'] {
  return list(order.line_items).map((item, index) => {
    if (!isRecord(item)) return asIs(shallow(item));
    return compact({
      id: optionalText(item.id) ?? String(index + 1),
      storeLineId: optionalText(item.id),
      sku: optionalText(item.sku) ?? '',
      // Product names are stored HTML-escaped ("Salt &amp; Pepper", "Tea &#8211; Green").
      name: decodeHTML(text(item.name) ?? ''),
      quantity: asIs<number>(shallow(item.quantity)),
      // `price` is a float (line total ÷ quantity); money() gives it exact decimal text.
      unitPrice: money(item.price),
      properties: properties(meta(item.meta_data)),
    });
  });
}

/** WooCommerce order webhooks, recognised by `line_items` plus `date_created`, `_links` or `billing.first_name`. */
export const woocommerceSource: OrderSource = {
  kind: 'woocommerce',

  detect(payload: unknown): boolean {
    return (
      isRecord(payload) &&
      Array.isArray(payload.line_items) &&
      ('date_created' in payload || '_links' in payload || 'first_name' in record(payload.billing))
    );
  },

  toOrderInput(payload: unknown): OrderInput {
    const order = requireObject(payload, 'a WooCommerce order');
    requireArrays(order, ['line_items']);
    const billing = record(order.billing);
    const orderMeta = meta(order.meta_data);
    const gift = orderMetaText(orderMeta, GIFT_MESSAGE_KEYS);
    return compact({
      id: asIs<string>(optionalText(order.number) ?? text(order.id)),
      storeId: optionalText(order.id),
      placedAt: placedAt(order),
      currency: asIs<string>(shallow(order.currency)),
      shippingMethod: optionalText(record(list(order.shipping_lines)[0]).method_id),
      giftMessage: gift.length > 0 ? gift.join('\n') : undefined,
      notes: optionalText(order.customer_note),
      customer: compact({
        name: joinName(billing.first_name, billing.last_name),
        email: optionalText(billing.email),
        phone: optionalText(billing.phone),
        contactRestricted: orderMeta.some((m) => normaliseName(m.key) === CONTACT_RESTRICTED && isYes(m.value)),
      }),
      shipTo: address(order.shipping),
      billTo: completeOrNothing(address(order.billing)),
      lines: lines(order),
      state: optionalText(order.status) !== undefined ? { platform: 'woocommerce' as const, status: asIs<string>(optionalText(order.status)) } : undefined,
      version: version(order),
    });
  },

  /** An order webhook (`order.updated`) whose `status` is `cancelled`. */
  cancellation(payload: unknown) {
    const order = requireObject(payload, 'a WooCommerce order');
    if (optionalText(order.status) !== 'cancelled') return undefined;
    return { orderId: optionalText(order.number) ?? text(order.id) };
  },
};
