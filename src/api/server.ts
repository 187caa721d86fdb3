import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import type { RateLimitedEntry } from '../config/config';
import type { CancelEvent, OrderEvent, OrderEventSource } from '../core/order';
import { DropshipError } from '../errors';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { IntakeResult } from '../queue/intake';
import { ingestCancellation, ingestOrder, parseJsonBody } from '../sources/ingest';
import { type DashboardOptions, registerDashboard } from './dashboard';
import { type ApiRateLimitOptions, registerRateLimits } from './rate-limit';
import { validBase64Hmac } from './signature';

export interface ApiOptions {
  /** Accepts a scrubbed order event (the pipeline's `OrderIntake.submit`); without it, no order routes. */
  submit?: (event: OrderEvent) => Promise<IntakeResult>;
  /** Accepts an order's cancellation (`OrderIntake.cancel`); without it, cancellations are refused with 503. */
  cancel?: (event: CancelEvent) => Promise<IntakeResult>;
  /** Serves the queue dashboard at `/admin/queues`. */
  dashboard?: DashboardOptions;
  /** Served at `/metrics`: behind `METRICS_TOKEN` as a bearer token, or to loopback callers only without one. */
  metrics?: Registry;
  /** Resolves when the queue store answers and this process's workers run; rejects otherwise (for `/readyz`). */
  ready: () => Promise<void>;
  env?: NodeJS.ProcessEnv;
  /** Largest accepted body in bytes. @defaultValue 1 MiB */
  bodyLimit?: number;
  /** Request log (method, path, status, time; never bodies or headers). */
  logger?: Logger;
  /**
   * Limits per entry point and client address, counted in Redis (`api.rateLimits` in
   * store.yaml). Without it, nothing is limited. Health checks never are.
   */
  rateLimit?: ApiRateLimitOptions;
  /**
   * Reverse proxies whose `X-Forwarded-For` names the client (`api.trustProxy`), for rate
   * limits, the loopback check and the request log. @defaultValue [] (the socket's address)
   */
  trustProxy?: readonly string[];
  /**
   * A Shopify webhook whose `X-Shopify-Triggered-At` is older than this is refused as stale or
   * replayed (`api.webhookMaxAge`). @defaultValue 24 hours
   */
  webhookMaxAgeMs?: number;
}

/** How far ahead of this clock a sender's timestamp may be. */
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Why a webhook's trigger time makes it unacceptable, if it does: older than `maxAgeMs`, or
 * ahead of this clock by more than the skew allowed. A missing header is accepted (the HMAC
 * and the webhook id still apply); one that is not a time is refused.
 */
export function staleWebhook(triggeredAt: string | undefined, maxAgeMs: number, now: number): string | undefined {
  if (triggeredAt === undefined) return undefined;
  const at = Date.parse(triggeredAt);
  if (Number.isNaN(at)) return 'X-Shopify-Triggered-At: is not a date and time';
  if (now - at > maxAgeMs) return `X-Shopify-Triggered-At: triggered ${Math.round((now - at) / 3_600_000)} h ago, more than the ${Math.round(maxAgeMs / 3_600_000)} h accepted (a replayed or stale webhook)`;
  if (at - now > CLOCK_SKEW_MS) return 'X-Shopify-Triggered-At: lies in the future (check this server\'s clock)';
  return undefined;
}

type RawRequest = FastifyRequest<{ Body: Buffer }>;

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Constant-time check of an `Authorization: Bearer <token>` header. */
function bearerMatches(authorization: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Answers `err` as the API answers every error: its status, `{ error, message, problems }`. */
function sendError(reply: FastifyReply, err: DropshipError): FastifyReply {
  return reply.code(err.statusCode).send(err.toReply());
}

/**
 * An endpoint behind a bearer token from env (`tokenName`); without the token set, loopback
 * callers only: nothing is open to the network by default. Returns the refusal, if any.
 */
function refuseUnlessAllowed(request: FastifyRequest, reply: FastifyReply, env: NodeJS.ProcessEnv, tokenName: string, what: string): FastifyReply | undefined {
  const token = env[tokenName];
  if (token) {
    if (!bearerMatches(header(request, 'authorization'), token)) {
      return sendError(reply, new DropshipError('EUNAUTHORIZED', [], `A valid bearer token (${tokenName}) is required`));
    }
  } else if (!LOOPBACK.has(request.ip)) {
    return sendError(reply, new DropshipError('EUNAUTHORIZED', [], `Set ${tokenName} to ${what}`));
  }
  return undefined;
}

/**
 * A webhook whose secret this server was not given: 503, not the 500 of a broken
 * configuration, because the route is unavailable here while the rest of the API works.
 */
function unconfigured(secretName: string): DropshipError {
  return new DropshipError('ECONFIG', [], `${secretName} is not set`, { status: 503 });
}

/** A failure to reach Redis: the order cannot be kept, so the client should retry. */
function isStoreUnavailable(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : '';
  return /Connection is closed|ECONNREFUSED|Stream isn't writeable|enableOfflineQueue|max retries|ETIMEDOUT|ECONNRESET/i.test(msg);
}

/**
 * The HTTP API (docs/api.md). Bodies are read raw (webhook HMACs are over the
 * exact bytes), parsed, scrubbed and validated before anything reaches Redis. Responses:
 * 202 accepted, 400 with every problem, 401 bad signature, 413 too large, 429 over the
 * rate limit of the entry point (`rateLimit`), 503 store down.
 */
export function buildApi(options: ApiOptions): FastifyInstance {
  const env = options.env ?? process.env;
  const app = Fastify({
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    trustProxy: options.trustProxy && options.trustProxy.length > 0 ? [...options.trustProxy] : false,
    ...(options.logger
      ? {
          // Only what identifies a request: no headers (credentials), no query, no body.
          loggerInstance: options.logger.child(
            {},
            {
              serializers: {
                req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, path: req.url.split('?')[0], ip: req.ip }),
                res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
              },
            },
          ) as FastifyBaseLogger,
        }
      : { logger: false }),
  });
  // JSON only: fastify's own text/plain parser would take JSON that a browser may send
  // cross-site without a CORS preflight. A form body is only WooCommerce's webhook ping.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (req, body, done) =>
    req.url.split('?')[0] === '/webhooks/woocommerce' ? done(null, body) : done(Object.assign(new Error('form body'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 })),
  );

  app.setErrorHandler((err: unknown, _request, reply) => {
    if (err instanceof DropshipError) return sendError(reply, err);
    const code = (err as { code?: string }).code;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendError(reply, new DropshipError('ETOO_LARGE', [], `The body is larger than ${app.initialConfig.bodyLimit} bytes`));
    }
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || code === 'FST_ERR_CTP_EMPTY_TYPE') {
      return sendError(reply, new DropshipError('EMEDIA_TYPE'));
    }
    if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      return sendError(reply, new DropshipError('EINVALID_JSON', [], 'The body is empty'));
    }
    if (isStoreUnavailable(err)) {
      return sendError(reply.header('retry-after', '5'), new DropshipError('EUNAVAILABLE'));
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      return sendError(reply, new DropshipError('EBAD_REQUEST', [], undefined, { status }));
    }
    options.logger?.error({ code: code ?? 'EINTERNAL' }, `unexpected error: ${err instanceof Error ? err.name : 'unknown'}`);
    return sendError(reply, new DropshipError('EINTERNAL'));
  });

  const limitOf = options.rateLimit ? registerRateLimits(app, options.rateLimit) : undefined;
  /** Route options that count requests against `entry`'s limit (none without `rateLimit`). */
  const limited = (entry: RateLimitedEntry) => (limitOf ? { config: { rateLimit: limitOf(entry) } } : {});

  if (options.dashboard) registerDashboard(app, options.dashboard, limitOf?.('dashboard'));
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await options.ready();
      return { status: 'ready' };
    } catch (err) {
      const reason = err instanceof Error && err.message.startsWith('workers not running') ? err.message : 'Redis does not answer';
      return reply.code(503).send({ status: 'unavailable', reason });
    }
  });
  // In a plugin, so that these routes are added once @fastify/rate-limit has loaded: its
  // onRoute hook is what reads their `config.rateLimit`.
  void app.register(async (routes) => {
    const metrics = options.metrics;
    if (metrics) {
      routes.get('/metrics', limited('dashboard'), async (request, reply) => {
        const refused = refuseUnlessAllowed(request, reply, env, 'METRICS_TOKEN', 'serve metrics to other hosts');
        if (refused) return refused;
        return reply.header('content-type', metrics.contentType).send(await metrics.metrics());
      });
    }
    const submit = options.submit;
    if (!submit) return;

    const accept = async (reply: FastifyReply, raw: Buffer, source: OrderEventSource) => {
      const payload = parseJsonBody(raw);
      const event = ingestOrder(payload, { source: source.kind, ...(source.eventId ? { eventId: source.eventId } : {}) });
      const result = await submit(event);
      return reply.code(202).send({ orderId: result.orderId, duplicate: result.duplicate });
    };

    const cancel = async (reply: FastifyReply, event: CancelEvent | undefined, ignored: string) => {
      if (event === undefined) return reply.code(200).send({ ignored });
      if (!options.cancel) return sendError(reply, new DropshipError('EUNAVAILABLE', [], 'This process does not accept cancellations'));
      const result = await options.cancel(event);
      return reply.code(202).send({ orderId: result.orderId, cancelled: true, duplicate: result.duplicate });
    };

    /** `API_TOKEN` as a bearer token, or (without one) loopback callers only. */
    const refuseCaller = (request: FastifyRequest, reply: FastifyReply) => refuseUnlessAllowed(request, reply, env, 'API_TOKEN', 'accept orders from other hosts');

    routes.post('/orders', limited('orders'), async (request: RawRequest, reply) => {
      return refuseCaller(request, reply) ?? accept(reply, request.body, { kind: 'canonical' });
    });

    // Cancels an order: voids its labels not yet used and sends each supplier that already has
    // its purchase order a cancellation. The body is optional: `{ "reason": "customer" }`.
    routes.post('/orders/:id/cancel', limited('orders'), async (request: FastifyRequest<{ Body: Buffer | undefined; Params: { id: string } }>, reply) => {
      const refused = refuseCaller(request, reply);
      if (refused) return refused;
      const raw = request.body;
      const body = raw === undefined || raw.length === 0 ? {} : parseJsonBody(raw);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new DropshipError('EINVALID_ORDER', ['cancellation: the body must be a JSON object { "reason"? }']);
      }
      if ('orderId' in body) throw new DropshipError('EINVALID_ORDER', ['orderId: goes in the path, not the body']);
      return cancel(reply, ingestCancellation({ ...body, orderId: request.params.id }, { source: 'canonical' }), 'nothing to cancel');
    });

    routes.post('/webhooks/shopify', limited('shopify'), async (request: RawRequest, reply) => {
      const secret = env.SHOPIFY_WEBHOOK_SECRET;
      if (!secret) return sendError(reply, unconfigured('SHOPIFY_WEBHOOK_SECRET'));
      if (!validBase64Hmac(secret, request.body, header(request, 'x-shopify-hmac-sha256'))) {
        throw new DropshipError('EBAD_SIGNATURE');
      }
      // The signature covers the body only: an old body replayed with a fresh webhook id is
      // caught by the order's own marks; one sent as it was, by its trigger time.
      const stale = staleWebhook(header(request, 'x-shopify-triggered-at'), options.webhookMaxAgeMs ?? 86_400_000, Date.now());
      if (stale) throw new DropshipError('ESTALE_WEBHOOK', [stale]);
      const topic = header(request, 'x-shopify-topic');
      const eventId = header(request, 'x-shopify-webhook-id') ?? header(request, 'x-shopify-event-id');
      if (topic === 'orders/cancelled') {
        return cancel(reply, ingestCancellation(parseJsonBody(request.body), { source: 'shopify', ...(eventId ? { eventId } : {}) }), topic);
      }
      if (topic && topic !== 'orders/create') return reply.code(200).send({ ignored: topic });
      return accept(reply, request.body, { kind: 'shopify', ...(eventId ? { eventId } : {}) });
    });

    routes.post('/webhooks/woocommerce', limited('woocommerce'), async (request: RawRequest, reply) => {
      // WooCommerce pings a new webhook with a form body `webhook_id=N` before any order.
      if (/^webhook_id=\d+$/.test(request.body.toString('latin1').trim())) return reply.code(200).send({ ping: true });
      const secret = env.WOOCOMMERCE_WEBHOOK_SECRET;
      if (!secret) return sendError(reply, unconfigured('WOOCOMMERCE_WEBHOOK_SECRET'));
      if (!validBase64Hmac(secret, request.body, header(request, 'x-wc-webhook-signature'))) {
        throw new DropshipError('EBAD_SIGNATURE');
      }
      const topic = header(request, 'x-wc-webhook-topic');
      const eventId = header(request, 'x-wc-webhook-delivery-id');
      // An update that sets the status to cancelled cancels the order; other updates are ignored.
      if (topic === 'order.updated') {
        return cancel(reply, ingestCancellation(parseJsonBody(request.body), { source: 'woocommerce', ...(eventId ? { eventId } : {}) }), `${topic} (not a cancellation)`);
      }
      if (topic && topic !== 'order.created') return reply.code(200).send({ ignored: topic });
      return accept(reply, request.body, { kind: 'woocommerce', ...(eventId ? { eventId } : {}) });
    });
  });
  return app;
}
