import type { OrderInput } from '../core/order';

/**
 * One store platform's order payload, mapped to the canonical order input. Adapters copy
 * only the fields the canonical order has; card, browser and marketing data are never
 * copied. Ingestion then redacts card-like numbers and validates (see `sources/ingest.ts`).
 */
export interface OrderSource {
  readonly kind: 'canonical' | 'shopify' | 'woocommerce';
  /** True when `payload` has this source's shape (for `--source` auto-detection). */
  detect(payload: unknown): boolean;
  /**
   * Maps a parsed payload to canonical order input. Throws `DropshipError('EINVALID_ORDER')`
   * listing every problem when the payload cannot be mapped at all.
   */
  toOrderInput(payload: unknown): OrderInput;
  /**
   * The cancellation a payload announces (Shopify `orders/cancelled`, a WooCommerce order
   * whose status became `cancelled`): the order id as `toOrderInput` maps it, and the
   * source's reason when it gives one. Undefined when the payload cancels nothing.
   */
  cancellation?(payload: unknown): { orderId: unknown; reason?: string } | undefined;
}
