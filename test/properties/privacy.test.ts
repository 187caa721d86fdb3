import fc from 'fast-check';
import type { Config } from '../../src/config/config';
import { CONTACT_FIELDS, type FieldPath } from '../../src/core/field-paths';
import type { Order } from '../../src/core/order';
import { planOrder, type OrderPlan, type PlannedDelivery } from '../../src/planning/plan';
import type { Shipment } from '../../src/core/shipment';
import { ingestOrder } from '../../src/sources/ingest';
import { CARRIER_FIELDS } from '../carriers/fixtures';
import { cardLikeNumbers, containsAnyOf } from '../support/card-scan';
import {
  scenarioArb,
  type LineCase,
  type LineMarkerPath,
  type MethodSpec,
  type OrderOptions,
  type Scenario,
  type SupplierSpec,
} from './arbitraries';
import { ConfigPool } from './config-pool';

/**
 * Property-based checks of the privacy promises (docs/privacy.md) over
 * random orders and random supplier configurations loaded through `loadConfig`.
 *
 * Every run is reproducible: on failure fast-check prints the seed and the path of the
 * shrunk counterexample; pass them back as `{ seed, path, endOnFailure: true }`.
 */

/** Runs per property; `PROPERTY_RUNS=5000 npx jest test/properties` for a longer search. */
const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 250);
const params = { numRuns: NUM_RUNS };

const pool = new ConfigPool();
afterAll(() => pool.dispose());

interface Outcome {
  config: Config;
  order: Order;
  plan: OrderPlan;
}

function run(s: Scenario): Outcome {
  const config = pool.load(s.config);
  const { order } = ingestOrder(s.order.payload, { source: 'canonical' });
  return { config, order, plan: planOrder(order, config) };
}

function fail(message: string): never {
  throw new Error(message);
}

function deliveries(plan: OrderPlan): PlannedDelivery[] {
  return plan.status === 'planned' ? plan.deliveries : [];
}

function where(d: PlannedDelivery): string {
  return `${d.kind} delivery ${d.deliveryId} to ${d.recipient} (${d.format})`;
}

function expectAbsent(d: PlannedDelivery, what: string, value: string): void {
  if (d.body.includes(value)) fail(`${where(d)} carries ${what} (${JSON.stringify(value)}):\n${d.body}`);
}

function expectPresent(d: PlannedDelivery, what: string, value: string): void {
  if (!d.body.includes(value)) fail(`${where(d)} lacks allowed ${what} (${JSON.stringify(value)}):\n${d.body}`);
}

function sameFields(d: PlannedDelivery, actual: readonly string[], expected: readonly string[], what: string): void {
  const a = [...new Set(actual)].sort();
  const e = [...new Set(expected)].sort();
  if (JSON.stringify(a) !== JSON.stringify(e)) {
    fail(`${where(d)}: ${what} is ${JSON.stringify(a)}, expected ${JSON.stringify(e)}`);
  }
}

// ---------------------------------------------------------------------------------------
// The oracle: what the test expects, from the scenario alone

type HoldCode = 'NO_SHIP_TO' | 'UNCLAIMED_LINE' | 'AMBIGUOUS_LINE' | 'UNKNOWN_SHIPPING_METHOD';

/** The order's shipping method per store.yaml (names are trimmed); only the map's own entries count. */
function resolvedMethod(s: Scenario): MethodSpec | undefined {
  const { methods, defaultMethod } = s.config.store;
  const name = (s.order.shippingMethod ?? 'default').trim();
  if (Object.hasOwn(methods, name)) return methods[name];
  return defaultMethod === undefined ? undefined : methods[defaultMethod];
}

function expectedHolds(s: Scenario): HoldCode[] {
  const codes = new Set<HoldCode>();
  if (!s.order.hasShipTo) codes.add('NO_SHIP_TO');
  if (resolvedMethod(s) === undefined) codes.add('UNKNOWN_SHIPPING_METHOD');
  if (s.config.store.warehouseId === undefined && s.order.lines.some((l) => l.owner === undefined)) codes.add('UNCLAIMED_LINE');
  return [...codes].sort();
}

function supplierSpec(s: Scenario, id: string): SupplierSpec {
  return s.config.suppliers.find((x) => x.id === id) ?? fail(`delivery to "${id}", which is no configured supplier`);
}

/** The allow-list as it applies to this order: contact data goes for restricted customers. */
function allowedFor(s: Scenario, supplier: SupplierSpec): Set<FieldPath> {
  const allowed = new Set<FieldPath>(supplier.fields);
  if (s.order.contactRestricted) for (const f of CONTACT_FIELDS) allowed.delete(f);
  return allowed;
}

function shipmentOf(plan: OrderPlan, d: PlannedDelivery): Shipment {
  if (plan.status !== 'planned') fail('deliveries of a held order');
  return plan.shipments.find((x) => x.id === d.shipmentId) ?? fail(`${where(d)} names no shipment of the plan`);
}

function linesOf(s: Scenario, shipment: Shipment): { own: LineCase[]; others: LineCase[] } {
  const ids = new Set(shipment.lines.map((l) => l.id));
  return { own: s.order.lines.filter((l) => ids.has(l.id)), others: s.order.lines.filter((l) => !ids.has(l.id)) };
}

/** Allowed paths whose values the order has, for a PO of `own` lines. */
function expectedPoFields(s: Scenario, allowed: Set<FieldPath>, own: LineCase[]): FieldPath[] {
  const present = new Set<FieldPath>(s.order.present);
  for (const p of ['shipment.id', 'shipment.carrier', 'shipment.service'] as const) present.add(p);
  for (const p of ['lines.name', 'lines.quantity', 'lines.unitPrice'] as const) present.add(p);
  if (own.some((l) => l.hasSku)) present.add('lines.sku');
  if (own.some((l) => l.hasWeight)) present.add('lines.weight');
  if (own.some((l) => l.hasProperties)) present.add('lines.properties');
  return [...present].filter((p) => allowed.has(p));
}

function lineMarkers(line: LineCase): [LineMarkerPath, string[]][] {
  return Object.entries(line.markers) as [LineMarkerPath, string[]][];
}

// ---------------------------------------------------------------------------------------
// Reading purchase orders back

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const PO_TOP_LEVEL = ['$schema', 'customer', 'lines', 'order', 'shipTo', 'shipment', 'supplierId'];

/** Canonical paths of the keys a JSON purchase order holds. */
function jsonPoPaths(d: PlannedDelivery, lineCount: number): string[] {
  const doc: unknown = JSON.parse(d.body);
  if (!isObject(doc)) fail(`${where(d)} is not a JSON object`);
  sameFields(d, Object.keys(doc), PO_TOP_LEVEL, 'the top-level keys');
  const paths: string[] = [];
  for (const section of ['order', 'customer', 'shipTo', 'shipment']) {
    const value = doc[section];
    if (!isObject(value)) fail(`${where(d)}: ${section} is not an object`);
    for (const key of Object.keys(value)) paths.push(`${section}.${key}`);
  }
  const lines = doc.lines;
  if (!Array.isArray(lines) || lines.length !== lineCount) fail(`${where(d)}: expected ${lineCount} lines`);
  for (const line of lines) {
    if (!isObject(line)) fail(`${where(d)}: a line is not an object`);
    for (const key of Object.keys(line)) paths.push(`lines.${key}`);
  }
  return paths;
}

/** The canonical path of every CSV column (the test's own table, independent of csv.ts). */
const CSV_COLUMNS: Record<string, FieldPath> = {
  order_id: 'order.id',
  placed_at: 'order.placedAt',
  currency: 'order.currency',
  customer_name: 'customer.name',
  customer_email: 'customer.email',
  customer_phone: 'customer.phone',
  ship_to_name: 'shipTo.name',
  ship_to_company: 'shipTo.company',
  ship_to_line1: 'shipTo.line1',
  ship_to_line2: 'shipTo.line2',
  ship_to_city: 'shipTo.city',
  ship_to_region: 'shipTo.region',
  ship_to_postal_code: 'shipTo.postalCode',
  ship_to_country: 'shipTo.country',
  ship_to_phone: 'shipTo.phone',
  sku: 'lines.sku',
  name: 'lines.name',
  quantity: 'lines.quantity',
  unit_price: 'lines.unitPrice',
  weight_grams: 'lines.weight',
  properties: 'lines.properties',
  gift_message: 'order.giftMessage',
  notes: 'order.notes',
  shipment_id: 'shipment.id',
  carrier: 'shipment.carrier',
  service: 'shipment.service',
  tracking_number: 'shipment.trackingNumber',
};

/** Canonical paths of a CSV purchase order's header row. */
function csvPoPaths(d: PlannedDelivery, delimiter: string): string[] {
  const header = d.body.split(/\r?\n/, 1)[0] ?? '';
  // Nothing on the allow-list had a value: no columns at all.
  if (header === '') return [];
  return header.split(delimiter).map((h) => CSV_COLUMNS[h] ?? fail(`${where(d)}: unknown column "${h}"`));
}

// ---------------------------------------------------------------------------------------
// The checks, one per property

/**
 * 1. A PO carries only its supplier's allow-listed fields, and `fields` says exactly which.
 */
function checkAllowLists(s: Scenario, plan: OrderPlan): void {
  for (const d of deliveries(plan).filter((x) => x.kind === 'dropship')) {
    const supplier = supplierSpec(s, d.recipient);
    const allowed = allowedFor(s, supplier);
    const { own } = linesOf(s, shipmentOf(plan, d));

    for (const [path, values] of s.order.markers) {
      for (const v of values) (allowed.has(path) ? expectPresent : expectAbsent)(d, path, v);
    }
    for (const line of own) {
      for (const [path, values] of lineMarkers(line)) {
        for (const v of values) (allowed.has(path) ? expectPresent : expectAbsent)(d, `${path} of ${line.id}`, v);
      }
    }
    const expected = expectedPoFields(s, allowed, own);
    sameFields(d, d.fields, expected, 'fields');

    if (supplier.format === 'json') sameFields(d, jsonPoPaths(d, own.length), expected, 'the keys of the JSON body');
    else if (supplier.formatOptions.header) {
      // The CSV has no column for customer.contactRestricted: `fields` names it, the body does not.
      sameFields(d, csvPoPaths(d, supplier.formatOptions.delimiter), expected.filter((p) => p !== 'customer.contactRestricted'), 'the CSV header');
    }
    if (d.fields.some((p) => p.startsWith('billTo.') || p.startsWith('payment.'))) fail(`${where(d)} names billing or payment fields`);
  }
}

/** 2. Every line in exactly one shipment of the right origin, or the order held; POs hold only their own lines. */
function checkLines(s: Scenario, plan: OrderPlan): void {
  const holds = expectedHolds(s);
  if (plan.status === 'held') {
    const codes = [...new Set(plan.reasons.map((r) => r.code))].sort();
    // A carrier or format that cannot carry a ship-to value faithfully (a name longer than
    // UPS's 35, a region that is no US state) holds the order too, saying which shipment.
    const refused = plan.reasons.filter((r) => r.code === 'UNSHIPPABLE');
    for (const r of refused) if (!/^(shipment|purchase order) \S+ cannot (go by|be written as) \S+: \S/.test(r.message)) fail(`UNSHIPPABLE without a shipment and a cause: ${r.message}`);
    const expected = refused.length > 0 ? [...new Set<string>([...holds, 'UNSHIPPABLE'])].sort() : holds;
    if (JSON.stringify(codes) !== JSON.stringify(expected)) fail(`held for ${JSON.stringify(codes)}, expected ${JSON.stringify(holds)}`);
    if (plan.reasons.some((r) => r.message === '')) fail('a hold reason without a message');
    return;
  }
  if (holds.length > 0) fail(`planned, but expected to be held for ${JSON.stringify(holds)}`);
  // The scenarios' orders carry no store state and every line ships: never waiting or skipped.
  if (plan.status !== 'planned') return fail(`${plan.status} for ${plan.reasons.map((r) => r.code).join(', ')}, expected planned`);

  const method = resolvedMethod(s) ?? fail('planned without a shipping method');
  const seen = new Map<string, number>();
  for (const shipment of plan.shipments) {
    if (shipment.carrier !== method.carrier || shipment.service !== method.service) {
      fail(`shipment ${shipment.id} goes by ${shipment.carrier} ${shipment.service}, expected ${method.carrier} ${method.service}`);
    }
    if (shipment.lines.length === 0) fail(`shipment ${shipment.id} has no lines`);
    for (const line of shipment.lines) {
      seen.set(line.id, (seen.get(line.id) ?? 0) + 1);
      const expected = s.order.lines.find((l) => l.id === line.id) ?? fail(`shipment ${shipment.id} holds unknown line ${line.id}`);
      const origin = shipment.origin;
      const ok =
        expected.owner === undefined
          ? origin.kind === 'warehouse' && origin.id === s.config.store.warehouseId
          : origin.kind === 'supplier' && origin.id === expected.owner;
      if (!ok) fail(`${line.id} (owner ${expected.owner ?? 'warehouse'}) is in shipment ${shipment.id} from ${origin.kind} ${origin.id}`);
    }
  }
  for (const line of s.order.lines) {
    const n = seen.get(line.id) ?? 0;
    if (n !== 1) fail(`${line.id} is in ${n} shipments`);
  }

  // One PO per drop-ship shipment; a label for the warehouse's and retailer-label suppliers'.
  const expectedDeliveries = plan.shipments.flatMap((sh) => {
    if (sh.origin.kind === 'warehouse') return [`${sh.id}:carrier:${sh.carrier}`];
    const supplier = supplierSpec(s, sh.origin.id);
    return [...(supplier.labels === 'retailer' ? [`${sh.id}:carrier:${sh.carrier}`] : []), `${sh.id}:dropship:${supplier.id}`];
  });
  const actual = plan.deliveries.map((d) => `${d.shipmentId}:${d.kind}:${d.recipient}`);
  if (JSON.stringify([...actual].sort()) !== JSON.stringify([...expectedDeliveries].sort())) {
    fail(`deliveries ${JSON.stringify(actual)}, expected ${JSON.stringify(expectedDeliveries)}`);
  }

  for (const d of plan.deliveries.filter((x) => x.kind === 'dropship')) {
    const { others } = linesOf(s, shipmentOf(plan, d));
    for (const line of others) {
      for (const [path, values] of lineMarkers(line)) {
        for (const v of values) expectAbsent(d, `${path} of ${line.id} (owner ${line.owner ?? 'warehouse'})`, v);
      }
    }
  }
}

/** 3. No body holds anything card-like, nor any planted card number in any spacing. */
function checkCards(s: Scenario, plan: OrderPlan): void {
  for (const d of deliveries(plan)) {
    for (const text of [d.body, d.filename, d.deliveryId]) {
      const found = cardLikeNumbers(text);
      if (found.length > 0) fail(`${where(d)} holds card-like numbers ${JSON.stringify(found)}:\n${text}`);
      if (containsAnyOf(text, s.order.cards)) fail(`${where(d)} holds a planted card number:\n${text}`);
    }
  }
}

/** 4. Carriers get ship-to, weight and service, and nothing else. */
function checkCarriers(s: Scenario, plan: OrderPlan): void {
  for (const d of deliveries(plan).filter((x) => x.kind === 'carrier')) {
    const shipment = shipmentOf(plan, d);
    if (d.recipient !== shipment.carrier) fail(`${where(d)} is not addressed to ${shipment.carrier}`);
    for (const f of d.fields) if (!CARRIER_FIELDS.has(f)) fail(`${where(d)} names ${f}`);
    if (s.order.contactRestricted && d.fields.includes('shipTo.phone')) fail(`${where(d)} names shipTo.phone of a restricted customer`);
    for (const [path, values] of s.order.markers) {
      const shipping = path.startsWith('shipTo.') && !(path === 'shipTo.phone' && s.order.contactRestricted);
      if (!shipping) for (const v of values) expectAbsent(d, path, v);
    }
    for (const line of s.order.lines) {
      for (const [path, values] of lineMarkers(line)) for (const v of values) expectAbsent(d, `${path} of ${line.id}`, v);
    }
  }
}

/** 5. A contact-restricted customer's email and phones reach nobody. */
function checkContactRestricted(s: Scenario, plan: OrderPlan): void {
  for (const d of deliveries(plan)) {
    for (const f of CONTACT_FIELDS) {
      if (d.fields.includes(f)) fail(`${where(d)} names ${f} of a restricted customer`);
      for (const v of s.order.markers.get(f) ?? []) expectAbsent(d, f, v);
    }
  }
}

// ---------------------------------------------------------------------------------------

describe('privacy properties over random orders and supplier configurations', () => {
  const checked = (options: OrderOptions, check: (s: Scenario, plan: OrderPlan) => void) =>
    fc.property(scenarioArb(options), (s) => check(s, run(s).plan));

  it('1. a purchase order carries only the fields its allow-list names, and `fields` is exactly those present', () => {
    fc.assert(checked({}, checkAllowLists), params);
  });

  it('2. every line lands in exactly one shipment of its owner, or the order is held with its reasons; no PO carries another origin\'s lines', () => {
    fc.assert(checked({}, checkLines), params);
  });

  it('3. no body holds a card-like number or any planted card number (spaces and dashes)', () => {
    fc.assert(checked({}, checkCards), params);
  });

  it('4. carrier requests carry only ship-to, weight and service', () => {
    fc.assert(checked({}, checkCarriers), params);
  });

  it('5. a contact-restricted customer\'s email and phones are in no body', () => {
    fc.assert(checked({ contactRestricted: true }, checkContactRestricted), params);
  });

  it('6. planning is deterministic and leaves the order as it was', () => {
    fc.assert(
      fc.property(scenarioArb(), (s) => {
        const first = run(s);
        const before = JSON.stringify(first.order);
        const again = planOrder(first.order, first.config);
        const fresh = planOrder(ingestOrder(structuredClone(s.order.payload), { source: 'canonical' }).order, first.config);
        expect(again).toStrictEqual(first.plan);
        expect(fresh).toStrictEqual(first.plan);
        expect(JSON.stringify(first.order)).toBe(before);
      }),
      params,
    );
  });

  // Regressions found by these properties, each run with its trigger made frequent.
  it('never shows a supplier the order id hidden in a shipment id: order.id is always on the allow-list', () => {
    fc.assert(checked({}, (sc, plan) => checkAllowLists(sc, plan)), params);
  });

  it('redacts card numbers typed with tabs, no-break spaces or several spaces between their groups', () => {
    fc.assert(checked({ probeCardSeparators: true }, checkCards), params);
  });

  it('plans or holds an order whose shipping method is named like an Object.prototype member, never throws', () => {
    fc.assert(checked({ probeMethodNames: true }, checkLines), params);
  });
});
