import { Writable } from 'node:stream';
import { createLogger, defaultLogFormat } from '../../src/telemetry/log';
import { DeliveryError } from '../../src/transports/transport';
import { containsAnyOf, cardLikeNumbers } from '../support/card-scan';
import { fixtureConfig, orderPayload, TEST_CARDS } from '../support/orders';
import { PipelineHarness, SHOPIFY_SECRET } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

describe('logs after a realistic run', () => {
  it('carry ids, queues and reasons, and no card data, address, name, email, phone or secret', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const logger = createLogger({ level: 'debug', destination: sink, redact: [] });
    const redis = await TestRedis.start();
    const h = await PipelineHarness.start(fixtureConfig(), redis.url, { prefix: 'logs', logger });
    try {
      h.recorder('creamery').then(DeliveryError.retryable('ECONNECTION', 'connection refused by sftp.creamery.test:22'));
      h.recorder('oliveco').then(DeliveryError.permanent('EREJECTED', 'HTTP 422 from https://olive.test/po'));
      const order = {
        ...orderPayload({ id: 'LOG1' }),
        notes: `card ${TEST_CARDS[0]} exp 04/30`,
        payment: { brand: 'visa', last4: '1111', number: TEST_CARDS[1], cvv: '321' },
        browser: { ip: '203.0.113.9', userAgent: 'LeakyAgent/1.0' },
      };
      expect((await h.postOrder(order)).statusCode).toBe(202);
      expect((await h.postOrder({ ...order, id: 'LOG2', currency: 'nope', customer: { email: 'not-an-email-ada@example.com' } })).statusCode).toBe(400);
      expect((await h.postShopify({ id: 1 }, 'wh-1', 'wrong')).statusCode).toBe(401);
      await h.postOrder({ ...orderPayload({ id: 'LOG3' }), shipTo: undefined });
      await waitFor('deliveries settled', () => h.recorder('creamery').delivered.length === 1 && h.recorder('ups').delivered.length === 2);
      await waitFor('failures logged', () => lines.some((l) => l.includes('EREJECTED')) && lines.some((l) => l.includes('held: NO_SHIP_TO')));
    } finally {
      await h.stop();
      await redis.stop();
    }
    const text = lines.join('\n');
    // The log is useful: requests, retries, permanent failures and held orders are in it.
    expect(text).toMatch(/"path":"\/orders"/);
    expect(text).toMatch(/"statusCode":400/);
    expect(text).toContain('ECONNECTION');
    expect(text).toContain('"final":true');
    // ...and private.
    expect(cardLikeNumbers(text)).toEqual([]);
    expect(containsAnyOf(text, TEST_CARDS)).toBe(false);
    for (const secret of ['Ada Example', '12 Sample Street', 'Apt 4', '97205', 'ada@example.com', '503 555 0199', '5035550199', 'Happy birthday', 'side door', '203.0.113.9', 'LeakyAgent', '04/30', SHOPIFY_SECRET]) {
      expect([secret, text.includes(secret)]).toEqual([secret, false]);
    }
  });
});

describe('log format', () => {
  it('is pretty for a person at a terminal and JSON lines for everything else, unless LOG_FORMAT says', () => {
    expect(defaultLogFormat({}, true)).toBe('pretty');
    expect(defaultLogFormat({}, false)).toBe('json');
    expect(defaultLogFormat({ LOG_FORMAT: 'json' }, true)).toBe('json');
    expect(defaultLogFormat({ LOG_FORMAT: 'Pretty' }, false)).toBe('pretty');
    expect(() => defaultLogFormat({ LOG_FORMAT: 'xml' }, true)).toThrow('LOG_FORMAT must be "json" or "pretty", not "xml"');
  });

  it('pretty lines are pino-pretty\'s, and redacted as the JSON lines are', async () => {
    let text = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        text += chunk.toString();
        done();
      },
    });
    const logger = createLogger({ format: 'pretty', destination: sink, redact: [] });
    logger.warn({ queue: 'po-creamery', customer: { email: 'ada@example.com' }, auth: { password: 'hunter2-secret' } }, 'delivery retried');
    logger.flush();
    await waitFor('the pretty line', () => text.includes('delivery retried'));
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: delivery retried\n/);
    expect(text).toContain('queue: "po-creamery"');
    expect(text).toContain('[redacted]');
    for (const secret of ['ada@example.com', 'hunter2-secret']) expect(text).not.toContain(secret);
    expect(() => JSON.parse(text.split('\n')[0] ?? '')).toThrow();
  });
});
