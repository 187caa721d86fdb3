import { DEFAULT_FULFIL, type FulfilConfig, type StoreConfig } from '../config/config';
import type { OrderReason, SkipCode, WaitCode } from '../errors';
import type { Order, OrderLine } from './order';
import { compileSkuPatterns } from './sku-pattern';

/**
 * Which orders and lines ship (store.yaml `fulfil`), decided from the order alone. Pure: the
 * order worker and `preview` call it, and both say the same.
 */

/** Whether an order ships now, waits for a later event, or never ships. */
export type Readiness =
  | { status: 'ready' }
  | { status: 'waiting'; reasons: OrderReason<WaitCode>[] }
  | { status: 'skipped'; reasons: OrderReason<SkipCode>[] };

/** The store's `fulfil` block, or its defaults for a configuration built in code. */
export function fulfilOf(store: Pick<StoreConfig, 'fulfil'>): FulfilConfig {
  return store.fulfil ?? DEFAULT_FULFIL;
}

/** Payment states that end an order whatever `fulfil` lists: money went back, or never came. */
const SHOPIFY_ENDED: Readonly<Record<string, string>> = { refunded: 'refunded', voided: 'voided (the payment was never taken)' };
/** Payment states that a later payment moves on. */
const SHOPIFY_UNPAID = new Set(['pending', 'authorized', 'partially_paid', 'unpaid', 'expired']);
/** WooCommerce statuses that wait for the customer's payment. */
const WOO_UNPAID = new Set(['pending', 'on-hold', 'failed', 'checkout-draft']);

const listed = (values: readonly string[]) => (values.length > 0 ? values.join(', ') : 'nothing');

/**
 * Whether the order ships now, from its store state (`order.state`) and `fulfil`:
 * - Shopify: skipped when `cancelled_at` is set, when refunded or voided, and when a test order
 *   (unless `fulfil.testOrders`); ready when `financial_status` is one of
 *   `fulfil.shopify.financialStatuses`; otherwise it waits (not paid yet).
 * - WooCommerce: skipped when cancelled, refunded, or completed and not listed; ready when
 *   `status` is one of `fulfil.woocommerce.statuses`; otherwise it waits.
 * - Canonical: `state.status` ready, waiting, cancelled or refunded; `state.test` as Shopify's.
 * - No state (an order built in code): ready.
 */
export function readiness(order: Order, fulfil: FulfilConfig = DEFAULT_FULFIL): Readiness {
  const state = order.state;
  if (state === undefined) return { status: 'ready' };
  const skipped: OrderReason<SkipCode>[] = [];
  const test = () => skipped.push({ code: 'TEST_ORDER', message: 'the order is a test order and fulfil.testOrders is false' });
  if (state.platform === 'shopify') {
    if (state.cancelled) skipped.push({ code: 'CANCELLED', message: 'the order was cancelled in Shopify (cancelled_at is set)' });
    const status = state.financialStatus;
    const ended = status !== undefined ? SHOPIFY_ENDED[status] : undefined;
    if (ended !== undefined) skipped.push({ code: 'REFUNDED', message: `financial_status is ${ended}` });
    if (state.test && !fulfil.testOrders) test();
    if (skipped.length > 0) return { status: 'skipped', reasons: skipped };
    if (status !== undefined && fulfil.shopify.financialStatuses.includes(status)) return { status: 'ready' };
    const why =
      status === undefined
        ? 'the order has no financial_status'
        : `financial_status "${status}" is not one of fulfil.shopify.financialStatuses (${listed(fulfil.shopify.financialStatuses)})`;
    return { status: 'waiting', reasons: [{ code: status === undefined || SHOPIFY_UNPAID.has(status) ? 'NOT_PAID' : 'WAITING_STATUS', message: why }] };
  }
  if (state.platform === 'woocommerce') {
    const status = state.status;
    if (status === 'cancelled') skipped.push({ code: 'CANCELLED', message: 'the order was cancelled in WooCommerce (status cancelled)' });
    if (status === 'refunded') skipped.push({ code: 'REFUNDED', message: 'the order was refunded in WooCommerce (status refunded)' });
    if (skipped.length > 0) return { status: 'skipped', reasons: skipped };
    if (fulfil.woocommerce.statuses.includes(status)) return { status: 'ready' };
    if (status === 'completed') return { status: 'skipped', reasons: [{ code: 'COMPLETED', message: 'the order is completed in WooCommerce and completed is not one of fulfil.woocommerce.statuses' }] };
    const why = `status "${status}" is not one of fulfil.woocommerce.statuses (${listed(fulfil.woocommerce.statuses)})`;
    return { status: 'waiting', reasons: [{ code: WOO_UNPAID.has(status) ? 'NOT_PAID' : 'WAITING_STATUS', message: why }] };
  }
  if (state.status === 'cancelled') skipped.push({ code: 'CANCELLED', message: 'the order says state.status cancelled' });
  if (state.status === 'refunded') skipped.push({ code: 'REFUNDED', message: 'the order says state.status refunded' });
  if (state.test && !fulfil.testOrders) test();
  if (skipped.length > 0) return { status: 'skipped', reasons: skipped };
  if (state.status === 'waiting') return { status: 'waiting', reasons: [{ code: 'WAITING_STATUS', message: 'the order says state.status waiting' }] };
  return { status: 'ready' };
}

/** Compiled once per configuration's list (configurations are frozen once loaded). */
const skipMatchers = new WeakMap<readonly string[], (sku: string) => boolean>();

/** A line that does not ship, and why. */
export interface LeftOutLine {
  line: OrderLine;
  why: 'needs no shipping' | 'fulfil.skipSkus';
}

/**
 * The lines that ship: those that need shipping (not a gift card, digital product or removed
 * line: `requiresShipping`) and whose SKU no `fulfil.skipSkus` pattern matches. The rest
 * never reach a shipment, a purchase order or a carrier request.
 */
export function shippingLines(order: Order, fulfil: FulfilConfig = DEFAULT_FULFIL): { lines: OrderLine[]; leftOut: LeftOutLine[] } {
  let skip = skipMatchers.get(fulfil.skipSkus);
  if (!skip) {
    skip = compileSkuPatterns(fulfil.skipSkus);
    skipMatchers.set(fulfil.skipSkus, skip);
  }
  const lines: OrderLine[] = [];
  const leftOut: LeftOutLine[] = [];
  for (const line of order.lines) {
    if (!line.requiresShipping) leftOut.push({ line, why: 'needs no shipping' });
    else if (skip(line.sku)) leftOut.push({ line, why: 'fulfil.skipSkus' });
    else lines.push(line);
  }
  return { lines, leftOut };
}

/** What of an order ships: the order cut to its shipping lines, or why it waits or never ships. */
export type WhatShips = { status: 'ready'; order: Order } | Exclude<Readiness, { status: 'ready' }>;

/**
 * What of the order ships: when it is ready ({@link readiness}), the order with only its
 * shipping lines ({@link shippingLines}). An order with no line that ships is skipped as
 * `NOTHING_TO_SHIP` (not held: there is nothing for anyone to fix), even before it is paid.
 */
export function whatShips(order: Order, fulfil: FulfilConfig = DEFAULT_FULFIL): WhatShips {
  const ready = readiness(order, fulfil);
  if (ready.status === 'skipped') return ready;
  const { lines, leftOut } = shippingLines(order, fulfil);
  // Nothing to wait for when nothing would ship once paid (an e-gift card, a download).
  if (lines.length === 0) {
    const counts = new Map<string, number>();
    for (const l of leftOut) counts.set(l.why, (counts.get(l.why) ?? 0) + 1);
    const detail = [...counts].map(([why, n]) => `${n} ${n === 1 ? 'line' : 'lines'}: ${why}`).join('; ');
    return { status: 'skipped', reasons: [{ code: 'NOTHING_TO_SHIP', message: `no line of the order ships (${detail})` }] };
  }
  if (ready.status === 'waiting') return ready;
  return { status: 'ready', order: leftOut.length === 0 ? order : { ...order, lines } };
}
