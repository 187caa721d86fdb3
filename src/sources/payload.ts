import type { OrderInput } from '../core/order';
import { setOwn } from '../core/own-keys';
import { DropshipError } from '../errors';

/**
 * Reading untrusted, already-parsed JSON payloads. Shared by the source adapters, so that
 * each adapter reads only the fields it maps and never walks a payload it does not know.
 */

/** A parsed JSON object. */
export type JsonObject = Record<string, unknown>;

/** True for a JSON object (not an array, not null). */
export function isRecord(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value as an object, or an empty one: optional nested objects (`customer: null`) read as absent. */
export function record(value: unknown): JsonObject {
  return isRecord(value) ? value : {};
}

/** The value as an array, or an empty one. */
export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Strings as they are; finite numbers as their decimal text (platforms send ids as either). */
export function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/**
 * Text with content, else undefined. Platforms send `null` or `""` for "not given"; the
 * canonical order says that by leaving a field out (an empty email would fail validation).
 */
export function optionalText(value: unknown): string | undefined {
  const t = text(value);
  return t !== undefined && t.trim() !== '' ? t : undefined;
}

/**
 * Scalars as they are (for validation to judge), `null` as absent, and nested values as an
 * empty placeholder of the same kind: validation still reports "expected string, received
 * object", but no unknown nested payload is carried further than this adapter.
 */
export function shallow(value: unknown): unknown {
  if (value === null) return undefined;
  if (Array.isArray(value)) return [];
  if (typeof value === 'object') return {};
  return value;
}

/** A copy without the keys whose value is undefined, so optional fields are absent, not `undefined`. */
export function compact<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) setOwn(out, key, v);
  }
  return out as T;
}

/** "First Last" from name parts, skipping empty ones. */
export function joinName(...parts: unknown[]): string | undefined {
  const joined = parts
    .map((p) => optionalText(p)?.trim())
    .filter((p): p is string => p !== undefined)
    .join(' ');
  return joined === '' ? undefined : joined;
}

/**
 * Hands a payload value to validation unchanged. Adapters map leniently and leave judging
 * to `Order.safeParse`, which names the path and the reason for every wrong value; this is
 * the one place where an unchecked value enters the `OrderInput` type.
 */
export function asIs<T>(value: unknown): T {
  return value as T;
}

/**
 * A float amount as decimal text with at least two decimals ("16.5" → "16.50"), rounded to
 * the six decimals the canonical `Money` allows (WooCommerce computes `price` as
 * total ÷ quantity, so it can be 3.3333333333333335). Non-finite or negative values are
 * returned as-is for validation to reject.
 */
export function moneyFromNumber(value: number): string | number {
  if (!Number.isFinite(value) || value < 0 || value >= 1e12) return value;
  const fixed = value.toFixed(6).replace(/0+$/, '');
  const [whole = '0', fraction = ''] = fixed.split('.');
  return `${whole}.${fraction.padEnd(2, '0')}`;
}

/** Money from a string or a number; anything else goes to validation as-is. */
export function money(value: unknown): NonNullable<OrderInput['lines'][number]['unitPrice']> {
  return typeof value === 'number' ? moneyFromNumber(value) : asIs(shallow(value));
}

/** Truthy flag values as stores write them in tags, note attributes and meta fields. */
export function isYes(value: unknown): boolean {
  if (value === true || value === 1) return true;
  return typeof value === 'string' && /^\s*(true|yes|y|1|on)\s*$/i.test(value);
}

/** Lower-case letters and digits only: "Gift Message", "gift_message" and "giftMessage" compare equal. */
export function normaliseName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** A canonical address as adapters build it, before validation. */
export type AddressInput = NonNullable<OrderInput['shipTo']>;

/**
 * The address, or undefined when it holds no name, company, street, city or postal code.
 * Platforms send a blank address object (WooCommerce: every field "", often with the store's
 * base country and state pre-filled) when there is none; country, region or phone alone do not
 * make an address, and an order without one is held rather than shipped to a guess.
 */
export function addressOrNothing(address: AddressInput): AddressInput | undefined {
  const { name, company, line1, line2, city, postalCode } = address;
  return [name, company, line1, line2, city, postalCode].some((v) => optionalText(v) !== undefined)
    ? address
    : undefined;
}

/**
 * A billing address only when it is complete enough to be one. Billing data never leaves
 * the service, so a partial one (digital orders often carry only a name or a country) is
 * dropped rather than rejecting an otherwise good order over data nobody receives.
 */
export function completeOrNothing(address: AddressInput | undefined): AddressInput | undefined {
  if (address === undefined) return undefined;
  const { name, line1, city, country } = address;
  return [name, line1, city, country].every((v) => optionalText(v) !== undefined) ? address : undefined;
}

/** Throws `EINVALID_ORDER` when the payload is not a JSON object: nothing else can be read from it. */
export function requireObject(payload: unknown, what: string): JsonObject {
  if (!isRecord(payload)) {
    throw new DropshipError('EINVALID_ORDER', [`order: ${what} must be a JSON object`]);
  }
  return payload;
}

/** Throws `EINVALID_ORDER` listing each named field that is not an array. */
export function requireArrays(payload: JsonObject, keys: readonly string[]): void {
  const problems = keys.filter((k) => !Array.isArray(payload[k])).map((k) => `${k}: must be an array`);
  if (problems.length > 0) throw new DropshipError('EINVALID_ORDER', problems);
}
