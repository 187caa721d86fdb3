import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/load';
import { previewOrder, type PreviewResult } from '../../src/planning/preview';

/**
 * A corpus of real-world-shaped orders through `dropship preview` on the example store in
 * `config/`: the vendor-shaped examples in `examples/orders/` and variants of them that real
 * stores send (unpaid, authorised, refunded, cancelled, test orders, gift cards and digital
 * lines, refunded lines, odd SKUs, the Admin API envelope). Each entry reads as a
 * specification: the order in, what the store would ship (or why not) out.
 */

const ROOT = path.resolve(__dirname, '../..');
type Json = Record<string, unknown> & { line_items?: Array<Record<string, unknown>> };
const example = (name: string): Json => JSON.parse(readFileSync(path.join(ROOT, 'examples/orders', name), 'utf8')) as Json;
const SHOPIFY = example('shopify-orders-create.json');
const WOO = example('woocommerce-order-created.json');
const CANONICAL = example('canonical-order.json');

function shopify(patch: (o: Json) => void = () => {}): Json {
  const o = structuredClone(SHOPIFY);
  patch(o);
  return o;
}
function woo(patch: (o: Json) => void = () => {}): Json {
  const o = structuredClone(WOO);
  patch(o);
  return o;
}
/** A Shopify line item in the shape of the webhook's others, with its own id. */
let nextLineId = 990_001;
function shopifyLine(fields: Record<string, unknown>): Record<string, unknown> {
  return { ...structuredClone(SHOPIFY.line_items![0]!), id: nextLineId++, ...fields };
}

/*
 * Lines that must not ship carry SKUs Vermont Creamery claims (VC-*), so that a line shipped
 * by mistake would show in its CSV purchase order: a carrier request names no SKU.
 */
interface Entry {
  name: string;
  payload: unknown;
  status: PreviewResult['status'];
  /** Reason codes, when not planned. */
  reasons?: string[];
  /** Recipients of the deliveries, sorted, when planned. */
  recipients?: string[];
  /** SKUs that must be in some delivery's body, and SKUs that must be in none. */
  ships?: string[];
  shipsNot?: string[];
}

const CORPUS: Entry[] = [
  // The examples as the platforms send them.
  { name: 'Shopify orders/create, paid (example)', payload: shopify(), status: 'planned', recipients: ['ups', 'ups', 'vermont-creamery'], ships: ['VC-CHED-200', 'BUTTER-42'] },
  { name: 'WooCommerce order.created, processing (example)', payload: woo(), status: 'planned', recipients: ['ups'] },
  { name: 'canonical order (example)', payload: CANONICAL, status: 'planned', recipients: ['alpine-chocolatier', 'olive-grove', 'ups', 'ups', 'ups', 'vermont-creamery'] },
  { name: 'Shopify order from GET /orders/{id}.json ({"order": ...})', payload: { order: shopify() }, status: 'planned', recipients: ['ups', 'ups', 'vermont-creamery'] },

  // Shopify payment and order states.
  { name: 'Shopify pending payment (bank transfer, cash on delivery)', payload: shopify((o) => (o.financial_status = 'pending')), status: 'waiting', reasons: ['NOT_PAID'] },
  { name: 'Shopify authorized (captured at fulfilment)', payload: shopify((o) => (o.financial_status = 'authorized')), status: 'planned' },
  { name: 'Shopify partially paid (a deposit)', payload: shopify((o) => (o.financial_status = 'partially_paid')), status: 'waiting', reasons: ['NOT_PAID'] },
  { name: 'Shopify partially refunded', payload: shopify((o) => (o.financial_status = 'partially_refunded')), status: 'planned' },
  { name: 'Shopify refunded', payload: shopify((o) => (o.financial_status = 'refunded')), status: 'skipped', reasons: ['REFUNDED'] },
  { name: 'Shopify voided', payload: shopify((o) => (o.financial_status = 'voided')), status: 'skipped', reasons: ['REFUNDED'] },
  { name: 'Shopify cancelled (cancelled_at set, still "paid")', payload: shopify((o) => Object.assign(o, { cancelled_at: '2024-05-01T11:00:00-04:00', cancel_reason: 'customer' })), status: 'skipped', reasons: ['CANCELLED'] },
  { name: 'Shopify test order (Bogus Gateway)', payload: shopify((o) => (o.test = true)), status: 'skipped', reasons: ['TEST_ORDER'] },

  // Lines that never ship.
  {
    name: 'Shopify gift card beside a cheese',
    payload: shopify((o) => o.line_items!.push(shopifyLine({ sku: 'VC-GIFT-50', name: 'Gift card $50', gift_card: true, requires_shipping: false, quantity: 1, current_quantity: 1 }))),
    status: 'planned',
    ships: ['VC-CHED-200'],
    shipsNot: ['VC-GIFT-50'],
  },
  {
    name: 'Shopify order of gift cards only',
    payload: shopify((o) => (o.line_items = [shopifyLine({ sku: 'VC-GIFT-50', name: 'Gift card $50', gift_card: true, requires_shipping: false, quantity: 2, current_quantity: 2 })])),
    status: 'skipped',
    reasons: ['NOTHING_TO_SHIP'],
  },
  {
    name: 'Shopify digital download (requires_shipping false) beside butter',
    payload: shopify((o) => o.line_items!.push(shopifyLine({ sku: 'VC-EBOOK', name: 'Cheesemaking e-book', requires_shipping: false, quantity: 1, current_quantity: 1 }))),
    status: 'planned',
    ships: ['BUTTER-42'],
    shipsNot: ['VC-EBOOK'],
  },
  {
    name: 'Shopify line refunded after the order (current_quantity 0)',
    payload: shopify((o) => (o.line_items![0]!.current_quantity = 0)),
    status: 'planned',
    ships: ['BUTTER-42'],
    shipsNot: ['VC-CHED-200'],
  },

  // SKUs as merchants write them.
  {
    name: 'SKU with a slash and a dot (VC-12/500.G)',
    payload: shopify((o) => (o.line_items![0]!.sku = 'VC-12/500.G')),
    status: 'planned',
    recipients: ['ups', 'ups', 'vermont-creamery'],
    ships: ['VC-12/500.G'],
  },

  // WooCommerce statuses.
  { name: 'WooCommerce pending payment', payload: woo((o) => (o.status = 'pending')), status: 'waiting', reasons: ['NOT_PAID'] },
  { name: 'WooCommerce on-hold (awaiting a bank transfer)', payload: woo((o) => (o.status = 'on-hold')), status: 'waiting', reasons: ['NOT_PAID'] },
  { name: 'WooCommerce failed payment', payload: woo((o) => (o.status = 'failed')), status: 'waiting', reasons: ['NOT_PAID'] },
  { name: 'WooCommerce completed (fulfilled elsewhere)', payload: woo((o) => (o.status = 'completed')), status: 'skipped', reasons: ['COMPLETED'] },
  { name: 'WooCommerce refunded', payload: woo((o) => (o.status = 'refunded')), status: 'skipped', reasons: ['REFUNDED'] },
  { name: 'WooCommerce cancelled', payload: woo((o) => (o.status = 'cancelled')), status: 'skipped', reasons: ['CANCELLED'] },

  // Held for an operator.
  { name: 'Shopify order with no shipping address (local pickup)', payload: shopify((o) => delete o.shipping_address), status: 'held', reasons: ['NO_SHIP_TO'] },
];

let config: Config;
beforeAll(() => {
  config = loadConfig(path.join(ROOT, 'config'));
});

/** Every SKU-like value a body carries, as text: the bodies are CSV, JSON or carrier JSON. */
const bodies = (r: PreviewResult) => r.deliveries.map((d) => d.body).join('\n');

describe('a corpus of real-world-shaped orders through preview (the example store in config/)', () => {
  it.each(CORPUS.map((e) => [e.name, e] as const))('%s', (_name, entry) => {
    const result = previewOrder(entry.payload, config);
    expect({ status: result.status, reasons: (result.reasons ?? []).map((r) => r.code) }).toEqual({ status: entry.status, reasons: entry.reasons ?? [] });
    if (entry.status !== 'planned') expect(result.deliveries).toEqual([]);
    if (entry.recipients) expect(result.deliveries.map((d) => d.recipient).sort()).toEqual(entry.recipients);
    for (const sku of entry.ships ?? []) expect(bodies(result)).toContain(sku);
    for (const sku of entry.shipsNot ?? []) expect(bodies(result)).not.toContain(sku);
    // A reason names the order's case in words and never quotes the customer.
    for (const r of result.reasons ?? []) expect(r.message).not.toMatch(/Grace|Exämple|Example Lane|555-0177/);
  });

  it('covers every status preview can answer', () => {
    expect(new Set(CORPUS.map((e) => e.status))).toEqual(new Set(['planned', 'waiting', 'held', 'skipped']));
  });
});

describe('dropship preview on the corpus, as a command', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'dropship-corpus-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // One order of each status: the command exits 0 for all four and prints status and reasons.
  const oneOfEach = ['planned', 'waiting', 'held', 'skipped'].map((status) => CORPUS.find((e) => e.status === status)!);
  it.each(oneOfEach.map((e) => [e.status, e] as const))('prints %s and exits 0', (_status, entry) => {
    const file = path.join(dir, `${entry.status}.json`);
    writeFileSync(file, JSON.stringify(entry.payload));
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/dropship.ts', 'preview', file, '--config', 'config'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(0);
    const printed = JSON.parse(run.stdout) as PreviewResult;
    // For a person at a terminal, one line on stderr says what would happen and why.
    expect(run.stderr).toEqual(entry.status === 'planned' ? '' : expect.stringMatching(new RegExp(`^dropship: order \\S+ would .*${entry.reasons![0]}.*\\n$`)));
    expect(printed.status).toBe(entry.status);
    expect((printed.reasons ?? []).map((r) => r.code)).toEqual(entry.reasons ?? []);
  });
});
