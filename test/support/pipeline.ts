import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/server';
import type { Config } from '../../src/config/config';
import { Pipeline, type PipelineOptions } from '../../src/app/pipeline';
import type { TransportTarget } from '../../src/transports/factory';
import { RecordingTransport } from '../../src/transports/recording';
import type { Transport } from '../../src/transports/transport';
import { createDataCipher, generateDataKey } from '../../src/queue/sealing';

/** The data key of this test file's pipelines (one per deployment: restarts keep it), generated. */
export const TEST_CIPHER = createDataCipher(generateDataKey());

export const SHOPIFY_SECRET = 'test-shopify-secret';
export const WOO_SECRET = 'test-woo-secret';

/** A pipeline on a test Redis with recording transports (or custom ones) and the API in-process. */
export class PipelineHarness {
  readonly transports = new Map<string, RecordingTransport>();

  private constructor(
    readonly pipeline: Pipeline,
    readonly api: FastifyInstance,
  ) {}

  static async start(
    config: Config,
    redisUrl: string,
    options: { prefix: string; custom?: (t: TransportTarget) => Transport | undefined; apiEnv?: NodeJS.ProcessEnv } & Partial<PipelineOptions>,
  ): Promise<PipelineHarness> {
    const recorders = new Map<string, RecordingTransport>();
    const pipeline = await Pipeline.start({
      config,
      redisUrl,
      cipher: TEST_CIPHER,
      ...options,
      transports: (target) => {
        const custom = options.custom?.(target);
        if (custom) return custom;
        const r = new RecordingTransport(target.recipient);
        recorders.set(target.recipient, r);
        return r;
      },
    });
    const api = buildApi({
      ...(options.logger ? { logger: options.logger } : {}),
      submit: (e) => pipeline.intake.submit(e),
      cancel: (e) => pipeline.intake.cancel(e),
      ready: () => pipeline.ready(),
      env: { SHOPIFY_WEBHOOK_SECRET: SHOPIFY_SECRET, WOOCOMMERCE_WEBHOOK_SECRET: WOO_SECRET, ...options.apiEnv },
      confirmations: { suppliers: config.suppliers, confirm: (supplierId, confirmation, origin) => pipeline.confirmations.confirm(supplierId, confirmation, origin) },
      // The limits of the configuration, as `dropship start` applies them.
      rateLimit: { redis: pipeline.redis, prefix: pipeline.prefix, limits: config.store.api.rateLimits, onLimited: (source) => options.metrics?.rateLimited(source) },
      trustProxy: config.store.api.trustProxy,
      webhookMaxAgeMs: config.store.api.webhookMaxAgeMs,
    });
    await api.ready();
    const harness = new PipelineHarness(pipeline, api);
    for (const [k, v] of recorders) harness.transports.set(k, v);
    return harness;
  }

  recorder(recipient: string): RecordingTransport {
    const r = this.transports.get(recipient);
    if (!r) throw new Error(`no recording transport for ${recipient}`);
    return r;
  }

  /** Every payload delivered, across recipients. */
  delivered() {
    return [...this.transports.values()].flatMap((t) => t.delivered);
  }

  postOrder(body: unknown) {
    return this.api.inject({ method: 'POST', url: '/orders', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' }, remoteAddress: '127.0.0.1' });
  }

  cancelOrder(orderId: string, body?: unknown) {
    return this.api.inject({
      method: 'POST',
      url: `/orders/${encodeURIComponent(orderId)}/cancel`,
      ...(body === undefined ? {} : { payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      remoteAddress: '127.0.0.1',
    });
  }

  postShopify(body: unknown, webhookId: string, secret = SHOPIFY_SECRET, topic = 'orders/create', extra: Record<string, string> = {}) {
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    return this.api.inject({
      method: 'POST',
      url: '/webhooks/shopify',
      payload: raw,
      headers: {
        'content-type': 'application/json',
        'x-shopify-topic': topic,
        'x-shopify-webhook-id': webhookId,
        'x-shopify-hmac-sha256': createHmac('sha256', secret).update(raw).digest('base64'),
        ...extra,
      },
    });
  }

  postWoo(body: unknown, deliveryId: string, secret = WOO_SECRET, topic = 'order.created') {
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    return this.api.inject({
      method: 'POST',
      url: '/webhooks/woocommerce',
      payload: raw,
      headers: {
        'content-type': 'application/json',
        'x-wc-webhook-topic': topic,
        'x-wc-webhook-delivery-id': deliveryId,
        'x-wc-webhook-signature': createHmac('sha256', secret).update(raw).digest('base64'),
      },
    });
  }

  async stop(): Promise<void> {
    await this.api.close();
    await this.pipeline.stop();
  }
}
