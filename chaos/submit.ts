import type { OrderInput } from '../src/core/order';
import type { OrderProducer } from '../src/app/producer';
import { forEachLimited, sleep } from './common';

/** What a paced submission did. */
export interface Submission {
  accepted: number;
  duplicates: number;
  /** Submissions that threw (each retried until `retryForMs` ran out), by message. */
  errors: Record<string, number>;
  /** When each order was accepted (ms since epoch). */
  acceptedAt: Map<string, number>;
}

/**
 * Submits `orders` through the in-process producer at `perSecond`, `concurrency` at a time;
 * an order whose submission throws is tried again (as a store's webhook would be) for up to
 * `retryForMs`.
 */
export async function submitPaced(
  producer: OrderProducer,
  orders: readonly OrderInput[],
  options: { perSecond: number; concurrency?: number; retryForMs?: number; shouldStop?: () => boolean },
): Promise<Submission> {
  const out: Submission = { accepted: 0, duplicates: 0, errors: {}, acceptedAt: new Map() };
  const t0 = Date.now();
  await forEachLimited(orders, options.concurrency ?? 8, async (order, i) => {
    const due = t0 + (i * 1000) / options.perSecond;
    if (due > Date.now()) await sleep(due - Date.now());
    if (options.shouldStop?.()) return;
    const giveUp = Date.now() + (options.retryForMs ?? 60_000);
    for (;;) {
      try {
        const result = await producer.submit(order, { source: 'canonical' });
        if (result.duplicate) out.duplicates += 1;
        else out.accepted += 1;
        out.acceptedAt.set(result.orderId, Date.now());
        return;
      } catch (error) {
        const message = error instanceof Error ? error.message.slice(0, 120) : String(error);
        out.errors[message] = (out.errors[message] ?? 0) + 1;
        if (Date.now() > giveUp) return;
        await sleep(500);
      }
    }
  });
  return out;
}
