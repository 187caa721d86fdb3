/**
 * Canonical field paths: the vocabulary of allow-lists, the preview's `fields`
 * and disclosure records (see docs/canonical-order.md).
 */
export const FIELD_PATHS = [
  'order.id',
  'order.placedAt',
  'order.currency',
  'order.giftMessage',
  'order.notes',
  'customer.name',
  'customer.email',
  'customer.phone',
  'customer.contactRestricted',
  'shipTo.name',
  'shipTo.company',
  'shipTo.line1',
  'shipTo.line2',
  'shipTo.city',
  'shipTo.region',
  'shipTo.postalCode',
  'shipTo.country',
  'shipTo.phone',
  'billTo.name',
  'billTo.company',
  'billTo.line1',
  'billTo.line2',
  'billTo.city',
  'billTo.region',
  'billTo.postalCode',
  'billTo.country',
  'billTo.phone',
  'payment.brand',
  'payment.last4',
  'lines.sku',
  'lines.name',
  'lines.quantity',
  'lines.unitPrice',
  'lines.weight',
  'lines.properties',
  'shipment.id',
  'shipment.carrier',
  'shipment.service',
  'shipment.trackingNumber',
  'shipment.label',
] as const;

export type FieldPath = (typeof FIELD_PATHS)[number];

const KNOWN = new Set<string>(FIELD_PATHS);

export function isFieldPath(value: string): value is FieldPath {
  return KNOWN.has(value);
}

/** Fields that never leave the service, whatever a configuration says (privacy promise 2). */
export function isNeverDisclosed(path: string): boolean {
  return path === 'billTo.*' || path.startsWith('billTo.') || path.startsWith('payment.');
}

/** Contact data withheld for `customer.contactRestricted` customers (privacy promise 6). */
export const CONTACT_FIELDS: readonly FieldPath[] = ['customer.email', 'customer.phone', 'shipTo.phone'];

/** Sorted, de-duplicated list of field paths, as `preview` and the disclosure ledger print them. */
export function sortedFields(paths: Iterable<FieldPath>): FieldPath[] {
  // Sorted, then duplicates (now neighbours) dropped: the same list as through a Set, without it.
  const sorted = Array.from(paths).sort();
  let kept = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (kept === 0 || sorted[i] !== sorted[kept - 1]) sorted[kept++] = sorted[i]!;
  }
  sorted.length = kept;
  return sorted;
}
