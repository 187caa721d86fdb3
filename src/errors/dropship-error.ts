import { type ErrorCode, entryOf } from './catalogue';

/** The JSON body the HTTP API answers an error with. */
export interface ErrorReply {
  error: ErrorCode;
  /** The message's first line: the problems follow as a list, not as text. */
  message: string;
  problems: readonly string[];
}

/** An error with a stable code, an HTTP status, and optional itemised problems. */
export class DropshipError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  /** Every problem found, each naming where and what (never a value). */
  readonly problems: readonly string[];

  /**
   * @param message - replaces the catalogue's message, to say more about this case
   * @param options.status - replaces the catalogue's status where this case differs (a route
   *   this server is not configured for answers 503, not the 500 of a broken configuration)
   */
  constructor(code: ErrorCode, problems: readonly string[] = [], message?: string, options: { status?: number } = {}) {
    const entry = entryOf(code);
    const base = message ?? entry.message;
    super(problems.length > 0 ? `${base}:\n  - ${problems.join('\n  - ')}` : base);
    this.name = 'DropshipError';
    this.code = code;
    // Codes that never reach an API client (a transport's) have no status of their own.
    this.statusCode = options.status ?? entry.status ?? 500;
    this.problems = problems;
  }

  /** The API's answer to this error. */
  toReply(): ErrorReply {
    return { error: this.code, message: this.message.split('\n')[0] ?? '', problems: this.problems };
  }
}
