import { asciiDigits, containsCardNumber, isSensitiveKey, REDACTED, redactCardNumbers } from './card-data';
import type { OrderEventSource, OrderInput } from './order';
import { setOwn } from './own-keys';

/**
 * Card-data scrubbing of a mapped order, before validation and before anything is stored
 * (privacy promise 1). Pure: takes data, returns a new copy, never mutates its input.
 *
 * Free text is scrubbed; identifiers never are. An identifier is a value the store or its
 * platform assigned (order id, line id, SKU): an EAN-13 barcode used as a SKU, a marketplace
 * order number or a tracking number passes the Luhn check one time in ten, and rewriting it
 * would route the line to the wrong place or send a supplier a SKU it does not stock. Phone
 * fields are contact data with their own rule (`phoneLooksLikeCard`). Every other string is
 * free text, including fields added later: being scrubbed is the default.
 */

/** What scrubbing needs to know about where an order came from. */
export interface ScrubOptions {
  /**
   * The order's source. For Shopify, line-item properties whose name starts with `_` are
   * dropped: Shopify hides those at checkout as the store's private data.
   * @defaultValue undefined (no source-specific rules)
   */
  source?: OrderEventSource['kind'];
}

type Path = readonly (string | number)[];

/** Canonical paths of the identifiers scrubbing never touches. */
export const IDENTIFIER_PATHS = ['order.id', 'order.storeId', 'lines.id', 'lines.storeLineId', 'lines.sku'] as const;

function isIdentifier(path: Path): boolean {
  if (path.length === 1) return path[0] === 'id' || path[0] === 'storeId';
  return path.length === 3 && path[0] === 'lines' && typeof path[1] === 'number' && (path[2] === 'id' || path[2] === 'storeLineId' || path[2] === 'sku');
}

/** Fields holding a phone number: `customer.phone`, `shipTo.phone`, `billTo.phone`. */
function isPhone(path: Path, key: string): boolean {
  return path.length === 1 && key === 'phone';
}

function isLineProperties(path: Path): boolean {
  return path.length === 3 && path[0] === 'lines' && typeof path[1] === 'number' && path[2] === 'properties';
}

/**
 * A phone number followed by an extension of up to 8 digits: "ext", "ext.", "extn",
 * "extension", "x" or "#" (with or without a space, colon or "="), or RFC 3966 ";ext=".
 */
const WITH_EXTENSION = /^(.*?)(?:;ext=|[\s,;]*(?:extension|extn|ext|x|#)[\s.:=]*)\p{Nd}{1,8}\s*$/iu;

const NOT_ASCII_DIGITS = /\D/g;

/**
 * False for ASCII text (digits of a number or a phone) too short to hold 13 digits: the card
 * scanner need not read it. (Only for ASCII: one Unicode numeral can stand for two digits.)
 */
function mayHoldCardNumber(asciiText: string): boolean {
  return asciiText.length >= 13;
}

/**
 * A phone whose digits hold a card number is a card number typed into the phone field;
 * redacting it would leave a phone field with nothing usable in it, so it is dropped. All
 * non-digits of the number are ignored, since "(", ")" or "." would otherwise split it into
 * runs too short to check; an extension is not part of the number, so a phone with one is
 * judged by the number alone ("+1 802 555 0100 ext. 1234" is a phone, whatever its 15 digits
 * add up to). (A 13 to 15 digit international number can pass the Luhn check by chance and be
 * dropped; losing a phone is the safe side of that trade.)
 */
function phoneLooksLikeCard(value: unknown): boolean {
  if (typeof value !== 'string' && typeof value !== 'number') return false;
  const phone = asciiDigits(String(value).trim());
  // Phones are at most 40 characters once validated; the bound keeps the lazy match linear-cheap
  // if this ever sees a longer value.
  const number = (phone.length <= 64 ? WITH_EXTENSION.exec(phone)?.[1] : undefined) ?? phone;
  const digits = number.replace(NOT_ASCII_DIGITS, '');
  return mayHoldCardNumber(digits) && containsCardNumber(digits);
}

function dropProperty(name: string, options: ScrubOptions): boolean {
  // "__proto__" cannot survive a round trip through plain objects; it is never a real property.
  if (name === '__proto__') return true;
  if (isSensitiveKey(name)) return true;
  return options.source === 'shopify' && name.startsWith('_');
}

function walk(value: unknown, path: Path, options: ScrubOptions): unknown {
  if (isIdentifier(path)) return value;
  if (typeof value === 'string') return redactCardNumbers(value);
  // A card number sent as a JSON number is still a card number.
  if (typeof value === 'number') {
    const digits = String(value);
    return mayHoldCardNumber(digits) && containsCardNumber(digits) ? REDACTED : value;
  }
  if (Array.isArray(value)) return value.map((item, index) => walk(item, [...path, index], options));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  const lineProperties = isLineProperties(path);
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined) continue;
    if (lineProperties && dropProperty(key, options)) continue;
    if (isPhone(path, key)) {
      // Contact data, not free text: kept as written, or dropped when it is a card number.
      if (!phoneLooksLikeCard(item)) setOwn(out, key, item);
      continue;
    }
    // setOwn, as fromEntries: a key named "__proto__" elsewhere stays a plain key.
    setOwn(out, redactCardNumbers(key), walk(item, [...path, key], options));
  }
  return out;
}

/**
 * Returns a copy of a mapped order input with card data removed:
 * - every card-like number in free text (names, company, notes, gift message, address lines,
 *   city, region, postal code, line names, property names and values, and any other string)
 *   replaced by `[redacted]`;
 * - identifiers (`IDENTIFIER_PATHS`: order id, line ids, SKUs) left exactly as they came;
 * - a phone number whose digits, less any extension, look like a card number dropped;
 * - line-item properties with a card or browser data name (`isSensitiveKey`) dropped, and
 *   for Shopify private (`_`-prefixed) ones.
 */
export function scrubOrderInput(input: OrderInput, options: ScrubOptions = {}): OrderInput {
  // The walk keeps the input's shape and only drops or rewrites values, so it is still an OrderInput.
  return walk(input, [], options) as OrderInput;
}
