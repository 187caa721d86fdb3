import type { Dispatcher } from 'undici';
import { DeliveryError } from './transport';

/** Node/undici error codes that mean the receiver's certificate is not trusted: permanent. */
export const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
/** Node/undici error codes of a request that took too long: retryable. */
export const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
/** Failures that happen before a request can have left: the receiver cannot have acted on it. */
export const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** Every `code` along an error's `cause` chain (duck-typed: errors may come from another realm). */
export function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  let current = error;
  for (let depth = 0; typeof current === 'object' && current !== null && depth < 5; depth += 1) {
    const { code, cause } = current as { code?: unknown; cause?: unknown };
    if (typeof code === 'string') codes.push(code);
    current = cause;
  }
  return codes;
}

/** A request's deadline, cap on the answer read, name in messages, and the caller's abort signal. */
export interface RequestLimits {
  timeoutMs: number;
  maxBytes: number;
  where: string;
  signal?: AbortSignal | undefined;
}

export interface BoundedAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The answer was longer than `maxBytes`; `text` holds its first part only. */
  truncated: boolean;
}

/**
 * One undici request with a deadline and a cap on the answer read. Running out of time,
 * or the caller aborting, is a retryable `ETIMEDOUT`; any other failure is thrown as undici
 * raised it, for the caller to classify.
 */
export async function boundedRequest(
  dispatcher: Dispatcher,
  options: Omit<Dispatcher.RequestOptions, 'signal'>,
  limits: RequestLimits,
): Promise<BoundedAnswer> {
  // One controller, a timer and a listener: AbortSignal.timeout() and AbortSignal.any() cost
  // several times as much per request (a timer registry and weakly held composite signals).
  const controller = new AbortController();
  // Unreferenced, as AbortSignal.timeout()'s: the deadline alone keeps no process alive.
  const timer = setTimeout(() => controller.abort(), limits.timeoutMs).unref();
  const caller = limits.signal;
  const onAbort = (): void => controller.abort();
  if (caller?.aborted === true) controller.abort();
  else caller?.addEventListener('abort', onAbort, { once: true });
  try {
    const response = await dispatcher.request({ ...options, signal: controller.signal });
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    for await (const chunk of response.body) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > limits.maxBytes) {
        response.body.destroy();
        truncated = true;
        break;
      }
      chunks.push(buffer);
    }
    return { status: response.statusCode, headers: response.headers, text: Buffer.concat(chunks).toString('utf8'), truncated };
  } catch (error) {
    if (controller.signal.aborted) {
      throw DeliveryError.retryable(
        'ETIMEDOUT',
        caller?.aborted === true ? `request to ${limits.where} was aborted` : `${limits.where} did not answer within ${limits.timeoutMs} ms`,
      );
    }
    throw error;
  } finally {
    clearTimeout(timer);
    caller?.removeEventListener('abort', onAbort);
  }
}

/** An answer read as JSON where it is JSON: `json` undefined otherwise (or when over the cap). */
export interface JsonAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/**
 * {@link boundedRequest} to an API that answers JSON: an answer over the cap is unreadable
 * rather than half-parsed, and a network failure is classified ({@link networkFailure}).
 */
export async function jsonRequest(
  dispatcher: Dispatcher,
  options: Omit<Dispatcher.RequestOptions, 'signal'>,
  limits: RequestLimits,
): Promise<JsonAnswer> {
  try {
    const answer = await boundedRequest(dispatcher, options, limits);
    const text = answer.truncated ? '' : answer.text;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: answer.status, headers: answer.headers, text, json };
  } catch (error) {
    throw networkFailure(limits.where, error);
  }
}

/** A Retry-After beyond this is treated as this (a typo should not park a delivery for a year). */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/** `Retry-After` in milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || text === '') return undefined;
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  if (Number.isNaN(ms)) return undefined;
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}

/** A network failure, classified: untrusted certificates are permanent, the rest retryable. */
export function networkFailure(where: string, error: unknown): DeliveryError {
  if (error instanceof DeliveryError) return error;
  const codes = errorCodes(error);
  const trust = codes.find((c) => TLS_TRUST_CODES.has(c));
  if (trust !== undefined) return DeliveryError.permanent('ETLS', `${where}: the server certificate is not trusted (${trust})`);
  const tls = codes.find((c) => c.startsWith('ERR_SSL_') || c.startsWith('ERR_TLS_'));
  if (tls !== undefined) return DeliveryError.permanent('ETLS', `${where}: TLS failed (${tls})`);
  // Not reached: the receiver cannot have acted. A timeout or a dropped connection may come
  // after it did (a label bought, a fulfillment created, its answer lost).
  const notSent = codes.some((c) => NOT_SENT_CODES.has(c));
  if (codes.some((c) => TIMEOUT_CODES.has(c))) return new DeliveryError('ETIMEDOUT', `${where} timed out (${codes[0]})`, { unsure: !notSent });
  if (notSent) return DeliveryError.retryable('ECONNECTION', `${where} could not be reached (${codes.join(', ')})`);
  return DeliveryError.unsure('ECONNECTION', `${where} could not be reached (${codes.join(', ') || 'network error'})`);
}
