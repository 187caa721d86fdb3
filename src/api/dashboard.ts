import { timingSafeEqual } from 'node:crypto';
import fastifyBasicAuth from '@fastify/basic-auth';
import type { RateLimitOptions } from '@fastify/rate-limit';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Job, Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { consolePlugin } from '../console/plugin';
import { CATALOGUE, DropshipError } from '../errors';
import { type ConsoleQueries, reasonsInWords } from '../ops/console-queries';
import { ORDERS_QUEUE } from '../queue/names';
import { type DataCipher, isSealed, type SealPurpose } from '../queue/sealing';

/** Who may open the dashboard: a user and password, or one token (as the Basic password). */
export type DashboardAuth = { user: string; password: string } | { token: string };

export interface DashboardOptions {
  queues: Queue[];
  auth: DashboardAuth;
  /**
   * No replay in the console. (The queue board is always read-only: replay is the console's
   * one action.) @defaultValue false
   */
  readOnly?: boolean;
  /**
   * Show job data opened (addresses in payload bodies); needs `cipher`. Masked, sealed data
   * shows as ciphertext. @defaultValue false
   */
  unmask?: boolean;
  /** Opens sealed job data when `unmask` is set. */
  cipher?: DataCipher;
  /** @defaultValue "/admin/queues" */
  basePath?: string;
  /** Serves the operator console at `consolePath`, with these queries; off without them. */
  console?: { queries: ConsoleQueries };
  /** @defaultValue "/console" */
  consolePath?: string;
}

/**
 * Dashboard credentials from `DASHBOARD_USER`/`DASHBOARD_PASSWORD` or `DASHBOARD_TOKEN`.
 * Returns undefined when none are set: the caller then refuses to serve the dashboard.
 */
export function dashboardAuthFromEnv(env: NodeJS.ProcessEnv): DashboardAuth | undefined {
  if (env.DASHBOARD_TOKEN) return { token: env.DASHBOARD_TOKEN };
  if (env.DASHBOARD_USER || env.DASHBOARD_PASSWORD) {
    if (!env.DASHBOARD_USER || !env.DASHBOARD_PASSWORD) {
      throw new DropshipError('ECONFIG', ['DASHBOARD_USER and DASHBOARD_PASSWORD must both be set']);
    }
    if (env.DASHBOARD_PASSWORD.length < 12) throw new DropshipError('ECONFIG', ['DASHBOARD_PASSWORD must be at least 12 characters']);
    return { user: env.DASHBOARD_USER, password: env.DASHBOARD_PASSWORD };
  }
  return undefined;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Write actions the dashboard allows. Editing job data (which shows masked), adding jobs,
 * emptying or obliterating a queue and cleaning failed jobs are refused: each could lose an
 * order kept for replay or send a supplier something the pipeline did not build.
 */
const ALLOWED_WRITES = [
  /^\/api\/queues\/[^/]+\/[^/]+\/(retry|promote)$/,
  /^\/api\/queues\/[^/]+\/retry\/failed$/,
  /^\/api\/queues\/[^/]+\/(pause|resume|promote)$/,
  /^\/api\/queues\/(pause|resume)$/,
  /^\/api\/queues\/[^/]+\/clean\/completed$/,
];

/** Refuses a write the dashboard does not allow, with the catalogue's status and message (no problem list). */
function refuse(reply: FastifyReply, code: 'ECSRF' | 'EFORBIDDEN'): FastifyReply {
  return reply.code(CATALOGUE[code].status).send({ error: code, message: CATALOGUE[code].message });
}

const SAFE_KEYS = new Set(['deliveryId', 'orderId', 'shipmentId', 'recipient', 'kind', 'transport', 'format', 'filename', 'contentType', 'fields', 'purpose', 'source', 'supplierId', 'location', 'skipped', 'collected', 'orders', 'cut', 'deliveries', 'cancelled', 'undo']);

const SEALED_NOTE = 'AES-256-GCM ciphertext; set DASHBOARD_UNMASK=true (with the data key) to show';

/** Sealed data as the masked dashboard shows it: the ciphertext itself, shortened. */
function ciphertext(token: string): string {
  return token.length > 96 ? `${token.slice(0, 96)}… (${token.length} characters)` : token;
}

/** What the unmasked dashboard shows: the clear ids with the sealed part opened. */
export function unmaskJobData(data: unknown, cipher: DataCipher, purpose: SealPurpose): unknown {
  if (!isSealed(data)) return data;
  const { sealed, ...clear } = data;
  try {
    const opened = cipher.open<unknown>(sealed, purpose);
    return opened && typeof opened === 'object' && !Array.isArray(opened) ? { ...clear, ...opened } : { ...clear, opened };
  } catch (err) {
    return { ...clear, sealed: ciphertext(sealed), unreadable: err instanceof DropshipError ? err.problems.join('; ') : 'cannot be opened' };
  }
}

/**
 * What the dashboard shows of a job's data unless unmasked: ids, recipients and field
 * names, never addresses or payload bodies.
 */
export function maskJobData(data: unknown): unknown {
  if (!data || typeof data !== 'object') return data;
  if (isSealed(data)) {
    const { sealed, ...clear } = data;
    return { ...maskPlain(clear), sealed: ciphertext(sealed), note: SEALED_NOTE };
  }
  return maskPlain(data);
}

/** Job data stored in clear (before sealing, or holding only ids). */
function maskPlain(data: object): Record<string, unknown> {
  const record = data as Record<string, unknown>;
  if ('order' in record && record.order && typeof record.order === 'object') {
    const order = record.order as { id?: unknown; placedAt?: unknown; shippingMethod?: unknown; lines?: unknown[] };
    return {
      source: record.source,
      order: { id: order.id, placedAt: order.placedAt, shippingMethod: order.shippingMethod, lines: Array.isArray(order.lines) ? order.lines.length : 0 },
      masked: 'customer and address data hidden (set DASHBOARD_UNMASK=true to show)',
    };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) {
    if (SAFE_KEYS.has(k)) out[k] = v;
    else if (k === 'body' && typeof v === 'string') out[k] = `[${Buffer.byteLength(v)} bytes hidden; set DASHBOARD_UNMASK=true to show]`;
    else out[k] = '[hidden]';
  }
  return out;
}

/**
 * A failed job's reason as the board shows it: the catalogue's words (what went wrong, this
 * case, what to do) instead of the raw `CODE: detail` or `held: …` string.
 */
export function failedReasonInWords(failedReason: string): string {
  const reasons = reasonsInWords(failedReason);
  const held = failedReason.startsWith('held: ');
  const text = reasons
    .map((r) => [r.message + (r.code ? ` (${r.code})` : ''), r.detail, r.action ? `What to do: ${r.action}` : undefined].filter(Boolean).join('. '))
    .join(' | ');
  return held ? `Held: ${text}` : text;
}

/**
 * bull-board's BullMQ adapter, showing a failed job's reason in words and no stack trace: the
 * trace points into the pipeline's own code, which tells an operator nothing they can act on
 * (and the board has no formatter for it). Only the copy the board renders is changed.
 */
class ReasonedAdapter extends BullMQAdapter {
  override async getJob(id: string): Promise<Job | undefined> {
    const job = await super.getJob(id);
    return job ? reasoned(job) : undefined;
  }

  override async getJobs(...args: Parameters<BullMQAdapter['getJobs']>): Promise<Job[]> {
    return (await super.getJobs(...args)).map(reasoned);
  }
}

function reasoned(job: Job): Job {
  job.stacktrace = [];
  if (job.failedReason) job.failedReason = failedReasonInWords(job.failedReason);
  return job;
}

/**
 * Mounts bull-board at `basePath` and, with `options.console`, the operator console at
 * `consolePath`, both behind HTTP Basic authentication. Requests that change
 * state must come from the dashboard's own origin (Origin/Referer check): browsers send
 * Basic credentials automatically, so without it another site could press the buttons.
 * `limit` (from `registerRateLimits`) counts every request before authentication, so
 * password guesses are limited too.
 */
export function registerDashboard(app: FastifyInstance, options: DashboardOptions, limit?: RateLimitOptions): void {
  const basePath = options.basePath ?? '/admin/queues';
  const consolePath = options.consolePath ?? '/console';
  const auth = options.auth;
  void app.register(async (scope) => {
    await scope.register(fastifyBasicAuth, {
      authenticate: { realm: 'dropship dashboard' },
      async validate(username, password) {
        const ok = 'token' in auth ? same(password, auth.token) : same(username, auth.user) && same(password, auth.password);
        if (!ok) return new Error('Unauthorized');
      },
    });
    if (limit) scope.addHook('onRequest', scope.rateLimit(limit));
    scope.addHook('onRequest', scope.basicAuth);
    scope.addHook('onRequest', async (request, reply) => {
      if (request.method === 'GET' || request.method === 'HEAD') return;
      const origin = request.headers.origin ?? request.headers.referer;
      const host = request.headers.host;
      let fromHere = false;
      try {
        if (origin !== undefined && host !== undefined) {
          const from = new URL(origin);
          fromHere = from.host === new URL(`${from.protocol}//${host}`).host;
        }
      } catch {
        fromHere = false;
      }
      if (!fromHere) return refuse(reply, 'ECSRF');
    });

    if (options.console) {
      const queries = options.console.queries;
      await scope.register(consolePlugin, {
        prefix: consolePath,
        queries,
        boardPath: basePath,
        readOnly: options.readOnly ?? false,
        unmask: options.unmask ?? false,
        ...(options.cipher ? { cipher: options.cipher } : {}),
      });
    }
    await scope.register(async (board) => registerBoard(board, options, basePath));
  });
}

/** bull-board itself, in its own scope (its writes allow-listed, its looser CSP). */
async function registerBoard(scope: FastifyInstance, options: DashboardOptions, basePath: string): Promise<void> {
  scope.addHook('onRequest', async (request, reply) => {
    if (request.method === 'GET' || request.method === 'HEAD') return;
    const path = request.url.slice(basePath.length).split('?')[0] ?? '';
    if (!ALLOWED_WRITES.some((re) => re.test(path))) {
      return refuse(reply, 'EFORBIDDEN');
    }
  });

  // The board is served from here and talks only to here: no third-party fonts or scripts
  // (bull-board's page would fetch a font from Google on every visit), no framing.
  scope.addHook('onSend', async (_request, reply) => {
    reply.header(
      'content-security-policy',
      "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    );
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-content-type-options', 'nosniff');
  });

  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(basePath);
  const adapters = options.queues.map((q) => {
    // Read-only, always: the server refuses cleaning, removing, editing and adding jobs (each
    // could lose an order kept for replay or send a supplier something the pipeline did not
    // build), and bull-board has no per-button switch, so a writable board would offer buttons
    // that only answer 403. Replay is the console's one action, behind a confirmation.
    // Partitions (`QUEUE_PARTITIONS`) each have a queue of every name: the board tells them
    // apart by the partition's hash tag.
    const tag = /\{([^}]+)\}$/.exec(q.opts.prefix ?? '')?.[1];
    const adapter = new ReasonedAdapter(q, {
      readOnlyMode: true,
      allowRetries: false,
      description: describe(q.name),
      ...(tag !== undefined ? { prefix: `${tag}-`, displayName: `${q.name} (partition ${tag})` } : {}),
    });
    const cipher = options.cipher;
    if (options.unmask && cipher) {
      // Order jobs hold a sealed order; delivery jobs a sealed payload; results a sealed answer.
      adapter.setFormatter('data', (data: unknown) => unmaskJobData(data, cipher, q.name === ORDERS_QUEUE ? 'order' : 'delivery'));
      adapter.setFormatter('returnValue', (value: unknown) => unmaskJobData(value, cipher, 'result'));
    } else {
      adapter.setFormatter('data', maskJobData);
      adapter.setFormatter('returnValue', maskJobData);
    }
    return adapter;
  });
  createBullBoard({
    queues: adapters,
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'dropship',
        // No link out to bull-board's site (the CSP and a closed network would refuse it anyway).
        hideDocsLink: true,
        ...(options.console ? { miscLinks: [{ text: 'Operator console', url: options.consolePath ?? '/console' }] } : {}),
      },
    },
  });
  await scope.register(serverAdapter.registerPlugin(), { prefix: basePath });
}

/** A queue's description on the board: what its jobs are. */
function describe(name: string): string {
  if (name === ORDERS_QUEUE) return 'Orders to plan (a failed order is held: its reason says why and what to do)';
  if (name.startsWith('carrier-')) return `Label requests to ${name.slice('carrier-'.length)}`;
  if (name.startsWith('po-')) return `Purchase orders to ${name.slice('po-'.length)}`;
  return name;
}
