import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Paths redacted from every log line, should an object carrying them ever be logged.
 * The code logs ids, counts, codes and reasons, never orders or payloads; this is the
 * second line of defence. `LOG_REDACT_PATHS` (comma-separated pino paths) adds more.
 */
export const REDACT_PATHS = [
  '*.email', '*.phone', '*.name', '*.line1', '*.line2', '*.postalCode', '*.body', '*.view',
  'shipTo', 'billTo', 'customer', 'payment', 'order', 'lines', 'data', 'body',
  'req.headers', '*.authorization', '*.password', '*.passphrase', '*.secret', '*.token', '*.privateKey',
];

export interface LoggerOptions {
  level?: string;
  /** Extra pino redaction paths (e.g. from `LOG_REDACT_PATHS`). */
  redact?: string[];
  /** @defaultValue stderr */
  destination?: DestinationStream;
}

/** The service logger: JSON lines, personal and secret fields redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const extra = options.redact ?? (process.env.LOG_REDACT_PATHS ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: [...REDACT_PATHS, ...extra], censor: '[redacted]' },
      base: { service: 'dropship' },
    },
    options.destination ?? pino.destination(2),
  );
}
