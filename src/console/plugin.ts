import { Eta } from 'eta';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { KEY_EXPIRY_WARNING_DAYS } from '../config/keys';
import { isSealed, type DataCipher } from '../queue/sealing';
import type { ConsoleQueries, ReasonInWords } from '../ops/console-queries';
import type { ConfirmationLag } from '../ops/operations';
import { readFulfillmentJobId } from '../queue/names';
import { STYLE, TEMPLATES } from './templates';

/** What the console needs: its queries, and how much it may do and show. */
export interface ConsoleOptions {
  queries: ConsoleQueries;
  /** No replay: the console only reads. @defaultValue false */
  readOnly?: boolean;
  /** Show the order's customer and ship-to, opened with `cipher` (`DASHBOARD_UNMASK`). @defaultValue false */
  unmask?: boolean;
  cipher?: DataCipher;
  /** Where the queue board is, for the header's link. */
  boardPath: string;
}

/**
 * The console's Content-Security-Policy: nothing but its own stylesheet. No script runs at
 * all, so an id that slipped past escaping could still do nothing; forms post only here;
 * no page may frame it.
 */
export const CONSOLE_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Longest order or delivery id the console looks up (the API's ids are far shorter). */
const MAX_ID = 200;

const eta = new Eta({ autoEscape: true, autoTrim: [false, 'nl'], cache: true, useWith: false });
for (const [name, template] of Object.entries(TEMPLATES)) eta.loadTemplate(name, template);

/** The customer fields the unmasked console shows, in order. */
const CUSTOMER_FIELDS: Array<[string, (o: UnsealedOrder) => string | undefined]> = [
  ['Customer', (o) => o.customer?.name],
  ['Email', (o) => o.customer?.email],
  ['Phone', (o) => o.customer?.phone ?? o.shipTo?.phone],
  ['Ship to', (o) => (o.shipTo ? [o.shipTo.name, o.shipTo.company, o.shipTo.line1, o.shipTo.line2, o.shipTo.city, o.shipTo.region, o.shipTo.postalCode, o.shipTo.country].filter(Boolean).join(', ') : undefined)],
];

interface UnsealedOrder {
  customer?: { name?: string; email?: string; phone?: string };
  shipTo?: { name?: string; company?: string; line1?: string; line2?: string; city?: string; region?: string; postalCode?: string; country?: string; phone?: string };
}

/**
 * The operator console: orders, not queues. Server-rendered pages (find an order, its
 * timeline, held orders, failed deliveries and fulfillments, suppliers and carriers) and one
 * action, replay, behind a confirmation page. Read-mostly: a supplier's rejected, backordered or
 * overdue purchase order is taken off its lists with `dropship handled`, which the suppliers page
 * names. Registered by the dashboard inside its authenticated, rate-limited and
 * same-origin-checked scope; `prefix` is where it is mounted (`/console`).
 */
export async function consolePlugin(scope: FastifyInstance, options: ConsoleOptions & { prefix: string }): Promise<void> {
  const base = options.prefix;
  const canReplay = !(options.readOnly ?? false);
  const unmasked = Boolean(options.unmask && options.cipher);
  const common = { base, boardPath: options.boardPath, unmasked, canReplay, url: encodeURIComponent };

  // The replay form posts `application/x-www-form-urlencoded`, which the API otherwise takes
  // only from WooCommerce's webhook ping: here it is read as a form, small.
  scope.removeContentTypeParser('application/x-www-form-urlencoded');
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8'))));
  });

  scope.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CONSOLE_CSP);
    // Same-origin (not no-referrer): with no-referrer a browser sends `Origin: null` on the
    // replay form's POST, which the dashboard's same-origin check would refuse.
    reply.header('referrer-policy', 'same-origin');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('cache-control', 'no-store');
  });

  const page = (reply: FastifyReply, template: string, data: Record<string, unknown>, status = 200): FastifyReply =>
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      .send(eta.render(template, { ...common, ...data }));

  const badId = (id: string | undefined): boolean => !id || id.length > MAX_ID;

  // Any other page under the console is not there: 404 in the console's words, also for a form
  // posted to it (the API's own parsers would refuse the form first, 415). Behind the same
  // authentication, rate limit and same-origin check as the rest.
  scope.setNotFoundHandler(async (_request, reply) =>
    page(reply, '@message', { title: 'Not found', heading: 'No such page', message: 'The console has no such page.' }, 404),
  );

  scope.get('/style.css', async (_request, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=300').send(STYLE));

  scope.get<{ Querystring: { order?: string } }>('/', async (request, reply) => {
    const query = (request.query.order ?? '').trim();
    if (query === '') return page(reply, '@search', { title: 'Find an order', query: '', notFound: false });
    if (!badId(query) && (await options.queries.exists(query))) return reply.redirect(`${base}/orders/${encodeURIComponent(query)}`, 303);
    // Then the store's name for an order (what staff and customers quote: "#1001").
    const named = badId(query) ? undefined : await options.queries.orderIdByName(query);
    if (named !== undefined) return reply.redirect(`${base}/orders/${encodeURIComponent(named)}`, 303);
    return page(reply, '@search', { title: 'Find an order', query, notFound: true }, 404);
  });

  scope.get<{ Params: { id: string } }>('/orders/:id', async (request, reply) => {
    const id = request.params.id;
    const timeline = badId(id) ? undefined : await options.queries.timeline(id);
    if (!timeline) return page(reply, '@search', { title: 'Find an order', query: id, notFound: true }, 404);
    const customer = unmasked ? await customerOf(options, id) : undefined;
    return page(reply, '@order', { title: `Order ${id}`, t: timeline, customer });
  });

  scope.get<{ Querystring: { page?: string } }>('/held', async (request, reply) => {
    const n = Number.parseInt(request.query.page ?? '1', 10);
    const held = await options.queries.held(Number.isFinite(n) && n > 0 ? n : 1);
    return page(reply, '@held', { title: 'Held and failed', h: held });
  });

  scope.get('/suppliers', async (_request, reply) => {
    const [recipients, labels] = await Promise.all([options.queries.recipients(), options.queries.unconfirmedLabels()]);
    return page(reply, '@suppliers', { title: 'Suppliers and carriers', recipients, labels, warnDays: KEY_EXPIRY_WARNING_DAYS, handledCommand });
  });

  const refuseReplay = (reply: FastifyReply) =>
    page(reply, '@message', { title: 'Replay is off', heading: 'Replay is off', message: 'This console is read-only (DASHBOARD_READ_ONLY): replay with `dropship replay` instead.' }, 403);
  const nothingNamed = (reply: FastifyReply) =>
    page(reply, '@message', { title: 'Nothing to replay', heading: 'Nothing to replay', message: 'Name one order, one delivery or one fulfillment to replay.' }, 400);

  scope.get<{ Querystring: { order?: string; delivery?: string; fulfillment?: string } }>('/replay', async (request, reply) => {
    if (!canReplay) return refuseReplay(reply);
    const target = targetOf(request.query);
    if (!target) return nothingNamed(reply);
    const timeline = await options.queries.timeline(target.orderId);
    const delivery = 'delivery' in target ? timeline?.shipments.flatMap((s) => s.deliveries).find((d) => d.deliveryId === target.delivery) : undefined;
    const fulfillment = 'fulfillment' in target ? timeline?.shipments.flatMap((s) => s.events).find((e) => e.fulfillmentId === target.fulfillment) : undefined;
    const replayable = 'order' in target ? timeline?.replayable : 'delivery' in target ? delivery?.replayable : fulfillment?.replayable;
    const back = `${base}/orders/${encodeURIComponent(target.orderId)}`;
    if (!timeline || !replayable) {
      return page(reply, '@message', { title: 'Nothing to replay', heading: 'Nothing to replay', message: `${whatOf(target)} is not held or failed: there is nothing to replay.` }, 409);
    }
    const reasons: ReasonInWords[] = 'order' in target ? timeline.reasons : 'delivery' in target ? (delivery?.reason ? [delivery.reason] : []) : fulfillment?.failure ? [fulfillment.failure] : [];
    const kind = kindOf(target);
    return page(reply, '@confirm', {
      title: 'Replay',
      what: kind,
      field: kind,
      id: idOf(target),
      reasons,
      back,
      explain: {
        order: 'The order is planned again by the workers, with the configuration they run now: fix the cause above and restart the workers first, or it is held again for the same reason.',
        delivery: 'The delivery is sent again, to the same recipient, with the payload already built: fix the cause above first (credentials, host key, the receiver itself), or it fails again.',
        fulfillment: 'The store is asked again to fulfil the lines that shipped, with the same carrier and tracking: fix the cause above in the store first (a line fulfilled by hand, a closed order, the access token), or it fails again. Lines the store already has fulfilled are not fulfilled twice.',
      }[kind],
    });
  });

  scope.post<{ Body: Record<string, string> | undefined }>('/replay', async (request, reply) => {
    if (!canReplay) return refuseReplay(reply);
    const target = targetOf(request.body ?? {});
    if (!target) return nothingNamed(reply);
    const back = `${base}/orders/${encodeURIComponent(target.orderId)}`;
    let retried: string[];
    try {
      retried = await options.queries.replay('order' in target ? { order: target.order } : 'delivery' in target ? { delivery: target.delivery } : { fulfillment: target.fulfillment });
    } catch (err) {
      // Replay's own refusals (nothing kept under that id) are sentences for the operator.
      const message = err instanceof Error ? err.message : String(err);
      return page(reply, '@result', { title: 'Replay', heading: 'Not replayed', ok: false, message, back, orderId: target.orderId }, 409);
    }
    const what = whatOf(target);
    const next = { order: ' to be planned', delivery: ' to be sent', fulfillment: ': the store is told again' }[kindOf(target)];
    const message = retried.length > 0 ? `${what} is queued again${next}. Its page shows where it goes next.` : `${what} was not failed any more: nothing was replayed.`;
    return page(reply, '@result', { title: 'Replay', heading: retried.length > 0 ? 'Replayed' : 'Nothing replayed', ok: retried.length > 0, message, back, orderId: target.orderId });
  });
}

/**
 * What an operator runs once a supplier's overdue, rejected or backordered purchase orders are
 * dealt with (the console only replays: `dropship handled` takes them off the lists). Names the
 * order when the supplier has just one listed, else ORDER_ID; nothing when it has none.
 */
function handledCommand(c: ConfirmationLag): string | undefined {
  const listed = new Set([...c.overdueOrders, ...c.rejected, ...c.backordered]);
  if (listed.size === 0) return undefined;
  const more = c.overdue > c.overdueOrders.length || c.rejectedTotal > c.rejected.length || c.backorderedTotal > c.backordered.length;
  const order = listed.size === 1 && !more ? [...listed][0] : 'ORDER_ID';
  return `dropship handled ${order} --supplier ${c.supplierId}`;
}

type Target = ({ order: string } | { delivery: string } | { fulfillment: string }) & { orderId: string };

const kindOf = (t: Target): 'order' | 'delivery' | 'fulfillment' => ('order' in t ? 'order' : 'delivery' in t ? 'delivery' : 'fulfillment');
const idOf = (t: Target): string => ('order' in t ? t.order : 'delivery' in t ? t.delivery : t.fulfillment);
const whatOf = (t: Target): string => `${{ order: 'Order', delivery: 'Delivery', fulfillment: 'Fulfillment' }[kindOf(t)]} ${idOf(t)}`;

/**
 * The one order, delivery or fulfillment a replay names; a delivery's order is the part of its
 * id before the shipment, a fulfillment's the part between `fulfil+` and the shipment's origin.
 */
function targetOf(input: { order?: string; delivery?: string; fulfillment?: string }): Target | undefined {
  const order = typeof input.order === 'string' ? input.order.trim() : '';
  const delivery = typeof input.delivery === 'string' ? input.delivery.trim() : '';
  const fulfillment = typeof input.fulfillment === 'string' ? input.fulfillment.trim() : '';
  if ([order, delivery, fulfillment].filter(Boolean).length !== 1) return undefined;
  if (order && order.length <= MAX_ID) return { order, orderId: order };
  if (delivery && delivery.length <= MAX_ID) return { delivery, orderId: orderIdOfDelivery(delivery) };
  const orderId = fulfillment.length <= MAX_ID ? readFulfillmentJobId(fulfillment)?.orderId : undefined;
  if (orderId) return { fulfillment, orderId };
  return undefined;
}

/** `<orderId>+<origin>+po` → `<orderId>` (a shipment id is the order id and its origin). */
function orderIdOfDelivery(deliveryId: string): string {
  const parts = deliveryId.split('+');
  return parts.length > 2 ? parts.slice(0, -2).join('+') : deliveryId;
}

/** The customer and ship-to of an order job, opened (unmasked console only). */
async function customerOf(options: ConsoleOptions, orderId: string): Promise<Array<[string, string]> | undefined> {
  const data = await options.queries.orderJobData(orderId);
  if (!options.cipher || !isSealed(data)) return undefined;
  try {
    const opened = options.cipher.open<{ order?: UnsealedOrder }>(data.sealed, 'order');
    const order = opened.order;
    if (!order) return undefined;
    return CUSTOMER_FIELDS.flatMap(([label, read]) => {
      const v = read(order);
      return v ? [[label, v] as [string, string]] : [];
    });
  } catch {
    return [['Customer', 'the sealed order cannot be opened with this key']];
  }
}

