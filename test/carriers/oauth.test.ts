import { OAuthTokens, memoryCache, tokenGrant, type TokenGrant } from '../../src/carriers/oauth-tokens';
import { DeliveryError, type SharedCache } from '../../src/transports/transport';

/** OAuth client-credentials tokens: cached until shortly before expiry, fetched once for all. */

const HOUR = 3_600_000;

/** A token endpoint that counts its calls; each grant can be held back until released. */
function tokenEndpoint(options: { delayMs?: number; expiresInMs?: number; fail?: () => Error | undefined } = {}) {
  let calls = 0;
  const fetch = async (): Promise<TokenGrant> => {
    calls += 1;
    const n = calls;
    if (options.delayMs !== undefined) await new Promise((r) => setTimeout(r, options.delayMs));
    const error = options.fail?.();
    if (error !== undefined) throw error;
    return { accessToken: `token-${n}`, expiresInMs: options.expiresInMs ?? HOUR };
  };
  return { fetch, calls: () => calls };
}

describe('tokenGrant', () => {
  it('reads UPS (expires_in as a string) and FedEx (an integer) answers', () => {
    expect(tokenGrant({ access_token: 'abc', expires_in: '14399', token_type: 'Bearer' })).toEqual({ accessToken: 'abc', expiresInMs: 14_399_000 });
    expect(tokenGrant({ access_token: 'abc', expires_in: 3600, token_type: 'bearer', scope: 'CXS' })).toEqual({ accessToken: 'abc', expiresInMs: HOUR });
  });

  it('assumes five minutes when the lifetime is missing or unreadable', () => {
    expect(tokenGrant({ access_token: 'abc' })?.expiresInMs).toBe(300_000);
    expect(tokenGrant({ access_token: 'abc', expires_in: 'soon' })?.expiresInMs).toBe(300_000);
  });

  it.each([[undefined], ['abc'], [{}], [{ access_token: '' }], [{ access_token: 'two words' }], [{ access_token: 42 }]])(
    'finds no grant in %p',
    (answer) => {
      expect(tokenGrant(answer)).toBeUndefined();
    },
  );
});

describe('OAuthTokens', () => {
  it('keeps a token until a minute before it expires, then fetches a new one', async () => {
    let now = 1_000_000;
    const endpoint = tokenEndpoint();
    const tokens = new OAuthTokens({ key: 'oauth:test', fetch: endpoint.fetch, cache: memoryCache(() => now), now: () => now });
    expect(await tokens.get()).toBe('token-1');
    now += HOUR - 60_001;
    expect(await tokens.get()).toBe('token-1');
    now += 1;
    expect(await tokens.get()).toBe('token-2');
    expect(endpoint.calls()).toBe(2);
  });

  it('keeps a short-lived token for half its life', async () => {
    let now = 0;
    const endpoint = tokenEndpoint({ expiresInMs: 90_000 });
    const tokens = new OAuthTokens({ key: 'oauth:test', fetch: endpoint.fetch, cache: memoryCache(() => now), now: () => now });
    await tokens.get();
    now = 44_999;
    expect(await tokens.get()).toBe('token-1');
    now = 45_000;
    expect(await tokens.get()).toBe('token-2');
  });

  it('fetches once for many callers at the same moment (single flight)', async () => {
    const endpoint = tokenEndpoint({ delayMs: 30 });
    const tokens = new OAuthTokens({ key: 'oauth:test', fetch: endpoint.fetch });
    const got = await Promise.all(Array.from({ length: 50 }, () => tokens.get()));
    expect(new Set(got)).toEqual(new Set(['token-1']));
    expect(endpoint.calls()).toBe(1);
  });

  it('fetches once for several processes sharing a cache: one holds the lock, the others wait', async () => {
    const cache = memoryCache();
    const endpoint = tokenEndpoint({ delayMs: 80 });
    const processes = Array.from({ length: 4 }, () => new OAuthTokens({ key: 'oauth:shared', fetch: endpoint.fetch, cache, pollMs: 5 }));
    const got = await Promise.all(processes.flatMap((p) => [p.get(), p.get(), p.get()]));
    expect(new Set(got)).toEqual(new Set(['token-1']));
    expect(endpoint.calls()).toBe(1);
    expect(await cache.get('oauth:shared:lock')).toBeUndefined();
  });

  it('a holder slower than its lock frees only its own lock, not the one taken after it expired', async () => {
    const cache = memoryCache();
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let calls = 0;
    const slowFetch = async (): Promise<TokenGrant> => {
      calls += 1;
      await held;
      return { accessToken: 'token-slow', expiresInMs: HOUR };
    };
    const slow = new OAuthTokens({ key: 'oauth:shared', fetch: slowFetch, cache, lockTtlMs: 30, pollMs: 5 });
    const first = slow.get();
    await new Promise((r) => setTimeout(r, 60));
    // The slow holder's lock has expired; another process takes the lock now.
    expect(await cache.setIfAbsent('oauth:shared:lock', 'other-holder', 60_000)).toBe(true);
    release();
    expect(await first).toBe('token-slow');
    expect(calls).toBe(1);
    expect(await cache.get('oauth:shared:lock')).toBe('other-holder');
  });

  it('lets a waiting process fetch when the lock holder fails', async () => {
    const cache = memoryCache();
    let failures = 1;
    const failing = tokenEndpoint({ delayMs: 40, fail: () => (failures-- > 0 ? DeliveryError.retryable('EREMOTE', 'token endpoint answered 503') : undefined) });
    const holder = new OAuthTokens({ key: 'oauth:shared', fetch: failing.fetch, cache, pollMs: 5 });
    const waiter = new OAuthTokens({ key: 'oauth:shared', fetch: failing.fetch, cache, pollMs: 5 });
    const first = holder.get();
    await new Promise((r) => setTimeout(r, 5));
    const second = waiter.get();
    await expect(first).rejects.toMatchObject({ code: 'EREMOTE' });
    expect(await second).toBe('token-2');
    expect(failing.calls()).toBe(2);
  });

  it('replaces a token the API rejected, once for all callers, even while the cache still holds it', async () => {
    const cache = memoryCache();
    const endpoint = tokenEndpoint({ delayMs: 20 });
    const a = new OAuthTokens({ key: 'oauth:shared', fetch: endpoint.fetch, cache, pollMs: 5 });
    const b = new OAuthTokens({ key: 'oauth:shared', fetch: endpoint.fetch, cache, pollMs: 5 });
    const old = await a.get();
    expect(await b.get()).toBe(old);
    const fresh = await Promise.all([a.refresh(old), a.refresh(old), b.refresh(old), b.refresh(old)]);
    expect(new Set(fresh)).toEqual(new Set(['token-2']));
    expect(endpoint.calls()).toBe(2);
    expect(await a.get()).toBe('token-2');
  });

  it('still hands out tokens when the shared cache fails (one fetch per process)', async () => {
    const broken: SharedCache = {
      get: () => Promise.reject(new Error('Connection is closed.')),
      set: () => Promise.reject(new Error('Connection is closed.')),
      setIfAbsent: () => Promise.reject(new Error('Connection is closed.')),
      deleteIf: () => Promise.reject(new Error('Connection is closed.')),
    };
    const endpoint = tokenEndpoint({ delayMs: 10 });
    const tokens = new OAuthTokens({ key: 'oauth:test', fetch: endpoint.fetch, cache: broken });
    const got = await Promise.all(Array.from({ length: 10 }, () => tokens.get()));
    expect(new Set(got)).toEqual(new Set(['token-1']));
    expect(await tokens.get()).toBe('token-1');
    expect(endpoint.calls()).toBe(1);
  });

  it('stops a caller waiting for a token when its delivery is aborted', async () => {
    const endpoint = tokenEndpoint({ delayMs: 200 });
    const tokens = new OAuthTokens({ key: 'oauth:test', fetch: endpoint.fetch });
    const controller = new AbortController();
    const waiting = tokens.get(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'ETIMEDOUT', permanent: false });
    expect(await tokens.get()).toBe('token-1');
  });
});
