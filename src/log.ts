import pino, { type Logger } from 'pino';

/**
 * Paths redacted from every log line, should an object carrying them ever be logged.
 * The code logs ids, counts and codes, never orders; this is the second line of defence.
 */
export const REDACT_PATHS = [
  '*.email', '*.phone', '*.name', '*.line1', '*.line2', '*.postalCode', '*.body',
  'shipTo', 'billTo', 'customer', 'payment', 'order', 'lines', 'data', 'body',
  '*.authorization', '*.password', '*.passphrase', '*.secret', '*.token', '*.privateKey',
];

/** The service logger: JSON lines on stderr, personal and secret fields redacted. */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, pino.destination(2));
}
