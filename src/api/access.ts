import { timingSafeEqual } from 'node:crypto';
import type { RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RateLimitedEntry } from '../config/config';
import { DropshipError } from '../errors';

/**
 * Route options that count requests against an entry point's rate limit (`api.rateLimits`);
 * none when the API runs without limits.
 */
export type RouteLimits = (entry: RateLimitedEntry) => { config?: { rateLimit: RateLimitOptions } };

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** A request header's (first) value. */
export function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Constant-time check of an `Authorization: Bearer <token>` header. */
function bearerMatches(authorization: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Answers `err` as the API answers every error: its status, `{ error, message, problems }`. */
export function sendError(reply: FastifyReply, err: DropshipError): FastifyReply {
  return reply.code(err.statusCode).send(err.toReply());
}

/**
 * An endpoint behind a bearer token from env (`tokenName`); without the token set, loopback
 * callers only: nothing is open to the network by default. Returns the refusal, if any.
 */
export function refuseUnlessAllowed(request: FastifyRequest, reply: FastifyReply, env: NodeJS.ProcessEnv, tokenName: string, what: string): FastifyReply | undefined {
  const token = env[tokenName];
  if (token) {
    if (!bearerMatches(header(request, 'authorization'), token)) {
      return sendError(reply, new DropshipError('EUNAUTHORIZED', [], `A valid bearer token (${tokenName}) is required`));
    }
  } else if (!LOOPBACK.has(request.ip)) {
    return sendError(reply, new DropshipError('EUNAUTHORIZED', [], `Set ${tokenName} to ${what}`));
  }
  return undefined;
}
