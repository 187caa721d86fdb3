import type { OrderEventSource } from '../core/order';
import { canonicalSource } from './canonical';
import { shopifySource } from './shopify';
import type { OrderSource } from './source';
import { woocommerceSource } from './woocommerce';

export type { OrderSource } from './source';
export { canonicalSource } from './canonical';
export { shopifySource } from './shopify';
export { woocommerceSource } from './woocommerce';

/** The name of an order source, as `--source` and `OrderEvent.source.kind` spell it. */
export type OrderSourceKind = OrderEventSource['kind'];

/**
 * Every order source. A new source is one file implementing `OrderSource`, added here.
 * Detection tries them in this order: the platform shapes are recognised by keys the
 * canonical shape never has, so they go first.
 */
export const ORDER_SOURCES: readonly OrderSource[] = Object.freeze([shopifySource, woocommerceSource, canonicalSource]);

/** The kinds of `ORDER_SOURCES`, for option validation and help texts. */
export const ORDER_SOURCE_KINDS: readonly OrderSourceKind[] = Object.freeze(ORDER_SOURCES.map((s) => s.kind));

/**
 * The source named `kind`, or undefined when there is none (the name may come from a
 * command line or a route, so any string is accepted).
 */
export function sourceByKind(kind: string): OrderSource | undefined {
  return ORDER_SOURCES.find((s) => s.kind === kind);
}

/** The first source whose shape `payload` has, or undefined when it has none of them. */
export function detectSource(payload: unknown): OrderSource | undefined {
  return ORDER_SOURCES.find((s) => s.detect(payload));
}
