import fastifyRateLimit, { normalizeIP, type FastifyRateLimitStore, type FastifyRateLimitStoreCtor, type RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RedisClient } from '../queue/redis';
import type { RateLimit, RateLimitedEntry } from '../config/config';
import { DropshipError } from '../errors';
import { runScript } from '../queue/scripts';

export interface ApiRateLimitOptions {
  /** The pipeline's connection: every API process on this Redis shares the counts. */
  redis: RedisClient;
  /** Counts live under `<prefix>:ratelimit:<entry>:<client address>`. */
  prefix: string;
  limits: Record<RateLimitedEntry, RateLimit>;
  /** Called for every refused request (e.g. to count it in `/metrics`). */
  onLimited?: (entry: RateLimitedEntry) => void;
}

/** How a refusal names what was limited. */
const ENTRY_NAMES: Record<RateLimitedEntry, string> = {
  orders: 'the order API',
  shopify: 'the Shopify webhook',
  woocommerce: 'the WooCommerce webhook',
  dashboard: 'the dashboard and /metrics',
  suppliers: "the suppliers' confirmation API",
};

/**
 * One fixed window per key, as the plugin's own Redis store counts: the first request sets
 * the expiry. A key left without one (it should not happen) gets it back rather than
 * limiting that client for ever.
 */
const COUNT = `
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { current, ttl }
`;

/**
 * A store for @fastify/rate-limit keyed by entry point and client only. The plugin's own
 * Redis store prefixes every key with the route (method and URL), so the two routes of the
 * order API could not share one count, and a limit used as a hook (the dashboard's, which
 * must run before its authentication) would be stored under `undefinedundefined-`.
 */
function entryPointStore(redis: RedisClient, namespace: string): FastifyRateLimitStoreCtor {
  return class EntryPointStore implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      runScript(redis, COUNT, 1, `${namespace}${key}`, timeWindow).then(
        (reply) => {
          const [current, ttl] = reply as [number, number];
          callback(null, { current, ttl });
        },
        (err: unknown) => callback(err instanceof Error ? err : new Error('rate limit store failed')),
      );
    }

    child(): FastifyRateLimitStore {
      return this;
    }
  };
}

/** The client a request counts against: its address, IPv6 by /64 (one subscriber's prefix). */
function clientKey(request: FastifyRequest): string {
  return request.ip ? normalizeIP(request.ip) : 'unknown';
}

/**
 * Registers @fastify/rate-limit on `app` with nothing limited by default, and returns the
 * route options of each entry point's limit (`{ config: { rateLimit } }` on a route, or
 * `instance.rateLimit(options)` as a hook). Over the limit: 429 `ERATE_LIMITED` with
 * `Retry-After`. When Redis does not answer, requests go through uncounted: the order
 * routes then answer 503 on their own, and a limiter must not turn that into a 500.
 */
export function registerRateLimits(app: FastifyInstance, options: ApiRateLimitOptions): (entry: RateLimitedEntry) => RateLimitOptions {
  void app.register(fastifyRateLimit, {
    global: false,
    store: entryPointStore(options.redis, `${options.prefix}:ratelimit:`),
    skipOnError: true,
  });
  return (entry) => ({
    max: options.limits[entry].max,
    timeWindow: options.limits[entry].windowMs,
    keyGenerator: (request) => `${entry}:${clientKey(request)}`,
    onExceeded: () => options.onLimited?.(entry),
    errorResponseBuilder: (_request, context) =>
      new DropshipError('ERATE_LIMITED', [], `Too many requests to ${ENTRY_NAMES[entry]} from this address; try again in ${context.after}`),
  });
}
