import { isUtf8 } from 'node:buffer';
import type { z } from 'zod';
import { redactCardNumbers } from '../core/card-data';
import { CANCEL_REASONS, type CancelEvent, type CancelReason, ORDER_ID, ORDER_ID_RULE, Order, type OrderEvent, type OrderEventSource } from '../core/order';
import { scrubOrderInput } from '../core/scrub';
import { limitText } from '../core/text-limits';
import { DropshipError } from '../errors';
import { detectSource, ORDER_SOURCE_KINDS, sourceByKind, type OrderSourceKind } from './index';

/**
 * The ingestion edge: request body → parsed JSON → canonical order, with card data scrubbed
 * before anything is validated, logged or queued. Every error it throws names where and
 * what, never a value from the input (bodies hold card numbers and personal data).
 */

// ---------------------------------------------------------------------------------------
// JSON bodies

/** Offset of the first byte that is not part of a well-formed UTF-8 sequence. */
function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] ?? 0;
    if (b < 0x80) {
      i += 1;
      continue;
    }
    let length: number;
    let min = 0x80;
    let max = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) min = 0xa0; // overlong
      if (b === 0xed) max = 0x9f; // UTF-16 surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) min = 0x90; // overlong
      if (b === 0xf4) max = 0x8f; // beyond U+10FFFF
    } else return i;
    for (let k = 1; k < length; k++) {
      const c = bytes[i + k];
      const [lo, hi] = k === 1 ? [min, max] : [0x80, 0xbf];
      if (c === undefined || c < lo || c > hi) return i;
    }
    i += length;
  }
  return -1;
}

interface SyntaxProblem {
  offset: number;
  reason: string;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX4 = /^[0-9a-fA-F]{4}$/;

/**
 * Where the first JSON syntax error is and what kind it is. `JSON.parse` says where, but its
 * message also quotes the input around the error; this scanner finds the place without
 * quoting anything. It runs only after `JSON.parse` has failed, and keeps its own stack
 * (no recursion), so a deeply nested body cannot overflow the call stack.
 */
function findSyntaxProblem(json: string): SyntaxProblem | undefined {
  const stack: ('{' | '[')[] = [];
  let state: 'value' | 'firstValue' | 'key' | 'firstKey' | 'colon' | 'after' = 'value';
  let i = 0;
  const unexpected = (): SyntaxProblem => ({ offset: i, reason: 'unexpected character' });
  for (;;) {
    while (i < json.length && (json[i] === ' ' || json[i] === '\t' || json[i] === '\n' || json[i] === '\r')) i++;
    if (i >= json.length) {
      return state === 'after' && stack.length === 0 ? undefined : { offset: i, reason: 'unexpected end of input' };
    }
    const c = json[i];
    if (state === 'colon') {
      if (c !== ':') return { offset: i, reason: 'expected ":" after a property name' };
      i++;
      state = 'value';
    } else if (state === 'after') {
      const top = stack[stack.length - 1];
      if (top === undefined) return { offset: i, reason: 'unexpected data after the JSON value' };
      if (c === ',') {
        i++;
        state = top === '{' ? 'key' : 'value';
      } else if (c === (top === '{' ? '}' : ']')) {
        i++;
        stack.pop();
      } else return { offset: i, reason: top === '{' ? 'expected "," or "}"' : 'expected "," or "]"' };
    } else if (state === 'key' || state === 'firstKey') {
      if (state === 'firstKey' && c === '}') {
        i++;
        stack.pop();
        state = 'after';
      } else if (c === '"') {
        const problem = scanString();
        if (problem) return problem;
        state = 'colon';
      } else return { offset: i, reason: 'expected a property name in double quotes' };
    } else if (state === 'firstValue' && c === ']') {
      i++;
      stack.pop();
      state = 'after';
    } else if (c === '{' || c === '[') {
      stack.push(c);
      i++;
      state = c === '{' ? 'firstKey' : 'firstValue';
    } else if (c === '"') {
      const problem = scanString();
      if (problem) return problem;
      state = 'after';
    } else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(json)) return { offset: i, reason: 'invalid number' };
      i = NUMBER.lastIndex;
      state = 'after';
    } else {
      const literal = ['true', 'false', 'null'].find((l) => json.startsWith(l, i));
      if (literal === undefined) return unexpected();
      i += literal.length;
      state = 'after';
    }
  }

  function scanString(): SyntaxProblem | undefined {
    const start = i;
    i++; // opening quote
    while (i < json.length) {
      const c = json[i] ?? '';
      if (c === '"') {
        i++;
        return undefined;
      }
      if (c === '\\') {
        const e = json[i + 1];
        if (e === 'u' ? !HEX4.test(json.slice(i + 2, i + 6)) : e === undefined || !ESCAPES.has(e)) {
          return { offset: i, reason: 'invalid escape in a string' };
        }
        i += e === 'u' ? 6 : 2;
      } else if (c < ' ') {
        return { offset: i, reason: 'unescaped control character in a string' };
      } else i++;
    }
    // Where it starts is what a person needs to find: its end is the end of the body.
    return { offset: start, reason: 'unterminated string starting' };
  }
}

function lineAndColumn(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `line ${line}, column ${offset - lineStart + 1}`;
}

/**
 * Parses a request body or file as JSON. A Buffer must be UTF-8 (a leading byte order mark
 * is allowed). Throws `DropshipError('EINVALID_JSON')` naming what is wrong and where (line
 * and column), never quoting the input.
 */
export function parseJsonBody(raw: Buffer | string): unknown {
  let json: string;
  if (typeof raw === 'string') json = raw;
  else {
    if (!isUtf8(raw)) {
      const at = firstInvalidUtf8Byte(raw);
      throw new DropshipError('EINVALID_JSON', [`body: is not valid UTF-8 (invalid byte sequence at byte ${at})`]);
    }
    json = raw.toString('utf8');
  }
  if (json.charCodeAt(0) === 0xfeff) json = json.slice(1);
  if (json.trim() === '') throw new DropshipError('EINVALID_JSON', ['body: is empty']);
  try {
    return JSON.parse(json);
  } catch {
    // The caught error's message quotes the input: it is dropped, not wrapped or logged.
    const problem = findSyntaxProblem(json);
    throw new DropshipError('EINVALID_JSON', [
      problem ? `body: ${problem.reason} at ${lineAndColumn(json, problem.offset)}` : 'body: is not valid JSON',
    ]);
  }
}

// ---------------------------------------------------------------------------------------
// Orders

/** How `ingestOrder` treats a payload. */
export interface IngestOptions {
  /**
   * The payload's source. Webhook routes know it; files and `POST /orders` may leave it out.
   * @defaultValue detected from the payload's shape (`detectSource`)
   */
  source?: OrderSourceKind;
  /** The source's own event id (e.g. `X-Shopify-Event-Id`, else `X-Shopify-Webhook-Id`), kept for deduplication. */
  eventId?: string;
  /**
   * The order replaces the one accepted under its id (`dropship enqueue --replace`). A
   * canonical payload may say so itself with `"replace": true`.
   */
  replace?: boolean;
}

/** `lines[2].quantity`, `customer.email`, `lines[0].properties["Gift note"]`. */
function formatPath(path: readonly PropertyKey[], root = 'order'): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && segment.length <= 40 && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(segment)) {
      out += out === '' ? segment : `.${segment}`;
    } else if (typeof segment === 'string' && segment.length <= 40) out += `[${JSON.stringify(segment)}]`;
    else out += '[…]'; // an over-long property name is input, not a useful path
  }
  return out === '' ? root : out;
}

/** A zod error's issues as `path: reason`, never quoting a value; `root` names the whole body. */
export function zodProblems(error: z.ZodError, root?: string): string[] {
  return problems(error, root);
}

function problems(error: z.ZodError, root?: string): string[] {
  // Messages come from the schema's own texts and zod's type/size messages, none of which
  // quote the value; paths name canonical fields (property names are already scrubbed).
  const issues = error.issues.map((issue) => ({ path: formatPath(issue.path, root), issue }));
  // A value of the wrong type can also fail checks meant for the right one (an array has a
  // length, so `[]` is also "empty"): the type problem alone says what is wrong.
  const wrongType = new Set(issues.filter((i) => i.issue.code === 'invalid_type').map((i) => i.path));
  return issues
    .filter((i) => i.issue.code === 'invalid_type' || !wrongType.has(i.path))
    .map((i) => `${i.path}: ${i.issue.message}`);
}

/**
 * Turns a parsed order payload into a scrubbed, validated order event.
 *
 * Picks the adapter named by `options.source` or, without one, the one whose shape the
 * payload has; maps the payload to the canonical order input; finds text longer than its
 * field allows (`limitText`, before any scanning); scrubs card data from free text
 * (`scrubOrderInput`); validates it. Throws `DropshipError` with code:
 * - `EUNKNOWN_SOURCE` when the source is unknown or cannot be detected;
 * - `EINVALID_ORDER` listing every problem as `path: reason` (paths are canonical:
 *   `lines[2].quantity: must be a whole number`), with no values from the input; text over
 *   its length limit is reported first, and never read.
 * A canonical payload's `"replace": true` (or `options.replace`) marks the event as replacing
 * the order accepted before under the same id.
 */
export function ingestOrder(payload: unknown, options: IngestOptions = {}): OrderEvent {
  const source = options.source !== undefined ? sourceByKind(options.source) : detectSource(payload);
  if (source === undefined) {
    throw new DropshipError(
      'EUNKNOWN_SOURCE',
      options.source !== undefined
        ? [`source: must be one of ${ORDER_SOURCE_KINDS.join(', ')}`]
        : [`order: matches none of the known shapes (${ORDER_SOURCE_KINDS.join(', ')}); name the source explicitly`],
    );
  }
  // Lengths first: a 1 MB note is refused by its length, never read by the card scanner,
  // which sees the rest of the order with the over-long text emptied.
  const limited = limitText(source.toOrderInput(payload));
  // A store's version is a time the adapter turned into milliseconds (13 digits, which pass
  // the Luhn check one time in ten): it is not free text and is never scrubbed. A canonical
  // order's version is what the client sent, and is scrubbed like the rest.
  const { version, ...rest } = limited.input;
  const scrubbed = scrubOrderInput(source.kind === 'canonical' ? limited.input : rest, { source: source.kind });
  // Object.assign rather than `{ ...scrubbed, version }` (V8 gives an object that gets keys
  // after a leading spread a hidden class of its own); scrubbed's keys are the adapter's.
  const input = source.kind === 'canonical' || version === undefined ? scrubbed : Object.assign({}, scrubbed, { version });
  const result = Order.safeParse(input);
  // `replace` is the request's, not the order's: only the canonical JSON carries it.
  const replace = source.kind === 'canonical' && typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>).replace : undefined;
  const replaceProblem = replace !== undefined && typeof replace !== 'boolean' ? ['replace: must be true or false'] : [];
  if (limited.overLong.length > 0 || !result.success || replaceProblem.length > 0) {
    const tooLong = limited.overLong.map((t) => ({ path: formatPath(t.path), problem: `${formatPath(t.path)}: must be at most ${t.max} characters` }));
    const emptied = new Set(tooLong.map((t) => t.path));
    // An emptied field may also be "empty" to validation: its length is the problem to report.
    const others = result.success ? [] : problems(result.error).filter((p) => !emptied.has(p.slice(0, p.indexOf(': '))));
    throw new DropshipError('EINVALID_ORDER', [...tooLong.map((t) => t.problem), ...others, ...replaceProblem]);
  }
  const eventSource: OrderEventSource = { kind: source.kind };
  if (options.eventId !== undefined) eventSource.eventId = redactCardNumbers(options.eventId);
  return { source: eventSource, order: result.data, ...(options.replace === true || replace === true ? { replace: true as const } : {}) };
}

/**
 * Turns a cancellation into a `CancelEvent`: a source payload that announces one (Shopify
 * `orders/cancelled`, a cancelled WooCommerce order) or, for `canonical`, `{ orderId,
 * reason? }` (the API's `POST /orders/{id}/cancel`). Returns undefined when the payload
 * cancels nothing (a WooCommerce update to another status). Throws `DropshipError`
 * `EINVALID_ORDER` when the order id is missing or malformed, naming no input values.
 */
export function ingestCancellation(payload: unknown, options: { source: OrderSourceKind; eventId?: string }): CancelEvent | undefined {
  let found: { orderId: unknown; reason?: unknown } | undefined;
  if (options.source === 'canonical') {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      throw new DropshipError('EINVALID_ORDER', ['cancellation: must be a JSON object { "orderId", "reason"? }']);
    }
    const body = payload as Record<string, unknown>;
    const unknown = Object.keys(body).filter((k) => k !== 'orderId' && k !== 'reason');
    if (unknown.length > 0) throw new DropshipError('EINVALID_ORDER', [`cancellation: unknown field(s) ${unknown.slice(0, 5).map((k) => JSON.stringify(redactCardNumbers(k.slice(0, 40)))).join(', ')} (known: orderId, reason)`]);
    found = { orderId: body.orderId, reason: body.reason };
  } else {
    found = sourceByKind(options.source)?.cancellation?.(payload);
    if (found === undefined) return undefined;
  }
  const problems: string[] = [];
  const given = typeof found.orderId === 'number' && Number.isSafeInteger(found.orderId) ? String(found.orderId) : found.orderId;
  // An order id is an identifier, never scrubbed (as for orders): a marketplace order number
  // that passes the Luhn check must still cancel its order.
  const orderId = given;
  if (typeof orderId !== 'string' || !ORDER_ID.test(orderId)) problems.push(`order.id: ${ORDER_ID_RULE}`);
  let reason: CancelReason | undefined;
  if (found.reason !== undefined && found.reason !== null) {
    if (typeof found.reason !== 'string') problems.push('reason: must be a string');
    else reason = (CANCEL_REASONS as readonly string[]).includes(found.reason) ? (found.reason as CancelReason) : 'other';
  }
  if (problems.length > 0) throw new DropshipError('EINVALID_ORDER', problems);
  const source: OrderEventSource = { kind: options.source };
  if (options.eventId !== undefined) source.eventId = redactCardNumbers(options.eventId);
  return { source, orderId: orderId as string, ...(reason !== undefined ? { reason } : {}) };
}
