import { randomUUID } from 'node:crypto';
import { createDerivedCipher } from '../queue/sealing';
import { DeliveryError, type SharedCache } from '../transports/transport';
import { isRecord } from './json';

/**
 * OAuth 2.0 client-credentials tokens of the carrier API clients: reading a token endpoint's
 * grant, and one cache of the current token shared by every worker process, so a fleet of
 * workers asks the token endpoint once per token lifetime instead of once per process.
 */

/** Used when a token answer gives no readable lifetime. */
const DEFAULT_TOKEN_LIFETIME_MS = 5 * 60_000;

/** A token as a token endpoint grants it. */
export interface TokenGrant {
  accessToken: string;
  /** Lifetime from now. */
  expiresInMs: number;
}

/**
 * The grant in an OAuth token answer: `access_token` plus `expires_in` in seconds, a string
 * for UPS and an integer for FedEx. Undefined when there is no usable token.
 */
export function tokenGrant(answer: unknown): TokenGrant | undefined {
  if (!isRecord(answer) || typeof answer.access_token !== 'string' || answer.access_token === '') return undefined;
  if (!/^[\x21-\x7e]+$/.test(answer.access_token)) return undefined;
  const raw = answer.expires_in;
  const seconds = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
  return { accessToken: answer.access_token, expiresInMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_TOKEN_LIFETIME_MS };
}

/** Options of {@link OAuthTokens}. */
export interface OAuthTokensOptions {
  /** Cache key of this carrier + environment + client; must not contain secrets. */
  key: string;
  /** Asks the token endpoint for a new token. */
  fetch: () => Promise<TokenGrant>;
  /** Shared by all worker processes; without it, tokens are shared within this instance only. */
  cache?: SharedCache | undefined;
  /**
   * A token is no longer handed out this long before it expires.
   * @defaultValue 60 000 (one minute)
   */
  marginMs?: number;
  /**
   * How long one process may hold the refresh lock; longer than a token request may take.
   * @defaultValue 30 000
   */
  lockTtlMs?: number;
  /**
   * First interval at which waiting processes look for the new token (doubling up to 250 ms).
   * @defaultValue 25
   */
  pollMs?: number;
  /** The clock, for tests. @defaultValue `Date.now` */
  now?: () => number;
  /**
   * A secret every process sharing the cache holds (the API client secret): the cached token
   * is encrypted under a key derived from it, so the shared cache (Redis) never holds a
   * usable bearer token. A value sealed under another secret reads as absent.
   * @defaultValue none: the token is cached as it is
   */
  sealWith?: string;
}

/** How a token record is written to and read from the shared cache. */
interface CacheCodec {
  seal(record: HeldToken): string;
  /** The record as stored, still to be checked; undefined when this codec cannot read it. */
  open(value: string): unknown;
}

const PLAIN: CacheCodec = {
  seal: (record) => JSON.stringify(record),
  open: (value) => {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return undefined;
    }
  },
};

/**
 * The project's sealing (AES-256-GCM, purpose `oauth-token` as associated data) under a key
 * derived from `secret`, scoped to the cache `key`: a record sealed under another secret or
 * for another client reads as absent, and the token is fetched again.
 */
function sealedCodec(secret: string, key: string): CacheCodec {
  const cipher = createDerivedCipher(secret, key);
  return {
    seal: (record) => cipher.seal(record, 'oauth-token'),
    open: (value) => {
      try {
        return cipher.open<unknown>(value, 'oauth-token');
      } catch {
        return undefined;
      }
    },
  };
}

interface HeldToken {
  token: string;
  /** When to stop handing it out (expiry minus the margin), ms since the epoch. */
  usableUntil: number;
}

/**
 * OAuth client-credentials tokens of one API client, cached until shortly before they
 * expire, in the {@link SharedCache} so every worker process uses the same one (encrypted,
 * with {@link OAuthTokensOptions.sealWith}).
 *
 * When many deliveries need a token at once, one request asks for it: concurrent callers in
 * a process share one promise (single flight), and across processes the one that wins
 * `setIfAbsent` on a short-lived lock fetches while the others poll the cache. A cache that
 * fails (Redis away) degrades to per-process tokens rather than failing deliveries.
 */
export class OAuthTokens {
  private readonly cache: SharedCache;
  private readonly marginMs: number;
  private readonly lockTtlMs: number;
  private readonly pollMs: number;
  private readonly now: () => number;
  private readonly codec: CacheCodec;
  private held: HeldToken | undefined;
  private inflight: Promise<string> | undefined;

  constructor(private readonly options: OAuthTokensOptions) {
    this.cache = options.cache ?? memoryCache();
    this.marginMs = options.marginMs ?? 60_000;
    this.lockTtlMs = options.lockTtlMs ?? 30_000;
    this.pollMs = options.pollMs ?? 25;
    this.now = options.now ?? Date.now;
    this.codec = options.sealWith === undefined ? PLAIN : sealedCodec(options.sealWith, options.key);
  }

  private get lockKey(): string {
    return `${this.options.key}:lock`;
  }

  /** A usable token: held, cached by another process, or fetched once for all waiting callers. */
  async get(signal?: AbortSignal): Promise<string> {
    if (this.held !== undefined && this.held.usableUntil > this.now()) return this.held.token;
    return abortable(this.singleFlight(undefined), signal);
  }

  /** A token other than `rejected` (which the API answered 401 to), fetched once for all callers. */
  async refresh(rejected: string, signal?: AbortSignal): Promise<string> {
    if (this.held?.token === rejected) this.held = undefined;
    let token = await abortable(this.singleFlight(rejected), signal);
    // A flight that began before the rejection may bring the rejected token back.
    if (token === rejected) token = await abortable(this.singleFlight(rejected), signal);
    return token;
  }

  /** Keeps a freshly granted token (from `verify()`) for everyone. */
  async keep(grant: TokenGrant): Promise<string> {
    const usableFor = grant.expiresInMs > 2 * this.marginMs ? grant.expiresInMs - this.marginMs : grant.expiresInMs / 2;
    const held: HeldToken = { token: grant.accessToken, usableUntil: this.now() + usableFor };
    this.held = held;
    await quietly(() => this.cache.set(this.options.key, this.codec.seal(held), usableFor), undefined);
    return held.token;
  }

  private singleFlight(rejected: string | undefined): Promise<string> {
    if (this.inflight === undefined) {
      this.inflight = this.obtain(rejected).finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflight;
  }

  private async obtain(rejected: string | undefined): Promise<string> {
    const deadline = this.now() + 2 * this.lockTtlMs;
    let wait = this.pollMs;
    for (;;) {
      const shared = await this.shared(rejected);
      if (shared !== undefined) return shared;
      // A failing cache counts as an acquired lock: tokens then come per process.
      const owner = randomUUID();
      const locked = await quietly(() => this.cache.setIfAbsent(this.lockKey, owner, this.lockTtlMs), true);
      if (locked) {
        try {
          // Another process may have stored a token between our look and our lock.
          return (await this.shared(rejected)) ?? (await this.keep(await this.options.fetch()));
        } finally {
          // Only our own lock: a fetch slower than the lock's TTL must not free another's.
          await quietly(() => this.cache.deleteIf(this.lockKey, owner), undefined);
        }
      }
      if (this.now() > deadline) {
        throw DeliveryError.retryable('ETIMEDOUT', `no OAuth token arrived within ${Math.round((2 * this.lockTtlMs) / 1000)} s while another process was fetching it`);
      }
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 250);
    }
  }

  /** The token in the shared cache, unless it is `rejected` or (nearly) expired. */
  private async shared(rejected: string | undefined): Promise<string | undefined> {
    const cached = await quietly(() => this.cache.get(this.options.key), undefined);
    const parsed = cached === undefined ? undefined : this.codec.open(cached);
    if (!isRecord(parsed) || typeof parsed.token !== 'string' || typeof parsed.usableUntil !== 'number') return undefined;
    if (parsed.token === rejected || parsed.usableUntil <= this.now()) return undefined;
    this.held = { token: parsed.token, usableUntil: parsed.usableUntil };
    return parsed.token;
  }
}

/** The cache's answer, or `fallback` when it fails (Redis away must not stop deliveries). */
async function quietly<T>(operation: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await operation();
  } catch {
    return fallback;
  }
}

/** A `SharedCache` in this process's memory: the fallback when the pipeline lends none. */
export function memoryCache(now: () => number = Date.now): SharedCache {
  const entries = new Map<string, { value: string; expiresAt: number }>();
  const live = (key: string) => {
    const entry = entries.get(key);
    if (entry !== undefined && entry.expiresAt <= now()) entries.delete(key);
    return entries.get(key);
  };
  return {
    get: async (key) => live(key)?.value,
    set: async (key, value, ttlMs) => {
      entries.set(key, { value, expiresAt: now() + ttlMs });
    },
    setIfAbsent: async (key, value, ttlMs) => {
      if (live(key) !== undefined) return false;
      entries.set(key, { value, expiresAt: now() + ttlMs });
      return true;
    },
    deleteIf: async (key, value) => {
      if (live(key)?.value === value) entries.delete(key);
    },
  };
}

/** Waits for `promise`, or rejects as soon as `signal` aborts (the shared work goes on). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(DeliveryError.retryable('ETIMEDOUT', 'aborted while waiting for an OAuth token'));
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = (): void => reject(DeliveryError.retryable('ETIMEDOUT', 'aborted while waiting for an OAuth token'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolvePromise(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
