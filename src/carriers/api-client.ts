import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { Pool, type Dispatcher } from 'undici';
import { type CarrierClientOptions, DEFAULT_CARRIER_TIMEOUT_MS } from './client-options';
import { boundedRequest, errorCodes, NOT_SENT_CODES, parseRetryAfter, TIMEOUT_CODES, TLS_TRUST_CODES } from '../transports/http';
import {
  DeliveryError,
  redactSecrets,
  type DeliveryPayload,
  type DeliveryReceipt,
  type LabelVoid,
  type SharedCache,
  type Transport,
  type TransportContext,
} from '../transports/transport';

/**
 * What the UPS and FedEx API clients share: their options (read from the same
 * `carriers.<id>` block of `config/store.yaml` as the request builders), client credentials,
 * OAuth 2.0 client-credentials tokens shared by every worker, and one delivery flow
 * (token, POST, one refresh on 401, answer → receipt or classified `DeliveryError`).
 *
 * This module does no I/O of its own: the client files hand it an undici `Dispatcher` and a
 * file reader, so the builders can import the option fields without reaching the network.
 *
 * Idempotency: neither carrier takes an idempotency key. The pipeline's delivered-marker
 * stops a re-run after a success, but a crash (or a lost answer: timeout, 5xx from a
 * gateway) between the label purchase and that marker makes the retry buy a second label.
 * The delivery worker never re-sends a delivery whose marker is set, which closes the window
 * after the marker; the lost-answer window stays (neither carrier can be asked what was bought
 * under a transaction id), and a label bought twice so shows twice in the carrier account.
 */

/** Answers (labels included) larger than this are cut off and treated as unreadable. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
/** Carrier text quoted in an error message; it may repeat the address, so keep it short. */
const MAX_CARRIER_TEXT = 200;
/** Used when a token answer gives no readable lifetime. */
const DEFAULT_TOKEN_LIFETIME_MS = 5 * 60_000;

/** An API client's credentials, read once when the transport is created. */
export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

/**
 * Reads the client ID and secret named by the options. Errors name the option, the
 * variable or the file, never a value.
 * @throws DeliveryError `ECONFIG` (permanent)
 */
export function readClientCredentials(
  carrier: string,
  options: CarrierClientOptions,
  context: TransportContext,
  readFile: (path: string) => string,
): ClientCredentials {
  const read = (what: 'client ID' | 'client secret', envKey: string, env: string | undefined, fileKey: string, file: string | undefined): string => {
    const where = `carriers.${carrier}`;
    if (env !== undefined) {
      const value = context.env[env]?.trim();
      if (value === undefined || value === '') {
        throw DeliveryError.permanent('ECONFIG', `${where}.${envKey}: environment variable ${env} (the ${what}) is not set`);
      }
      return value;
    }
    if (file !== undefined) {
      const path = isAbsolute(file) ? file : resolve(context.configDir, file);
      let value: string;
      try {
        value = readFile(path).trim();
      } catch (error) {
        throw DeliveryError.permanent('ECONFIG', `${where}.${fileKey}: ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      if (value === '') throw DeliveryError.permanent('ECONFIG', `${where}.${fileKey}: ${path} is empty`);
      return value;
    }
    throw DeliveryError.permanent('ECONFIG', `${where}: ${envKey} or ${fileKey} is required (the API ${what}; secrets never live in config files)`);
  };
  return {
    clientId: read('client ID', 'clientIdEnv', options.clientIdEnv, 'clientIdFile', options.clientIdFile),
    clientSecret: read('client secret', 'clientSecretEnv', options.clientSecretEnv, 'clientSecretFile', options.clientSecretFile),
  };
}

/** A token as a token endpoint grants it. */
export interface TokenGrant {
  accessToken: string;
  /** Lifetime from now. */
  expiresInMs: number;
}

/**
 * The grant in an OAuth token answer: `access_token` plus `expires_in` in seconds, a string
 * for UPS and an integer for FedEx. Undefined when there is no usable token.
 */
export function tokenGrant(answer: unknown): TokenGrant | undefined {
  if (!isRecord(answer) || typeof answer.access_token !== 'string' || answer.access_token === '') return undefined;
  if (!/^[\x21-\x7e]+$/.test(answer.access_token)) return undefined;
  const raw = answer.expires_in;
  const seconds = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
  return { accessToken: answer.access_token, expiresInMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_TOKEN_LIFETIME_MS };
}

/** Options of {@link OAuthTokens}. */
export interface OAuthTokensOptions {
  /** Cache key of this carrier + environment + client; must not contain secrets. */
  key: string;
  /** Asks the token endpoint for a new token. */
  fetch: () => Promise<TokenGrant>;
  /** Shared by all worker processes; without it, tokens are shared within this instance only. */
  cache?: SharedCache | undefined;
  /**
   * A token is no longer handed out this long before it expires.
   * @defaultValue 60 000 (one minute)
   */
  marginMs?: number;
  /**
   * How long one process may hold the refresh lock; longer than a token request may take.
   * @defaultValue 30 000
   */
  lockTtlMs?: number;
  /**
   * First interval at which waiting processes look for the new token (doubling up to 250 ms).
   * @defaultValue 25
   */
  pollMs?: number;
  /** The clock, for tests. @defaultValue `Date.now` */
  now?: () => number;
  /**
   * A secret every process sharing the cache holds (the API client secret): the cached token
   * is encrypted under a key derived from it, so the shared cache (Redis) never holds a
   * usable bearer token. A value sealed under another secret reads as absent.
   * @defaultValue none: the token is cached as it is
   */
  sealWith?: string;
}

/** How a token record is written to and read from the shared cache. */
interface CacheCodec {
  seal(text: string): string;
  /** The text, or undefined when the value was not sealed under this codec's key. */
  open(value: string): string | undefined;
}

const PLAIN: CacheCodec = { seal: (text) => text, open: (value) => value };

/** AES-256-GCM under a key derived (HKDF-SHA256) from `secret`, bound to the cache `key`. */
function sealedCodec(secret: string, key: string): CacheCodec {
  const aesKey = Buffer.from(hkdfSync('sha256', secret, key, 'dropship oauth token cache v1', 32));
  return {
    seal(text) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', aesKey, iv, { authTagLength: 16 });
      const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
      return `v1.${iv.toString('base64url')}.${body.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
    },
    open(value) {
      const [version, iv, body, tag] = value.split('.');
      if (version !== 'v1' || iv === undefined || body === undefined || tag === undefined) return undefined;
      try {
        const decipher = createDecipheriv('aes-256-gcm', aesKey, Buffer.from(iv, 'base64url'), { authTagLength: 16 });
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        return undefined;
      }
    },
  };
}

interface HeldToken {
  token: string;
  /** When to stop handing it out (expiry minus the margin), ms since the epoch. */
  usableUntil: number;
}

/**
 * OAuth client-credentials tokens of one API client, cached until shortly before they
 * expire, in the {@link SharedCache} so every worker process uses the same one (encrypted,
 * with {@link OAuthTokensOptions.sealWith}).
 *
 * When many deliveries need a token at once, one request asks for it: concurrent callers in
 * a process share one promise (single flight), and across processes the one that wins
 * `setIfAbsent` on a short-lived lock fetches while the others poll the cache. A cache that
 * fails (Redis away) degrades to per-process tokens rather than failing deliveries.
 */
export class OAuthTokens {
  private readonly cache: SharedCache;
  private readonly marginMs: number;
  private readonly lockTtlMs: number;
  private readonly pollMs: number;
  private readonly now: () => number;
  private readonly codec: CacheCodec;
  private held: HeldToken | undefined;
  private inflight: Promise<string> | undefined;

  constructor(private readonly options: OAuthTokensOptions) {
    this.cache = options.cache ?? memoryCache();
    this.marginMs = options.marginMs ?? 60_000;
    this.lockTtlMs = options.lockTtlMs ?? 30_000;
    this.pollMs = options.pollMs ?? 25;
    this.now = options.now ?? Date.now;
    this.codec = options.sealWith === undefined ? PLAIN : sealedCodec(options.sealWith, options.key);
  }

  private get lockKey(): string {
    return `${this.options.key}:lock`;
  }

  /** A usable token: held, cached by another process, or fetched once for all waiting callers. */
  async get(signal?: AbortSignal): Promise<string> {
    if (this.held !== undefined && this.held.usableUntil > this.now()) return this.held.token;
    return abortable(this.singleFlight(undefined), signal);
  }

  /** A token other than `rejected` (which the API answered 401 to), fetched once for all callers. */
  async refresh(rejected: string, signal?: AbortSignal): Promise<string> {
    if (this.held?.token === rejected) this.held = undefined;
    let token = await abortable(this.singleFlight(rejected), signal);
    // A flight that began before the rejection may bring the rejected token back.
    if (token === rejected) token = await abortable(this.singleFlight(rejected), signal);
    return token;
  }

  /** Keeps a freshly granted token (from `verify()`) for everyone. */
  async keep(grant: TokenGrant): Promise<string> {
    const usableFor = grant.expiresInMs > 2 * this.marginMs ? grant.expiresInMs - this.marginMs : grant.expiresInMs / 2;
    const held: HeldToken = { token: grant.accessToken, usableUntil: this.now() + usableFor };
    this.held = held;
    await quietly(() => this.cache.set(this.options.key, this.codec.seal(JSON.stringify(held)), usableFor), undefined);
    return held.token;
  }

  private singleFlight(rejected: string | undefined): Promise<string> {
    if (this.inflight === undefined) {
      this.inflight = this.obtain(rejected).finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflight;
  }

  private async obtain(rejected: string | undefined): Promise<string> {
    const deadline = this.now() + 2 * this.lockTtlMs;
    let wait = this.pollMs;
    for (;;) {
      const shared = await this.shared(rejected);
      if (shared !== undefined) return shared;
      // A failing cache counts as an acquired lock: tokens then come per process.
      const owner = randomUUID();
      const locked = await quietly(() => this.cache.setIfAbsent(this.lockKey, owner, this.lockTtlMs), true);
      if (locked) {
        try {
          // Another process may have stored a token between our look and our lock.
          return (await this.shared(rejected)) ?? (await this.keep(await this.options.fetch()));
        } finally {
          // Only our own lock: a fetch slower than the lock's TTL must not free another's.
          await quietly(() => this.cache.deleteIf(this.lockKey, owner), undefined);
        }
      }
      if (this.now() > deadline) {
        throw DeliveryError.retryable('ETIMEDOUT', `no OAuth token arrived within ${Math.round((2 * this.lockTtlMs) / 1000)} s while another process was fetching it`);
      }
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 250);
    }
  }

  /** The token in the shared cache, unless it is `rejected` or (nearly) expired. */
  private async shared(rejected: string | undefined): Promise<string | undefined> {
    const cached = await quietly(() => this.cache.get(this.options.key), undefined);
    const text = cached === undefined ? undefined : this.codec.open(cached);
    if (text === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (!isRecord(parsed) || typeof parsed.token !== 'string' || typeof parsed.usableUntil !== 'number') return undefined;
    if (parsed.token === rejected || parsed.usableUntil <= this.now()) return undefined;
    this.held = { token: parsed.token, usableUntil: parsed.usableUntil };
    return parsed.token;
  }
}

/** The cache's answer, or `fallback` when it fails (Redis away must not stop deliveries). */
async function quietly<T>(operation: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await operation();
  } catch {
    return fallback;
  }
}

/** A `SharedCache` in this process's memory: the fallback when the pipeline lends none. */
export function memoryCache(now: () => number = Date.now): SharedCache {
  const entries = new Map<string, { value: string; expiresAt: number }>();
  const live = (key: string) => {
    const entry = entries.get(key);
    if (entry !== undefined && entry.expiresAt <= now()) entries.delete(key);
    return entries.get(key);
  };
  return {
    get: async (key) => live(key)?.value,
    set: async (key, value, ttlMs) => {
      entries.set(key, { value, expiresAt: now() + ttlMs });
    },
    setIfAbsent: async (key, value, ttlMs) => {
      if (live(key) !== undefined) return false;
      entries.set(key, { value, expiresAt: now() + ttlMs });
      return true;
    },
    deleteIf: async (key, value) => {
      if (live(key)?.value === value) entries.delete(key);
    },
  };
}

/** One HTTP request to a carrier API (path relative to the API's base URL). */
export interface CarrierCall {
  /** @defaultValue "POST" */
  method?: 'POST' | 'PUT' | 'DELETE';
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A carrier API's answer: status, headers, text and the text parsed as JSON (undefined when not JSON). */
export interface CarrierAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/** One entry of a carrier's error list (`{ code, message }` for both UPS and FedEx). */
export interface CarrierProblem {
  code: string;
  message: string;
}

/** The I/O a carrier client is given by its file: the only way this module reaches out. */
export interface CarrierIo {
  /** Reads a UTF-8 file (credentials, CA). */
  readFile(path: string): string;
  /** A keep-alive connection pool to `origin`, verifying certificates (plus `ca` when given). */
  connect(origin: string, tls: { ca?: string }, timeoutMs: number): Dispatcher;
  /** `Retry-After` in milliseconds (delta-seconds or HTTP date). */
  retryAfter(value: string | string[] | undefined): number | undefined;
}

/** What a carrier's client file fixes about its API. */
export interface CarrierApi {
  /** Transport kind and carrier id: `ups`, `fedex`. */
  id: 'ups' | 'fedex';
  /** Name in messages: `UPS`, `FedEx`. */
  name: string;
  /** The payload format this API takes (`ups-ship`, `fedex-ship`). */
  format: string;
  /** Base URL of each environment. */
  environments: { test: string; production: string };
}


/**
 * One carrier API client as a transport: gets a token, POSTs the payload built by the
 * carrier's request builder, refreshes the token once on a 401, and turns the answer into a
 * receipt or a classified `DeliveryError`. Each carrier's file supplies the calls and reads
 * the answers.
 */
export abstract class CarrierApiClient implements Transport {
  readonly kind: string;
  readonly instanceId: string;
  protected readonly credentials: ClientCredentials;
  private readonly base: URL;
  private readonly dispatcher: Dispatcher;
  private readonly timeoutMs: number;
  private readonly tokens: OAuthTokens;
  /** The last access tokens this client sent: a carrier's error message may repeat one. */
  private readonly sentTokens: string[] = [];
  private closed = false;

  constructor(
    protected readonly api: CarrierApi,
    options: CarrierClientOptions,
    context: TransportContext,
    private readonly io: CarrierIo,
  ) {
    this.kind = api.id;
    this.instanceId = context.instanceId;
    this.credentials = readClientCredentials(api.id, options, context, io.readFile);
    this.base = new URL(options.baseUrl ?? api.environments[options.environment ?? 'test']);
    if (this.base.protocol !== 'https:') throw DeliveryError.permanent('ECONFIG', `carriers.${api.id}.baseUrl must start with https://`);
    this.timeoutMs = options.timeout ?? DEFAULT_CARRIER_TIMEOUT_MS;
    let ca: string | undefined;
    if (options.caFile !== undefined) {
      const file = isAbsolute(options.caFile) ? options.caFile : resolve(context.configDir, options.caFile);
      try {
        ca = io.readFile(file);
      } catch (error) {
        throw DeliveryError.permanent('ECONFIG', `carriers.${api.id}.caFile: ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    this.dispatcher = io.connect(this.base.origin, ca === undefined ? {} : { ca }, this.timeoutMs);
    // One token per carrier, environment and client; the client ID is hashed, not stored.
    const client = createHash('sha256').update(`${this.base.href}\n${this.credentials.clientId}`).digest('hex').slice(0, 16);
    this.tokens = new OAuthTokens({
      key: `oauth:${api.id}:${client}`,
      fetch: () => this.requestToken(),
      cache: context.cache,
      lockTtlMs: this.timeoutMs + 5_000,
      // Every worker holds the client secret; a reader of Redis does not.
      sealWith: this.credentials.clientSecret,
    });
  }

  /** The token request, exactly as the carrier's OAuth specification defines it. */
  protected abstract tokenCall(): CarrierCall;
  /** The shipment request carrying the builder's body. */
  protected abstract shipCall(payload: DeliveryPayload, token: string): CarrierCall;
  /** The carrier's error list in an answer (token or ship endpoint). */
  protected abstract problems(answer: unknown): CarrierProblem[];
  /** The receipt in a successful ship answer; undefined when it names no tracking number. */
  protected abstract receipt(answer: unknown): DeliveryReceipt | undefined;
  /** The void (cancel) request of a bought label. */
  protected abstract voidCall(label: LabelVoid, token: string): CarrierCall;
  /** Whether a successful void answer says the label was voided, and what it said otherwise. */
  protected abstract voidOutcome(answer: unknown): { voided: boolean; message?: string };

  async deliver(payload: DeliveryPayload, signal?: AbortSignal): Promise<DeliveryReceipt> {
    if (this.closed) throw DeliveryError.retryable('ECONNECTION', `the ${this.api.name} API client has been closed`);
    if (payload.format !== this.api.format) {
      throw DeliveryError.permanent('EPAYLOAD', `the ${this.api.name} API takes ${this.api.format} payloads, not ${payload.format}`);
    }
    if (!/^[\x21-\x7e]+$/.test(payload.deliveryId)) {
      throw DeliveryError.permanent('EPAYLOAD', 'deliveryId must be visible ASCII to serve as a transaction id header');
    }
    try {
      JSON.parse(payload.body);
    } catch {
      throw DeliveryError.permanent('EPAYLOAD', `the ${payload.format} body is not JSON`);
    }

    const answer = await this.authorized((token) => this.shipCall(payload, token), 'ship request', signal);
    if (answer.status >= 200 && answer.status < 300) {
      const receipt = this.receipt(answer.json);
      if (receipt === undefined) {
        // Retrying could buy a second label: stop and let a person look.
        throw DeliveryError.permanent(
          'EREMOTE',
          `${this.api.name} answered ${answer.status} without a readable tracking number; a label may have been bought, check the ${this.api.name} account before replaying`,
        );
      }
      return receipt;
    }
    throw this.refusal('ship request', answer);
  }

  /**
   * Voids a label bought earlier (its order was cancelled). A 2xx that does not say
   * "voided", or a refusal (the label was used, or is unknown), is a permanent `EREJECTED`
   * with the carrier's words: retrying cannot change the carrier's mind.
   */
  async voidLabel(label: LabelVoid, signal?: AbortSignal): Promise<DeliveryReceipt> {
    if (this.closed) throw DeliveryError.retryable('ECONNECTION', `the ${this.api.name} API client has been closed`);
    if (!/^[0-9A-Za-z]{6,40}$/.test(label.shipmentNumber ?? label.trackingNumber)) {
      throw DeliveryError.permanent('EPAYLOAD', `the ${this.api.name} tracking number to void is not a carrier tracking number`);
    }
    const answer = await this.authorized((token) => this.voidCall(label, token), 'void request', signal);
    if (answer.status >= 200 && answer.status < 300) {
      const outcome = this.voidOutcome(answer.json);
      if (!outcome.voided) {
        throw DeliveryError.permanent('EREJECTED', `${this.api.name} did not void label ${label.trackingNumber}${outcome.message ? `: ${outcome.message.slice(0, MAX_CARRIER_TEXT)}` : ''}`);
      }
      return { location: `${this.api.id}:${label.trackingNumber}:voided`, response: { carrier: this.api.id, trackingNumber: label.trackingNumber, voided: 'true' } };
    }
    throw this.refusal('void request', answer);
  }

  /** Sends a call with a token, and once more with a fresh one if the first is refused (401). */
  private async authorized(call: (token: string) => CarrierCall, what: string, signal: AbortSignal | undefined): Promise<CarrierAnswer> {
    let token = this.sending(await this.tokens.get(signal));
    let answer = await this.send(call(token), signal);
    if (answer.status === 401) {
      // Expired or revoked early: one fresh token, one more try (nothing was done on a 401).
      token = this.sending(await this.tokens.refresh(token, signal));
      answer = await this.send(call(token), signal);
      if (answer.status === 401) throw DeliveryError.permanent('EAUTH', `${this.api.name} ${what} refused a freshly issued token (401${this.detail(answer)})`);
    }
    return answer;
  }

  /** Remembers a token about to be sent, so {@link detail} can take it out of an answer. */
  private sending(token: string): string {
    if (!this.sentTokens.includes(token)) {
      this.sentTokens.push(token);
      if (this.sentTokens.length > 8) this.sentTokens.shift();
    }
    return token;
  }

  /** Fetches a token: proves the API is reachable and the credentials work, buys nothing. */
  async verify(): Promise<void> {
    if (this.closed) throw DeliveryError.retryable('ECONNECTION', `the ${this.api.name} API client has been closed`);
    await this.tokens.keep(await this.requestToken());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.dispatcher.close();
  }

  private async requestToken(): Promise<TokenGrant> {
    const answer = await this.send(this.tokenCall(), undefined);
    if (answer.status >= 200 && answer.status < 300) {
      const grant = tokenGrant(answer.json);
      if (grant === undefined) throw DeliveryError.retryable('EREMOTE', `${this.api.name} token endpoint answered ${answer.status} without an access token`);
      return grant;
    }
    if (answer.status === 400 || answer.status === 401 || answer.status === 403) {
      throw DeliveryError.permanent('EAUTH', `${this.api.name} refused the client credentials (${answer.status}${this.detail(answer)})`);
    }
    throw this.refusal('token request', answer);
  }

  /** Status to retry decision; the carrier's code and message are kept, cut to 200 characters. */
  private refusal(what: string, answer: CarrierAnswer): DeliveryError {
    const message = `${this.api.name} ${what} answered ${answer.status}${this.detail(answer)}`;
    const retryAfter = this.io.retryAfter(answer.headers['retry-after']);
    const retry = (code: 'ETIMEDOUT' | 'ERATE_LIMITED' | 'EREMOTE'): DeliveryError =>
      retryAfter === undefined ? DeliveryError.retryable(code, message) : DeliveryError.retryAfter(code, message, retryAfter);
    if (answer.status === 408) return retry('ETIMEDOUT');
    if (answer.status === 429) return retry('ERATE_LIMITED');
    if (answer.status >= 500) return retry('EREMOTE');
    if (answer.status === 401 || answer.status === 403) return DeliveryError.permanent('EAUTH', message);
    if (answer.status >= 300 && answer.status < 400) return DeliveryError.permanent('EREJECTED', `${message} (redirects are not followed; check baseUrl)`);
    return DeliveryError.permanent('EREJECTED', message);
  }

  /**
   * `: code message; ...` from the carrier's error list. The carrier's own message may quote
   * the address it refused, so it is kept as sent but cut to 200 characters; bodies that are
   * not the carrier's error list are not quoted at all.
   */
  private detail(answer: CarrierAnswer): string {
    const problems = this.problems(answer.json);
    if (problems.length === 0) return '';
    const said = problems.map((p) => [p.code, p.message].filter((s) => s !== '').join(' ')).join('; ').replace(/\s+/g, ' ').trim();
    const text = redactSecrets(said, [this.credentials.clientSecret, this.credentials.clientId, ...this.sentTokens]).replace(/\b(Bearer|Basic)\s+\S+/gi, '$1 [redacted]');
    const chars = [...text];
    return `: ${chars.length > MAX_CARRIER_TEXT ? `${chars.slice(0, MAX_CARRIER_TEXT - 1).join('')}…` : text}`;
  }

  private async send(call: CarrierCall, signal: AbortSignal | undefined): Promise<CarrierAnswer> {
    if (this.closed) throw DeliveryError.retryable('ECONNECTION', `the ${this.api.name} API client has been closed`);
    const prefix = this.base.pathname.replace(/\/+$/, '');
    const where = `${this.base.origin}${prefix}${call.path}`;
    try {
      const answer = await boundedRequest(
        this.dispatcher,
        { origin: this.base.origin, path: `${prefix}${call.path}`, method: call.method ?? 'POST', headers: call.headers, ...(call.method === 'DELETE' ? {} : { body: call.body }) },
        { timeoutMs: this.timeoutMs, maxBytes: MAX_ANSWER_BYTES, where, signal },
      );
      // An answer over the cap is unreadable rather than half-parsed.
      const text = answer.truncated ? '' : answer.text;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: answer.status, headers: answer.headers, text, json };
    } catch (error) {
      throw networkFailure(where, error);
    }
  }
}

/** A network failure, classified: untrusted certificates are permanent, the rest retryable. */
function networkFailure(where: string, error: unknown): DeliveryError {
  if (error instanceof DeliveryError) return error;
  const codes = errorCodes(error);
  const trust = codes.find((c) => TLS_TRUST_CODES.has(c));
  if (trust !== undefined) return DeliveryError.permanent('ETLS', `${where}: the server certificate is not trusted (${trust})`);
  const tls = codes.find((c) => c.startsWith('ERR_SSL_') || c.startsWith('ERR_TLS_'));
  if (tls !== undefined) return DeliveryError.permanent('ETLS', `${where}: TLS failed (${tls})`);
  // Not reached: the carrier cannot have acted. A timeout or a dropped connection may come
  // after it did (a label bought, its answer lost).
  const notSent = codes.some((c) => NOT_SENT_CODES.has(c));
  if (codes.some((c) => TIMEOUT_CODES.has(c))) return new DeliveryError('ETIMEDOUT', `${where} timed out (${codes[0]})`, { unsure: !notSent });
  if (notSent) return DeliveryError.retryable('ECONNECTION', `${where} could not be reached (${codes.join(', ')})`);
  return DeliveryError.unsure('ECONNECTION', `${where} could not be reached (${codes.join(', ') || 'network error'})`);
}

/** Waits for `promise`, or rejects as soon as `signal` aborts (the shared work goes on). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(DeliveryError.retryable('ETIMEDOUT', 'aborted while waiting for an OAuth token'));
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = (): void => reject(DeliveryError.retryable('ETIMEDOUT', 'aborted while waiting for an OAuth token'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolvePromise(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Whether a value is a plain JSON object. */
/** The `{ code, message }` items of a carrier's error list (UPS and FedEx share the item shape). */
export function problemsOf(list: unknown): CarrierProblem[] {
  return asList(list)
    .filter(isRecord)
    .map((e) => ({ code: stringAt(e, 'code') ?? '', message: stringAt(e, 'message') ?? '' }))
    .filter((e) => e.code !== '' || e.message !== '');
}

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

/** The I/O both carrier clients use: files, an undici pool with verified TLS, Retry-After. */
export function carrierIo(): CarrierIo {
  return {
    readFile: (path) => readFileSync(path, 'utf8'),
    connect: (origin, tls, timeoutMs) =>
      new Pool(origin, {
        connections: 4,
        keepAliveTimeout: 30_000,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        connect: { minVersion: 'TLSv1.2', rejectUnauthorized: true, timeout: timeoutMs, ...(tls.ca === undefined ? {} : { ca: tls.ca }) },
      }),
    retryAfter: (value) => parseRetryAfter(value),
  };
}
