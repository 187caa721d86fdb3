import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config, FulfilConfig } from '../../src/config/config';
import { DEFAULT_FULFIL } from '../../src/config/config';
import { StoreFileSchema } from '../../src/config/schema';
import { planOrder } from '../../src/planning/plan';
import { previewOrder } from '../../src/planning/preview';
import { ingestOrder } from '../../src/sources/ingest';
import { fixtureConfig, orderPayload } from '../support/orders';

/**
 * Which orders and lines ship (store.yaml `fulfil`, issue #13): real-shaped store payloads in,
 * the plan's status and reasons (or the exact lines that go out) out.
 */

type Json = Record<string, unknown>;
const fixture = (name: string): Json => JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'sources', name), 'utf8')) as Json;

const paid = fixture('shopify-order-create.json');
const woo = fixture('woocommerce-order-created.json');

function withFulfil(fulfil: Partial<FulfilConfig>): Config {
  const config = fixtureConfig();
  return { ...config, store: { ...config.store, fulfil: { ...DEFAULT_FULFIL, ...fulfil } } };
}

/** The plan's status and reasons (code and message) for a payload. */
function decide(payload: unknown, config: Config = fixtureConfig()) {
  const plan = planOrder(ingestOrder(payload).order, config);
  return plan.status === 'planned' ? { status: plan.status } : { status: plan.status, reasons: plan.reasons };
}

const notListed = (status: string) => `financial_status "${status}" is not one of fulfil.shopify.financialStatuses (paid, partially_refunded, authorized)`;

describe('Shopify orders: financial_status, cancelled_at and test against the fulfil defaults', () => {
  it.each<[string, Json, ReturnType<typeof decide>]>([
    ['paid ships', paid, { status: 'planned' }],
    ['authorized ships (payment captured at fulfilment)', { ...paid, financial_status: 'authorized' }, { status: 'planned' }],
    ['partially_refunded ships what is left', fixture('shopify-order-partially-refunded.json'), { status: 'planned' }],
    ['pending (cash on delivery, bank transfer) waits', fixture('shopify-order-pending.json'), { status: 'waiting', reasons: [{ code: 'NOT_PAID', message: notListed('pending') }] }],
    ['partially_paid waits', { ...paid, financial_status: 'partially_paid' }, { status: 'waiting', reasons: [{ code: 'NOT_PAID', message: notListed('partially_paid') }] }],
    ['expired (authorization lapsed) waits', { ...paid, financial_status: 'expired' }, { status: 'waiting', reasons: [{ code: 'NOT_PAID', message: notListed('expired') }] }],
    ['no financial_status waits', { ...paid, financial_status: null }, { status: 'waiting', reasons: [{ code: 'NOT_PAID', message: 'the order has no financial_status' }] }],
    ['refunded is skipped', { ...paid, financial_status: 'refunded' }, { status: 'skipped', reasons: [{ code: 'REFUNDED', message: 'financial_status is refunded' }] }],
    ['voided is skipped', { ...paid, financial_status: 'voided' }, { status: 'skipped', reasons: [{ code: 'REFUNDED', message: 'financial_status is voided (the payment was never taken)' }] }],
    [
      'cancelled (and voided) is skipped with both reasons',
      fixture('shopify-order-cancelled.json'),
      {
        status: 'skipped',
        reasons: [
          { code: 'CANCELLED', message: 'the order was cancelled in Shopify (cancelled_at is set)' },
          { code: 'REFUNDED', message: 'financial_status is voided (the payment was never taken)' },
        ],
      },
    ],
    ['cancelled while paid is skipped', { ...paid, cancelled_at: '2024-05-01T11:00:00-04:00', cancel_reason: 'customer' }, { status: 'skipped', reasons: [{ code: 'CANCELLED', message: 'the order was cancelled in Shopify (cancelled_at is set)' }] }],
    ['a test order is skipped', { ...paid, test: true }, { status: 'skipped', reasons: [{ code: 'TEST_ORDER', message: 'the order is a test order and fulfil.testOrders is false' }] }],
  ])('%s', (_, payload, expected) => {
    expect(decide(payload)).toEqual(expected);
  });

  it('follows the store’s own lists: authorized waits when only paid is listed, test orders ship with testOrders', () => {
    const strict = withFulfil({ shopify: { financialStatuses: ['paid'] } });
    expect(decide({ ...paid, financial_status: 'authorized' }, strict)).toEqual({
      status: 'waiting',
      reasons: [{ code: 'NOT_PAID', message: 'financial_status "authorized" is not one of fulfil.shopify.financialStatuses (paid)' }],
    });
    expect(decide({ ...paid, test: true }, withFulfil({ testOrders: true }))).toEqual({ status: 'planned' });
    // Refunded and voided never ship, even when listed.
    expect(decide({ ...paid, financial_status: 'refunded' }, withFulfil({ shopify: { financialStatuses: ['paid', 'refunded'] } })).status).toBe('skipped');
  });
});

describe('WooCommerce orders: status against fulfil.woocommerce.statuses', () => {
  const notListed = (status: string) => `status "${status}" is not one of fulfil.woocommerce.statuses (processing)`;
  it.each<[string, Json, ReturnType<typeof decide>]>([
    ['processing ships', woo, { status: 'planned' }],
    ['on-hold (awaiting a bank transfer) waits', fixture('woocommerce-order-on-hold.json'), { status: 'waiting', reasons: [{ code: 'NOT_PAID', message: notListed('on-hold') }] }],
    ['pending waits', { ...woo, status: 'pending' }, { status: 'waiting', reasons: [{ code: 'NOT_PAID', message: notListed('pending') }] }],
    ['failed (payment failed) waits', { ...woo, status: 'failed' }, { status: 'waiting', reasons: [{ code: 'NOT_PAID', message: notListed('failed') }] }],
    ['a plugin’s own status waits', { ...woo, status: 'awaiting-pickup' }, { status: 'waiting', reasons: [{ code: 'WAITING_STATUS', message: notListed('awaiting-pickup') }] }],
    ['cancelled is skipped', { ...woo, status: 'cancelled' }, { status: 'skipped', reasons: [{ code: 'CANCELLED', message: 'the order was cancelled in WooCommerce (status cancelled)' }] }],
    ['refunded is skipped', { ...woo, status: 'refunded' }, { status: 'skipped', reasons: [{ code: 'REFUNDED', message: 'the order was refunded in WooCommerce (status refunded)' }] }],
    ['completed is skipped', { ...woo, status: 'completed' }, { status: 'skipped', reasons: [{ code: 'COMPLETED', message: 'the order is completed in WooCommerce and completed is not one of fulfil.woocommerce.statuses' }] }],
  ])('%s', (_, payload, expected) => {
    expect(decide(payload)).toEqual(expected);
  });

  it('ships the statuses the store lists', () => {
    expect(decide({ ...woo, status: 'on-hold' }, withFulfil({ woocommerce: { statuses: ['processing', 'on-hold'] } }))).toEqual({ status: 'planned' });
  });
});

describe('canonical orders: state.status, ready unless said otherwise', () => {
  it.each<[string, Json, ReturnType<typeof decide>]>([
    ['no state ships', {}, { status: 'planned' }],
    ['ready ships', { state: { status: 'ready' } }, { status: 'planned' }],
    ['waiting waits', { state: { status: 'waiting' } }, { status: 'waiting', reasons: [{ code: 'WAITING_STATUS', message: 'the order says state.status waiting' }] }],
    ['cancelled is skipped', { state: { status: 'cancelled' } }, { status: 'skipped', reasons: [{ code: 'CANCELLED', message: 'the order says state.status cancelled' }] }],
    ['refunded is skipped', { state: { status: 'refunded' } }, { status: 'skipped', reasons: [{ code: 'REFUNDED', message: 'the order says state.status refunded' }] }],
    ['a test order is skipped', { state: { test: true } }, { status: 'skipped', reasons: [{ code: 'TEST_ORDER', message: 'the order is a test order and fulfil.testOrders is false' }] }],
  ])('%s', (_, extra, expected) => {
    expect(decide({ ...orderPayload({ id: 'c-1' }), ...extra })).toEqual(expected);
  });

  it('refuses a state it cannot read, naming it', () => {
    expect(() => ingestOrder({ ...orderPayload(), state: { status: 'shipped' } })).toThrow(/state\.status: must be one of ready, waiting, cancelled, refunded/);
  });
});

describe('lines: only what needs shipping and has quantity left ever reaches a payload', () => {
  it('a partially refunded Shopify order sends its cheddar only: not the refunded butter, the e-gift card or the PDF', () => {
    const plan = planOrder(ingestOrder(fixture('shopify-order-partially-refunded.json')).order, fixtureConfig());
    if (plan.status !== 'planned') throw new Error(`expected planned, got ${plan.status}`);
    expect(plan.shipments.map((s) => [s.id, s.lines.map((l) => `${l.sku} x${l.quantity}`)])).toEqual([['1005+creamery', ['VC-CHED-200 x2']]]);
    expect(plan.deliveries.map((d) => d.deliveryId).sort()).toEqual(['1005+creamery+carrier', '1005+creamery+po']);
    const po = plan.deliveries.find((d) => d.kind === 'dropship')!;
    expect(po.body.split('\r\n').filter((l) => l !== '').slice(1).map((row) => row.split(',').slice(-5, -2))).toEqual([['VC-CHED-200', 'Salt & Pepper Cheddar - 200 g', '2']]);
    for (const d of plan.deliveries) {
      for (const absent of ['BUTTER-42', 'GIFT-25', 'EBOOK-PAIRING', 'Gift Card', 'Pairing Guide']) expect(d.body).not.toContain(absent);
    }
  });

  it('skipSkus lines never ship, matched like suppliers’ skus (SKUs are opaque strings)', () => {
    const config = withFulfil({ skipSkus: ['SVC-*', 'GIFT/25 USD'] });
    const payload = orderPayload({
      id: 'c-2',
      lines: [
        ...orderPayload().lines,
        { id: 'l5', sku: 'SVC-ENGRAVE', name: 'Engraving service', quantity: 1, unitPrice: '5.00' },
        { id: 'l6', sku: 'GIFT/25 USD', name: 'E-gift card', quantity: 1, unitPrice: '25.00' },
      ],
    });
    const plan = planOrder(ingestOrder(payload).order, config);
    if (plan.status !== 'planned') throw new Error(`expected planned, got ${plan.status}`);
    expect(plan.shipments.flatMap((s) => s.lines.map((l) => l.id)).sort()).toEqual(['l1', 'l2', 'l3', 'l4']);
    for (const d of plan.deliveries) expect(d.body).not.toMatch(/SVC-ENGRAVE|GIFT\/25|Engraving service/);
  });

  it('a line a canonical order marks requiresShipping: false never ships', () => {
    const payload = orderPayload({ id: 'c-3', lines: [...orderPayload().lines, { id: 'l5', sku: 'LARDER-CLASS', name: 'Tasting class', quantity: 1, unitPrice: '40.00', requiresShipping: false }] });
    const plan = planOrder(ingestOrder(payload).order, fixtureConfig());
    if (plan.status !== 'planned') throw new Error(`expected planned, got ${plan.status}`);
    expect(plan.shipments.flatMap((s) => s.lines.map((l) => l.id)).sort()).toEqual(['l1', 'l2', 'l3', 'l4']);
  });

  it.each<[string, unknown, string]>([
    ['a digital-only Shopify order (requires_shipping false), unpaid or not', fixture('shopify-order-digital.json'), 'no line of the order ships (1 line: needs no shipping)'],
    ['a Shopify order whose every line was removed (current_quantity 0)', { ...paid, line_items: (paid.line_items as Json[]).map((l) => ({ ...l, current_quantity: 0 })) }, 'no line of the order ships (4 lines: needs no shipping)'],
    ['an order of skipSkus lines only', orderPayload({ id: 'c-4', lines: [{ id: 'l1', sku: 'SVC-1', name: 'Service', quantity: 1, unitPrice: '5' }] }), 'no line of the order ships (1 line: fulfil.skipSkus)'],
  ])('%s is skipped as NOTHING_TO_SHIP, not held', (_, payload, message) => {
    expect(decide(payload, withFulfil({ skipSkus: ['SVC-*'] }))).toEqual({ status: 'skipped', reasons: [{ code: 'NOTHING_TO_SHIP', message }] });
  });
});

describe('property: a line that does not ship is in no payload', () => {
  it('for any mix of shipping, non-shipping and skipSkus lines, only the shipping lines reach shipments and bodies', () => {
    const base = orderPayload().lines;
    fc.assert(
      fc.property(fc.array(fc.constantFrom('ships', 'no-shipping', 'skip-sku'), { minLength: base.length, maxLength: base.length }), (kinds) => {
        const lines = base.map((l, i) => ({
          ...l,
          // Each line gets a marker SKU and name, so a body can be searched for it.
          sku: kinds[i] === 'skip-sku' ? `SVC-${i}` : l.sku,
          name: `${l.name} #${i}`,
          ...(kinds[i] === 'no-shipping' ? { requiresShipping: false } : {}),
        }));
        const plan = planOrder(ingestOrder(orderPayload({ id: 'p-1', lines })).order, withFulfil({ skipSkus: ['SVC-*'] }));
        const shipping = lines.filter((_, i) => kinds[i] === 'ships');
        if (shipping.length === 0) return plan.status === 'skipped' && plan.reasons[0]?.code === 'NOTHING_TO_SHIP';
        if (plan.status !== 'planned') return false;
        const shipped = plan.shipments.flatMap((sh) => sh.lines.map((l) => l.id)).sort();
        const bodies = plan.deliveries.map((d) => d.body).join('\n');
        return (
          JSON.stringify(shipped) === JSON.stringify(shipping.map((l) => l.id).sort()) &&
          lines.every((l, i) => kinds[i] === 'ships' || (!bodies.includes(l.name) && !(l.sku?.startsWith('SVC-') === true && bodies.includes(l.sku))))
        );
      }),
      { numRuns: 60 },
    );
  });
});

describe('preview: status and reasons beside deliveries', () => {
  it('planned: deliveries, no reasons', () => {
    const result = previewOrder(paid, fixtureConfig());
    expect(result.status).toBe('planned');
    expect(result.reasons).toBeUndefined();
    expect(result.deliveries.length).toBeGreaterThan(0);
  });

  it.each<[string, unknown, unknown]>([
    ['waiting', fixture('shopify-order-pending.json'), { orderId: '1003', status: 'waiting', reasons: [{ code: 'NOT_PAID', message: notListed('pending') }], deliveries: [] }],
    ['skipped', fixture('shopify-order-cancelled.json'), { orderId: '1004', status: 'skipped', reasons: [{ code: 'CANCELLED', message: 'the order was cancelled in Shopify (cancelled_at is set)' }, { code: 'REFUNDED', message: 'financial_status is voided (the payment was never taken)' }], deliveries: [] }],
    [
      'held (with the old `held` key kept)',
      { ...orderPayload({ id: 'c-5' }), shipTo: undefined },
      { orderId: 'c-5', status: 'held', reasons: [{ code: 'NO_SHIP_TO', message: 'the order has no shipping address' }], held: [{ code: 'NO_SHIP_TO', message: 'the order has no shipping address' }], deliveries: [] },
    ],
  ])('%s', (_, payload, expected) => {
    expect(previewOrder(payload, fixtureConfig())).toEqual(expected);
  });
});

describe('store.yaml fulfil', () => {
  const store = { store: { name: 'S' }, shipping: { methods: { standard: { carrier: 'ups', service: '03' } } } };
  it('defaults to what the contract says', () => {
    expect(StoreFileSchema.parse(store).fulfil).toEqual({
      shopify: { financialStatuses: ['paid', 'partially_refunded', 'authorized'] },
      woocommerce: { statuses: ['processing'] },
      testOrders: false,
      skipSkus: [],
    });
    expect(fixtureConfig().store.fulfil).toEqual(DEFAULT_FULFIL);
  });

  it('names every problem in it', () => {
    const parsed = StoreFileSchema.safeParse({ ...store, fulfil: { shopify: { financialStatuses: ['Paid!'] }, testOrders: 'yes', skipSkus: [''], ship: true } });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).sort()).toEqual([
      'fulfil.shopify.financialStatuses.0: must be a status as the store spells it, such as "paid" or "on-hold"',
      'fulfil.skipSkus.0: a SKU pattern must not be empty',
      'fulfil.testOrders: Invalid input: expected boolean, received string',
      `fulfil: Unrecognized key: "ship"`,
    ]);
  });
});
