/**
 * One table of stable error codes (after fastify's `lib/errors.js`). Messages are for a
 * person to act on; they never carry personal or card data, only paths and reasons.
 */
export const ERRORS = {
  EINVALID_ORDER: { status: 400, message: 'The order is invalid' },
  EINVALID_JSON: { status: 400, message: 'The body is not valid JSON' },
  EUNKNOWN_SOURCE: { status: 400, message: 'The order source could not be recognised' },
  EBAD_SIGNATURE: { status: 401, message: 'The webhook signature does not match the body' },
  ESTALE_WEBHOOK: { status: 400, message: 'The webhook is stale or replayed' },
  ETOO_LARGE: { status: 413, message: 'The body is too large' },
  ERATE_LIMITED: { status: 429, message: 'Too many requests; try again after Retry-After seconds' },
  EUNAVAILABLE: { status: 503, message: 'The queue store is unavailable; try again shortly' },
  ECONFIG: { status: 500, message: 'The configuration is invalid' },
  EPOLICY: { status: 500, message: 'The configuration breaks the privacy policy' },
  ENOT_FOUND: { status: 404, message: 'Not found' },
  ESEALED: { status: 500, message: 'Sealed job data cannot be opened' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** An error with a stable code, an HTTP status, and optional itemised problems. */
export class DropshipError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  /** Every problem found, each naming where and what (never a value). */
  readonly problems: readonly string[];

  constructor(code: ErrorCode, problems: readonly string[] = [], message?: string) {
    const base = message ?? ERRORS[code].message;
    super(problems.length > 0 ? `${base}:\n  - ${problems.join('\n  - ')}` : base);
    this.name = 'DropshipError';
    this.code = code;
    this.statusCode = ERRORS[code].status;
    this.problems = problems;
  }
}
