import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  buildSchema,
  execute,
  getNamedType,
  getNullableType,
  GraphQLError,
  isCompositeType,
  isListType,
  isObjectType,
  isInterfaceType,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type GraphQLCompositeType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { createLocalCa, type LocalCa } from './https';
import { requestBodyValidator } from '../openapi';
import { SPECS_DIR } from '../specs';

/**
 * Local HTTPS servers standing in for a Shopify store's Admin GraphQL API and a WooCommerce
 * store's REST API (with the Shipment Tracking extension), for the tests and the demo.
 *
 * The Shopify stand-in builds Shopify's published Admin GraphQL schema (specs/, the pinned
 * version), validates every operation against it and executes it there: unknown fields,
 * wrong arguments and variables whose input objects do not match (`FulfillmentInput`…) are
 * refused as Shopify would, and recorded in `violations`. Orders, fulfillment orders and
 * fulfillments (with their line items, one per order line) live in memory;
 * `fulfillmentCreate` checks what Shopify checks (same order, same location, open fulfillment
 * orders, quantities within what remains).
 *
 * The WooCommerce stand-in checks basic auth, the route and every request body against the
 * documented routes (specs/woocommerce-fulfillment-routes.json), keeps tracking items, notes
 * and statuses per order, and answers with `_fields` applied.
 *
 * Both can be scripted: an HTTP status with `Retry-After` (429, 5xx), Shopify's cost throttle,
 * `userErrors`, and a lost answer (the request is carried out, then the connection dropped).
 * The Shopify stand-in can also keep a cost bucket (`costLimit`): a leaky bucket refilled at
 * `restoreRate` a second on a clock of the test's choosing, which answers `THROTTLED` when it
 * cannot hold an operation's requested cost, as Shopify does.
 */

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Drop the connection instead of answering (after doing the work). */
  drop?: boolean;
}

interface Listener {
  url: string;
  caFile: string;
  stop(): Promise<void>;
}

async function listen(label: string, handle: (req: IncomingMessage, body: string) => Reply): Promise<Listener> {
  const ca: LocalCa = await createLocalCa(`${label} stand-in CA`);
  const cert = await ca.issue('localhost');
  const server: Server = createServer({ key: cert.key, cert: cert.cert }, (req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const reply = handle(req, Buffer.concat(chunks).toString('utf8'));
      if (reply.drop === true) {
        req.socket.destroy();
        return;
      }
      if (res.destroyed) return;
      res.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', ...reply.headers });
      res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
    });
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    caFile: ca.caFile,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      ca.remove();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Shopify

/** The Admin API version whose schema is vendored in specs/. */
export const SHOPIFY_STANDIN_API_VERSION = '2026-07';
const SHOPIFY_SCHEMA_FILE = `shopify-admin-graphql-${SHOPIFY_STANDIN_API_VERSION}.graphql`;

let shopifySchema: GraphQLSchema | undefined;
/** Shopify's Admin GraphQL schema of the pinned version, built once per process. */
export function shopifyAdminSchema(): GraphQLSchema {
  shopifySchema ??= buildSchema(readFileSync(path.join(SPECS_DIR, SHOPIFY_SCHEMA_FILE), 'utf8'));
  return shopifySchema;
}

export type FulfillmentOrderStatus = 'OPEN' | 'IN_PROGRESS' | 'CANCELLED' | 'INCOMPLETE' | 'CLOSED' | 'SCHEDULED' | 'ON_HOLD';

/** A fulfillment order line: its own id, the order line it stands for, how many are left. */
export interface StandInFoLine {
  id: number;
  lineItemId: number;
  remaining: number;
}

export interface StandInFulfillmentOrder {
  id: number;
  status: FulfillmentOrderStatus;
  locationId: number;
  lines: StandInFoLine[];
}

export interface StandInFulfillment {
  id: number;
  status: 'SUCCESS' | 'CANCELLED';
  locationId: number;
  company?: string;
  numbers: string[];
  url?: string;
  notifyCustomer: boolean;
  /** Fulfillment order line id → quantity. */
  lines: Array<{ fulfillmentOrderId: number; foLineId: number; quantity: number }>;
}

export interface StandInShopifyOrder {
  id: number;
  fulfillmentOrders: StandInFulfillmentOrder[];
  fulfillments: StandInFulfillment[];
}

/** A scripted answer for the next Shopify request that passes the checks. */
export type ShopifyScript =
  /** Answer normally (to script a later request). */
  | { normal: true }
  | { status: number; retryAfter?: string; body?: unknown }
  | { throttle: { requestedQueryCost: number; currentlyAvailable: number; restoreRate: number; maximumAvailable?: number } }
  /** Carry the request out, then drop the connection without answering. */
  | { loseAnswer: true };

export interface ShopifyStandInRequest {
  operationName?: string;
  query: string;
  variables: Json;
  headers: IncomingHttpHeaders;
  path: string;
  /** The raw body. */
  body: string;
  status: number;
  /** The operation's requested cost, as Shopify counts it (roughly). */
  requestedQueryCost?: number;
  /** Answered `THROTTLED` (scripted, or the cost bucket could not hold it). */
  throttled?: boolean;
}

/** A cost bucket for the stand-in (Shopify's leaky bucket per app and store). */
export interface StandInCostBucket {
  maximumAvailable: number;
  restoreRate: number;
  /** @defaultValue maximumAvailable */
  currentlyAvailable?: number;
  /** The bucket's clock in ms (a test's virtual clock). @defaultValue Date.now */
  now?: () => number;
}

export interface ShopifyStandIn {
  readonly url: string;
  readonly caFile: string;
  readonly apiVersion: string;
  readonly accessToken: string;
  readonly requests: ShopifyStandInRequest[];
  readonly violations: string[];
  readonly orders: Map<number, StandInShopifyOrder>;
  /** Adds (or replaces) an order. */
  addOrder(order: Omit<StandInShopifyOrder, 'fulfillments'> & { fulfillments?: StandInFulfillment[] }): StandInShopifyOrder;
  /** Answers for the next requests, in order. */
  script(...answers: ShopifyScript[]): void;
  /** `userErrors` for the next `fulfillmentCreate` (nothing is created). */
  refuseNextCreate(...userErrors: Array<{ field?: string[]; message: string }>): void;
  /**
   * An outage: every request that passes the checks is answered with this status (a 5xx, with
   * `Retry-After` when given) and nothing is carried out, until called with `undefined`.
   */
  outage(answer: { status: number; retryAfter?: string } | undefined): void;
  /**
   * Keeps a cost bucket from now on (until called with `undefined`, or `reset`): every
   * operation takes its requested cost from it, or is answered `THROTTLED` without being
   * carried out; answers report the bucket in `extensions.cost.throttleStatus`.
   */
  costLimit(bucket: StandInCostBucket | undefined): void;
  reset(): void;
  stop(): Promise<void>;
}

export interface ShopifyStandInOptions {
  accessToken?: string;
}

const gidOf = (kind: string, id: number): string => `gid://shopify/${kind}/${id}`;
function idOf(kind: string, gid: unknown): number | undefined {
  const m = typeof gid === 'string' ? new RegExp(`^gid://shopify/${kind}/(\\d+)$`).exec(gid) : null;
  return m ? Number(m[1]) : undefined;
}

/** Shopify's limit on one query's requested cost. */
export const SHOPIFY_MAX_QUERY_COST = 1000;

/**
 * The requested cost of an operation, the way Shopify documents it: scalars and enums cost 0,
 * an object 1, a connection 2 plus `first` (or `last`) times its node, a list with `first` that
 * many times its item. Fragments count as their fields; the mutation field itself costs 10.
 */
export function requestedQueryCost(schema: GraphQLSchema, document: DocumentNode, variables: Json): number {
  const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (!operation || operation.kind !== Kind.OPERATION_DEFINITION) return 0;
  const root = operation.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();
  const number = (value: ValueNode | undefined): number | undefined => {
    if (value === undefined) return undefined;
    if (value.kind === Kind.INT) return Number(value.value);
    if (value.kind === Kind.VARIABLE) {
      const v = variables[value.name.value];
      return typeof v === 'number' ? v : undefined;
    }
    return undefined;
  };
  const cost = (set: SelectionSetNode | undefined, type: GraphQLCompositeType): number => {
    if (set === undefined) return 0;
    let total = 0;
    for (const selection of set.selections) {
      if (selection.kind !== Kind.FIELD) {
        const inner = selection.kind === Kind.INLINE_FRAGMENT ? selection.selectionSet : undefined;
        total += cost(inner, type);
        continue;
      }
      if (!isObjectType(type) && !isInterfaceType(type)) continue;
      const field = type.getFields()[selection.name.value];
      if (!field) continue;
      const named = getNamedType(field.type);
      if (!isCompositeType(named)) continue;
      const size = number(selection.arguments?.find((a) => a.name.value === 'first' || a.name.value === 'last')?.value) ?? 1;
      const child = cost(selection.selectionSet, named);
      if (named.name.endsWith('Connection')) {
        // The connection's nodes/edges are counted once per requested item: drop their own 1.
        total += 2 + size * Math.max(child - 1, 0);
      } else if (isListType(getNullableType(field.type))) total += size * (1 + child);
      else total += (operation.operation === 'mutation' && type === root ? 10 : 1) + child;
    }
    return total;
  };
  return root ? cost(operation.selectionSet, root) : 0;
}

/** A connection over `items` with Shopify's `first`/`after` (cursors are positions). */
function connection<T>(items: T[], args: { first?: number | null; after?: string | null }): Json {
  const start = args.after ? Number(Buffer.from(args.after, 'base64url').toString('utf8')) + 1 : 0;
  const first = args.first ?? 50;
  const page = items.slice(start, start + first);
  const cursor = (i: number) => Buffer.from(String(i)).toString('base64url');
  return {
    nodes: page,
    pageInfo: {
      hasNextPage: start + first < items.length,
      hasPreviousPage: start > 0,
      startCursor: page.length > 0 ? cursor(start) : null,
      endCursor: page.length > 0 ? cursor(start + page.length - 1) : null,
    },
  };
}

/** Starts a Shopify Admin API stand-in on a free loopback port, with a certificate from a fresh CA. */
export async function startShopifyStandIn(options: ShopifyStandInOptions = {}): Promise<ShopifyStandIn> {
  const schema = shopifyAdminSchema();
  const accessToken = options.accessToken ?? `shpat_${randomBytes(16).toString('hex')}`;
  const orders = new Map<number, StandInShopifyOrder>();
  const requests: ShopifyStandInRequest[] = [];
  const violations: string[] = [];
  let scripts: ShopifyScript[] = [];
  let refusals: Array<Array<{ field?: string[]; message: string }>> = [];
  let down: { status: number; retryAfter?: string } | undefined;
  let bucket: (Required<StandInCostBucket> & { at: number; available: number }) | undefined;
  let nextFulfillmentId = 5_000_000_001;
  /** Refills the bucket to its clock's now; its level. */
  const refill = (): number => {
    if (!bucket) return 0;
    const now = bucket.now();
    bucket.available = Math.min(bucket.maximumAvailable, bucket.available + (bucket.restoreRate * Math.max(0, now - bucket.at)) / 1000);
    bucket.at = now;
    return bucket.available;
  };

  const orderOfFo = (foId: number): { order: StandInShopifyOrder; fo: StandInFulfillmentOrder } | undefined => {
    for (const order of orders.values()) {
      const fo = order.fulfillmentOrders.find((f) => f.id === foId);
      if (fo) return { order, fo };
    }
    return undefined;
  };

  const foLineView = (line: StandInFoLine): Json => ({ id: gidOf('FulfillmentOrderLineItem', line.id), remainingQuantity: line.remaining, lineItem: { id: gidOf('LineItem', line.lineItemId) } });
  const foView = (fo: StandInFulfillmentOrder): Json => ({
    id: gidOf('FulfillmentOrder', fo.id),
    status: fo.status,
    assignedLocation: { location: { id: gidOf('Location', fo.locationId) } },
    lineItems: (args: { first?: number; after?: string }) => connection(fo.lines.map(foLineView), args),
    // The fulfillments made from this fulfillment order, oldest first.
    fulfillments: (args: { first?: number; after?: string }) =>
      connection((orderOfFo(fo.id)?.order.fulfillments ?? []).filter((f) => f.lines.some((l) => l.fulfillmentOrderId === fo.id)).map(fulfillmentView), args),
  });
  /** A fulfillment's line items as Shopify lists them: one per order line, with the quantity it holds. */
  const fulfillmentLineItems = (f: StandInFulfillment): Json[] => {
    const byLineItem = new Map<number, number>();
    for (const l of f.lines) {
      const lineItemId = orderOfFo(l.fulfillmentOrderId)?.fo.lines.find((x) => x.id === l.foLineId)?.lineItemId;
      if (lineItemId !== undefined) byLineItem.set(lineItemId, (byLineItem.get(lineItemId) ?? 0) + l.quantity);
    }
    return [...byLineItem].map(([lineItemId, quantity]) => ({ id: gidOf('FulfillmentLineItem', f.id * 1000 + lineItemId), lineItem: { id: gidOf('LineItem', lineItemId) }, quantity }));
  };
  const fulfillmentView = (f: StandInFulfillment): Json => ({
    id: gidOf('Fulfillment', f.id),
    status: f.status,
    location: { id: gidOf('Location', f.locationId) },
    trackingInfo: (args: { first?: number }) => f.numbers.slice(0, args.first ?? undefined).map((number) => ({ number, company: f.company ?? null, url: f.url ?? null })),
    fulfillmentLineItems: (args: { first?: number; after?: string }) => connection(fulfillmentLineItems(f), args),
  });

  const fulfillmentCreate = (args: { fulfillment: Json }): Json => {
    const refused = refusals.shift();
    if (refused) return { fulfillment: null, userErrors: refused.map((e) => ({ field: e.field ?? null, message: e.message })) };
    const input = args.fulfillment;
    const groups = Array.isArray(input.lineItemsByFulfillmentOrder) ? (input.lineItemsByFulfillmentOrder as Json[]) : [];
    const errors: Json[] = [];
    const plan: StandInFulfillment['lines'] = [];
    let orderId: number | undefined;
    let locationId: number | undefined;
    groups.forEach((group, i) => {
      const foId = idOf('FulfillmentOrder', group.fulfillmentOrderId);
      const found = foId === undefined ? undefined : orderOfFo(foId);
      if (!found) {
        errors.push({ field: ['fulfillment', 'lineItemsByFulfillmentOrder', String(i), 'fulfillmentOrderId'], message: 'Fulfillment order does not exist.' });
        return;
      }
      if ((orderId ?? found.order.id) !== found.order.id) errors.push({ field: ['fulfillment'], message: 'All fulfillment orders must belong to the same order.' });
      if ((locationId ?? found.fo.locationId) !== found.fo.locationId) errors.push({ field: ['fulfillment'], message: 'All fulfillment orders must be assigned to the same location.' });
      orderId = found.order.id;
      locationId = found.fo.locationId;
      if (found.fo.status !== 'OPEN' && found.fo.status !== 'IN_PROGRESS') {
        errors.push({ field: ['fulfillment'], message: `Fulfillment order ${found.fo.id} has an unfulfillable status= ${found.fo.status.toLowerCase()}.` });
        return;
      }
      const items = Array.isArray(group.fulfillmentOrderLineItems) ? (group.fulfillmentOrderLineItems as Json[]) : found.fo.lines.map((l) => ({ id: gidOf('FulfillmentOrderLineItem', l.id), quantity: l.remaining }));
      for (const item of items) {
        const line = found.fo.lines.find((l) => gidOf('FulfillmentOrderLineItem', l.id) === item.id);
        const quantity = Number(item.quantity);
        if (!line) errors.push({ field: ['fulfillment'], message: 'Invalid fulfillment order line item id.' });
        else if (!(quantity > 0) || quantity > line.remaining - plan.filter((p) => p.foLineId === line.id).reduce((n, p) => n + p.quantity, 0)) {
          errors.push({ field: ['fulfillment'], message: `Invalid fulfillment order line item quantity requested.` });
        } else plan.push({ fulfillmentOrderId: found.fo.id, foLineId: line.id, quantity });
      }
    });
    if (groups.length === 0) errors.push({ field: ['fulfillment', 'lineItemsByFulfillmentOrder'], message: 'Line items by fulfillment order must not be empty.' });
    if (errors.length > 0 || orderId === undefined || locationId === undefined) return { fulfillment: null, userErrors: errors };
    const order = orders.get(orderId)!;
    for (const p of plan) {
      const fo = order.fulfillmentOrders.find((f) => f.id === p.fulfillmentOrderId)!;
      fo.lines.find((l) => l.id === p.foLineId)!.remaining -= p.quantity;
      fo.status = fo.lines.every((l) => l.remaining === 0) ? 'CLOSED' : 'IN_PROGRESS';
    }
    const tracking = isObject(input.trackingInfo) ? input.trackingInfo : {};
    const numbers = [...(Array.isArray(tracking.numbers) ? (tracking.numbers as string[]) : []), ...(typeof tracking.number === 'string' ? [tracking.number] : [])];
    const made: StandInFulfillment = {
      id: nextFulfillmentId++,
      status: 'SUCCESS',
      locationId,
      numbers,
      ...(typeof tracking.company === 'string' ? { company: tracking.company } : {}),
      ...(typeof tracking.url === 'string' ? { url: tracking.url } : {}),
      notifyCustomer: input.notifyCustomer === true,
      lines: plan,
    };
    order.fulfillments.push(made);
    return { fulfillment: fulfillmentView(made), userErrors: [] };
  };

  const root = {
    order: (args: { id: string }) => {
      const id = idOf('Order', args.id);
      const order = id === undefined ? undefined : orders.get(id);
      if (!order) return null;
      return {
        id: gidOf('Order', order.id),
        fulfillments: (a: { first?: number }) => order.fulfillments.slice(0, a.first ?? undefined).map(fulfillmentView),
        fulfillmentsCount: { count: order.fulfillments.length, precision: 'EXACT' },
        fulfillmentOrders: (a: { first?: number; after?: string }) => connection(order.fulfillmentOrders.map(foView), a),
      };
    },
    fulfillmentOrder: (args: { id: string }) => {
      const id = idOf('FulfillmentOrder', args.id);
      const found = id === undefined ? undefined : orderOfFo(id);
      return found ? foView(found.fo) : null;
    },
    fulfillment: (args: { id: string }) => {
      const id = idOf('Fulfillment', args.id);
      for (const order of orders.values()) {
        const f = order.fulfillments.find((x) => x.id === id);
        if (f) return fulfillmentView(f);
      }
      return null;
    },
    fulfillmentCreate,
  };

  const cost = (requested: number) =>
    bucket
      ? { requestedQueryCost: requested, actualQueryCost: requested, throttleStatus: { maximumAvailable: bucket.maximumAvailable, currentlyAvailable: Math.floor(bucket.available), restoreRate: bucket.restoreRate } }
      : // Without a bucket kept: a large plan's bucket, which nothing here empties.
        { requestedQueryCost: requested, actualQueryCost: requested, throttleStatus: { maximumAvailable: 20_000, currentlyAvailable: 20_000 - requested, restoreRate: 1000 } };

  const handle = (req: IncomingMessage, body: string): Reply => {
    const seen: ShopifyStandInRequest = { query: '', variables: {}, headers: req.headers, path: req.url ?? '', body, status: 0 };
    requests.push(seen);
    const reply = ((): Reply => {
      const refuse = (status: number, problem: string, errors: unknown): Reply => {
        violations.push(problem);
        return { status, body: { errors } };
      };
      if (req.method !== 'POST' || req.url !== `/admin/api/${SHOPIFY_STANDIN_API_VERSION}/graphql.json`) {
        return refuse(404, `${req.method} ${req.url}: not the Admin GraphQL endpoint of ${SHOPIFY_STANDIN_API_VERSION}`, 'Not Found');
      }
      const token = header(req.headers, 'x-shopify-access-token');
      if (token === undefined || !same(token, accessToken)) {
        return { status: 401, body: { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' } };
      }
      if (!(header(req.headers, 'content-type') ?? '').startsWith('application/json')) return refuse(415, 'content-type must be application/json', 'Unsupported Media Type');
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return refuse(400, 'the body is not JSON', 'Bad Request');
      }
      if (!isObject(parsed) || typeof parsed.query !== 'string') return refuse(400, 'the body has no query', [{ message: 'No query string was present' }]);
      seen.query = parsed.query;
      seen.variables = isObject(parsed.variables) ? parsed.variables : {};
      if (typeof parsed.operationName === 'string') seen.operationName = parsed.operationName;
      let document: DocumentNode;
      try {
        document = parse(parsed.query);
      } catch (error) {
        return refuse(200, `GraphQL syntax: ${(error as Error).message}`, [{ message: (error as Error).message }]);
      }
      const invalid = validate(schema, document);
      if (invalid.length > 0) {
        return refuse(200, `operation ${seen.operationName ?? '?'} does not validate against the ${SHOPIFY_STANDIN_API_VERSION} schema: ${invalid.map((e) => e.message).join('; ')}`, invalid.map((e) => ({ message: e.message })));
      }
      const requested = requestedQueryCost(schema, document, seen.variables);
      seen.requestedQueryCost = requested;
      if (requested > SHOPIFY_MAX_QUERY_COST) {
        violations.push(`operation ${seen.operationName ?? '?'} requests ${requested} points, over Shopify's ${SHOPIFY_MAX_QUERY_COST} for one query`);
        return {
          status: 200,
          body: {
            errors: [{ message: `Query cost is ${requested}, which exceeds the single query max cost limit (${SHOPIFY_MAX_QUERY_COST}).`, extensions: { code: 'MAX_COST_EXCEEDED', cost: requested, maxCost: SHOPIFY_MAX_QUERY_COST } }],
          },
        };
      }
      if (down !== undefined) return { status: down.status, body: { errors: 'Internal Server Error' }, ...(down.retryAfter === undefined ? {} : { headers: { 'retry-after': down.retryAfter } }) };
      const answer = scripts.shift();
      if (answer !== undefined && 'status' in answer) {
        return { status: answer.status, body: answer.body ?? { errors: answer.status >= 500 ? 'Internal Server Error' : 'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.' }, ...(answer.retryAfter === undefined ? {} : { headers: { 'retry-after': answer.retryAfter } }) };
      }
      if (answer !== undefined && 'throttle' in answer) {
        const t = answer.throttle;
        seen.throttled = true;
        return {
          status: 200,
          body: {
            errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' } }],
            extensions: { cost: { requestedQueryCost: t.requestedQueryCost, actualQueryCost: null, throttleStatus: { maximumAvailable: t.maximumAvailable ?? 2000, currentlyAvailable: t.currentlyAvailable, restoreRate: t.restoreRate } } },
          },
        };
      }
      if (bucket) {
        // Shopify's leaky bucket: room for the requested cost before it runs, or THROTTLED.
        // (A hair of slack for the float arithmetic of a refill to the exact point.)
        if (refill() + 1e-6 < requested) {
          seen.throttled = true;
          return {
            status: 200,
            body: {
              errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' } }],
              extensions: { cost: { requestedQueryCost: requested, actualQueryCost: null, throttleStatus: { maximumAvailable: bucket.maximumAvailable, currentlyAvailable: Math.floor(bucket.available), restoreRate: bucket.restoreRate } } },
            },
          };
        }
        bucket.available = Math.max(0, bucket.available - requested);
      }
      const result = execute({ schema, document, rootValue: root, variableValues: seen.variables, ...(seen.operationName === undefined ? {} : { operationName: seen.operationName }) });
      if (result instanceof Promise) return refuse(500, 'the stand-in resolved asynchronously', 'Internal Server Error');
      if (result.errors && result.errors.length > 0) {
        violations.push(`operation ${seen.operationName ?? '?'} failed against the ${SHOPIFY_STANDIN_API_VERSION} schema: ${result.errors.map((e: GraphQLError) => e.message).join('; ')}`);
      }
      const out = { ...(result.data === undefined ? {} : { data: result.data }), ...(result.errors ? { errors: result.errors.map((e) => ({ message: e.message })) } : {}), extensions: { cost: cost(requested) } };
      return { status: 200, body: out, ...(answer !== undefined && 'loseAnswer' in answer ? { drop: true } : {}) };
    })();
    seen.status = reply.drop === true ? 0 : reply.status;
    return reply;
  };

  const server = await listen('shopify', handle);
  return {
    url: server.url,
    caFile: server.caFile,
    apiVersion: SHOPIFY_STANDIN_API_VERSION,
    accessToken,
    requests,
    violations,
    orders,
    addOrder: (order) => {
      const full: StandInShopifyOrder = { ...order, fulfillments: order.fulfillments ?? [] };
      orders.set(order.id, full);
      return full;
    },
    script: (...answers) => {
      scripts.push(...answers);
    },
    refuseNextCreate: (...userErrors) => {
      refusals.push(userErrors);
    },
    outage: (answer) => {
      down = answer;
    },
    costLimit: (limit) => {
      if (limit === undefined) {
        bucket = undefined;
        return;
      }
      const now = limit.now ?? (() => Date.now());
      bucket = { ...limit, now, currentlyAvailable: limit.currentlyAvailable ?? limit.maximumAvailable, available: limit.currentlyAvailable ?? limit.maximumAvailable, at: now() };
    },
    reset: () => {
      requests.length = 0;
      violations.length = 0;
      orders.clear();
      scripts = [];
      refusals = [];
      down = undefined;
      bucket = undefined;
    },
    stop: server.stop,
  };
}

// ---------------------------------------------------------------------------------------------
// WooCommerce

const WOO_SPEC = 'woocommerce-fulfillment-routes.json';

export interface StandInTrackingItem {
  tracking_id: string;
  tracking_provider: string;
  tracking_link: string;
  tracking_number: string;
  date_shipped: string;
  custom_tracking_provider?: string;
}

export interface StandInWooOrder {
  id: number;
  status: string;
  trackings: StandInTrackingItem[];
  notes: Array<{ id: number; note: string; customer_note: boolean; author: string }>;
}

export type WooScript = { normal: true } | { status: number; retryAfter?: string; body?: unknown } | { loseAnswer: true };

export interface WooStandInRequest {
  method: string;
  /** Path without the query. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

export interface WooCommerceStandIn {
  readonly url: string;
  readonly caFile: string;
  readonly consumerKey: string;
  readonly consumerSecret: string;
  readonly requests: WooStandInRequest[];
  readonly violations: string[];
  readonly orders: Map<number, StandInWooOrder>;
  /** Whether the Shipment Tracking extension is active (its routes exist). */
  trackingExtension: boolean;
  addOrder(id: number, status?: string): StandInWooOrder;
  script(...answers: WooScript[]): void;
  reset(): void;
  stop(): Promise<void>;
}

/** Starts a WooCommerce REST API stand-in on a free loopback port, with a certificate from a fresh CA. */
export async function startWooCommerceStandIn(): Promise<WooCommerceStandIn> {
  const consumerKey = `ck_${randomBytes(20).toString('hex')}`;
  const consumerSecret = `cs_${randomBytes(20).toString('hex')}`;
  const orders = new Map<number, StandInWooOrder>();
  const requests: WooStandInRequest[] = [];
  const violations: string[] = [];
  let scripts: WooScript[] = [];
  let nextNoteId = 901;
  const checks = {
    tracking: requestBodyValidator(WOO_SPEC, 'post', '/wp-json/wc-shipment-tracking/v3/orders/{order_id}/shipment-trackings'),
    note: requestBodyValidator(WOO_SPEC, 'post', '/wp-json/wc/v3/orders/{id}/notes'),
    order: requestBodyValidator(WOO_SPEC, 'put', '/wp-json/wc/v3/orders/{id}'),
  };
  const error = (status: number, code: string, message: string): Reply => ({ status, body: { code, message, data: { status } } });
  const fields = (query: Record<string, string>, value: Json): Json => {
    if (query._fields === undefined) return value;
    const keep = query._fields.split(',').map((f) => f.trim());
    return Object.fromEntries(Object.entries(value).filter(([k]) => keep.includes(k)));
  };

  const handle = (req: IncomingMessage, body: string): Reply => {
    const url = new URL(req.url ?? '/', 'https://stand-in.invalid');
    const query = Object.fromEntries(url.searchParams);
    const seen: WooStandInRequest = { method: req.method ?? '', path: url.pathname, query, headers: req.headers, body, status: 0 };
    requests.push(seen);
    const reply = ((): Reply => {
      const violation = (status: number, problem: string): Reply => {
        violations.push(problem);
        return error(status, 'rest_invalid_param', problem.slice(0, 300));
      };
      const tracking = /^\/wp-json\/wc-shipment-tracking\/v3\/orders\/(\d+)\/shipment-trackings$/.exec(url.pathname);
      const notes = /^\/wp-json\/wc\/v3\/orders\/(\d+)\/notes$/.exec(url.pathname);
      const order = /^\/wp-json\/wc\/v3\/orders\/(\d+)$/.exec(url.pathname);
      const route =
        tracking && (req.method === 'GET' || req.method === 'POST') && standIn.trackingExtension
          ? 'tracking'
          : notes && (req.method === 'GET' || req.method === 'POST')
            ? 'notes'
            : order && req.method === 'PUT'
              ? 'order'
              : undefined;
      if (route === undefined) {
        if (!(tracking && !standIn.trackingExtension)) violations.push(`${req.method} ${url.pathname} is not a documented route`);
        return error(404, 'rest_no_route', 'No route was found matching the URL and request method.');
      }
      for (const key of Object.keys(query)) {
        if (!['_fields', ...(route === 'notes' ? ['type', 'context'] : [])].includes(key)) return violation(400, `${req.method} ${url.pathname}: query parameter ${key} is not documented`);
      }
      if (query.type !== undefined && !['any', 'customer', 'internal'].includes(query.type)) return violation(400, `type must be any, customer or internal`);
      const basic = /^Basic (\S+)$/.exec(header(req.headers, 'authorization') ?? '');
      const [user, pass] = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(':') : [];
      if (user === undefined || pass === undefined || !same(user, consumerKey) || !same(pass, consumerSecret)) {
        return error(401, 'woocommerce_rest_cannot_view', 'Sorry, you cannot list resources.');
      }
      let json: unknown;
      if (req.method !== 'GET') {
        if (!(header(req.headers, 'content-type') ?? '').startsWith('application/json')) return violation(400, `${req.method} ${url.pathname}: content-type must be application/json`);
        try {
          json = JSON.parse(body);
        } catch {
          return violation(400, `${req.method} ${url.pathname}: the body is not JSON`);
        }
        const problems = (route === 'tracking' ? checks.tracking : route === 'notes' ? checks.note : checks.order)(json);
        if (problems.length > 0) return violation(400, `${req.method} ${url.pathname}: body does not match the documented route: ${problems.slice(0, 5).join('; ')}`);
      } else if (body !== '') return violation(400, `GET ${url.pathname} carries a body`);
      const answer = scripts.shift();
      if (answer !== undefined && 'status' in answer) {
        return { ...error(answer.status, answer.status === 429 ? 'woocommerce_rest_too_many_requests' : 'internal_server_error', answer.status === 429 ? 'Too many requests.' : 'There has been a critical error on this website.'), ...(answer.body === undefined ? {} : { body: answer.body }), ...(answer.retryAfter === undefined ? {} : { headers: { 'retry-after': answer.retryAfter } }) };
      }
      const drop = answer !== undefined && 'loseAnswer' in answer;
      const id = Number((tracking ?? notes ?? order)![1]);
      const stored = orders.get(id);
      if (!stored) return error(404, 'woocommerce_rest_shop_order_invalid_id', 'Invalid ID.');
      const done = (status: number, value: unknown): Reply => ({ status, body: value, ...(drop ? { drop: true } : {}) });
      if (route === 'tracking') {
        if (req.method === 'GET') return done(200, stored.trackings.map((t) => fields(query, { ...t })));
        const input = json as Json;
        const custom = typeof input.custom_tracking_provider === 'string';
        const number = String(input.tracking_number);
        const item: StandInTrackingItem = {
          tracking_id: randomBytes(16).toString('hex'),
          tracking_provider: custom ? '' : String(input.tracking_provider),
          ...(custom ? { custom_tracking_provider: String(input.custom_tracking_provider) } : {}),
          tracking_link: custom ? String(input.custom_tracking_link).replace('%1$s', number) : '',
          tracking_number: number,
          date_shipped: typeof input.date_shipped === 'string' ? input.date_shipped : new Date().toISOString().slice(0, 10),
        };
        stored.trackings.push(item);
        return done(201, fields(query, { ...item }));
      }
      if (route === 'notes') {
        if (req.method === 'GET') {
          const wanted = stored.notes.filter((n) => query.type === 'customer' ? n.customer_note : query.type === 'internal' ? !n.customer_note : true);
          return done(200, wanted.map((n) => fields(query, { ...n, date_created: '2026-12-01T10:00:00', date_created_gmt: '2026-12-01T10:00:00' })));
        }
        const input = json as Json;
        const note = { id: nextNoteId++, note: String(input.note), customer_note: input.customer_note === true, author: 'system' };
        stored.notes.push(note);
        return done(201, fields(query, { ...note, date_created: '2026-12-01T10:00:00', date_created_gmt: '2026-12-01T10:00:00' }));
      }
      stored.status = String((json as Json).status);
      return done(200, fields(query, { id: stored.id, status: stored.status, billing: { first_name: 'not', last_name: 'asked for' } }));
    })();
    seen.status = reply.drop === true ? 0 : reply.status;
    return reply;
  };

  const server = await listen('woocommerce', handle);
  const standIn: WooCommerceStandIn = {
    url: server.url,
    caFile: server.caFile,
    consumerKey,
    consumerSecret,
    requests,
    violations,
    orders,
    trackingExtension: true,
    addOrder: (id, status = 'processing') => {
      const order: StandInWooOrder = { id, status, trackings: [], notes: [] };
      orders.set(id, order);
      return order;
    },
    script: (...answers) => {
      scripts.push(...answers);
    },
    reset: () => {
      requests.length = 0;
      violations.length = 0;
      orders.clear();
      scripts = [];
      standIn.trackingExtension = true;
    },
    stop: server.stop,
  };
  return standIn;
}
