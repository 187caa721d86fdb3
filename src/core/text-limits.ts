import { z } from 'zod';
import { redactCardNumbers } from './card-data';
import { Order, type OrderInput } from './order';

/**
 * Length limits checked before scrubbing (privacy promise 1 costs nothing on huge input):
 * a 1 MB note is refused by its length, without the card-number scanner ever reading it.
 * The limits are the canonical order schema's own (`src/core/order.ts`), read from it here so
 * they cannot drift; a string the schema gives no length (a property name, a date) may be at
 * most `LONGEST_TEXT` characters, the longest text the order holds. Pure.
 */

/** The longest text the canonical order holds (`notes`), and the cap on strings with no limit of their own. */
export const LONGEST_TEXT = 5000;

/** A string longer than its field allows: where, and the limit. */
export interface OverLongText {
  /** Canonical path segments; property names of up to 40 characters are card-scrubbed (longer ones are never quoted in errors). */
  path: (string | number)[];
  /** At most this many characters (UTF-16 code units, as the schema counts them, after trimming). */
  max: number;
}

/** The schema inside optional, default and pipe (transform) wrappers. */
function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let s = schema;
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
    else if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
    else return s;
  }
}

function maxOf(schema: z.ZodType | undefined): number {
  return schema instanceof z.ZodString && schema.maxLength !== null ? schema.maxLength : LONGEST_TEXT;
}

/** Whether `text` is over `max` once trimmed (trimming is cheap; it reads only the two ends' whitespace). */
function over(text: string, max: number): boolean {
  return text.length > max && text.trim().length > max;
}

/**
 * A property name as a path segment: a short one scrubbed (cheap: it is short), since error
 * paths quote names of up to 40 characters; a longer one as it is, which paths never quote.
 */
function segment(name: string): string {
  return name.length <= 40 ? redactCardNumbers(name) : name;
}

function walk(value: unknown, schema: z.ZodType | undefined, path: (string | number)[], found: OverLongText[]): unknown {
  const s = unwrap(schema);
  if (typeof value === 'string') {
    const max = maxOf(s);
    if (!over(value, max)) return value;
    found.push({ path, max });
    return '';
  }
  if (Array.isArray(value)) {
    const element = s instanceof z.ZodArray ? (s.element as z.ZodType) : undefined;
    return value.map((item, i) => walk(item, element, [...path, i], found));
  }
  if (typeof value !== 'object' || value === null) return value;
  const entries: [string, unknown][] = [];
  for (const [key, item] of Object.entries(value)) {
    if (s instanceof z.ZodRecord) {
      const keyMax = maxOf(unwrap(s.keyType as z.ZodType));
      if (over(key, keyMax)) {
        found.push({ path: [...path, segment(key)], max: keyMax });
        continue;
      }
      entries.push([key, walk(item, s.valueType as z.ZodType, [...path, segment(key)], found)]);
    } else {
      const shape = s instanceof z.ZodObject ? (s.shape as Record<string, z.ZodType>) : {};
      entries.push([key, walk(item, Object.hasOwn(shape, key) ? shape[key] : undefined, [...path, key], found)]);
    }
  }
  // fromEntries, not assignment: a key named "__proto__" stays a plain key.
  return Object.fromEntries(entries);
}

/**
 * Finds every string of a mapped order input that is longer than the canonical schema
 * allows, reading string lengths only, never their content (but for property names of at
 * most 40 characters, which are scrubbed to name the path). Returns them, and a copy of the
 * input in which each is empty (an over-long property is left out), so the rest of the order
 * can still be scrubbed and validated cheaply and every problem reported at once.
 */
export function limitText(input: OrderInput): { input: OrderInput; overLong: OverLongText[] } {
  const overLong: OverLongText[] = [];
  // The walk keeps the input's shape and only empties strings, so it is still an OrderInput.
  const limited = walk(input, Order, [], overLong) as OrderInput;
  return { input: limited, overLong };
}
