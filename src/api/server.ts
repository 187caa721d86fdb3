import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { CancelEvent, OrderEvent } from '../core/order';
import { DropshipError } from '../errors';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { OrderTimeline } from '../ops/console-queries';
import type { IntakeResult } from '../queue/intake';
import { type RouteLimits, sendError } from './access';
import { type DashboardOptions, registerDashboard } from './dashboard';
import { type ApiRateLimitOptions, registerRateLimits } from './rate-limit';
import { orderAnswers } from './routes/answers';
import { healthRoutes } from './routes/health';
import { metricsRoutes } from './routes/metrics';
import { orderRoutes } from './routes/orders';
import { supplierRoutes, type SupplierRoutesOptions } from './routes/suppliers';
import { webhookRoutes } from './routes/webhooks';

export { staleWebhook } from './routes/webhooks';

export interface ApiOptions {
  /** Accepts a scrubbed order event (the pipeline's `OrderIntake.submit`); without it, no order routes. */
  submit?: (event: OrderEvent) => Promise<IntakeResult>;
  /** Accepts an order's cancellation (`OrderIntake.cancel`); without it, cancellations are refused with 503. */
  cancel?: (event: CancelEvent) => Promise<IntakeResult>;
  /**
   * An order's timeline (stages per shipment, recipients, reasons, tracking; no personal data),
   * served at `GET /orders/:id` with the order routes; undefined when nothing is known of it.
   */
  timeline?: (orderId: string) => Promise<OrderTimeline | undefined>;
  /**
   * Suppliers' confirmations (`POST /suppliers/:id/shipments`, `/acknowledgements`, `/cxml`),
   * served for the suppliers whose `confirmations.https` is set.
   */
  confirmations?: Pick<SupplierRoutesOptions, 'suppliers' | 'confirm'>;
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

/** A failure to reach Redis: the order cannot be kept, so the client should retry. */
function isStoreUnavailable(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : '';
  // The cluster's own: its slots are being moved to a promoted replica, or it has none to serve them.
  return /Connection is closed|ECONNREFUSED|Stream isn't writeable|enableOfflineQueue|max retries|ETIMEDOUT|ECONNRESET|CLUSTERDOWN|TRYAGAIN|Cluster isn't ready|Failed to refresh slots cache|Too many Cluster redirections/i.test(msg);
}

/**
 * The HTTP API (docs/api.md). Bodies are read raw (webhook HMACs are over the
 * exact bytes), parsed, scrubbed and validated before anything reaches Redis. Responses:
 * 202 accepted, 400 with every problem, 401 bad signature, 413 too large, 429 over the
 * rate limit of the entry point (`rateLimit`), 503 store down. Its routes are plugins, one per
 * concern: health, metrics, the order API and the store webhooks (`./routes`).
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
    if (err instanceof DropshipError) return sendError(err.code === 'ENOT_DURABLE' ? reply.header('retry-after', '5') : reply, err);
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
  const limited: RouteLimits = (entry) => (limitOf ? { config: { rateLimit: limitOf(entry) } } : {});

  if (options.dashboard) registerDashboard(app, options.dashboard, limitOf?.('dashboard'));
  void app.register(healthRoutes, { ready: options.ready });
  // Registered after @fastify/rate-limit: its onRoute hook is what reads each route's
  // `config.rateLimit`, so it must have loaded before these routes are added.
  if (options.metrics) void app.register(metricsRoutes, { metrics: options.metrics, env, limited });
  if (options.submit) {
    const answers = orderAnswers(options.submit, options.cancel);
    void app.register(orderRoutes, { answers, env, limited, ...(options.timeline ? { timeline: options.timeline } : {}) });
    void app.register(webhookRoutes, { answers, env, limited, webhookMaxAgeMs: options.webhookMaxAgeMs ?? 86_400_000 });
  }
  if (options.confirmations && options.confirmations.suppliers.some((s) => s.confirmations?.https)) {
    void app.register(supplierRoutes, { ...options.confirmations, env, limited });
  }
  return app;
}
