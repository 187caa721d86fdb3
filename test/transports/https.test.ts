import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import { basename, dirname } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { httpsTransport, PAYLOAD_TYPE_HEADER, PGP_CONTENT_TYPE, standardWebhookSignature, webhookId } from '../../src/transports/https';
import { parseRetryAfter } from '../../src/transports/http';
import { DeliveryError, type Transport, type TransportContext } from '../../src/transports/transport';
import { freePort } from '../../src/queue/embedded-redis';
import { startHttpsReceiver, type LocalCert, type HttpsReceiver } from '../../testkit/receivers/https';
import { expectNoSecrets, makePayload, transportContract } from './contract';

jest.setTimeout(20_000);

const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const BEARER_TOKEN = `tok_${randomBytes(16).toString('hex')}`;

let server: HttpsReceiver;
let mtls: HttpsReceiver;
let nginx: HttpsReceiver;
let clientCert: LocalCert;

beforeAll(async () => {
  [server, mtls, nginx] = await Promise.all([
    startHttpsReceiver({ webhookSecret: WEBHOOK_SECRET }),
    startHttpsReceiver({ requireClientCert: true }),
    startHttpsReceiver({ clientCertLikeNginx: true }),
  ]);
  clientCert = await mtls.ca.issue('store-client', 'client');
});

afterAll(async () => {
  await Promise.all([server?.stop(), mtls?.stop(), nginx?.stop()]);
});

beforeEach(() => {
  server.reset();
  mtls.reset();
  nginx?.reset();
});

const env = { VC_WEBHOOK_SECRET: WEBHOOK_SECRET, VC_TOKEN: BEARER_TOKEN };

const baseOptions = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  url: `${server.url}/orders?source=dropship`,
  auth: { hmacSecretEnv: 'VC_WEBHOOK_SECRET' },
  caFile: server.ca.caFile,
  timeout: '5s',
  ...overrides,
});

const context = (overrides: Partial<TransportContext> = {}): TransportContext => ({
  instanceId: 'vermont-creamery',
  configDir: '/nonexistent-config-dir',
  env,
  ...overrides,
});

const open: Transport[] = [];
function create(options: Record<string, unknown>, ctx: TransportContext = context()): Transport {
  const transport = httpsTransport.create(httpsTransport.optionsSchema.parse(options), ctx);
  open.push(transport);
  return transport;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function rejection(promise: Promise<unknown>): Promise<DeliveryError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

transportContract('https', () => ({
  kind: httpsTransport,
  options: () => baseOptions(),
  context: () => context(),
  received: async (payload) =>
    server.requests
      .filter((r) => r.headers['webhook-id'] === webhookId(payload.deliveryId) && r.status !== undefined && r.status < 300)
      .map((r) => r.body),
  breakReceiver: async () => {
    server.script({ status: 503, body: 'maintenance' });
    return async () => undefined;
  },
  permanentFailure: { options: () => baseOptions({ caFile: mtls.ca.caFile }), code: 'ETLS' },
  unreachableOptions: async () => baseOptions({ url: `https://127.0.0.1:${await freePort()}/orders` }),
  secrets: () => [WEBHOOK_SECRET, BEARER_TOKEN],
}));

describe('https options', () => {
  const messages = (options: Record<string, unknown>): string =>
    JSON.stringify(httpsTransport.optionsSchema.safeParse(options).error?.issues ?? []);

  it('refuses plain http (privacy promise 4)', () => {
    expect(messages(baseOptions({ url: 'http://supplier.example/orders' }))).toContain('url must start with https://');
    expect(messages(baseOptions({ url: 'not a url' }))).toContain('not a valid URL');
  });

  it('reads timeouts as durations and defaults to POST and 30s', () => {
    expect(httpsTransport.optionsSchema.parse(baseOptions({ timeout: '30s' })).timeout).toBe(30_000);
    expect(httpsTransport.optionsSchema.parse(baseOptions({ timeout: 1500 })).timeout).toBe(1500);
    const defaults = httpsTransport.optionsSchema.parse({ url: 'https://supplier.example/orders' });
    expect(defaults).toMatchObject({ method: 'POST', timeout: 30_000 });
    expect(messages(baseOptions({ timeout: 'soon' }))).toContain('positive duration');
  });

  it('checks the auth combinations', () => {
    expect(messages(baseOptions({ auth: { hmacSecretEnv: 'A', bearerTokenEnv: 'B' } }))).toContain('choose one');
    expect(messages(baseOptions({ auth: { clientCertFile: 'c.pem' } }))).toContain('go together');
    expect(messages(baseOptions({ auth: {} }))).toContain('auth needs');
    expect(messages(baseOptions({ auth: { bearerTokenEnv: 'tok_abc def' } }))).toContain('NAME of an environment variable');
    expect(httpsTransport.optionsSchema.safeParse(baseOptions({ auth: { hmacSecretEnv: 'A', clientCertFile: 'c', clientKeyFile: 'k' } })).success).toBe(true);
  });

  it('refuses to start when a named secret is missing, naming the variable only', () => {
    expect(() => create(baseOptions(), context({ env: {} }))).toThrow(/VC_WEBHOOK_SECRET/);
  });
});

describe('Standard Webhooks, checked with the official standardwebhooks library', () => {
  const SECRET_RULE = 'must be "whsec_" followed by the standard base64 of at least 24 random bytes (for example "whsec_" and the output of `openssl rand -base64 32`)';
  const LIBRARY = "the receiver's Standard Webhooks library would refuse every delivery signed with it";

  it.each([
    ['plain text', 'correct horse battery staple, not base64', SECRET_RULE],
    ['base64 without the whsec_ prefix', randomBytes(32).toString('base64'), SECRET_RULE],
    ['URL-safe base64', `whsec_${Buffer.from('>>>?>>>?'.repeat(4)).toString('base64url')}`, SECRET_RULE],
    ['base64 without its padding', `whsec_${randomBytes(25).toString('base64').replace(/=+$/, '')}`, SECRET_RULE],
    ['16 bytes', `whsec_${randomBytes(16).toString('base64')}`, `${SECRET_RULE}; it holds 16`],
  ])('refuses a secret that is %s when the transport is created, naming the variable, not the value', (_, secret, problem) => {
    let thrown: unknown;
    try {
      create(baseOptions(), context({ env: { VC_WEBHOOK_SECRET: secret } }));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DeliveryError);
    expect(thrown).toMatchObject({
      code: 'ECONFIG',
      permanent: true,
      message: `https vermont-creamery: the secret in environment variable VC_WEBHOOK_SECRET (auth.hmacSecretEnv) ${problem}; ${LIBRARY}`,
    });
    expectNoSecrets(thrown as Error, [secret]);
  });

  it('takes whsec_ with 24 bytes or more', () => {
    for (const bytes of [24, 32, 64]) {
      expect(() => create(baseOptions(), context({ env: { VC_WEBHOOK_SECRET: `whsec_${randomBytes(bytes).toString('base64')}` } }))).not.toThrow();
    }
  });

  it('signs deliveries the official library accepts, a delivery id with dots included', async () => {
    const transport = create(baseOptions());
    const payload = makePayload('official', { deliveryId: 'A-1.5+vermont.creamery+po' });
    await transport.deliver(payload);
    await transport.deliver(payload);
    const sent = server.requests.filter((r) => r.headers['idempotency-key'] === payload.deliveryId);
    expect(sent).toHaveLength(2);
    for (const request of sent) {
      // The webhook id is the delivery id without dots, the same on every attempt.
      expect(request.headers['webhook-id']).toBe('A-1%2E5+vermont%2Ecreamery+po');
      const headers = Object.fromEntries(['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => [h, String(request.headers[h])]));
      // Throws WebhookVerificationError unless the signature matches (the body is CSV, not JSON).
      expect(() => new Webhook(WEBHOOK_SECRET).verify(request.body, headers, { jsonParse: false })).not.toThrow();
      expect(() => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(request.body, headers, { jsonParse: false })).toThrow('No matching signature found');
    }
  });

  it('encodes webhook ids one-to-one, without dots', () => {
    expect(webhookId('1001+vermont-creamery+po')).toBe('1001+vermont-creamery+po');
    expect(webhookId('a.b')).toBe('a%2Eb');
    expect(webhookId('a%2Eb')).toBe('a%252Eb');
    expect(webhookId('a.b')).not.toBe(webhookId('a%2Eb'));
  });
});

describe('Standard Webhooks signing and Retry-After', () => {
  it('signs like the reference implementation', () => {
    // Test vector of standard-webhooks/libraries/javascript ("sign function works").
    expect(standardWebhookSignature('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('https delivery against a TLS server', () => {
  it('delivers with a Standard Webhooks signature the server verifies, and an Idempotency-Key', async () => {
    const transport = create(baseOptions());
    const payload = makePayload('signed');
    server.script({ status: 201, headers: { 'content-type': 'application/json' }, body: '{"accepted":true,"reference":"PO-77"}' });
    const receipt = await transport.deliver(payload);
    expect(receipt).toEqual({
      location: `${server.url}/orders 201`,
      response: { status: '201', accepted: 'true', reference: 'PO-77' },
    });
    expect(server.requests).toHaveLength(1);
    const request = server.requests[0];
    expect(request).toMatchObject({ method: 'POST', path: '/orders?source=dropship', body: payload.body, signatureValid: true });
    expect(request?.headers).toMatchObject({
      'webhook-id': payload.deliveryId,
      'idempotency-key': payload.deliveryId,
      'content-type': payload.contentType,
    });
    expect(Math.abs(Number(request?.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(5);
    expect(request?.headers.authorization).toBeUndefined();
  });

  it('encrypts the document to the supplier\'s PGP key when one is configured, and signs what it sends', async () => {
    const { publicKey, privateKey } = await openpgp.generateKey({ userIDs: [{ email: 'orders@vc.example' }], format: 'armored' });
    const transport = create(baseOptions(), context({ pgpPublicKey: publicKey }));
    const payload = makePayload('encrypted');
    server.script({ status: 202, body: '' });
    const receipt = await transport.deliver(payload);
    expect(receipt.response).toMatchObject({ status: '202', encrypted: 'true' });
    const request = server.requests[0]!;
    // Nothing of the document travels in clear; the signature covers the ciphertext sent.
    expect(request.body).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    expect(request.body).not.toContain('Crème');
    expect(request.signatureValid).toBe(true);
    expect(request.headers['content-type']).toBe(PGP_CONTENT_TYPE);
    expect(request.headers[PAYLOAD_TYPE_HEADER]).toBe(payload.contentType);
    const message = await openpgp.readMessage({ armoredMessage: request.body });
    const { data, filename } = await openpgp.decrypt({ message, decryptionKeys: await openpgp.readPrivateKey({ armoredKey: privateKey }), format: 'binary' });
    expect(Buffer.from(data)).toEqual(Buffer.from(payload.body, 'utf8'));
    expect(filename).toBe(payload.filename);
  });

  it('refuses to send at all when the configured PGP key cannot be used', async () => {
    const transport = create(baseOptions(), context({ pgpPublicKey: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n-----END PGP PUBLIC KEY BLOCK-----\n' }));
    const error = await rejection(transport.deliver(makePayload('bad-key')));
    expect(error).toMatchObject({ code: 'ECONFIG', permanent: true });
    expect(server.requests).toHaveLength(0);
  });

  it('sends a bearer token instead when configured', async () => {
    const transport = create(baseOptions({ url: `${server.url}/bearer`, auth: { bearerTokenEnv: 'VC_TOKEN' } }));
    await rejection(transport.deliver(makePayload('bearer'))); // the server wants a signature: 401
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${BEARER_TOKEN}`);
    expect(server.requests[0]?.headers['webhook-signature']).toBeUndefined();
  });

  it('keeps its connections alive across deliveries, no more than maxConnections', async () => {
    const single = create(baseOptions({ maxConnections: 1 }));
    for (let i = 0; i < 5; i += 1) await single.deliver(makePayload(`keepalive${i}`));
    expect(server.connections()).toBe(1);
    server.reset();
    const pooled = create(baseOptions());
    await Promise.all(Array.from({ length: 8 }, (_, i) => pooled.deliver(makePayload(`pooled${i}`))));
    expect(server.connections()).toBe(2);
  });

  it('presents the client certificate to a server that requires one', async () => {
    const transport = create(
      { url: `${mtls.url}/orders`, caFile: basename(mtls.ca.caFile), auth: { clientCertFile: clientCert.certFile, clientKeyFile: clientCert.keyFile } },
      context({ configDir: dirname(mtls.ca.caFile) }),
    );
    await transport.verify();
    await transport.deliver(makePayload('mtls'));
    expect(mtls.requests.filter((r) => r.method === 'POST').map((r) => r.clientCert)).toEqual(['store-client']);
  });

  it('is refused by a server that requires a client certificate when it has none', async () => {
    const transport = create({ url: `${mtls.url}/orders`, caFile: mtls.ca.caFile });
    const error = await rejection(transport.deliver(makePayload('no-client-cert')));
    expect(error.permanent).toBe(true);
    expect(error.code).toBe('EAUTH');
    expect(error.message).toContain('client certificate');
    expect(mtls.requests).toHaveLength(0);
  });

  describe('a client certificate refused after the handshake, as nginx does (ssl_verify_client on)', () => {
    const nginxOptions = (auth?: Record<string, unknown>) => ({ url: `${nginx.url}/orders`, caFile: nginx.ca.caFile, ...(auth ? { auth } : {}) });

    it('without a certificate: a permanent EAUTH in one line, the HTML left out, and verify() fails', async () => {
      const transport = create(nginxOptions());
      const error = await rejection(transport.deliver(makePayload('nginx-none')));
      expect(error).toMatchObject({ code: 'EAUTH', permanent: true });
      expect(error.message).toBe(`${nginx.url}/orders requires a client certificate (answered 400: no required SSL certificate was sent); set auth.clientCertFile and auth.clientKeyFile`);
      await expect(transport.verify()).rejects.toMatchObject({ code: 'EAUTH', message: error.message });
    });

    it('with a certificate its CA did not issue: refused, EAUTH, and verify() fails', async () => {
      const stranger = await mtls.ca.issue('stranger', 'client');
      const transport = create(nginxOptions({ clientCertFile: stranger.certFile, clientKeyFile: stranger.keyFile }));
      const error = await rejection(transport.deliver(makePayload('nginx-stranger')));
      expect(error).toMatchObject({ code: 'EAUTH', permanent: true });
      expect(error.message).toBe(`${nginx.url}/orders refused our client certificate (answered 400: the SSL certificate error)`);
      expect(error.message).not.toMatch(/[<>\n]/);
      await expect(transport.verify()).rejects.toMatchObject({ code: 'EAUTH', message: error.message });
    });

    it('with its own certificate: delivered and verified', async () => {
      const own = await nginx.ca.issue('store-client', 'client');
      const transport = create(nginxOptions({ clientCertFile: own.certFile, clientKeyFile: own.keyFile }));
      await transport.verify();
      await transport.deliver(makePayload('nginx-own'));
      expect(nginx.requests.filter((r) => r.method === 'POST').map((r) => [r.clientCert, r.status])).toEqual([['store-client', 200]]);
    });

    it('any other 400 stays the receiver\'s own refusal (EREJECTED), and verify() passes on it', async () => {
      const transport = create(baseOptions());
      server.script({ status: 400, body: '<html><title>400 Bad Request</title>missing field</html>' });
      expect(await rejection(transport.deliver(makePayload('plain-400')))).toMatchObject({ code: 'EREJECTED', permanent: true });
      server.script({ status: 400 }, { status: 400, body: 'HEAD not supported' });
      await transport.verify();
    });
  });

  it('refuses a server certificate from a CA it does not trust', async () => {
    for (const caFile of [mtls.ca.caFile, undefined]) {
      const transport = create(baseOptions({ caFile }));
      const error = await rejection(transport.deliver(makePayload('wrong-ca')));
      expect(error).toMatchObject({ code: 'ETLS', permanent: true });
      await expect(transport.verify()).rejects.toMatchObject({ code: 'ETLS' });
    }
    expect(server.requests).toHaveLength(0);
  });

  it('honours Retry-After on 429 (seconds) and 503 (HTTP date)', async () => {
    const transport = create(baseOptions());
    server.script({ status: 429, headers: { 'retry-after': '7' }, body: 'slow down' });
    const limited = await rejection(transport.deliver(makePayload('429')));
    expect(limited).toMatchObject({ code: 'ERATE_LIMITED', permanent: false, retryAfterMs: 7000 });

    server.script({ status: 503, headers: { 'retry-after': new Date(Date.now() + 60_000).toUTCString() } });
    const unavailable = await rejection(transport.deliver(makePayload('503')));
    expect(unavailable).toMatchObject({ code: 'EREMOTE', permanent: false });
    expect(unavailable.retryAfterMs).toBeGreaterThan(55_000);
    expect(unavailable.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('retries a 500 and then delivers, under the same idempotency key', async () => {
    const transport = create(baseOptions());
    const payload = makePayload('500');
    server.script({ status: 500, body: 'oops' });
    const failed = await rejection(transport.deliver(payload));
    expect(failed).toMatchObject({ code: 'EREMOTE', permanent: false });
    expect(failed.retryAfterMs).toBeUndefined();
    await transport.deliver(payload);
    expect(server.requests.map((r) => [r.status, r.headers['idempotency-key']])).toEqual([
      [500, payload.deliveryId],
      [200, payload.deliveryId],
    ]);
  });

  it('treats 408 as retryable', async () => {
    const transport = create(baseOptions());
    server.script({ status: 408 });
    expect(await rejection(transport.deliver(makePayload('408')))).toMatchObject({ code: 'ETIMEDOUT', permanent: false });
  });

  it('treats 400 as permanent with the status and a short excerpt, secrets redacted', async () => {
    const h = await startHttpsReceiver();
    try {
      const plain = create({ url: `${h.url}/orders`, caFile: h.ca.caFile, auth: { bearerTokenEnv: 'VC_TOKEN' } });
      h.script({ status: 400, body: `invalid order: sku missing; you sent Bearer ${BEARER_TOKEN} ${'x'.repeat(1000)}` });
      const error = await rejection(plain.deliver(makePayload('400')));
      expect(error).toMatchObject({ code: 'EREJECTED', permanent: true });
      expect(error.message).toContain('answered 400: invalid order: sku missing');
      expect(error.message).toContain('[redacted]');
      expectNoSecrets(error, [BEARER_TOKEN]);
      const excerpt = error.message.slice(error.message.indexOf('answered 400: ') + 'answered 400: '.length);
      expect(excerpt.length).toBeLessThanOrEqual(200);
    } finally {
      await Promise.all(open.splice(0).map((t) => t.close()));
      await h.stop();
    }
  });

  it('gives up after the timeout with a retryable ETIMEDOUT', async () => {
    const transport = create(baseOptions({ timeout: '300ms' }));
    server.script({ status: 200, delayMs: 2000 });
    const started = Date.now();
    const error = await rejection(transport.deliver(makePayload('slow')));
    expect(error).toMatchObject({ code: 'ETIMEDOUT', permanent: false });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('stops when the caller aborts', async () => {
    const transport = create(baseOptions());
    server.script({ status: 200, delayMs: 2000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await rejection(transport.deliver(makePayload('abort'), controller.signal));
    expect(error).toMatchObject({ code: 'ETIMEDOUT', permanent: false });
    expect(error.message).toContain('aborted');
  });
});
