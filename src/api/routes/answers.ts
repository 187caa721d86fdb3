import type { FastifyReply } from 'fastify';
import type { CancelEvent, OrderEvent, OrderEventSource } from '../../core/order';
import { DropshipError } from '../../errors';
import type { IntakeResult } from '../../queue/intake';
import { ingestOrder, parseJsonBody } from '../../sources/ingest';
import { sendError } from '../access';

/** How the order and webhook routes answer once a request is let in. */
export interface OrderAnswers {
  /**
   * Parses, scrubs and validates an order body from `source` and queues it: 202 `{ orderId,
   * duplicate }`, with `replaced: true` when it replaced a version accepted before, and
   * `ignored` (why) when it is older than the version accepted before.
   */
  accept(reply: FastifyReply, raw: Buffer, source: OrderEventSource): Promise<FastifyReply>;
  /**
   * Queues a cancellation: 202 `{ orderId, cancelled, duplicate }`; 200 `{ ignored }` when the
   * body cancels nothing; 503 when this process takes no cancellations.
   */
  cancel(reply: FastifyReply, event: CancelEvent | undefined, ignored: string): Promise<FastifyReply>;
}

/** The answers over the pipeline's intake (`OrderIntake.submit` and `cancel`). */
export function orderAnswers(submit: (event: OrderEvent) => Promise<IntakeResult>, cancel: ((event: CancelEvent) => Promise<IntakeResult>) | undefined): OrderAnswers {
  return {
    async accept(reply, raw, source) {
      const payload = parseJsonBody(raw);
      const event = ingestOrder(payload, { source: source.kind, ...(source.eventId ? { eventId: source.eventId } : {}) });
      const result = await submit(event);
      return reply.code(202).send({
        orderId: result.orderId,
        duplicate: result.duplicate,
        ...(result.replaced ? { replaced: true } : {}),
        ...(result.ignored !== undefined ? { ignored: result.ignored } : {}),
      });
    },
    async cancel(reply, event, ignored) {
      if (event === undefined) return reply.code(200).send({ ignored });
      if (!cancel) return sendError(reply, new DropshipError('EUNAVAILABLE', [], 'This process does not accept cancellations'));
      const result = await cancel(event);
      return reply.code(202).send({ orderId: result.orderId, cancelled: true, duplicate: result.duplicate });
    },
  };
}
