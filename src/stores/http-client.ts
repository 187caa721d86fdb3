import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Pool, type Dispatcher } from 'undici';
import { DEFAULT_STORE_TIMEOUT_MS } from './options';
import { DeliveryError, type DeliveryErrorCode } from '../errors';
import { type JsonAnswer, jsonRequest, parseRetryAfter } from '../transports/http';

/**
 * What the store platforms' clients share: one keep-alive undici pool to the store with
 * verified TLS, requests with a deadline and a capped answer, network failures classified
 * like the carriers' (`transports/http.ts`), HTTP statuses turned into `DeliveryError`s, and
 * the store's words quoted short with every secret taken out. Credentials are never logged:
 * they are only ever put in a header, and removed from anything quoted.
 */

/** A JSON object as the store clients read answers: loosely, key by key. */
export type Json = Record<string, unknown>;
/** A JSON object (not an array, not null). */
export const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
/** A JSON array, or none. */
export const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** Answers larger than this are cut off and treated as unreadable. */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;
/** Store text quoted in an error message. */
const MAX_STORE_TEXT = 200;

/** The I/O a store client runs on; tests hand in their own. */
export interface StoreIo {
  /** Reads a UTF-8 file (the CA). */
  readFile(path: string): string;
  /** A keep-alive connection pool to `origin`, verifying certificates (plus `ca` when given). */
  connect(origin: string, tls: { ca?: string }, timeoutMs: number): Dispatcher;
}

/** The real I/O: files, an undici pool with verified TLS. */
export function storeIo(): StoreIo {
  return {
    readFile: (path) => readFileSync(path, 'utf8'),
    connect: (origin, tls, timeoutMs) =>
      new Pool(origin, {
        connections: 2,
        keepAliveTimeout: 30_000,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        connect: { minVersion: 'TLSv1.2', rejectUnauthorized: true, timeout: timeoutMs, ...(tls.ca === undefined ? {} : { ca: tls.ca }) },
      }),
  };
}

/** One request to the store, `path` relative to the base URL (query included). */
export interface StoreCall {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** The store's answer: status, headers, text and the text parsed as JSON (undefined when not JSON). */
export type StoreAnswer = JsonAnswer;

export interface StoreHttpOptions {
  /** Name in messages: `Shopify`, `WooCommerce`. */
  name: string;
  /** Where the options live, for configuration errors: `store.shopify`. */
  where: string;
  /** Base URL every call's path is appended to (its path kept). */
  baseUrl: string;
  caFile?: string | undefined;
  timeout?: number | undefined;
  /** Values never to be quoted (tokens, keys, secrets). */
  secrets: string[];
  configDir: string;
  io: StoreIo;
}

/** The HTTP half of a store client. */
export class StoreHttp {
  readonly name: string;
  private readonly base: URL;
  private readonly dispatcher: Dispatcher;
  private readonly timeoutMs: number;
  private readonly secrets: string[];
  private closed = false;

  constructor(options: StoreHttpOptions) {
    this.name = options.name;
    this.base = new URL(options.baseUrl);
    if (this.base.protocol !== 'https:') throw DeliveryError.permanent('ECONFIG', `${options.where}: the store's address must start with https://`);
    this.timeoutMs = options.timeout ?? DEFAULT_STORE_TIMEOUT_MS;
    this.secrets = options.secrets.filter((s) => s.length > 0);
    let ca: string | undefined;
    if (options.caFile !== undefined) {
      const file = isAbsolute(options.caFile) ? options.caFile : resolve(options.configDir, options.caFile);
      try {
        ca = options.io.readFile(file);
      } catch (error) {
        throw DeliveryError.permanent('ECONFIG', `${options.where}.caFile: ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    this.dispatcher = options.io.connect(this.base.origin, ca === undefined ? {} : { ca }, this.timeoutMs);
  }

  /** Sends one call; network failures are thrown classified (`unsure` when the store may have acted). */
  async send(call: StoreCall, signal?: AbortSignal): Promise<StoreAnswer> {
    if (this.closed) throw DeliveryError.retryable('ECONNECTION', `the ${this.name} client has been closed`);
    const prefix = this.base.pathname.replace(/\/+$/, '');
    const path = `${prefix}${call.path}`;
    // Named without the query, to keep messages short.
    const where = `${this.base.origin}${path.split('?')[0] ?? path}`;
    return jsonRequest(
      this.dispatcher,
      { origin: this.base.origin, path, method: call.method, headers: call.headers, ...(call.body === undefined ? {} : { body: call.body }) },
      { timeoutMs: this.timeoutMs, maxBytes: MAX_ANSWER_BYTES, where, signal },
    );
  }

  /**
   * A non-2xx answer as a `DeliveryError`: 408 `ETIMEDOUT`, 429 `ERATE_LIMITED` and 5xx
   * `EREMOTE` are retried (after `Retry-After` when given), 401/403 are `EAUTH`, anything else
   * (a 4xx, a redirect) is the store refusing: `ESTORE_REJECTED`, kept for an operator.
   * `detail` is the store's own words (quoted through {@link quote}).
   */
  refusal(what: string, answer: StoreAnswer, detail: string): DeliveryError {
    const said = detail === '' ? '' : `: ${this.quote(detail)}`;
    const message = `${this.name} ${what} answered ${answer.status}${said}`;
    const retryAfter = parseRetryAfter(answer.headers['retry-after']);
    const retry = (code: DeliveryErrorCode): DeliveryError =>
      retryAfter === undefined ? DeliveryError.retryable(code, message) : DeliveryError.retryAfter(code, message, retryAfter);
    if (answer.status === 408) return retry('ETIMEDOUT');
    if (answer.status === 429) return retry('ERATE_LIMITED');
    if (answer.status >= 500) return retry('EREMOTE');
    if (answer.status === 401 || answer.status === 403) return DeliveryError.permanent('EAUTH', message);
    if (answer.status >= 300 && answer.status < 400) return DeliveryError.permanent('ESTORE_REJECTED', `${message} (redirects are not followed; check the store's address)`);
    return DeliveryError.permanent('ESTORE_REJECTED', message);
  }

  /** The store's text, one line, secrets and credentials removed, cut to 200 characters. */
  quote(text: string): string {
    let said = text.replace(/\s+/g, ' ').trim();
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) said = said.split(secret).join('[redacted]');
    said = said.replace(/\b(Bearer|Basic)\s+\S+/gi, '$1 [redacted]').replace(/\b(shpat|shpca|shppa|ck|cs)_[0-9A-Za-z]{8,}/g, '[redacted]');
    const chars = [...said];
    return chars.length > MAX_STORE_TEXT ? `${chars.slice(0, MAX_STORE_TEXT - 1).join('')}…` : said;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.dispatcher.close();
  }
}

/** Reads a secret from the environment variable an option names. Messages name the variable, never a value. */
export function secretFromEnv(env: NodeJS.ProcessEnv, where: string, option: string, variable: string, what: string): string {
  const value = env[variable]?.trim();
  if (value === undefined || value === '') {
    throw DeliveryError.permanent('ECONFIG', `${where}.${option}: environment variable ${variable} (the ${what}) is not set`);
  }
  return value;
}
