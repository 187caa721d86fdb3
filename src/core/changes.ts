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
  for (const f of ORDER_FIELDS) fp[`order.${f}`] = digest(order[f]);
  fp['order.shippingMethod'] = digest(order.shippingMethod);
  for (const f of CUSTOMER_FIELDS) fp[`customer.${f}`] = digest(order.customer[f]);
  for (const f of ADDRESS_FIELDS) fp[`shipTo.${f}`] = digest(order.shipTo?.[f]);
  // A line added, removed or moved changes every line field's digest; `lines.id` says so too.
  fp['lines.id'] = digest(order.lines.map((l) => l.id));
  for (const f of LINE_FIELDS) {
    fp[`lines.${f}`] = digest(order.lines.map((l) => (f === 'properties' ? Object.entries(l.properties).sort(([a], [b]) => a.localeCompare(b)) : l[f])));
  }
  return fp;
}

/** The field paths whose values differ between two fingerprints, sorted. */
export function changedPaths(before: OrderFingerprint, after: OrderFingerprint): string[] {
  const paths = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...paths].filter((p) => before[p] !== after[p]).sort();
}
