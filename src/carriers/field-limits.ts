import { type FieldPath, sortedFields } from '../core/field-paths';
import { regionCode } from '../core/regions';
import { cleanText, codePointLength } from '../core/text';

/**
 * Fitting phone numbers, codes and weights into carrier field limits, and naming what a
 * carrier was sent. Shared by the carrier request builders; pure. Text itself is fitted by
 * `core/text.ts`.
 */

/**
 * A code (postal code, state or province) within `max` code points, upper-cased. With
 * `compact`, spaces and hyphens are removed ("05678-1234" → "056781234") always
 * (`'always'`) or only when the code is too long as written (`'when-long'`). Undefined
 * when it does not fit: a shortened code names another place, so it is better left out.
 */
export function fitCode(
  text: string | undefined,
  max: number,
  compact: 'always' | 'when-long' | 'never',
): string | undefined {
  const clean = cleanText(text).toUpperCase();
  const fits = (code: string) => code !== '' && codePointLength(code) <= max;
  if (compact !== 'always' && fits(clean)) return clean;
  if (compact === 'never') return undefined;
  const compacted = clean.replace(SPACES_AND_HYPHENS, '');
  return fits(compacted) ? compacted : undefined;
}

/**
 * A value that must not be cut (a name, a city): cleaned, and `problems` gets a sentence
 * naming `where` (never the value) when it is longer than `max` code points. A carrier that
 * cuts a name or city delivers to somebody else's address, so the order is held instead.
 */
export function fitWhole(text: string | undefined, max: number, where: string, problems: string[]): string {
  const clean = cleanText(text);
  if (codePointLength(clean) > max) problems.push(`${where} is ${codePointLength(clean)} characters; the carrier takes at most ${max}`);
  return clean;
}

/**
 * A state or province as a carrier's code: its ISO 3166-2 subdivision code when the region
 * is a name or abbreviation the country has ("California" → "CA", "Bayern" → "BY"),
 * otherwise the value itself when it already fits as a code, otherwise undefined.
 */
export function fitRegion(country: string, region: string | undefined, max: number): string | undefined {
  const code = regionCode(country, region);
  if (code !== undefined && codePointLength(code) <= max) return code;
  return fitCode(region, max, 'never');
}

const SPACES_AND_HYPHENS = /[\s-]/gu;
const EXTENSION_MARK = /\s*(?:extension|ext\.?|x|#)\s*/i;
const NOT_DIGITS = /[^0-9]/g;

/** Countries whose numbers carriers want as 10 national digits, without the leading "1". */
const NANP = new Set(['US', 'CA', 'PR', 'VI']);

/** A phone number as carriers take it: digits only, extension apart. */
export interface CarrierPhone {
  number: string;
  extension?: string;
}

/**
 * Digits of a free-text phone number ("+1 (802) 555-0100 ext. 12" → "8025550100", "12").
 * Undefined when no usable number is left: no digits, or more than the 15 of an E.164
 * number, which cutting would only turn into somebody else's number. An extension longer
 * than `maxExtension` is dropped for the same reason.
 */
export function parsePhone(
  text: string | undefined,
  country: string,
  maxExtension: number,
): CarrierPhone | undefined {
  const clean = cleanText(text);
  const [main = '', ext = ''] = clean.split(EXTENSION_MARK, 2);
  let digits = main.replace(NOT_DIGITS, '');
  if (NANP.has(country) && digits.length === 11 && digits.startsWith('1')) digits = digits.slice(1);
  if (digits.length === 0 || digits.length > 15) return undefined;
  const extension = ext.replace(NOT_DIGITS, '');
  return extension.length > 0 && extension.length <= maxExtension ? { number: digits, extension } : { number: digits };
}

/** Grams per avoirdupois pound, as a fraction: 453.59237 = 45359237 / 100000. */
const GRAM_NUMERATOR = 100_000;
const POUND_DENOMINATOR = 45_359_237;

/**
 * A weight in grams as tenths of `unit`, rounded up (a carrier re-weighs and bills the
 * difference, so never declare less) and at least 0.1. Integer arithmetic where possible,
 * so 1000 g is exactly 1.0 kg rather than 1.0000000001.
 */
export function weightInTenths(grams: number, unit: 'lb' | 'kg'): number {
  if (!Number.isFinite(grams) || grams < 0) throw new RangeError('weight must be a non-negative number of grams');
  const tenths =
    unit === 'kg' ? (grams * 10) / 1000 : (grams * 10 * GRAM_NUMERATOR) / POUND_DENOMINATOR;
  // Forgive float noise below a millionth of a tenth before rounding up.
  return Math.max(1, Math.ceil(tenths - 1e-6));
}

/** Which optional ship-to values made it into a carrier request (after fitting to its limits). */
export interface SentShipTo {
  company: boolean;
  line1: boolean;
  line2: boolean;
  region: boolean;
  postalCode: boolean;
  phone: boolean;
}

/**
 * The canonical paths a carrier request carries: name, city, country, weight and service
 * always; the optional ship-to values only when they were sent.
 */
export function carrierFields(sent: SentShipTo): FieldPath[] {
  let mask = 0;
  for (let i = 0; i < OPTIONAL_SHIP_TO.length; i++) if (sent[OPTIONAL_SHIP_TO[i]!]) mask |= 1 << i;
  // 64 possible lists: each sorted once, handed out as a copy (callers may change theirs).
  let fields = carrierFieldLists[mask];
  if (fields === undefined) {
    const list: FieldPath[] = ['shipTo.name', 'shipTo.city', 'shipTo.country', 'lines.weight', 'shipment.service'];
    OPTIONAL_SHIP_TO.forEach((key, i) => {
      if (mask & (1 << i)) list.push(`shipTo.${key}`);
    });
    fields = sortedFields(list);
    carrierFieldLists[mask] = fields;
  }
  return fields.slice();
}

const OPTIONAL_SHIP_TO = ['company', 'line1', 'line2', 'region', 'postalCode', 'phone'] as const;
const carrierFieldLists: Array<readonly FieldPath[] | undefined> = [];
