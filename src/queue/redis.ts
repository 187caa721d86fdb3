import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

/** A connection to the pipeline's Redis: one server, or a Redis Cluster (`REDIS_CLUSTER_NODES`). */
export type RedisClient = Redis | Cluster;

/**
 * How a Redis Cluster is named where a Redis URL is expected: `redis-cluster://host:port,host:port`
 * (the seed nodes, `REDIS_CLUSTER_NODES`), optionally with `user:password@` before them.
 */
const CLUSTER_SCHEME = 'redis-cluster://';

/** True when `url` names a Redis Cluster ({@link clusterUrl}). */
export function isClusterUrl(url: string): boolean {
  return url.startsWith(CLUSTER_SCHEME);
}

/**
 * The address of a Redis Cluster from its seed nodes (`REDIS_CLUSTER_NODES`:
 * `host:port,host:port`) and optional credentials (`REDIS_USERNAME`, `REDIS_PASSWORD`).
 * Throws a RangeError naming what is wrong with the list.
 */
export function clusterUrl(nodes: string, credentials: { username?: string; password?: string } = {}): string {
  const seeds = parseSeeds(nodes);
  const auth = credentials.password ? `${encodeURIComponent(credentials.username ?? '')}:${encodeURIComponent(credentials.password)}@` : '';
  return `${CLUSTER_SCHEME}${auth}${seeds.map((s) => `${s.host}:${s.port}`).join(',')}`;
}

function parseSeeds(nodes: string): Array<{ host: string; port: number }> {
  const seeds = nodes
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '')
    .map((n) => {
      const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(n);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new RangeError(`REDIS_CLUSTER_NODES: "${n}" is not host:port`);
      return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
    });
  if (seeds.length === 0) throw new RangeError('REDIS_CLUSTER_NODES lists no node (host:port,host:port)');
  return seeds;
}

/** The seed nodes and credentials of a cluster address. */
function readClusterUrl(url: string): { seeds: Array<{ host: string; port: number }>; username?: string; password?: string } {
  let rest = url.slice(CLUSTER_SCHEME.length);
  const at = rest.lastIndexOf('@');
  let username: string | undefined;
  let password: string | undefined;
  if (at >= 0) {
    const [user, pass] = rest.slice(0, at).split(':');
    username = decodeURIComponent(user ?? '') || undefined;
    password = decodeURIComponent(pass ?? '') || undefined;
    rest = rest.slice(at + 1);
  }
  return { seeds: parseSeeds(rest), ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/** The cluster-wide options of `options` (the rest apply to each node's connection). */
function clusterOptions(options: RedisOptions, credentials: { username?: string; password?: string }): ClusterOptions {
  const { enableOfflineQueue, enableReadyCheck, lazyConnect, retryStrategy, ...node } = options;
  return {
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
    ...(enableReadyCheck !== undefined ? { enableReadyCheck } : {}),
    ...(lazyConnect !== undefined ? { lazyConnect } : {}),
    ...(retryStrategy ? { clusterRetryStrategy: (times: number) => retryStrategy(times) } : {}),
    // A primary lost to a failover is replaced within seconds: commands for its slots wait.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    slotsRefreshTimeout: 2000,
    redisOptions: { ...node, ...credentials },
  };
}


/**
 * Removes the credentials from a Redis error. ioredis attaches the failed command and its
 * arguments to an error reply, and a refused `HELLO 3 AUTH <user> <password>` (a wrong or
 * outdated password, or a server still loading) is handed to every `error` listener, which
 * BullMQ prints whole when no one else listens: the password would end up on stderr.
 */
export function redactRedisCredentials(error: unknown): void {
  const command = (error as { command?: { name?: unknown; args?: unknown } } | null)?.command;
  if (command === undefined || command === null || !Array.isArray(command.args)) return;
  const args: unknown[] = command.args;
  const name = String(command.name).toLowerCase();
  if (name === 'auth') {
    command.args = args.map(() => '[redacted]');
  } else if (name === 'hello') {
    const at = args.findIndex((a) => String(a).toUpperCase() === 'AUTH');
    // HELLO protover AUTH username password [SETNAME name]
    if (at >= 0) command.args = args.map((a, i) => (i === at + 1 || i === at + 2 ? '[redacted]' : a));
  }
}

/** Makes every error `client` (and its duplicates) emits credential-free before anyone sees it. */
function guardCredentials<C extends RedisClient>(client: C): C {
  client.prependListener('error', (error: unknown) => {
    redactRedisCredentials(error);
    // ioredis prints an error nobody listens to; this listener must not silence that.
    if (client.listenerCount('error') === 1) console.error('[ioredis] Unhandled error event:', error instanceof Error ? error.stack : String(error));
  });
  const duplicate = client.duplicate.bind(client) as (...args: unknown[]) => C;
  (client as unknown as { duplicate: (...args: unknown[]) => C }).duplicate = (...args: unknown[]) => guardCredentials(duplicate(...args));
  return client;
}

/** `url` fit for a message: the password (and a user name beside it) left out. */
export function displayRedisUrl(url: string): string {
  if (isClusterUrl(url)) {
    try {
      return `the Redis Cluster at ${readClusterUrl(url)
        .seeds.map((s) => `${s.host}:${s.port}`)
        .join(',')}`;
    } catch {
      return 'the configured Redis Cluster';
    }
  }
  try {
    const parsed = new URL(url);
    if (parsed.password === '' && parsed.username === '') return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'the configured Redis URL';
  }
}

/**
 * A connection for BullMQ: workers need `maxRetriesPerRequest: null` so blocking
 * commands survive reconnects instead of failing the worker. Errors it emits never carry
 * the password ({@link redactRedisCredentials}).
 */
export function createRedis(url: string, options: RedisOptions = {}): RedisClient {
  if (isClusterUrl(url)) {
    const { seeds, ...credentials } = readClusterUrl(url);
    return guardCredentials(new Cluster(seeds, clusterOptions({ maxRetriesPerRequest: null, enableReadyCheck: true, ...options }, credentials)));
  }
  const redis = guardCredentials(new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...options }));
  // Every connection (reconnects make a new socket) writes the commands of one tick in one
  // syscall: BullMQ sends several commands per job step, each its own write otherwise.
  redis.on('connect', () => corkPerTick(redis.stream));
  return redis;
}

const CORKED = Symbol('dropship.corkedPerTick');

/** Coalesces a socket's writes within one tick of the event loop; order and content unchanged. */
function corkPerTick(stream: NodeJS.WritableStream & { cork?: () => void; uncork?: () => void; [CORKED]?: true }): void {
  if (!stream || stream[CORKED] || typeof stream.cork !== 'function' || typeof stream.uncork !== 'function') return;
  stream[CORKED] = true;
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork!();
  };
  stream.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      stream.cork!();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as typeof stream.write;
}

/**
 * BullMQ needs `maxmemory-policy noeviction`: any other policy can silently evict jobs.
 * Returns a warning to print, or undefined when the policy is right (or cannot be read,
 * e.g. on managed Redis where CONFIG is disabled).
 */
export async function evictionPolicyWarning(redis: RedisClient): Promise<string | undefined> {
  try {
    // On a cluster, every primary holds jobs: each must keep them.
    const servers = redis instanceof Cluster ? redis.nodes('master') : [redis];
    for (const server of servers) {
      const reply = (await server.config('GET', 'maxmemory-policy')) as string[];
      const policy = reply[1];
      if (policy && policy !== 'noeviction') {
        return `Redis maxmemory-policy is "${policy}"${servers.length > 1 ? ` on ${String(server.options.host)}:${String(server.options.port)}` : ''}; set it to "noeviction" or Redis may evict queued orders`;
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** Replies that no amount of waiting changes: the credentials or their rights are wrong. */
const REFUSED = /\b(WRONGPASS|NOAUTH|NOPERM)\b|invalid password|AUTH <password> called without any password/i;

/** Redis answered, but refused us: waiting will not help. */
export class RedisRefusedError extends Error {}

/**
 * Waits until Redis at `url` answers PING, one short-lived probe connection at a time, with
 * `onWait(reason)` told each time it does not (Redis not up yet, e.g. starting beside us).
 * Refused credentials fail at once with a {@link RedisRefusedError} whose message leaves the
 * password out, instead of every connection retrying them for ever.
 */
export async function waitForRedis(url: string, onWait: (reason: string) => void, options: { maxDelayMs?: number } = {}): Promise<void> {
  let delay = 250;
  for (;;) {
    const probe = createRedis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, connectTimeout: 5000 });
    let reason: string | undefined;
    probe.on('error', (err: Error) => {
      reason ??= err.message.split('\n')[0];
    });
    try {
      await probe.connect();
      await probe.ping();
      return;
    } catch (err) {
      const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
      const why = REFUSED.test(message) ? message : REFUSED.test(reason ?? '') ? reason! : undefined;
      if (why !== undefined) throw new RedisRefusedError(`Redis at ${displayRedisUrl(url)} refused the connection's credentials: ${why}`);
      onWait(reason ?? message);
    } finally {
      probe.disconnect();
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, options.maxDelayMs ?? 5000);
  }
}

/**
 * The Redis a process runs on from its environment: the cluster of `REDIS_CLUSTER_NODES`
 * (with `REDIS_USERNAME`/`REDIS_PASSWORD`), else `REDIS_URL`; undefined when neither is set
 * (the embedded redis-server). Throws a RangeError for a malformed node list.
 */
export function redisFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const nodes = env.REDIS_CLUSTER_NODES?.trim();
  if (nodes) {
    return clusterUrl(nodes, { ...(env.REDIS_USERNAME ? { username: env.REDIS_USERNAME } : {}), ...(env.REDIS_PASSWORD ? { password: env.REDIS_PASSWORD } : {}) });
  }
  return env.REDIS_URL || undefined;
}
