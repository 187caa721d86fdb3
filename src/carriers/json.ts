/**
 * Reading the carriers' JSON answers (token grants, ship and void answers, error lists),
 * which are parsed as `unknown` and checked field by field. Its own module because both the
 * API client base and the token cache read JSON, and the base imports the token cache.
 */

/** Whether a value is a JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value the spec types as an array, also read when an older API version sent one object. */
export function asList(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return value === undefined || value === null ? [] : [value];
}

/** A string property, when it is a non-empty string. */
export function stringAt(record: unknown, key: string): string | undefined {
  const value = isRecord(record) ? record[key] : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}
