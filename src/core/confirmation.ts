import { z } from 'zod';
import { redactCardNumbers } from './card-data';
import { ORDER_ID, ORDER_ID_RULE } from './order';

/**
 * What a supplier tells us back about a purchase order we sent it, whatever the channel (our
 * HTTPS API, a CSV or X12 file on its SFTP server, cXML): that it accepted, rejected or
 * backordered it (an acknowledgement), or that it shipped some of it (a shipment, with the
 * carrier and tracking numbers). Pure: the shapes, their validation, carrier names, and how
 * a confirmation's lines are matched to the lines the purchase order carried.
 *
 * A supplier names lines by SKU, as we sent them (one purchase order per supplier per order:
 * the order id identifies it). A confirmation without lines covers every line of the
 * purchase order (all of what is left, for a shipment).
 */

/** How a supplier answered a purchase order. */
export const ACKNOWLEDGEMENT_STATUSES = ['accepted', 'rejected', 'backordered'] as const;
export type AcknowledgementStatus = (typeof ACKNOWLEDGEMENT_STATUSES)[number];

const SKU = z.string().min(1, 'must not be empty').max(100, 'must be at most 100 characters');

/** A line of a confirmation: a SKU of the purchase order and how many of it. */
export const ConfirmedLine = z
  .object({
    sku: SKU,
    quantity: z.number({ error: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1').max(100_000, 'must be at most 100000'),
  })
  .strict();
export type ConfirmedLine = z.infer<typeof ConfirmedLine>;

/**
 * A tracking number as carriers print them: letters and digits, sometimes with spaces or
 * dashes (which are dropped). Never scrubbed: a tracking number passing a Luhn check is still
 * a tracking number.
 */
export const TrackingNumber = z
  .string()
  .transform((v) => v.replace(/[\s-]/g, ''))
  .pipe(z.string().regex(/^[A-Za-z0-9]{4,64}$/, 'must be 4-64 letters and digits'));

const OrderId = z.string().trim().regex(ORDER_ID, ORDER_ID_RULE);

/** Free text from a supplier (a reason): cut to length, card numbers redacted. */
const SupplierText = z
  .string()
  .trim()
  .max(500, 'must be at most 500 characters')
  .transform((v) => redactCardNumbers(v));

/** `POST /suppliers/{id}/shipments`, and a shipment read from a supplier's file. */
export const ShipmentConfirmationInput = z
  .object({
    orderId: OrderId,
    carrier: z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
    trackingNumbers: z.array(TrackingNumber).min(1, 'must list at least one tracking number').max(100, 'at most 100 tracking numbers'),
    lines: z.array(ConfirmedLine).min(1, 'must list at least one line when given').max(5000).optional(),
    shippedAt: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).optional(),
  })
  .strict();
export type ShipmentConfirmationInput = z.infer<typeof ShipmentConfirmationInput>;

/** `POST /suppliers/{id}/acknowledgements`, and an acknowledgement read from a supplier's file. */
export const AcknowledgementInput = z
  .object({
    orderId: OrderId,
    status: z.enum(ACKNOWLEDGEMENT_STATUSES, { error: `must be one of ${ACKNOWLEDGEMENT_STATUSES.join(', ')}` }),
    lines: z.array(ConfirmedLine).min(1, 'must list at least one line when given').max(5000).optional(),
    reason: SupplierText.optional(),
  })
  .strict();
export type AcknowledgementInput = z.infer<typeof AcknowledgementInput>;

/** A supplier's shipment of (part of) a purchase order. */
export interface ShipmentConfirmation extends ShipmentConfirmationInput {
  kind: 'shipment';
}

/** A supplier's answer to a purchase order. */
export interface Acknowledgement extends AcknowledgementInput {
  kind: 'acknowledgement';
}

export type Confirmation = ShipmentConfirmation | Acknowledgement;

/** Where a confirmation came from, for the timeline: the channel and the supplier's own reference. */
export interface ConfirmationOrigin {
  channel: 'api' | 'sftp' | 'cxml';
  /** The supplier's id for the document (ASN number, cXML payloadID, file name and row). */
  reference?: string;
}

/** One line of a purchase order as sent, as far as confirmations need it. */
export interface SentLine {
  /** The canonical line id (unique within the order). */
  lineId: string;
  sku: string;
  quantity: number;
}

/** How many of each line the confirmation covers, by line id. */
export type LineQuantities = Record<string, number>;

/** Why a confirmation contradicts what was sent or already confirmed (answered 409, and recorded). */
export interface Contradiction {
  kind: 'unknown-sku' | 'over-quantity' | 'nothing-left';
  message: string;
}

/**
 * Matches a shipment's lines to the purchase order's: each SKU's quantity is taken from the
 * lines carrying that SKU in order, up to what is left of each (sent less already shipped).
 * Without lines, everything left ships. Returns the quantities per line id, or every
 * contradiction: a SKU the purchase order did not carry, more than is left of a SKU, or
 * nothing left at all.
 */
export function allocateShipment(
  sent: readonly SentLine[],
  shipped: Readonly<LineQuantities>,
  lines: readonly ConfirmedLine[] | undefined,
): { ok: true; quantities: LineQuantities } | { ok: false; contradictions: Contradiction[] } {
  const left = (line: SentLine) => Math.max(0, line.quantity - (shipped[line.lineId] ?? 0));
  const quantities: LineQuantities = {};
  if (lines === undefined) {
    for (const line of sent) if (left(line) > 0) quantities[line.lineId] = left(line);
    if (Object.keys(quantities).length === 0) return { ok: false, contradictions: [{ kind: 'nothing-left', message: 'every line of this purchase order has already shipped' }] };
    return { ok: true, quantities };
  }
  const contradictions: Contradiction[] = [];
  // The same SKU twice in one confirmation adds up.
  const wanted = new Map<string, number>();
  for (const line of lines) wanted.set(line.sku, (wanted.get(line.sku) ?? 0) + line.quantity);
  for (const [sku, quantity] of wanted) {
    const candidates = sent.filter((l) => l.sku === sku);
    if (candidates.length === 0) {
      contradictions.push({ kind: 'unknown-sku', message: `SKU ${JSON.stringify(sku)} is not on this purchase order` });
      continue;
    }
    const available = candidates.reduce((n, l) => n + left(l), 0);
    if (quantity > available) {
      contradictions.push({ kind: 'over-quantity', message: `SKU ${JSON.stringify(sku)}: ${quantity} confirmed, only ${available} left of ${candidates.reduce((n, l) => n + l.quantity, 0)} sent` });
      continue;
    }
    let rest = quantity;
    for (const line of candidates) {
      const take = Math.min(rest, left(line));
      if (take > 0) quantities[line.lineId] = (quantities[line.lineId] ?? 0) + take;
      rest -= take;
    }
  }
  return contradictions.length > 0 ? { ok: false, contradictions } : { ok: true, quantities };
}

/** Checks an acknowledgement's lines against the purchase order: each SKU carried, no more than sent. */
export function checkAcknowledgedLines(sent: readonly SentLine[], lines: readonly ConfirmedLine[] | undefined): Contradiction[] {
  if (lines === undefined) return [];
  const contradictions: Contradiction[] = [];
  const wanted = new Map<string, number>();
  for (const line of lines) wanted.set(line.sku, (wanted.get(line.sku) ?? 0) + line.quantity);
  for (const [sku, quantity] of wanted) {
    const total = sent.filter((l) => l.sku === sku).reduce((n, l) => n + l.quantity, 0);
    if (total === 0) contradictions.push({ kind: 'unknown-sku', message: `SKU ${JSON.stringify(sku)} is not on this purchase order` });
    else if (quantity > total) contradictions.push({ kind: 'over-quantity', message: `SKU ${JSON.stringify(sku)}: ${quantity} acknowledged, ${total} sent` });
  }
  return contradictions;
}

/** A carrier as a store platform knows it: the exact name Shopify matches, and how to track a parcel. */
export interface KnownCarrier {
  /** Shopify's `company` (matched exactly there), and the name shown to customers elsewhere. */
  company: string;
  /** Tracking page with `{n}` for the tracking number. */
  trackingUrl?: string;
}

/**
 * Carriers by every name suppliers use: their names, and their SCAC codes (X12 856 TD503,
 * cXML `CarrierIdentifier domain="SCAC"`). `company` is spelled as in Shopify's list of
 * supported tracking companies, which Shopify matches exactly.
 */
const CARRIERS: ReadonlyArray<KnownCarrier & { names: readonly string[] }> = [
  // Not UPS Freight (SCAC UPGF): it is TForce Freight since 2021, whose PRO numbers ups.com does not track.
  { company: 'UPS', names: ['ups', 'upsn', 'united parcel service', 'ups ground', 'upsg'], trackingUrl: 'https://www.ups.com/track?tracknum={n}' },
  { company: 'FedEx', names: ['fedex', 'fed ex', 'fden', 'fdeg', 'fdxg', 'fdx', 'fdxe', 'fede', 'fedex ground', 'fedex express', 'federal express', 'fxfe'], trackingUrl: 'https://www.fedex.com/fedextrack/?trknbr={n}' },
  { company: 'USPS', names: ['usps', 'us postal service', 'united states postal service', 'u.s. postal service', 'usps priority mail'], trackingUrl: 'https://tools.usps.com/go/TrackConfirmAction?tLabels={n}' },
  { company: 'DHL Express', names: ['dhl', 'dhl express', 'dhlc', 'dhx'], trackingUrl: 'https://www.dhl.com/en/express/tracking.html?AWB={n}' },
  { company: 'DHL eCommerce', names: ['dhl ecommerce', 'dhl e-commerce', 'dhlg'] },
  { company: 'Canada Post', names: ['canada post', 'canadapost', 'cdnp'], trackingUrl: 'https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={n}' },
  { company: 'Purolator', names: ['purolator', 'prlr'], trackingUrl: 'https://www.purolator.com/en/shipping/tracker?pin={n}' },
  { company: 'OnTrac', names: ['ontrac', 'emsy'], trackingUrl: 'https://www.ontrac.com/tracking/?number={n}' },
  { company: 'Royal Mail', names: ['royal mail', 'royalmail'], trackingUrl: 'https://www.royalmail.com/track-your-item#/tracking-results/{n}' },
  { company: 'Australia Post', names: ['australia post', 'auspost'], trackingUrl: 'https://auspost.com.au/mypost/track/#/details/{n}' },
  { company: 'GLS', names: ['gls'] },
  { company: 'DPD', names: ['dpd'] },
];

/** A carrier's name as compared: any case, dots dropped (`U.S.P.S.`), dashes and underscores as spaces (`Fed-Ex`, `DHL_Express`), spaces collapsed. */
function carrierKey(name: string): string {
  return name.toLowerCase().replace(/\./g, '').replace(/[-_\s]+/g, ' ').trim();
}

const BY_NAME = new Map<string, KnownCarrier>();
for (const { names, ...carrier } of CARRIERS) for (const name of [...names, carrier.company]) BY_NAME.set(carrierKey(name), carrier);

/**
 * The store platform's name for a carrier a supplier named (by name or SCAC, any case,
 * spacing and punctuation), with a tracking URL when the carrier is known. An unknown carrier
 * keeps the supplier's spelling (trimmed) and has no URL: Shopify then shows the number
 * without a link.
 */
export function normaliseCarrier(name: string, trackingNumber?: string): KnownCarrier {
  const known = BY_NAME.get(carrierKey(name));
  if (!known) return { company: name.trim() };
  if (known.trackingUrl === undefined || trackingNumber === undefined) return { company: known.company };
  return { company: known.company, trackingUrl: known.trackingUrl.replace('{n}', encodeURIComponent(trackingNumber)) };
}
