import { hash } from 'node:crypto';
import type { Order } from './order';

/**
 * What changed between two versions of an order, by canonical field path, without keeping
 * either version's values: each path's values are kept as a SHA-256 digest (sealed at rest
 * by the caller), and two versions differ where their digests do. Pure.
 */

/** Canonical field path → digest of its values in one version of an order. */
export type OrderFingerprint = Record<string, string>;

const ORDER_FIELDS = ['placedAt', 'currency', 'giftMessage', 'notes'] as const;
const CUSTOMER_FIELDS = ['name', 'email', 'phone', 'contactRestricted'] as const;
const ADDRESS_FIELDS = ['name', 'company', 'line1', 'line2', 'city', 'region', 'postalCode', 'country', 'phone'] as const;
const LINE_FIELDS = ['sku', 'name', 'quantity', 'unitPrice', 'weight', 'properties'] as const;
/** `a.localeCompare(b)` (the default locale's collation), with one collator rather than one per comparison. */
const byLocale = new Intl.Collator().compare;
/** The fingerprint's keys (`customer.email`), joined once. */
const ORDER_KEYS = ORDER_FIELDS.map((f) => `order.${f}`);
const CUSTOMER_KEYS = CUSTOMER_FIELDS.map((f) => `customer.${f}`);
const ADDRESS_KEYS = ADDRESS_FIELDS.map((f) => `shipTo.${f}`);
const LINE_KEYS = LINE_FIELDS.map((f) => `lines.${f}`);

function digest(value: unknown): string {
  // JSON of undefined is undefined: an absent value hashes as null, the same as an explicit one.
  // One-shot `hash`: the same SHA-256, without a Hash object per field (24 of them per order).
  return hash('sha256', JSON.stringify(value ?? null), 'base64url');
}

/**
 * The fingerprint of what an order sends: its order, customer and ship-to fields, its
 * shipping method, and each line field over the lines (in order, by line id). Billing and
 * payment never leave, and store state and version are not the order's content: none of
 * them are part of it.
 */
export function orderFingerprint(order: Order): OrderFingerprint {
  const fp: OrderFingerprint = {};
  for (let i = 0; i < ORDER_FIELDS.length; i++) fp[ORDER_KEYS[i]!] = digest(order[ORDER_FIELDS[i]!]);
  fp['order.shippingMethod'] = digest(order.shippingMethod);
  for (let i = 0; i < CUSTOMER_FIELDS.length; i++) fp[CUSTOMER_KEYS[i]!] = digest(order.customer[CUSTOMER_FIELDS[i]!]);
  for (let i = 0; i < ADDRESS_FIELDS.length; i++) fp[ADDRESS_KEYS[i]!] = digest(order.shipTo?.[ADDRESS_FIELDS[i]!]);
  // A line added, removed or moved changes every line field's digest; `lines.id` says so too.
  fp['lines.id'] = digest(order.lines.map((l) => l.id));
  for (let i = 0; i < LINE_FIELDS.length; i++) {
    const f = LINE_FIELDS[i]!;
    fp[LINE_KEYS[i]!] = digest(order.lines.map((l) => (f === 'properties' ? Object.entries(l.properties).sort(([a], [b]) => byLocale(a, b)) : l[f])));
  }
  return fp;
}

/** The field paths whose values differ between two fingerprints, sorted. */
export function changedPaths(before: OrderFingerprint, after: OrderFingerprint): string[] {
  const paths = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...paths].filter((p) => before[p] !== after[p]).sort();
}
