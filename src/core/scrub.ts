import { containsCardNumber, isSensitiveKey, REDACTED, redactCardNumbers } from './card-data';
import type { OrderEventSource, OrderInput } from './order';

/**
 * Card-data scrubbing of a mapped order, before validation and before anything is stored
 * (privacy promise 1). Pure: takes data, returns a new copy, never mutates its input.
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

/** Fields holding a phone number: `customer.phone`, `shipTo.phone`, `billTo.phone`. */
function isPhone(path: Path, key: string): boolean {
  return path.length === 1 && key === 'phone';
}

function isLineProperties(path: Path): boolean {
  return path.length === 3 && path[0] === 'lines' && typeof path[1] === 'number' && path[2] === 'properties';
}

/**
 * A phone whose digits hold a card number is a card number typed into the phone field;
 * redacting it would leave a phone field with nothing usable in it, so it is dropped. All
 * non-digits are ignored, since "(", ")" or "." would otherwise split the number into runs
 * too short to check. (A 13 to 15 digit international number can pass the Luhn check by
 * chance and be dropped too; losing a phone is the safe side of that trade.)
 */
function phoneLooksLikeCard(value: unknown): boolean {
  if (typeof value !== 'string' && typeof value !== 'number') return false;
  return containsCardNumber(String(value).replace(/\D/g, ''));
}

function dropProperty(name: string, options: ScrubOptions): boolean {
  // "__proto__" cannot survive a round trip through plain objects; it is never a real property.
  if (name === '__proto__') return true;
  if (isSensitiveKey(name)) return true;
  return options.source === 'shopify' && name.startsWith('_');
}

function walk(value: unknown, path: Path, options: ScrubOptions): unknown {
  if (typeof value === 'string') return redactCardNumbers(value);
  // A card number sent as a JSON number is still a card number.
  if (typeof value === 'number') return containsCardNumber(String(value)) ? REDACTED : value;
  if (Array.isArray(value)) return value.map((item, index) => walk(item, [...path, index], options));
  if (typeof value !== 'object' || value === null) return value;
  const entries: [string, unknown][] = [];
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue;
    if (isLineProperties(path) && dropProperty(key, options)) continue;
    if (isPhone(path, key) && phoneLooksLikeCard(item)) continue;
    entries.push([redactCardNumbers(key), walk(item, [...path, key], options)]);
  }
  // fromEntries, not assignment: a key named "__proto__" elsewhere stays a plain key.
  return Object.fromEntries(entries);
}

/**
 * Returns a copy of a mapped order input with card data removed:
 * - every card-like number in every string (ids, names, notes, gift message, addresses,
 *   property names and values) replaced by `[redacted]`; a redacted order id then fails
 *   validation, which is the intended clear rejection;
 * - a phone number whose digits look like a card number dropped;
 * - line-item properties with a card or browser data name (`isSensitiveKey`) dropped, and
 *   for Shopify private (`_`-prefixed) ones.
 */
export function scrubOrderInput(input: OrderInput, options: ScrubOptions = {}): OrderInput {
  // The walk keeps the input's shape and only drops or rewrites values, so it is still an OrderInput.
  return walk(input, [], options) as OrderInput;
}
