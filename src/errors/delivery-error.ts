import type { ErrorCode } from './catalogue';

/** The codes a transport fails a delivery with (their meaning and usual retry class: the catalogue). */
export type DeliveryErrorCode = Extract<ErrorCode, 'ECONNECTION' | 'ETIMEDOUT' | 'EAUTH' | 'EHOSTKEY' | 'ETLS' | 'EREJECTED' | 'ERATE_LIMITED' | 'EREMOTE' | 'ECONFIG' | 'EPAYLOAD' | 'ESTORE_REJECTED'>;

/**
 * A delivery failure, classified for the retry decision:
 * - `retryable`: try again with the supplier's backoff;
 * - `retryAfterMs` set: try again no sooner than that;
 * - `permanent`: fail now, keep the job with its reason for replay.
 * The catalogue gives each code its usual class; a transport that knows more says so here
 * (a carrier's success without a readable tracking number is a permanent `EREMOTE`: a retry
 * could buy a second label). Messages name hosts, statuses and codes, never payload contents.
 */
export class DeliveryError extends Error {
  readonly code: DeliveryErrorCode;
  readonly permanent: boolean;
  readonly retryAfterMs?: number;
  /**
   * The request may have reached the receiver and been acted on, its answer lost (a timeout
   * or a reset mid-request). Otherwise the receiver did not act: it refused, or was not reached.
   */
  readonly unsure: boolean;

  constructor(code: DeliveryErrorCode, message: string, opts: { permanent?: boolean; retryAfterMs?: number; unsure?: boolean } = {}) {
    super(message);
    this.name = 'DeliveryError';
    this.code = code;
    this.permanent = opts.permanent ?? false;
    this.unsure = opts.unsure ?? false;
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
  }

  /** A retryable failure after which the receiver may have acted (see `unsure`). */
  static unsure(code: DeliveryErrorCode, message: string): DeliveryError {
    return new DeliveryError(code, message, { unsure: true });
  }

  /** A failure to try again with the recipient's backoff. */
  static retryable(code: DeliveryErrorCode, message: string): DeliveryError {
    return new DeliveryError(code, message);
  }

  /** A failure no retry can fix: the job fails now and is kept for replay. */
  static permanent(code: DeliveryErrorCode, message: string): DeliveryError {
    return new DeliveryError(code, message, { permanent: true });
  }

  /** A failure to try again no sooner than `retryAfterMs` (the receiver's `Retry-After`). */
  static retryAfter(code: DeliveryErrorCode, message: string, retryAfterMs: number): DeliveryError {
    return new DeliveryError(code, message, { retryAfterMs });
  }
}
