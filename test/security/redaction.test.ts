import { randomBytes } from 'node:crypto';
import { startHttpsReceiver, type HttpsReceiver } from '../../testkit/receivers/https';
import { displayRedisUrl, redactRedisCredentials } from '../../src/queue/redis';
import { memoryCache, OAuthTokens } from '../../src/carriers/oauth-tokens';
import { httpsTransport } from '../../src/transports/https';
import { DeliveryError } from '../../src/transports/transport';
import { makePayload } from '../transports/contract';

/** The pieces that keep credentials out of Redis and out of messages, one by one. */

describe('Redis credentials in errors and messages', () => {
  it('are removed from a refused HELLO or AUTH, and nothing else is', () => {
    const hello = Object.assign(new Error('WRONGPASS invalid username-password pair'), { command: { name: 'hello', args: ['3', 'AUTH', 'default', 'pw-1', 'SETNAME', 'bull:x'] } });
    redactRedisCredentials(hello);
    expect(hello.command.args).toEqual(['3', 'AUTH', '[redacted]', '[redacted]', 'SETNAME', 'bull:x']);
    const auth = Object.assign(new Error('WRONGPASS'), { command: { name: 'auth', args: ['user', 'pw-2'] } });
    redactRedisCredentials(auth);
    expect(auth.command.args).toEqual(['[redacted]', '[redacted]']);
    const get = Object.assign(new Error('WRONGTYPE'), { command: { name: 'get', args: ['dropship:k'] } });
    redactRedisCredentials(get);
    expect(get.command.args).toEqual(['dropship:k']);
    redactRedisCredentials(undefined);
    redactRedisCredentials('text');
  });

  it('are left out of a Redis URL shown in a message', () => {
    expect(displayRedisUrl('redis://:s3cret@10.0.0.5:6380/2')).toBe('redis://10.0.0.5:6380/2');
    expect(displayRedisUrl('rediss://app:s3cret@redis.example:6380')).toBe('rediss://redis.example:6380');
    expect(displayRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(displayRedisUrl('not a url s3cret')).not.toContain('s3cret');
  });
});

describe('OAuth tokens in the shared cache', () => {
  const grant = () => {
    const token = `tok-${randomBytes(12).toString('hex')}`;
    return { token, fetch: jest.fn(async () => ({ accessToken: token, expiresInMs: 3_600_000 })) };
  };

  it('are stored encrypted, and another process holding the client secret reads them', async () => {
    const cache = memoryCache();
    const issued = grant();
    const a = new OAuthTokens({ key: 'oauth:ups:abc', fetch: issued.fetch, cache, sealWith: 'client-secret-1' });
    const b = new OAuthTokens({ key: 'oauth:ups:abc', fetch: issued.fetch, cache, sealWith: 'client-secret-1' });
    expect(await a.get()).toBe(issued.token);
    const stored = (await cache.get('oauth:ups:abc')) ?? '';
    expect(stored).toMatch(/^dsk1\.[0-9a-f]{8}\.[A-Za-z0-9+/=]+$/);
    expect(stored).not.toContain(issued.token);
    expect(stored).not.toContain(Buffer.from(issued.token).toString('base64').slice(0, 16));
    expect(await b.get()).toBe(issued.token);
    expect(issued.fetch).toHaveBeenCalledTimes(1);
  });

  it('read as absent under another secret or when tampered with: a new token is fetched', async () => {
    const cache = memoryCache();
    const first = grant();
    await new OAuthTokens({ key: 'oauth:fedex:abc', fetch: first.fetch, cache, sealWith: 'old-secret' }).get();
    const second = grant();
    expect(await new OAuthTokens({ key: 'oauth:fedex:abc', fetch: second.fetch, cache, sealWith: 'new-secret' }).get()).toBe(second.token);

    const stored = (await cache.get('oauth:fedex:abc')) ?? '';
    const [v, keyId, sealed] = stored.split('.');
    const flipped = Buffer.from(sealed ?? '', 'base64');
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1;
    await cache.set('oauth:fedex:abc', [v, keyId, flipped.toString('base64')].join('.'), 60_000);
    const third = grant();
    expect(await new OAuthTokens({ key: 'oauth:fedex:abc', fetch: third.fetch, cache, sealWith: 'new-secret' }).get()).toBe(third.token);
  });

  it('are bound to their cache key: a value copied under another client key does not open', async () => {
    const cache = memoryCache();
    const issued = grant();
    await new OAuthTokens({ key: 'oauth:ups:one', fetch: issued.fetch, cache, sealWith: 'same-secret' }).get();
    await cache.set('oauth:ups:two', (await cache.get('oauth:ups:one')) ?? '', 60_000);
    const other = grant();
    expect(await new OAuthTokens({ key: 'oauth:ups:two', fetch: other.fetch, cache, sealWith: 'same-secret' }).get()).toBe(other.token);
  });
});

describe('secrets a payload carries, said back by an HTTPS receiver', () => {
  let receiver: HttpsReceiver;
  beforeAll(async () => {
    receiver = await startHttpsReceiver();
  });
  afterAll(async () => {
    await receiver?.stop();
  });

  const transport = () =>
    httpsTransport.create(httpsTransport.optionsSchema.parse({ url: `${receiver.url}/po`, caFile: receiver.ca.caFile, auth: { bearerTokenEnv: 'TOKEN' }, timeout: '5s' }), {
      instanceId: 'cx',
      configDir: '/nonexistent',
      env: { TOKEN: 'tok-0123456789abcdef' },
    });

  it('are taken out of the quoted answer before it is cut, so no piece of one survives', async () => {
    const secret = `shared-${randomBytes(16).toString('hex')}`;
    const t = transport();
    try {
      // The secret straddles the 200th character of the answer, where the quote is cut.
      receiver.script({ status: 400, body: `${'x'.repeat(190)}${secret} and more` });
      const error = await t.deliver({ ...makePayload('echo'), secrets: [secret] }).then(
        () => undefined,
        (e: unknown) => e as DeliveryError,
      );
      expect(error).toBeInstanceOf(DeliveryError);
      expect(error?.message).toContain('[redacted]');
      expect(error?.message).not.toContain(secret.slice(0, 8));
      receiver.script({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ok: 'yes', echo: secret, auth: 'Bearer tok-0123456789abcdef' }) });
      const receipt = await t.deliver({ ...makePayload('echo-ok'), secrets: [secret] });
      expect(receipt.response).toEqual({ status: '200', ok: 'yes', echo: '[redacted]', auth: 'Bearer [redacted]' });
    } finally {
      await t.close();
    }
  });
});
