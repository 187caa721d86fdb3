import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

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

/** `json`: one JSON object a line, for log collectors. `pretty`: coloured lines for a person. */
export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  level?: string;
  /** Extra pino redaction paths (e.g. from `LOG_REDACT_PATHS`). */
  redact?: string[];
  /** @defaultValue stderr */
  destination?: DestinationStream;
  /**
   * @defaultValue with no `destination`: `LOG_FORMAT`, else pretty when stderr is a terminal
   * and JSON otherwise; with a `destination`: JSON (a stream handed in is read by a program)
   */
  format?: LogFormat;
}

/**
 * The format when none is asked for: `LOG_FORMAT` if set, else pretty for a person at a
 * terminal and JSON lines for everything else (a pipe, a file, a container's log driver).
 */
export function defaultLogFormat(env: NodeJS.ProcessEnv = process.env, stderrIsTty: boolean = process.stderr.isTTY === true): LogFormat {
  const asked = (env.LOG_FORMAT ?? '').trim().toLowerCase();
  if (asked === 'json' || asked === 'pretty') return asked;
  if (asked !== '') throw new Error(`LOG_FORMAT must be "json" or "pretty", not "${asked}"`);
  return stderrIsTty ? 'pretty' : 'json';
}

/** The service logger: personal and secret fields redacted, as JSON lines or pretty-printed. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const extra = options.redact ?? (process.env.LOG_REDACT_PATHS ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  const format = options.format ?? (options.destination ? 'json' : defaultLogFormat());
  const destination = options.destination ?? pino.destination(2);
  // pino-pretty as a stream in this thread rather than a transport worker: the last lines
  // before a `process.exit` ("stopped", a start-up error) are written before the exit, and
  // redaction has already run, so the pretty output hides what the JSON hides.
  const stream =
    format === 'pretty'
      ? pretty({
          destination,
          sync: true,
          colorize: options.destination === undefined ? process.stderr.isTTY === true : false,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname,service',
        })
      : destination;
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: [...REDACT_PATHS, ...extra], censor: '[redacted]' },
      base: { service: 'dropship' },
    },
    stream,
  );
}
