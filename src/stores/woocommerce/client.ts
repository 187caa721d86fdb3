import type { WooCommerceStoreOptions } from './options';
import { DeliveryError } from '../../errors';
import { isObject, type Json, list, secretFromEnv, StoreHttp, storeIo, type StoreAnswer, type StoreIo } from '../http-client';
import type { FulfillmentRequest, FulfillmentResult, StorePlatform } from '../store';

/**
 * Tells a WooCommerce store what shipped, through its REST API (consumer key and secret as
 * HTTP Basic credentials, over HTTPS only):
 *
 * - `tracking: shipment-tracking` (the default): one tracking item per tracking number with the
 *   Shipment Tracking extension, `POST /wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings`
 *   (`tracking_provider`, or `custom_tracking_provider` and `custom_tracking_link` when the
 *   shipment has a tracking URL; `tracking_number`); numbers the order already holds are skipped;
 * - `tracking: note`: one customer note, `POST /wp-json/wc/v3/orders/{id}/notes` with
 *   `customer_note: true` (WooCommerce emails it), unless the order already has it;
 * - then, when every line of the order has shipped (`orderComplete`) and `complete` is on,
 *   `PUT /wp-json/wc/v3/orders/{id}` `{ status: "completed" }` (WooCommerce's Completed Order
 *   email, which shows the tracking items).
 *
 * A shipment without tracking numbers adds no tracking item (the order may still be completed).
 * Reading before writing makes a retry after a lost answer safe. Lists and answers are asked
 * for with `_fields`, so the store sends back ids, statuses and tracking, not the customer.
 * WooCommerce has no line-level fulfillment: the lines and quantities are not sent.
 */

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined);

export interface WooCommerceClientContext {
  configDir: string;
  env: NodeJS.ProcessEnv;
  io?: StoreIo;
}

/** The customer note for a shipment (`tracking: note`): carrier, tracking numbers and link, nothing else. */
export function shipmentNote(tracking: FulfillmentRequest['tracking']): string {
  const numbers = tracking.numbers.map((n) => n.trim()).filter((n) => n !== '');
  const company = tracking.company.trim();
  const head = company === '' ? 'Shipped' : `Shipped with ${company}`;
  const body = numbers.length === 0 ? '' : `, tracking number${numbers.length > 1 ? 's' : ''} ${numbers.join(', ')}`;
  const link = tracking.url?.trim() ? `: ${tracking.url.trim()}` : '';
  return `${head}${body}${link}.`;
}

export class WooCommerceStore implements StorePlatform {
  readonly id = 'woocommerce' as const;
  private readonly http: StoreHttp;
  private readonly authorization: string;

  constructor(
    private readonly options: WooCommerceStoreOptions,
    context: WooCommerceClientContext,
  ) {
    const key = secretFromEnv(context.env, 'store.woocommerce', 'consumerKeyEnv', options.consumerKeyEnv, 'REST API consumer key');
    const secret = secretFromEnv(context.env, 'store.woocommerce', 'consumerSecretEnv', options.consumerSecretEnv, 'REST API consumer secret');
    const basic = Buffer.from(`${key}:${secret}`).toString('base64');
    this.authorization = `Basic ${basic}`;
    this.http = new StoreHttp({
      name: 'WooCommerce',
      where: 'store.woocommerce',
      baseUrl: options.baseUrl ?? options.url,
      caFile: options.caFile,
      timeout: options.timeout,
      secrets: [key, secret, basic],
      configDir: context.configDir,
      io: context.io ?? storeIo(),
    });
  }

  async fulfil(request: FulfillmentRequest, signal?: AbortSignal): Promise<FulfillmentResult> {
    if (!/^[1-9]\d{0,19}$/.test(request.storeOrderId)) throw DeliveryError.permanent('EPAYLOAD', `order ${request.orderId}: storeOrderId is not a WooCommerce order id`);
    if (this.options.tracking === 'shipment-tracking' && request.tracking.company.trim() === '' && request.tracking.numbers.some((n) => n.trim() !== '')) {
      // Shipment Tracking takes no item without a provider.
      throw DeliveryError.permanent('EPAYLOAD', `order ${request.orderId}: a Shipment Tracking item needs the carrier's name`);
    }
    const order = request.storeOrderId;
    const ids: string[] = [];
    let added = 0;

    if (this.options.tracking === 'shipment-tracking') {
      const route = `/wp-json/wc-shipment-tracking/v3/orders/${order}/shipment-trackings`;
      const existing = await this.call('GET', `${route}?_fields=tracking_id,tracking_number`, undefined, 'shipment tracking list', signal);
      const items = list(existing).filter(isObject);
      const company = request.tracking.company.trim();
      const url = request.tracking.url?.trim();
      for (const number of new Set(request.tracking.numbers.map((n) => n.trim()).filter((n) => n !== ''))) {
        const earlier = items.find((item) => str(item.tracking_number) === number);
        if (earlier !== undefined) {
          ids.push(str(earlier.tracking_id) ?? '');
          continue;
        }
        const body =
          url === undefined || url === ''
            ? { tracking_provider: company, tracking_number: number }
            : { custom_tracking_provider: company, custom_tracking_link: url, tracking_number: number };
        const item = await this.call('POST', `${route}?_fields=tracking_id,tracking_number`, body, 'shipment tracking', signal);
        ids.push(isObject(item) ? (str(item.tracking_id) ?? '') : '');
        added += 1;
      }
    } else {
      const route = `/wp-json/wc/v3/orders/${order}/notes`;
      const note = shipmentNote(request.tracking);
      const notes = list(await this.call('GET', `${route}?type=customer&_fields=id,note,customer_note`, undefined, 'order note list', signal)).filter(isObject);
      const earlier = notes.find((n) => n.customer_note === true && str(n.note)?.trim() === note);
      if (earlier !== undefined) {
        ids.push(str(earlier.id) ?? '');
      } else {
        const created = await this.call('POST', `${route}?_fields=id`, { note, customer_note: true }, 'order note', signal);
        ids.push(isObject(created) ? (str(created.id) ?? '') : '');
        added += 1;
      }
    }

    if (request.orderComplete && this.options.complete) {
      const updated = await this.call('PUT', `/wp-json/wc/v3/orders/${order}?_fields=id,status`, { status: 'completed' }, 'order update', signal);
      if (!isObject(updated) || updated.status !== 'completed') {
        throw DeliveryError.permanent('ESTORE_REJECTED', `WooCommerce order ${request.orderId} is not completed after the update (status ${isObject(updated) ? (str(updated.status) ?? '?') : '?'})`);
      }
    }
    const found = ids.filter((id) => id !== '');
    return { ...(found.length > 0 ? { storeFulfillmentId: found.join(',') } : {}), ...(added === 0 && found.length > 0 ? { alreadyFulfilled: true } : {}) };
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private async call(method: 'GET' | 'POST' | 'PUT', path: string, body: Json | undefined, what: string, signal: AbortSignal | undefined): Promise<unknown> {
    const answer = await this.http.send(
      {
        method,
        path,
        headers: { authorization: this.authorization, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      },
      signal,
    );
    if (answer.status >= 200 && answer.status < 300) {
      if (answer.json === undefined) throw DeliveryError.retryable('EREMOTE', `WooCommerce ${what} answered ${answer.status} without JSON`);
      return answer.json;
    }
    const error = this.http.refusal(what, answer, errorText(answer));
    if (answer.status === 404 && isObject(answer.json) && answer.json.code === 'rest_no_route') {
      throw DeliveryError.permanent('ESTORE_REJECTED', `${error.message} (is the ${what.startsWith('shipment') ? 'Shipment Tracking extension' : 'REST API'} active on the store?)`);
    }
    throw error;
  }
}

/** WooCommerce's error body: `{ code, message, data: { status } }`. */
function errorText(answer: StoreAnswer): string {
  if (!isObject(answer.json)) return '';
  return [str(answer.json.code), str(answer.json.message)].filter((s) => s !== undefined && s !== '').join(' ');
}
