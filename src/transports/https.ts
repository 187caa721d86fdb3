import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildConnector, Pool } from 'undici';
import { z } from 'zod';
import { envVarName, positiveDuration } from '../config/option-schemas';
import { boundedRequest, errorCodes, parseRetryAfter, TIMEOUT_CODES, TLS_TRUST_CODES } from './http';
import { encryptArmored, recipientKeyLoader } from './pgp';
import {
  DeliveryError,
  redactSecrets,
  type DeliveryPayload,
  type DeliveryReceipt,
  type Transport,
  type TransportContext,
  type TransportKind,
} from './transport';

/** Keeps what a receiver answers small enough for a job record. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** Content type of a body encrypted to the supplier's PGP key (RFC 3156's type for PGP data). */
export const PGP_CONTENT_TYPE = 'application/pgp-encrypted';
/** Header that names the type of the document inside an encrypted body. */
export const PAYLOAD_TYPE_HEADER = 'x-dropship-payload-type';

/** How the receiver knows the request is ours (`delivery.auth`). */
const authSchema = z
  .object({
    /**
     * Name of the env var holding a Standard Webhooks secret: `whsec_` and the standard base64
     * of at least 24 random bytes (checked when the transport is created).
     */
    hmacSecretEnv: envVarName('auth.hmacSecretEnv').optional(),
    /** Name of the env var holding a bearer token. */
    bearerTokenEnv: envVarName('auth.bearerTokenEnv').optional(),
    /** PEM client certificate for mutual TLS (relative to the config directory). */
    clientCertFile: z.string().min(1).optional(),
    /** PEM private key of the client certificate (relative to the config directory). */
    clientKeyFile: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((auth, ctx) => {
    if (auth.hmacSecretEnv !== undefined && auth.bearerTokenEnv !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['bearerTokenEnv'], message: 'choose one of auth.hmacSecretEnv or auth.bearerTokenEnv' });
    }
    if ((auth.clientCertFile === undefined) !== (auth.clientKeyFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['clientCertFile'], message: 'auth.clientCertFile and auth.clientKeyFile go together' });
    }
    if (Object.values(auth).every((v) => v === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'auth needs hmacSecretEnv, bearerTokenEnv or clientCertFile + clientKeyFile' });
    }
  });

/** `delivery` options of an HTTPS receiver (without `transport: https`). */
export const httpsOptionsSchema = z
  .object({
    /** The receiver's endpoint; `https://` only. */
    url: z
      .string({ error: 'url is required' })
      .refine((value) => URL.canParse(value), { error: 'url is not a valid URL' })
      .refine((value) => !URL.canParse(value) || new URL(value).protocol === 'https:', {
        error: 'url must start with https:// (plain http is not allowed: every transfer is encrypted)',
      }),
    /**
     * HTTP method.
     * @defaultValue "POST"
     */
    method: z.enum(['POST', 'PUT']).default('POST'),
    /** Request authentication; optional (mutual TLS may be combined with a signature or token). */
    auth: authSchema.optional(),
    /** PEM file of the CA that issued the receiver's certificate (relative to the config directory). */
    caFile: z.string().min(1).optional(),
    /**
     * Time allowed for one request, connecting included ("30s", "500ms" or milliseconds).
     * @defaultValue 30s
     */
    timeout: positiveDuration('timeout').default(30_000),
    /**
     * Keep-alive connections kept to the receiver.
     * @defaultValue 2
     */
    maxConnections: z.number().int().min(1).max(16).default(2),
  })
  .strict();

/** Validated HTTPS options (durations in milliseconds). */
export type HttpsOptions = z.output<typeof httpsOptionsSchema>;

/** Fewest key bytes a Standard Webhooks secret may have (the specification: 24 to 64). */
const MIN_SECRET_BYTES = 24;

/**
 * Why `secret` is not a Standard Webhooks secret, if it is not: `whsec_` then the standard
 * (not URL-safe) padded base64 of at least 24 bytes. The receivers' official libraries
 * base64-decode whatever follows the prefix (or the whole text, without one): a secret in any
 * other form signs nothing they accept, so every delivery would be refused. Names no part of
 * the value.
 */
export function standardWebhookSecretProblem(secret: string): string | undefined {
  const problem = `must be "whsec_" followed by the standard base64 of at least ${MIN_SECRET_BYTES} random bytes (for example "whsec_" and the output of \`openssl rand -base64 32\`)`;
  if (!secret.startsWith('whsec_')) return problem;
  const encoded = secret.slice('whsec_'.length);
  if (encoded.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) return problem;
  const bytes = Buffer.from(encoded, 'base64').length;
  return bytes < MIN_SECRET_BYTES ? `${problem}; it holds ${bytes}` : undefined;
}

/**
 * The `webhook-id` of a delivery: its id, with `%` and `.` percent-encoded. The signed content
 * is `id.timestamp.body`, so the Standard Webhooks libraries refuse an id with a dot in it,
 * and delivery ids hold order ids, which may have dots. The encoding is one-to-one and the same
 * on every attempt, so a receiver still recognises a retry; ids without either are unchanged.
 */
export function webhookId(deliveryId: string): string {
  return deliveryId.replace(/[%.]/g, (c) => (c === '%' ? '%25' : '%2E'));
}

/**
 * The Standard Webhooks `webhook-signature` value: `v1,<base64 HMAC-SHA256 of id.timestamp.body>`.
 * A `whsec_` secret is base64-decoded first, as the specification says; any other secret is
 * used as its UTF-8 bytes.
 */
export function standardWebhookSignature(secret: string, id: string, timestamp: number, body: string): string {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/**
 * What nginx (`ssl_verify_client on`) answers, after the handshake, to a request without an
 * acceptable client certificate: its internal 495 or 496, sent as 400 with an HTML page whose
 * title names the reason. A proxy that passes 495/496 through is read the same way. Any other
 * 400 is the receiver's own and stays `EREJECTED`.
 */
function clientCertRefused(status: number, text: string): 'missing' | 'refused' | undefined {
  if (status === 496 || (status === 400 && text.includes('No required SSL certificate was sent'))) return 'missing';
  if (status === 495 || (status === 400 && text.includes('The SSL certificate error'))) return 'refused';
  return undefined;
}

/** The local port of the socket an undici `SocketError` is about. */
function socketPort(error: unknown): number | undefined {
  const port = (error as { socket?: { localPort?: unknown } } | null)?.socket?.localPort;
  return typeof port === 'number' ? port : undefined;
}

interface Secrets {
  hmacSecret?: string;
  bearerToken?: string;
}

class HttpsTransport implements Transport {
  readonly kind = 'https';
  readonly instanceId: string;
  private readonly url: URL;
  private readonly pool: Pool;
  private readonly secrets: Secrets = {};
  /**
   * TLS errors seen on sockets, by local port. undici reports a TLS 1.3 alert that arrives after
   * the handshake (a refused client certificate) only as "other side closed"; this keeps the
   * real reason for the classification.
   */
  private readonly tlsErrors = new Map<number, string>();
  private closed = false;
  /** The supplier's key, when its purchase orders are PGP-encrypted as well (`pgp.publicKeyFile`). */
  private readonly pgpKey = recipientKeyLoader(
    () => this.context.pgpPublicKey,
    () => `of ${this.instanceId} (pgp.publicKeyFile)`,
  );

  constructor(
    private readonly options: HttpsOptions,
    private readonly context: TransportContext,
  ) {
    this.instanceId = context.instanceId;
    this.url = new URL(options.url);
    const readPem = (what: string, path: string): string => {
      const file = resolve(context.configDir, path);
      try {
        return readFileSync(file, 'utf8');
      } catch (error) {
        throw DeliveryError.permanent('ECONFIG', `https ${context.instanceId}: ${what} ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    };
    const readEnv = (what: string, name: string): string => {
      const value = context.env[name];
      if (value === undefined || value === '') {
        throw DeliveryError.permanent('ECONFIG', `https ${context.instanceId}: environment variable ${name} (${what}) is not set`);
      }
      return value;
    };
    const { auth } = options;
    if (auth?.hmacSecretEnv !== undefined) {
      const secret = readEnv('auth.hmacSecretEnv', auth.hmacSecretEnv);
      const problem = standardWebhookSecretProblem(secret);
      if (problem !== undefined) {
        throw DeliveryError.permanent('ECONFIG', `https ${context.instanceId}: the secret in environment variable ${auth.hmacSecretEnv} (auth.hmacSecretEnv) ${problem}; the receiver's Standard Webhooks library would refuse every delivery signed with it`);
      }
      this.secrets.hmacSecret = secret;
    }
    if (auth?.bearerTokenEnv !== undefined) this.secrets.bearerToken = readEnv('auth.bearerTokenEnv', auth.bearerTokenEnv);
    const tls = {
      minVersion: 'TLSv1.2' as const,
      rejectUnauthorized: true,
      ...(options.caFile === undefined ? {} : { ca: readPem('caFile', options.caFile) }),
      ...(auth?.clientCertFile === undefined || auth.clientKeyFile === undefined
        ? {}
        : { cert: readPem('auth.clientCertFile', auth.clientCertFile), key: readPem('auth.clientKeyFile', auth.clientKeyFile) }),
    };
    const connector = buildConnector({ ...tls, timeout: options.timeout });
    const connect: buildConnector.connector = (target, callback) =>
      connector(target, (...result) => {
        const socket = result[1];
        socket?.prependListener('error', (error: Error) => {
          const code = errorCodes(error)[0];
          if (code === undefined || !code.startsWith('ERR_SSL_') || socket.localPort === undefined) return;
          if (this.tlsErrors.size > 100) this.tlsErrors.clear();
          this.tlsErrors.set(socket.localPort, code);
        });
        callback(...result);
      });
    this.pool = new Pool(this.url.origin, {
      connections: options.maxConnections,
      keepAliveTimeout: 30_000,
      headersTimeout: options.timeout,
      bodyTimeout: options.timeout,
      connect,
    });
  }

  private get where(): string {
    return `${this.url.origin}${this.url.pathname}`;
  }

  async deliver(payload: DeliveryPayload, signal?: AbortSignal): Promise<DeliveryReceipt> {
    // It travels as a header value (webhook-id, Idempotency-Key): visible ASCII only.
    if (!/^[\x21-\x7e]+$/.test(payload.deliveryId)) {
      throw DeliveryError.permanent('EPAYLOAD', 'deliveryId must be visible ASCII to serve as webhook-id and Idempotency-Key');
    }
    const timestamp = Math.floor(Date.now() / 1000);
    const id = webhookId(payload.deliveryId);
    const headers: Record<string, string> = {
      'content-type': payload.contentType,
      'idempotency-key': payload.deliveryId,
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
    };
    let body = payload.body;
    if (this.context.pgpPublicKey !== undefined) {
      // The whole document is encrypted to the supplier's key (as over SFTP); the receiver
      // learns its type from a header, and the signature covers what is sent.
      const key = await this.pgpKey();
      body = await encryptArmored(payload.body, key, `of ${this.instanceId} (pgp.publicKeyFile)`, { filename: payload.filename });
      headers['content-type'] = PGP_CONTENT_TYPE;
      headers[PAYLOAD_TYPE_HEADER] = payload.contentType;
    }
    if (this.secrets.hmacSecret !== undefined) {
      headers['webhook-signature'] = standardWebhookSignature(this.secrets.hmacSecret, id, timestamp, body);
    }
    if (this.secrets.bearerToken !== undefined) headers.authorization = `Bearer ${this.secrets.bearerToken}`;

    const { status, headers: answer, text } = await this.request(this.options.method, headers, body, signal);
    if (status >= 200 && status < 300) {
      const response: Record<string, string> = { status: String(status), ...responseFields(this.withoutSecrets(text, payload.secrets)) };
      if (body !== payload.body) response.encrypted = 'true';
      return { location: `${this.where} ${status}`, response };
    }
    throw this.refusal(status, answer, text, payload.secrets);
  }

  /**
   * Connects (TLS verified, client certificate presented) and sends a HEAD request without a
   * payload; any answer proves reachability, 401/403 with a bearer token means the token is bad.
   */
  async verify(): Promise<void> {
    const headers: Record<string, string> = {};
    if (this.secrets.bearerToken !== undefined) headers.authorization = `Bearer ${this.secrets.bearerToken}`;
    if (this.context.pgpPublicKey !== undefined) await this.pgpKey();
    const { status } = await this.request('HEAD', headers, undefined, undefined);
    if (this.secrets.bearerToken !== undefined && (status === 401 || status === 403)) {
      throw DeliveryError.permanent('EAUTH', `${this.where} refused the bearer token (${status})`);
    }
    if (status === 400 || status === 495 || status === 496) {
      // An answer to HEAD has no page to read: ask again with GET (no payload) to tell a
      // refused client certificate from a receiver that merely dislikes HEAD.
      const page = await this.request('GET', headers, undefined, undefined);
      const refused = this.clientCertRefusal(page.status, page.text);
      if (refused !== undefined) throw refused;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }

  private async request(
    method: 'POST' | 'PUT' | 'HEAD' | 'GET',
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
    if (this.closed) throw DeliveryError.retryable('ECONNECTION', 'the HTTPS transport has been closed');
    try {
      const answer = await boundedRequest(
        this.pool,
        { origin: this.url.origin, path: `${this.url.pathname}${this.url.search}`, method, headers, body: body ?? null },
        { timeoutMs: this.options.timeout, maxBytes: MAX_RESPONSE_BYTES, where: this.where, signal },
      );
      return { status: answer.status, headers: answer.headers, text: answer.text };
    } catch (error) {
      throw this.networkFailure(error);
    }
  }

  private networkFailure(error: unknown): DeliveryError {
    if (error instanceof DeliveryError) return error;
    const codes = errorCodes(error);
    const port = socketPort(error);
    const tlsError = port === undefined ? undefined : this.tlsErrors.get(port);
    if (tlsError !== undefined && port !== undefined) {
      this.tlsErrors.delete(port);
      codes.unshift(tlsError);
    }
    const trust = codes.find((c) => TLS_TRUST_CODES.has(c));
    if (trust !== undefined) return DeliveryError.permanent('ETLS', `${this.where}: the server certificate is not trusted (${trust})`);
    const alert = codes.find((c) => /^ERR_SSL_.*ALERT/.test(c));
    if (alert !== undefined) {
      return /CERTIFICATE|UNKNOWN_CA/.test(alert)
        ? DeliveryError.permanent('EAUTH', `${this.where} refused our client certificate (${alert})`)
        : DeliveryError.permanent('ETLS', `${this.where}: TLS handshake failed (${alert})`);
    }
    if (codes.some((c) => c.startsWith('ERR_SSL_') || c.startsWith('ERR_TLS_'))) {
      return DeliveryError.permanent('ETLS', `${this.where}: TLS failed (${codes.find((c) => c.startsWith('ERR_S') || c.startsWith('ERR_T'))})`);
    }
    if (codes.some((c) => TIMEOUT_CODES.has(c))) return DeliveryError.retryable('ETIMEDOUT', `${this.where} timed out (${codes[0]})`);
    return DeliveryError.retryable('ECONNECTION', `${this.where} could not be reached (${codes.join(', ') || 'network error'})`);
  }

  /**
   * `text` with our secrets (and the payload's, `extra`) taken out: what a receiver answers
   * may repeat what it was sent.
   */
  private withoutSecrets(text: string, extra: readonly string[] = []): string {
    return redactSecrets(text, [this.secrets.bearerToken, this.secrets.hmacSecret, ...extra]);
  }

  /**
   * A client certificate refused after the handshake (see {@link clientCertRefused}), as a
   * permanent `EAUTH` in one line: the reason, never the HTML page around it.
   */
  private clientCertRefusal(status: number, text: string): DeliveryError | undefined {
    const refused = clientCertRefused(status, text);
    if (refused === undefined) return undefined;
    const presented = this.options.auth?.clientCertFile !== undefined;
    if (refused === 'missing') {
      return DeliveryError.permanent(
        'EAUTH',
        presented
          ? `${this.where} did not accept our client certificate (answered ${status}: no required SSL certificate was sent)`
          : `${this.where} requires a client certificate (answered ${status}: no required SSL certificate was sent); set auth.clientCertFile and auth.clientKeyFile`,
      );
    }
    return DeliveryError.permanent('EAUTH', `${this.where} refused our client certificate (answered ${status}: the SSL certificate error)`);
  }

  /** Status code to retry decision; the excerpt of the answer never repeats our secrets. */
  private refusal(status: number, headers: Record<string, string | string[] | undefined>, text: string, payloadSecrets?: readonly string[]): DeliveryError {
    const refusedCert = this.clientCertRefusal(status, text);
    if (refusedCert !== undefined) return refusedCert;
    // Redacted before it is cut: a secret cut in two would no longer be recognised.
    const excerpt = this.withoutSecrets(text.replace(/\s+/g, ' ').trim(), payloadSecrets).slice(0, 200);
    const what = `${this.where} answered ${status}${excerpt === '' ? '' : `: ${excerpt}`}`;
    const retryAfter = parseRetryAfter(headers['retry-after']);
    const retry = (code: 'ETIMEDOUT' | 'ERATE_LIMITED' | 'EREMOTE'): DeliveryError =>
      retryAfter === undefined ? DeliveryError.retryable(code, what) : DeliveryError.retryAfter(code, what, retryAfter);
    if (status === 408) return retry('ETIMEDOUT');
    if (status === 429) return retry('ERATE_LIMITED');
    if (status >= 500) return retry('EREMOTE');
    if (status === 401 || status === 403) return DeliveryError.permanent('EAUTH', what);
    if (status >= 300 && status < 400) return DeliveryError.permanent('EREJECTED', `${what} (redirects are not followed; update the url)`);
    return DeliveryError.permanent('EREJECTED', what);
  }
}

/** Top-level scalar fields of a JSON object answer (e.g. a tracking number), as strings. */
function responseFields(text: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed).slice(0, 20)) {
    if (key === 'status') continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') fields[key] = String(value).slice(0, 200);
  }
  return fields;
}

/**
 * HTTPS delivery (undici): keep-alive pool per receiver, certificates verified (custom CA
 * allowed), optional mutual TLS, Standard Webhooks signature or bearer token, `Idempotency-Key`
 * set to the delivery id and `webhook-id` to its dot-free form ({@link webhookId}). 2xx delivered; 408, 429, 5xx and network errors
 * retried (honouring Retry-After); other answers refused for good.
 */
export const httpsTransport: TransportKind<HttpsOptions> = {
  kind: 'https',
  optionsSchema: httpsOptionsSchema,
  create: (options, context) => new HttpsTransport(options, context),
};
