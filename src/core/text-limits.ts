import { z } from 'zod';
import { redactCardNumbers } from './card-data';
import { Order, type OrderInput } from './order';
import { setOwn } from './own-keys';

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

/**
 * What the walk needs of a schema, read from it once: a string's limit, an array's element,
 * an object's fields, a record's key limit and values. Zod's getters (`shape`, `maxLength`,
 * the wrappers to look through) are not cheap, and the order schema never changes.
 */
class Limits {
  /** At most this many characters for a string here. */
  readonly max: number;
  private readonly schema: z.ZodType | undefined;
  private element: Limits | undefined;
  private fields: Map<string, Limits> | undefined;
  private value: Limits | undefined;
  /** For a record: at most this many characters for a key. */
  readonly keyMax: number | undefined;

  constructor(schema: z.ZodType | undefined) {
    const s = unwrap(schema);
    this.schema = s;
    this.max = maxOf(s);
    this.keyMax = s instanceof z.ZodRecord ? maxOf(unwrap(s.keyType as z.ZodType)) : undefined;
  }

  /** The limits of an array's items (none beyond the default when this is not an array). */
  itemLimits(): Limits {
    this.element ??= limitsOf(this.schema instanceof z.ZodArray ? (this.schema.element as z.ZodType) : undefined);
    return this.element;
  }

  /** The limits of a record's values. */
  valueLimits(): Limits {
    this.value ??= limitsOf(this.schema instanceof z.ZodRecord ? (this.schema.valueType as z.ZodType) : undefined);
    return this.value;
  }

  /** The limits of an object's field (the default for a key the object does not have). */
  fieldLimits(key: string): Limits {
    if (!this.fields) {
      this.fields = new Map();
      const shape = this.schema instanceof z.ZodObject ? (this.schema.shape as Record<string, z.ZodType>) : {};
      for (const k of Object.keys(shape)) this.fields.set(k, limitsOf(shape[k]));
    }
    return this.fields.get(key) ?? NO_SCHEMA;
  }
}

const bySchema = new WeakMap<z.ZodType, Limits>();
const NO_SCHEMA = new Limits(undefined);

function limitsOf(schema: z.ZodType | undefined): Limits {
  if (schema === undefined) return NO_SCHEMA;
  let limits = bySchema.get(schema);
  if (!limits) {
    limits = new Limits(schema);
    bySchema.set(schema, limits);
  }
  return limits;
}

/** A path as the walk goes down, joined into an array only for a value it reports. */
interface Step {
  up: Step | undefined;
  at: string | number;
  /** A record's key: named by {@link segment}. */
  named?: true;
}

function pathOf(step: Step | undefined): (string | number)[] {
  const path: (string | number)[] = [];
  for (let s = step; s !== undefined; s = s.up) path.push(s.named ? segment(s.at as string) : s.at);
  return path.reverse();
}

function walk(value: unknown, limits: Limits, path: Step | undefined, found: OverLongText[]): unknown {
  if (typeof value === 'string') {
    if (!over(value, limits.max)) return value;
    found.push({ path: pathOf(path), max: limits.max });
    return '';
  }
  if (Array.isArray(value)) {
    const items = limits.itemLimits();
    return value.map((item, i) => walk(item, items, { up: path, at: i }, found));
  }
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  const keyMax = limits.keyMax;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (keyMax !== undefined) {
      if (over(key, keyMax)) {
        found.push({ path: [...pathOf(path), segment(key)], max: keyMax });
        continue;
      }
      setOwn(out, key, walk(item, limits.valueLimits(), { up: path, at: key, named: true }, found));
    } else {
      setOwn(out, key, walk(item, limits.fieldLimits(key), { up: path, at: key }, found));
    }
  }
  return out;
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
  const limited = walk(input, limitsOf(Order), undefined, overLong) as OrderInput;
  return { input: limited, overLong };
}
