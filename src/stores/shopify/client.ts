import type { ShopifyStoreOptions } from './options';
import { CostPacer, type PacerClock } from './pacing';
import { DeliveryError } from '../../errors';
import { isObject, type Json, list, secretFromEnv, StoreHttp, storeIo, type StoreAnswer, type StoreIo } from '../http-client';
import type { FulfillmentRequest, FulfillmentResult, StorePlatform } from '../store';

/**
 * Tells a Shopify store what shipped, through the Admin GraphQL API (`fulfillmentCreate` on
 * the order's fulfillment orders), so Shopify marks the lines fulfilled and sends the customer
 * its shipping confirmation.
 *
 * One `fulfil`:
 * 1. reads the order's fulfillments (their location, tracking numbers and line items with
 *    quantities; past the first 20, those of the fulfillment orders holding our lines, every
 *    page) and its fulfillment orders with their line items (`remainingQuantity`, the order
 *    line they stand for);
 * 2. finds the fulfillments an earlier attempt of this request made (its answer lost): at one
 *    location, not cancelled, sharing one of our tracking numbers, AND holding only our lines,
 *    each exactly as many as we ask, or fewer when none of that line is left open there (the
 *    earlier attempt took what there was), and every line of ours that sits only at that
 *    location. A tracking number alone proves nothing: a supplier may confirm the lines of one
 *    parcel in two messages, or ship a second part under the same label, and those other
 *    confirmations' fulfillments share it but hold other lines (or other quantities);
 * 3. matches the rest of our lines by `lineItem.id` (`gid://shopify/LineItem/<storeLineId>`)
 *    on the open fulfillment orders (`OPEN`, `IN_PROGRESS`; closed, cancelled and incomplete
 *    ones are skipped) of the locations without an earlier fulfillment of ours, taking at most
 *    what remains: a line already fulfilled is left out and reported in `shortLines`;
 * 4. creates one fulfillment per location (Shopify takes fulfillment orders of one location
 *    per fulfillment) with exactly those lines and quantities, the carrier and the tracking
 *    numbers. Nothing created (all ours already, or nothing left) is `alreadyFulfilled`.
 *
 * Two confirmations with the same tracking number, the same lines and the same quantities
 * cannot be told apart in Shopify (a fulfillment keeps no reference of ours): the second is
 * taken for a retry of the first.
 *
 * Every request is paced by Shopify's cost bucket as the last answer described it
 * (`pacing.ts`): it waits for the points it needs rather than being throttled.
 *
 * Sent: the order, fulfillment order and line item ids, quantities, carrier, tracking numbers
 * and URL, and `notifyCustomer`. Read: ids, statuses, quantities and tracking numbers only
 * (no names, no addresses). The access token goes in `X-Shopify-Access-Token` only and is
 * taken out of anything quoted.
 */

/**
 * Page sizes. Shopify refuses a query whose requested cost is over 1000 points, and the
 * requested cost multiplies down nested lists (a connection costs 2 plus `first` times its
 * node). The order query asks for 20 × (1 + 1 + 5 + (2 + 10 × 2)) = 580 points for the
 * fulfillments (location, tracking numbers, line items), 1 for their count, and
 * 2 + 5 × (1 + 2 + (2 + 25 × 2)) = 277 for the fulfillment orders: 859 in all, under the 1000
 * (the query-cost test holds it there: raise a page size here and it fails). A page of more
 * line items of a fulfillment order costs 203, of a fulfillment 203, of a fulfillment order's
 * fulfillments 728. Larger orders are read in more pages.
 *
 * `Order.fulfillments` is a plain list (Shopify's schema: "Truncate the array result to this
 * size"), with no cursor to page on. When an order has more fulfillments than that first read
 * (`fulfillmentsCount`), they are read again through the fulfillment orders that hold our
 * lines (`FulfillmentOrder.fulfillments`, a connection paged 25 at a time): a fulfillment of
 * ours was made from those fulfillment orders, so it is among their fulfillments.
 */
const FULFILLMENTS_READ = 20;
const TRACKING_NUMBERS_READ = 5;
const FULFILLMENT_LINES_READ = 10;
const MORE_FULFILLMENT_LINES_PER_PAGE = 100;
const FULFILLMENT_ORDERS_PER_PAGE = 5;
const LINE_ITEMS_PER_PAGE = 25;
const MORE_LINE_ITEMS_PER_PAGE = 100;
const FO_FULFILLMENTS_PER_PAGE = 25;
/** Pages read at most for one fulfil (an order with more is refused rather than half read). */
const MAX_PAGES = 40;

/**
 * What each operation is expected to cost (Shopify's requested cost, counted as its
 * documentation says: an object 1, a list `first` times its item, a connection 2 plus `first`
 * times its node, a mutation 10), for pacing before Shopify has said it itself.
 */
const FULFILLMENT_NODE_COST = 1 /* location */ + TRACKING_NUMBERS_READ /* trackingInfo */ + (2 + FULFILLMENT_LINES_READ * 2); /* fulfillmentLineItems */
const FO_NODE_COST = 2 /* assignedLocation { location } */ + (2 + LINE_ITEMS_PER_PAGE * 2); /* lineItems */
export const ESTIMATED_COST: Readonly<Record<string, number>> = {
  DropshipFulfillmentState: 1 + FULFILLMENTS_READ * (1 + FULFILLMENT_NODE_COST) + 1 + (2 + FULFILLMENT_ORDERS_PER_PAGE * (1 + FO_NODE_COST)),
  DropshipFulfillmentOrderLines: 1 + (2 + MORE_LINE_ITEMS_PER_PAGE * 2),
  DropshipFulfillmentLines: 1 + (2 + MORE_FULFILLMENT_LINES_PER_PAGE * 2),
  DropshipFulfillmentOrderFulfillments: 1 + (2 + FO_FULFILLMENTS_PER_PAGE * (1 + FULFILLMENT_NODE_COST)),
  DropshipFulfillmentCreate: 10 + 1 + 1,
};

/** A fulfillment's fields, as both the order and a fulfillment order list them. */
const FULFILLMENT_FIELDS = `id
      status
      location { id }
      trackingInfo(first: ${TRACKING_NUMBERS_READ}) { number }
      fulfillmentLineItems(first: ${FULFILLMENT_LINES_READ}) {
        pageInfo { hasNextPage endCursor }
        nodes { lineItem { id } quantity }
      }`;

const FULFILLMENT_STATE = `query DropshipFulfillmentState($id: ID!, $after: String) {
  order(id: $id) {
    id
    fulfillments(first: ${FULFILLMENTS_READ}) {
      ${FULFILLMENT_FIELDS}
    }
    fulfillmentsCount { count }
    fulfillmentOrders(first: ${FULFILLMENT_ORDERS_PER_PAGE}, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        status
        assignedLocation { location { id } }
        lineItems(first: ${LINE_ITEMS_PER_PAGE}) {
          pageInfo { hasNextPage endCursor }
          nodes { id remainingQuantity lineItem { id } }
        }
      }
    }
  }
}`;

const MORE_LINE_ITEMS = `query DropshipFulfillmentOrderLines($id: ID!, $after: String) {
  fulfillmentOrder(id: $id) {
    lineItems(first: ${MORE_LINE_ITEMS_PER_PAGE}, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id remainingQuantity lineItem { id } }
    }
  }
}`;

const MORE_FULFILLMENT_LINES = `query DropshipFulfillmentLines($id: ID!, $after: String) {
  fulfillment(id: $id) {
    fulfillmentLineItems(first: ${MORE_FULFILLMENT_LINES_PER_PAGE}, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { lineItem { id } quantity }
    }
  }
}`;

const FO_FULFILLMENTS = `query DropshipFulfillmentOrderFulfillments($id: ID!, $after: String) {
  fulfillmentOrder(id: $id) {
    fulfillments(first: ${FO_FULFILLMENTS_PER_PAGE}, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
      ${FULFILLMENT_FIELDS}
      }
    }
  }
}`;

const FULFILLMENT_CREATE = `mutation DropshipFulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}`;

/** Fulfillment order statuses whose lines can be fulfilled. */
const FULFILLABLE = new Set(['OPEN', 'IN_PROGRESS']);
/** Statuses that hold lines back until someone acts in Shopify. */
const HELD = new Set(['ON_HOLD', 'SCHEDULED']);

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

interface FoLine {
  id: string;
  remaining: number;
  lineItemId: string;
}
interface FulfillmentOrder {
  id: string;
  status: string;
  locationId: string;
  lines: FoLine[];
  moreAfter?: string | undefined;
}
interface Allocation {
  fo: FulfillmentOrder;
  foLineId: string;
  quantity: number;
}
interface ExistingFulfillment {
  id: string;
  status: string;
  locationId: string;
  numbers: string[];
  /** Order line item gid → quantity this fulfillment holds. */
  lines: Map<string, number>;
  moreAfter?: string | undefined;
}

/** A throttled answer's wait: the cost missing from the bucket, at the restore rate. */
export function throttleWaitMs(cost: unknown): number | undefined {
  if (!isObject(cost) || !isObject(cost.throttleStatus)) return undefined;
  const requested = Number(cost.requestedQueryCost);
  const available = Number(cost.throttleStatus.currentlyAvailable);
  const restoreRate = Number(cost.throttleStatus.restoreRate);
  if (![requested, available, restoreRate].every(Number.isFinite) || restoreRate <= 0) return undefined;
  const missing = Math.max(0, requested - available);
  // Never less than one restore step: the bucket was short when Shopify looked.
  return Math.max(Math.ceil((missing / restoreRate) * 1000), Math.ceil(1000 / restoreRate));
}

/** `123` or `gid://shopify/Kind/123` → the gid; undefined when neither. */
function gid(kind: 'Order' | 'LineItem', id: string): string | undefined {
  if (/^[1-9]\d{0,19}$/.test(id)) return `gid://shopify/${kind}/${id}`;
  return new RegExp(`^gid://shopify/${kind}/[1-9]\\d{0,19}$`).test(id) ? id : undefined;
}

export interface ShopifyClientContext {
  configDir: string;
  env: NodeJS.ProcessEnv;
  io?: StoreIo;
  /** The clock the cost pacing waits on (tests). @defaultValue real time */
  clock?: PacerClock;
  /** Longest wait for the cost bucket inside the process (longer: `ERATE_LIMITED`, the job waits in the queue). @defaultValue 15 s */
  maxPacingWaitMs?: number;
}

export class ShopifyStore implements StorePlatform {
  readonly id = 'shopify' as const;
  private readonly http: StoreHttp;
  private readonly token: string;
  private readonly path: string;
  /** This shop's cost bucket as this process knows it (see pacing.ts). */
  readonly pacer: CostPacer;

  constructor(
    private readonly options: ShopifyStoreOptions,
    context: ShopifyClientContext,
  ) {
    this.token = secretFromEnv(context.env, 'store.shopify', 'accessTokenEnv', options.accessTokenEnv, 'Admin API access token');
    this.http = new StoreHttp({
      name: 'Shopify',
      where: 'store.shopify',
      baseUrl: options.baseUrl ?? `https://${options.shopDomain}`,
      caFile: options.caFile,
      timeout: options.timeout,
      secrets: [this.token],
      configDir: context.configDir,
      io: context.io ?? storeIo(),
    });
    this.path = `/admin/api/${options.apiVersion}/graphql.json`;
    this.pacer = new CostPacer(context.clock, context.maxPacingWaitMs);
  }

  async fulfil(request: FulfillmentRequest, signal?: AbortSignal): Promise<FulfillmentResult> {
    const orderGid = gid('Order', request.storeOrderId);
    if (orderGid === undefined) throw DeliveryError.permanent('EPAYLOAD', `order ${request.orderId}: storeOrderId is not a Shopify order id`);
    const wanted = request.lines.map((line) => {
      const lineGid = gid('LineItem', line.storeLineId);
      if (lineGid === undefined) throw DeliveryError.permanent('EPAYLOAD', `order ${request.orderId}: line ${line.storeLineId} is not a Shopify line item id`);
      if (!Number.isInteger(line.quantity) || line.quantity < 1) throw DeliveryError.permanent('EPAYLOAD', `order ${request.orderId}: line ${line.storeLineId} has no positive quantity`);
      return { ...line, gid: lineGid };
    });
    if (wanted.length === 0) throw DeliveryError.permanent('EPAYLOAD', `order ${request.orderId}: a fulfillment needs at least one line`);
    const numbers = request.tracking.numbers.map((n) => n.trim()).filter((n) => n !== '');

    const { fulfillments, fulfillmentOrders } = await this.readOrder(orderGid, request.orderId, numbers, new Set(wanted.map((l) => l.gid)), signal);

    // What we ask for, by order line (a line named twice asks for the sum).
    const asked = new Map<string, number>();
    for (const line of wanted) asked.set(line.gid, (asked.get(line.gid) ?? 0) + line.quantity);
    // Earlier attempts of this request (answers lost): at most one per location.
    const earlier = new Map<string, ExistingFulfillment>();
    for (const f of fulfillments) {
      if (!earlier.has(f.locationId) && madeByUs(f, numbers, asked, fulfillmentOrders)) earlier.set(f.locationId, f);
    }
    const credited = new Map<string, number>();
    for (const f of earlier.values()) for (const [lineItemId, quantity] of f.lines) credited.set(lineItemId, (credited.get(lineItemId) ?? 0) + quantity);

    // Allocate what our earlier fulfillments do not hold over the open fulfillment order lines
    // that still hold it, at the locations without an earlier fulfillment of ours.
    const taken = new Map<string, number>();
    const allocations: Allocation[] = [];
    const shortLines: NonNullable<FulfillmentResult['shortLines']> = [];
    for (const line of wanted) {
      const everywhere = fulfillmentOrders.flatMap((fo) => fo.lines.filter((l) => l.lineItemId === line.gid).map((l) => ({ fo, l })));
      if (everywhere.length === 0) {
        throw DeliveryError.permanent('ESTORE_REJECTED', `Shopify order ${request.orderId} has no line item ${line.storeLineId} on its fulfillment orders (removed from the order?)`);
      }
      const held = Math.min(line.quantity, credited.get(line.gid) ?? 0);
      credited.set(line.gid, (credited.get(line.gid) ?? 0) - held);
      let want = line.quantity - held;
      for (const { fo, l } of everywhere) {
        if (want === 0) break;
        if (!FULFILLABLE.has(fo.status) || earlier.has(fo.locationId)) continue;
        const left = l.remaining - (taken.get(l.id) ?? 0);
        if (left <= 0) continue;
        const quantity = Math.min(want, left);
        taken.set(l.id, (taken.get(l.id) ?? 0) + quantity);
        allocations.push({ fo, foLineId: l.id, quantity });
        want -= quantity;
      }
      if (want > 0) {
        const onHold = everywhere.filter(({ fo, l }) => HELD.has(fo.status) && l.remaining > 0);
        if (onHold.length > 0) {
          throw DeliveryError.permanent(
            'ESTORE_REJECTED',
            `Shopify order ${request.orderId}: line ${line.storeLineId} is on a fulfillment order that is ${onHold[0]!.fo.status}; release it in Shopify, then replay`,
          );
        }
        shortLines.push({ storeLineId: line.storeLineId, requested: line.quantity, fulfilled: line.quantity - want });
      }
    }

    const short = shortLines.length > 0 ? { shortLines } : {};
    const ids = [...earlier.values()].map((f) => f.id);
    if (allocations.length === 0) {
      return { ...(ids.length > 0 ? { storeFulfillmentId: ids.join(',') } : {}), alreadyFulfilled: true, ...short };
    }

    // One fulfillment per location.
    const byLocation = new Map<string, Allocation[]>();
    for (const a of allocations) byLocation.set(a.fo.locationId, [...(byLocation.get(a.fo.locationId) ?? []), a]);
    for (const group of byLocation.values()) ids.push(await this.create(request, numbers, group, signal));
    return { storeFulfillmentId: ids.join(','), ...short };
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  /**
   * The order's fulfillments (all the line items of those that share one of `numbers`: only
   * they can be ours) and every fulfillment order with all its line items. An order with more
   * fulfillments than the first read has them read through the fulfillment orders holding
   * `lineItems` (ours), every page.
   */
  private async readOrder(
    orderGid: string,
    orderId: string,
    numbers: string[],
    lineItems: Set<string>,
    signal: AbortSignal | undefined,
  ): Promise<{ fulfillments: ExistingFulfillment[]; fulfillmentOrders: FulfillmentOrder[] }> {
    const fulfillmentOrders: FulfillmentOrder[] = [];
    let fulfillments: ExistingFulfillment[] = [];
    let more = false;
    let after: string | undefined;
    for (let page = 0; ; page += 1) {
      if (page >= MAX_PAGES) throw DeliveryError.permanent('ESTORE_REJECTED', `Shopify order ${orderId} has more fulfillment orders than this client reads`);
      const data = await this.graphql('DropshipFulfillmentState', FULFILLMENT_STATE, { id: orderGid, after: after ?? null }, 'order query', signal);
      const order = data.order;
      if (!isObject(order)) throw DeliveryError.permanent('ESTORE_REJECTED', `Shopify has no order ${orderId} (id ${orderGid.replace(/^gid:\/\/shopify\/Order\//, '')}), or the token may not read it`);
      if (page === 0) {
        fulfillments = list(order.fulfillments).filter(isObject).map(readFulfillment);
        const count = isObject(order.fulfillmentsCount) && typeof order.fulfillmentsCount.count === 'number' ? order.fulfillmentsCount.count : undefined;
        // The list is cut at FULFILLMENTS_READ; without a count, a full list may have been cut.
        more = count === undefined ? fulfillments.length >= FULFILLMENTS_READ : count > fulfillments.length;
      }
      const connection = isObject(order.fulfillmentOrders) ? order.fulfillmentOrders : {};
      for (const node of list(connection.nodes).filter(isObject)) {
        const lineItems = isObject(node.lineItems) ? node.lineItems : {};
        const pageInfo = isObject(lineItems.pageInfo) ? lineItems.pageInfo : {};
        fulfillmentOrders.push({
          id: str(node.id) ?? '',
          status: str(node.status) ?? '',
          locationId: isObject(node.assignedLocation) && isObject(node.assignedLocation.location) ? (str(node.assignedLocation.location.id) ?? '') : '',
          lines: foLines(lineItems.nodes),
          moreAfter: pageInfo.hasNextPage === true ? str(pageInfo.endCursor) : undefined,
        });
      }
      const pageInfo = isObject(connection.pageInfo) ? connection.pageInfo : {};
      if (pageInfo.hasNextPage !== true || str(pageInfo.endCursor) === undefined) break;
      after = str(pageInfo.endCursor);
    }
    for (const fo of fulfillmentOrders) {
      for (let page = 0; fo.moreAfter !== undefined; page += 1) {
        if (page >= MAX_PAGES) throw DeliveryError.permanent('ESTORE_REJECTED', `Shopify order ${orderId} has more line items than this client reads`);
        const data = await this.graphql('DropshipFulfillmentOrderLines', MORE_LINE_ITEMS, { id: fo.id, after: fo.moreAfter }, 'fulfillment order query', signal);
        const lineItems = isObject(data.fulfillmentOrder) && isObject(data.fulfillmentOrder.lineItems) ? data.fulfillmentOrder.lineItems : {};
        fo.lines.push(...foLines(lineItems.nodes));
        const pageInfo = isObject(lineItems.pageInfo) ? lineItems.pageInfo : {};
        fo.moreAfter = pageInfo.hasNextPage === true ? str(pageInfo.endCursor) : undefined;
      }
    }
    // Without a tracking number nothing is taken for ours: the rest of the list cannot matter.
    if (more && numbers.length > 0) {
      const byId = new Map(fulfillments.map((f) => [f.id, f]));
      for (const fo of fulfillmentOrders.filter((f) => f.lines.some((l) => lineItems.has(l.lineItemId)))) {
        let cursor: string | null = null;
        for (let page = 0; ; page += 1) {
          if (page >= MAX_PAGES) throw DeliveryError.permanent('ESTORE_REJECTED', `Shopify order ${orderId} has more fulfillments than this client reads`);
          const data = await this.graphql('DropshipFulfillmentOrderFulfillments', FO_FULFILLMENTS, { id: fo.id, after: cursor }, 'fulfillment order query', signal);
          const connection = isObject(data.fulfillmentOrder) && isObject(data.fulfillmentOrder.fulfillments) ? data.fulfillmentOrder.fulfillments : {};
          for (const f of list(connection.nodes).filter(isObject).map(readFulfillment)) {
            if (f.id !== '' && !byId.has(f.id)) byId.set(f.id, f);
          }
          const pageInfo = isObject(connection.pageInfo) ? connection.pageInfo : {};
          const next = pageInfo.hasNextPage === true ? str(pageInfo.endCursor) : undefined;
          if (next === undefined) break;
          cursor = next;
        }
      }
      fulfillments = [...byId.values()];
    }
    for (const f of fulfillments) {
      if (f.status === 'CANCELLED' || !sharesNumber(f, numbers)) continue;
      for (let page = 0; f.moreAfter !== undefined; page += 1) {
        if (page >= MAX_PAGES) throw DeliveryError.permanent('ESTORE_REJECTED', `Shopify order ${orderId} has a fulfillment with more line items than this client reads`);
        const data = await this.graphql('DropshipFulfillmentLines', MORE_FULFILLMENT_LINES, { id: f.id, after: f.moreAfter }, 'fulfillment query', signal);
        const lineItems = isObject(data.fulfillment) && isObject(data.fulfillment.fulfillmentLineItems) ? data.fulfillment.fulfillmentLineItems : {};
        addFulfillmentLines(f.lines, lineItems.nodes);
        const pageInfo = isObject(lineItems.pageInfo) ? lineItems.pageInfo : {};
        f.moreAfter = pageInfo.hasNextPage === true ? str(pageInfo.endCursor) : undefined;
      }
    }
    return { fulfillments, fulfillmentOrders };
  }

  /** `fulfillmentCreate` for one location's lines; the new fulfillment's id. */
  private async create(
    request: FulfillmentRequest,
    numbers: string[],
    group: Allocation[],
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const byFo = new Map<string, Array<{ id: string; quantity: number }>>();
    for (const a of group) byFo.set(a.fo.id, [...(byFo.get(a.fo.id) ?? []), { id: a.foLineId, quantity: a.quantity }]);
    const company = request.tracking.company.trim();
    const url = request.tracking.url?.trim();
    const fulfillment = {
      lineItemsByFulfillmentOrder: [...byFo].map(([fulfillmentOrderId, fulfillmentOrderLineItems]) => ({ fulfillmentOrderId, fulfillmentOrderLineItems })),
      trackingInfo: {
        ...(company === '' ? {} : { company }),
        numbers,
        ...(url === undefined || url === '' ? {} : { url }),
      },
      notifyCustomer: this.options.notifyCustomer,
    };
    const data = await this.graphql('DropshipFulfillmentCreate', FULFILLMENT_CREATE, { fulfillment }, 'fulfillmentCreate', signal);
    const payload = isObject(data.fulfillmentCreate) ? data.fulfillmentCreate : {};
    const userErrors = list(payload.userErrors).filter(isObject);
    if (userErrors.length > 0) {
      // Shopify's messages name fulfillment orders, lines and statuses, not the customer.
      const said = userErrors.map((e) => [list(e.field).join('.'), str(e.message) ?? ''].filter((s) => s !== '').join(': ')).join('; ');
      throw DeliveryError.permanent('ESTORE_REJECTED', `Shopify refused the fulfillment of order ${request.orderId}: ${this.http.quote(said)}`);
    }
    const id = isObject(payload.fulfillment) ? str(payload.fulfillment.id) : undefined;
    // Nothing said and nothing made: the next attempt reads the order again and sees which.
    if (id === undefined) throw DeliveryError.unsure('EREMOTE', `Shopify fulfillmentCreate for order ${request.orderId} answered without a fulfillment or an error`);
    return id;
  }

  /**
   * One GraphQL operation; its `data`, or a classified error. Paced: it waits first when the
   * last answer's `throttleStatus` says the bucket cannot hold its expected cost yet.
   */
  private async graphql(operationName: string, query: string, variables: Json, what: string, signal: AbortSignal | undefined): Promise<Json> {
    const ticket = await this.pacer.beforeRequest(operationName, ESTIMATED_COST[operationName] ?? 1000, signal);
    let answer: StoreAnswer;
    try {
      answer = await this.http.send(
        {
          method: 'POST',
          path: this.path,
          headers: { 'content-type': 'application/json', accept: 'application/json', 'x-shopify-access-token': this.token },
          body: JSON.stringify({ query, variables, operationName }),
        },
        signal,
      );
    } catch (error) {
      ticket.release();
      throw error;
    }
    const body = isObject(answer.json) ? answer.json : undefined;
    this.pacer.afterAnswer(operationName, body !== undefined && isObject(body.extensions) ? body.extensions.cost : undefined, ticket);
    if (answer.status < 200 || answer.status >= 300) {
      const refusal = this.http.refusal(what, answer, errorText(answer));
      // Shopify asked for a pause: the process's other requests to this shop wait it out too.
      if (refusal.code === 'ERATE_LIMITED' && refusal.retryAfterMs !== undefined) this.pacer.hold(refusal.retryAfterMs);
      throw refusal;
    }
    if (body === undefined) throw DeliveryError.retryable('EREMOTE', `Shopify ${what} answered ${answer.status} without a JSON body`);
    const errors = list(body.errors).filter(isObject);
    if (errors.length > 0) {
      const codes = errors.map((e) => (isObject(e.extensions) ? str(e.extensions.code) : undefined));
      const said = this.http.quote(errors.map((e) => str(e.message) ?? '').join('; '));
      if (codes.includes('THROTTLED')) {
        const wait = throttleWaitMs(isObject(body.extensions) ? body.extensions.cost : undefined) ?? 1000;
        throw DeliveryError.retryAfter('ERATE_LIMITED', `Shopify ${what} was throttled (query cost over what is available); retry in ${wait} ms`, wait);
      }
      if (codes.includes('ACCESS_DENIED')) throw DeliveryError.permanent('EAUTH', `Shopify ${what}: access denied (${said}); check the app's access scopes`);
      if (codes.includes('INTERNAL_SERVER_ERROR') || codes.includes('SERVICE_UNAVAILABLE')) throw DeliveryError.retryable('EREMOTE', `Shopify ${what} failed on Shopify's side: ${said}`);
      throw DeliveryError.permanent('ESTORE_REJECTED', `Shopify ${what} was refused: ${said}`);
    }
    if (!isObject(body.data)) throw DeliveryError.retryable('EREMOTE', `Shopify ${what} answered without data`);
    return body.data;
  }
}

const sharesNumber = (f: ExistingFulfillment, numbers: string[]): boolean => numbers.some((n) => f.numbers.includes(n));

/**
 * Whether `f` is a fulfillment an earlier attempt of this request made (see the class comment):
 * not cancelled, one of our tracking numbers, every line of it one of ours and no more than we
 * ask, each of ours it holds fewer of (or none) with nothing of it left open at its location,
 * and every line of ours that sits only at its location held in full unless nothing is left
 * of it there. A fulfillment made by staff or for another confirmation under the same label
 * holds other lines or other quantities.
 */
function madeByUs(f: ExistingFulfillment, numbers: string[], asked: Map<string, number>, fulfillmentOrders: FulfillmentOrder[]): boolean {
  if (f.status === 'CANCELLED' || f.moreAfter !== undefined || f.lines.size === 0 || !sharesNumber(f, numbers)) return false;
  for (const [lineItemId, quantity] of f.lines) {
    if (quantity > (asked.get(lineItemId) ?? 0)) return false;
  }
  const here = (fo: FulfillmentOrder) => fo.locationId === f.locationId;
  for (const [lineItemId, quantity] of asked) {
    const sitting = fulfillmentOrders.filter((fo) => fo.status !== 'CANCELLED' && fo.lines.some((l) => l.lineItemId === lineItemId));
    const holds = f.lines.get(lineItemId) ?? 0;
    // A line of ours it does not hold in full, though it sits only here: that much must have been all there was.
    if (holds === quantity || !(holds > 0 || (sitting.length > 0 && sitting.every(here)))) continue;
    const open = fulfillmentOrders
      .filter((fo) => here(fo) && FULFILLABLE.has(fo.status))
      .reduce((n, fo) => n + fo.lines.filter((l) => l.lineItemId === lineItemId).reduce((m, l) => m + Math.max(l.remaining, 0), 0), 0);
    if (open > 0) return false;
  }
  return true;
}

/** A fulfillment node (`FULFILLMENT_FIELDS`) read. */
function readFulfillment(f: Json): ExistingFulfillment {
  const lineItems = isObject(f.fulfillmentLineItems) ? f.fulfillmentLineItems : {};
  const pageInfo = isObject(lineItems.pageInfo) ? lineItems.pageInfo : {};
  const lines = new Map<string, number>();
  addFulfillmentLines(lines, lineItems.nodes);
  return {
    id: str(f.id) ?? '',
    status: str(f.status) ?? '',
    locationId: isObject(f.location) ? (str(f.location.id) ?? '') : '',
    numbers: list(f.trackingInfo).filter(isObject).map((t) => str(t.number) ?? '').filter((n) => n !== ''),
    lines,
    moreAfter: pageInfo.hasNextPage === true ? str(pageInfo.endCursor) : undefined,
  };
}

/** Adds a page of `fulfillmentLineItems` nodes to an order line → quantity map. */
function addFulfillmentLines(lines: Map<string, number>, nodes: unknown): void {
  for (const n of list(nodes).filter(isObject)) {
    const lineItemId = isObject(n.lineItem) ? str(n.lineItem.id) : undefined;
    const quantity = typeof n.quantity === 'number' ? n.quantity : 0;
    if (lineItemId !== undefined && quantity > 0) lines.set(lineItemId, (lines.get(lineItemId) ?? 0) + quantity);
  }
}

function foLines(nodes: unknown): FoLine[] {
  return list(nodes)
    .filter(isObject)
    .map((n) => ({
      id: str(n.id) ?? '',
      remaining: typeof n.remainingQuantity === 'number' ? n.remainingQuantity : 0,
      lineItemId: isObject(n.lineItem) ? (str(n.lineItem.id) ?? '') : '',
    }));
}

/** What an error answer says: `errors` as a string, a list of messages, or an object of lists. */
function errorText(answer: StoreAnswer): string {
  const body = isObject(answer.json) ? answer.json : {};
  const errors = body.errors;
  if (typeof errors === 'string') return errors;
  if (Array.isArray(errors)) return errors.map((e) => (isObject(e) ? (str(e.message) ?? '') : String(e))).join('; ');
  if (isObject(errors)) return Object.entries(errors).map(([k, v]) => `${k}: ${list(v).join(', ')}`).join('; ');
  return '';
}
