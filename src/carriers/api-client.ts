import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { Pool, type Dispatcher } from 'undici';
import { type CarrierClientOptions, DEFAULT_CARRIER_TIMEOUT_MS } from './client-options';
import { readClientCredentials, type ClientCredentials } from './credentials';
import { asList, isRecord, stringAt } from './json';
import { OAuthTokens, tokenGrant, type TokenGrant } from './oauth-tokens';
import { type JsonAnswer, jsonRequest, parseRetryAfter } from '../transports/http';
import {
  DeliveryError,
  redactSecrets,
  type DeliveryPayload,
  type DeliveryReceipt,
  type LabelRecovery,
  type LabelVoid,
  type Transport,
  type TransportContext,
} from '../transports/transport';

/**
 * What the UPS and FedEx API clients share: one delivery flow (token, POST, one refresh on
 * 401, answer → receipt or classified `DeliveryError`), the mapping of carrier answers to
 * errors, and the I/O they run on. Client credentials live in `credentials.ts`, the shared
 * OAuth token cache in `oauth-tokens.ts`, the JSON readers in `json.ts`.
 *
 * `CarrierApiClient` reaches files and the network only through the {@link CarrierIo} its
 * client file hands it; {@link carrierIo} at the end of this module is the real one.
 *
 * Idempotency: neither carrier takes an idempotency key. The pipeline's delivered-marker
 * stops a re-run after a success, but a crash (or a lost answer: timeout, reset) between the
 * label purchase and that marker leaves the carrier holding a label no one heard of. Every
 * label purchase carries a reference derived from its delivery id (`reference.ts`), and
 * before buying again after such an attempt the delivery worker calls {@link
 * CarrierApiClient.recoverLabel}: UPS gives the label back by that reference (Label
 * Recovery), FedEx finds the shipment by it (Track by References) and it is cancelled before
 * the label is bought again. Only when the carrier cannot answer is a label bought a second
 * time, and the delivery worker flags it for an operator.
 */

/** Answers (labels included) larger than this are cut off and treated as unreadable. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
/** Carrier text quoted in an error message; it may repeat the address, so keep it short. */
const MAX_CARRIER_TEXT = 200;

/** One HTTP request to a carrier API (path relative to the API's base URL). */
export interface CarrierCall {
  /** @defaultValue "POST" */
  method?: 'POST' | 'PUT' | 'DELETE';
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A carrier API's answer: status, headers, text and the text parsed as JSON (undefined when not JSON). */
export type CarrierAnswer = JsonAnswer;

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
  /** Asks the carrier for the label sold under the reference `body` (a parsed payload) carries. */
  protected abstract recover(payload: DeliveryPayload, body: unknown, since: Date, signal: AbortSignal | undefined): Promise<LabelRecovery>;

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

  /**
   * Whether the carrier sold a label for `payload` in an attempt whose answer was lost (see
   * {@link LabelRecovery}); buys nothing. A carrier that cannot answer (network, timeout, 5xx,
   * 403, 429) throws a `DeliveryError` as a purchase would.
   */
  async recoverLabel(payload: DeliveryPayload, since: Date, signal?: AbortSignal): Promise<LabelRecovery> {
    if (this.closed) throw DeliveryError.retryable('ECONNECTION', `the ${this.api.name} API client has been closed`);
    if (payload.format !== this.api.format) {
      throw DeliveryError.permanent('EPAYLOAD', `the ${this.api.name} API takes ${this.api.format} payloads, not ${payload.format}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(payload.body);
    } catch {
      throw DeliveryError.permanent('EPAYLOAD', `the ${payload.format} body is not JSON`);
    }
    return this.recover(payload, body, since, signal);
  }

  /** Sends a call with a token, and once more with a fresh one if the first is refused (401). */
  protected async authorized(call: (token: string) => CarrierCall, what: string, signal: AbortSignal | undefined): Promise<CarrierAnswer> {
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
  protected refusal(what: string, answer: CarrierAnswer): DeliveryError {
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
    // An answer over the cap is unreadable rather than half-parsed.
    return jsonRequest(
      this.dispatcher,
      { origin: this.base.origin, path: `${prefix}${call.path}`, method: call.method ?? 'POST', headers: call.headers, ...(call.method === 'DELETE' ? {} : { body: call.body }) },
      { timeoutMs: this.timeoutMs, maxBytes: MAX_ANSWER_BYTES, where, signal },
    );
  }
}

/** The `{ code, message }` items of a carrier's error list (UPS and FedEx share the item shape). */
export function problemsOf(list: unknown): CarrierProblem[] {
  return asList(list)
    .filter(isRecord)
    .map((e) => ({ code: stringAt(e, 'code') ?? '', message: stringAt(e, 'message') ?? '' }))
    .filter((e) => e.code !== '' || e.message !== '');
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
