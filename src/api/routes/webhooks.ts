import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { DropshipError } from '../../errors';
import { ingestCancellation, parseJsonBody } from '../../sources/ingest';
import { header, type RouteLimits, sendError } from '../access';
import { validBase64Hmac } from '../signature';
import type { OrderAnswers } from './answers';

/** How orders are answered, where the secrets are read, the rate limits and the age a webhook may have. */
export interface WebhookRoutesOptions {
  answers: OrderAnswers;
  /** Where the webhook secrets are read (`SHOPIFY_WEBHOOK_SECRET`, `WOOCOMMERCE_WEBHOOK_SECRET`). */
  env: NodeJS.ProcessEnv;
  limited: RouteLimits;
  /** A Shopify webhook triggered longer ago than this is refused as stale or replayed. */
  webhookMaxAgeMs: number;
}

type RawRequest = FastifyRequest<{ Body: Buffer }>;

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

/**
 * A webhook whose secret this server was not given: 503, not the 500 of a broken
 * configuration, because the route is unavailable here while the rest of the API works.
 */
function unconfigured(secretName: string): DropshipError {
  return new DropshipError('ECONFIG', [], `${secretName} is not set`, { status: 503 });
}

/**
 * Shopify topics whose body is the Order resource to take: a new order, and the events that
 * may release a waiting one or correct a held one (`updated_at` says which version is newer).
 */
const SHOPIFY_ORDER_TOPICS = new Set(['orders/create', 'orders/updated', 'orders/paid']);

/**
 * The store webhooks, each signed with its secret over the exact body: Shopify's
 * `orders/create`, `orders/updated`, `orders/paid` and `orders/cancelled` (deduplicated on
 * `X-Shopify-Event-Id`, else `X-Shopify-Webhook-Id`); WooCommerce's `order.created` and
 * `order.updated` (a cancellation when it sets the status to cancelled, otherwise a newer
 * version of the order). Other topics are answered 200 and ignored.
 */
export const webhookRoutes: FastifyPluginAsync<WebhookRoutesOptions> = async (app, { answers, env, limited, webhookMaxAgeMs }) => {
  app.post('/webhooks/shopify', limited('shopify'), async (request: RawRequest, reply) => {
    const secret = env.SHOPIFY_WEBHOOK_SECRET;
    if (!secret) return sendError(reply, unconfigured('SHOPIFY_WEBHOOK_SECRET'));
    if (!validBase64Hmac(secret, request.body, header(request, 'x-shopify-hmac-sha256'))) {
      throw new DropshipError('EBAD_SIGNATURE');
    }
    // The signature covers the body only: an old body replayed with a fresh webhook id is
    // caught by the order's own marks; one sent as it was, by its trigger time.
    const stale = staleWebhook(header(request, 'x-shopify-triggered-at'), webhookMaxAgeMs, Date.now());
    if (stale) throw new DropshipError('ESTALE_WEBHOOK', [stale]);
    const topic = header(request, 'x-shopify-topic');
    // Shopify's guidance: the event id is the same on every webhook about one event (a retry,
    // or one per subscription); the webhook id only on retries of one webhook, and it is all
    // that older senders (and replays saved before event ids existed) carry. It is remembered
    // per topic: should one event be told of under two topics (an order created already paid),
    // the first must not hide the second.
    const id = header(request, 'x-shopify-event-id') ?? header(request, 'x-shopify-webhook-id');
    const eventId = id === undefined ? undefined : `${topic ?? 'orders/create'}:${id}`;
    if (topic === 'orders/cancelled') {
      // The topic is not signed: only a body with `cancelled_at` cancels anything.
      return answers.cancel(reply, ingestCancellation(parseJsonBody(request.body), { source: 'shopify', ...(eventId ? { eventId } : {}) }), `${topic} (not a cancellation: the order has no cancelled_at)`);
    }
    if (topic && !SHOPIFY_ORDER_TOPICS.has(topic)) return reply.code(200).send({ ignored: topic });
    return answers.accept(reply, request.body, { kind: 'shopify', ...(eventId ? { eventId } : {}) });
  });

  app.post('/webhooks/woocommerce', limited('woocommerce'), async (request: RawRequest, reply) => {
    // WooCommerce pings a new webhook with a form body `webhook_id=N` before any order.
    if (/^webhook_id=\d+$/.test(request.body.toString('latin1').trim())) return reply.code(200).send({ ping: true });
    const secret = env.WOOCOMMERCE_WEBHOOK_SECRET;
    if (!secret) return sendError(reply, unconfigured('WOOCOMMERCE_WEBHOOK_SECRET'));
    if (!validBase64Hmac(secret, request.body, header(request, 'x-wc-webhook-signature'))) {
      throw new DropshipError('EBAD_SIGNATURE');
    }
    const topic = header(request, 'x-wc-webhook-topic');
    const eventId = header(request, 'x-wc-webhook-delivery-id');
    // An update that sets the status to cancelled cancels the order; any other update is a
    // newer version of it (paid now, or corrected), taken like a new order.
    if (topic === 'order.updated') {
      const cancellation = ingestCancellation(parseJsonBody(request.body), { source: 'woocommerce', ...(eventId ? { eventId } : {}) });
      if (cancellation !== undefined) return answers.cancel(reply, cancellation, topic);
    } else if (topic && topic !== 'order.created') return reply.code(200).send({ ignored: topic });
    return answers.accept(reply, request.body, { kind: 'woocommerce', ...(eventId ? { eventId } : {}) });
  });
};
