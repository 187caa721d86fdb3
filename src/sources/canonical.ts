import type { OrderInput } from '../core/order';
import type { OrderSource } from './source';
import { asIs, compact, isRecord, requireObject, shallow, type JsonObject } from './payload';

/**
 * The canonical order JSON (`POST /orders`, `dropship preview --source canonical`): the
 * payload already has the canonical shape, so this adapter only copies the fields the
 * canonical order has. Anything else a client sends along (browser, marketing or card
 * fields) is not copied, so it never reaches scrubbing, logs or queues.
 */

const ADDRESS_KEYS = ['name', 'company', 'line1', 'line2', 'city', 'region', 'postalCode', 'country', 'phone'];
const CUSTOMER_KEYS = ['name', 'email', 'phone', 'contactRestricted'];
const PAYMENT_KEYS = ['brand', 'last4'];
const LINE_KEYS = ['id', 'storeLineId', 'sku', 'name', 'quantity', 'unitPrice', 'weight', 'requiresShipping'];
const STATE_KEYS = ['status', 'test'];

/** The named keys of an object, each value shallow; a non-object goes to validation as-is. */
function pick(value: unknown, keys: readonly string[]): unknown {
  if (!isRecord(value)) return shallow(value);
  // compact() of the named keys, in one pass (the key lists are this file's own).
  const out: JsonObject = {};
  for (const k of keys) {
    const v = shallow(value[k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function properties(value: unknown): unknown {
  if (!isRecord(value)) return shallow(value);
  // fromEntries, not assignment: a property named "__proto__" stays a plain key.
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shallow(v)]));
}

function line(value: unknown): unknown {
  if (!isRecord(value)) return shallow(value);
  // Onto pick's own copy (its keys are LINE_KEYS) rather than `{ ...pick(), properties }`:
  // V8 (Node 20) gives an object that gets keys after a leading spread a hidden class of its own.
  return compact(Object.assign(pick(value, LINE_KEYS) as JsonObject, { properties: properties(value.properties) }));
}

/** The canonical order JSON, recognised by an `id` and a `lines` array. */
export const canonicalSource: OrderSource = {
  kind: 'canonical',

  detect(payload: unknown): boolean {
    return isRecord(payload) && Array.isArray(payload.lines) && 'id' in payload;
  },

  toOrderInput(payload: unknown): OrderInput {
    const order = requireObject(payload, 'a canonical order');
    return compact({
      id: asIs<string>(shallow(order.id)),
      storeId: asIs<string | undefined>(shallow(order.storeId)),
      placedAt: asIs<string>(shallow(order.placedAt)),
      currency: asIs<string>(shallow(order.currency)),
      shippingMethod: asIs<string | undefined>(shallow(order.shippingMethod)),
      giftMessage: asIs<string | undefined>(shallow(order.giftMessage)),
      notes: asIs<string | undefined>(shallow(order.notes)),
      customer: asIs<OrderInput['customer']>(pick(order.customer, CUSTOMER_KEYS)),
      shipTo: asIs<OrderInput['shipTo']>(pick(order.shipTo, ADDRESS_KEYS)),
      billTo: asIs<OrderInput['billTo']>(pick(order.billTo, ADDRESS_KEYS)),
      payment: asIs<OrderInput['payment']>(pick(order.payment, PAYMENT_KEYS)),
      lines: asIs<OrderInput['lines']>(Array.isArray(order.lines) ? order.lines.map(line) : shallow(order.lines)),
      // `state: { status, test }` says whether the order ships now; absent, it does.
      state: order.state === undefined ? undefined : isRecord(order.state) ? asIs<OrderInput['state']>({ platform: 'canonical', ...(pick(order.state, STATE_KEYS) as JsonObject) }) : asIs<OrderInput['state']>(shallow(order.state)),
      version: asIs<number | undefined>(shallow(order.version)),
    });
  },
};
