import { type FieldPath, sortedFields } from '../domain/field-paths';

/**
 * Fitting free text, phone numbers and weights into carrier field limits. Shared by the
 * carrier request builders; pure.
 *
 * Lengths are counted in Unicode code points, as JSON Schema's `maxLength` counts them, and
 * text is only ever cut between grapheme clusters, so a cut never splits a surrogate pair,
 * a letter from its combining accent, or an emoji sequence.
 */

const graphemes = new Intl.Segmenter('und', { granularity: 'grapheme' });

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** Control characters and line/paragraph separators: carriers want one-line values. */
const CONTROL_OR_BREAK = /[\p{Cc}\p{Zl}\p{Zp}]/gu;

/** Length in code points. */
export function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

/**
 * One printable line: NFC (so "e" + combining diaeresis counts as one), lone surrogates
 * replaced (they cannot be encoded as UTF-8), control characters and runs of whitespace
 * turned into single spaces, trimmed. Empty when nothing printable is left.
 */
export function cleanText(text: string | undefined): string {
  if (text === undefined) return '';
  return text
    .replace(LONE_SURROGATE, '\uFFFD')
    .normalize('NFC')
    .replace(CONTROL_OR_BREAK, ' ')
    .replace(/\s+/gu, ' ')
    .trim();
}

/**
 * Splits `text` into pieces of at most `max` code points, cutting between graphemes; a
 * single grapheme longer than `max` (a pathological run of combining marks) is cut between
 * code points, which is still never inside a character.
 */
function hardSplit(text: string, max: number): string[] {
  const pieces: string[] = [];
  let current = '';
  let length = 0;
  for (const { segment } of graphemes.segment(text)) {
    const points = [...segment];
    if (length + points.length <= max) {
      current += segment;
      length += points.length;
      continue;
    }
    if (current !== '') pieces.push(current);
    current = '';
    length = 0;
    for (let i = 0; i < points.length; i += max) {
      const chunk = points.slice(i, i + max);
      if (chunk.length === max && i + max < points.length) pieces.push(chunk.join(''));
      else {
        current = chunk.join('');
        length = chunk.length;
      }
    }
  }
  if (current !== '') pieces.push(current);
  return pieces;
}

/** `cleanText`, then cut to at most `max` code points (trailing space dropped). */
export function truncate(text: string | undefined, max: number): string {
  const clean = cleanText(text);
  if (codePointLength(clean) <= max) return clean;
  return (hardSplit(clean, max)[0] ?? '').trimEnd();
}

/**
 * `cleanText`, then word-wrap into lines of at most `width` code points, breaking inside
 * a word only when the word alone is longer than a line.
 */
export function wrapLines(text: string | undefined, width: number): string[] {
  const clean = cleanText(text);
  if (clean === '') return [];
  const lines: string[] = [];
  let current = '';
  for (const word of clean.split(' ')) {
    const candidate = current === '' ? word : `${current} ${word}`;
    if (codePointLength(candidate) <= width) {
      current = candidate;
    } else if (codePointLength(word) <= width) {
      lines.push(current);
      current = word;
    } else {
      if (current !== '') lines.push(current);
      const pieces = hardSplit(word, width);
      current = pieces.pop() ?? '';
      lines.push(...pieces);
    }
  }
  if (current !== '') lines.push(current);
  return lines;
}

/**
 * Street address lines within a carrier's `maxLines` × `width`: line1 and line2 are
 * wrapped separately (line2 keeps starting a new line, as on a label), and when together
 * they need more lines than allowed, line2 still keeps at least one.
 * Reports which of the two inputs made it into the result.
 */
export function fitAddressLines(
  line1: string | undefined,
  line2: string | undefined,
  width: number,
  maxLines: number,
): { lines: string[]; hasLine1: boolean; hasLine2: boolean } {
  const first = wrapLines(line1, width);
  const second = wrapLines(line2, width);
  const firstCount = Math.min(first.length, second.length > 0 ? maxLines - 1 : maxLines);
  const kept1 = first.slice(0, firstCount);
  const kept2 = second.slice(0, maxLines - kept1.length);
  return { lines: [...kept1, ...kept2], hasLine1: kept1.length > 0, hasLine2: kept2.length > 0 };
}

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
  const compacted = clean.replace(/[\s-]/gu, '');
  return fits(compacted) ? compacted : undefined;
}

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
  const [main = '', ext = ''] = clean.split(/\s*(?:extension|ext\.?|x|#)\s*/i, 2);
  let digits = main.replace(/[^0-9]/g, '');
  if (NANP.has(country) && digits.length === 11 && digits.startsWith('1')) digits = digits.slice(1);
  if (digits.length === 0 || digits.length > 15) return undefined;
  const extension = ext.replace(/[^0-9]/g, '');
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
  const fields: FieldPath[] = ['shipTo.name', 'shipTo.city', 'shipTo.country', 'lines.weight', 'shipment.service'];
  for (const key of ['company', 'line1', 'line2', 'region', 'postalCode', 'phone'] as const) {
    if (sent[key]) fields.push(`shipTo.${key}`);
  }
  return sortedFields(fields);
}
