import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ORDER_ID, ORDER_ID_RULE } from '../../core/order';
import { DropshipError } from '../../errors';
import type { OrderTimeline } from '../../ops/console-queries';
import { ingestCancellation, parseJsonBody } from '../../sources/ingest';
import { refuseUnlessAllowed, type RouteLimits } from '../access';
import type { OrderAnswers } from './answers';

/** How orders are answered, where `API_TOKEN` is read, and the rate limits. */
export interface OrderRoutesOptions {
  answers: OrderAnswers;
  env: NodeJS.ProcessEnv;
  limited: RouteLimits;
  /** An order's timeline, for `GET /orders/:id`; without it, that route is not served. */
  timeline?: (orderId: string) => Promise<OrderTimeline | undefined>;
}

/**
 * The canonical order API: `POST /orders` and `POST /orders/:id/cancel`, behind `API_TOKEN`
 * as a bearer token or (without one) for loopback callers only.
 */
export const orderRoutes: FastifyPluginAsync<OrderRoutesOptions> = async (app, { answers, env, limited, timeline }) => {
  const refuseCaller = (request: FastifyRequest, reply: FastifyReply) => refuseUnlessAllowed(request, reply, env, 'API_TOKEN', 'accept orders from other hosts');

  app.post('/orders', limited('orders'), async (request: FastifyRequest<{ Body: Buffer }>, reply) => {
    return refuseCaller(request, reply) ?? answers.accept(reply, request.body, { kind: 'canonical' });
  });

  // Where an order is: its stage, each shipment's deliveries with their stages, recipients,
  // reasons in words and tracking numbers. Ids, stages and reasons only: no personal data.
  if (timeline) {
    app.get('/orders/:id', limited('orders'), async (request: FastifyRequest<{ Params: { id: string } }>, reply) => {
      const refused = refuseCaller(request, reply);
      if (refused) return refused;
      const { id } = request.params;
      if (!ORDER_ID.test(id)) throw new DropshipError('EINVALID_ORDER', [`order.id: ${ORDER_ID_RULE}`]);
      const found = await timeline(id);
      if (!found) throw new DropshipError('ENOT_FOUND', [], `No order ${id} is known`);
      return found;
    });
  }

  // Cancels an order: voids its labels not yet used and sends each supplier that already has
  // its purchase order a cancellation. The body is optional: `{ "reason": "customer" }`.
  app.post('/orders/:id/cancel', limited('orders'), async (request: FastifyRequest<{ Body: Buffer | undefined; Params: { id: string } }>, reply) => {
    const refused = refuseCaller(request, reply);
    if (refused) return refused;
    const raw = request.body;
    const body = raw === undefined || raw.length === 0 ? {} : parseJsonBody(raw);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new DropshipError('EINVALID_ORDER', ['cancellation: the body must be a JSON object { "reason"? }']);
    }
    if ('orderId' in body) throw new DropshipError('EINVALID_ORDER', ['orderId: goes in the path, not the body']);
    return answers.cancel(reply, ingestCancellation({ ...body, orderId: request.params.id }, { source: 'canonical' }), 'nothing to cancel');
  });
};
