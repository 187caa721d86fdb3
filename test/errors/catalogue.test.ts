import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CATALOGUE, type Code, DeliveryError, DropshipError, failureReason, heldReason, isCode, readFailure, type RetryClass } from '../../src/errors';
import { heldOrder, unrecoverable } from '../../src/errors/unrecoverable';

const ROOT = path.join(__dirname, '..', '..');
const CODES = Object.keys(CATALOGUE) as Code[];
const RETRY_CLASSES: readonly RetryClass[] = ['permanent', 'retry', 'retry-after', 'hold', 'wait', 'skip'];

/** Every TypeScript file of the production tree, with its text. */
function productionSources(): Array<{ file: string; text: string }> {
  return ['src', 'workers'].flatMap((dir) =>
    readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => ({ file: path.join(dir, f), text: readFileSync(path.join(ROOT, dir, f), 'utf8') })),
  );
}

/**
 * Codes the source raises, where a reader (or a grep) finds them: the first argument of the
 * error classes, their factories and `unrecoverable`; a transport's `retry('CODE')`; a hold
 * reason's `{ code: 'CODE'`; a reply's `error: 'CODE'`.
 */
const RAISED = [
  /(?:new (?:DropshipError|DeliveryError)|DeliveryError\.\w+|\bunrecoverable|\bretry)\(\s*'([A-Z][A-Z_]*)'/g,
  /\{\s*code: '([A-Z][A-Z_]*)'/g,
  /\berror: '([A-Z][A-Z_]*)'/g,
];

/** Fastify's own error codes, read by the API's error handler and answered with catalogue codes. */
const FOREIGN = /^FST_/;

describe('the error catalogue', () => {
  it.each(CODES)('%s has a message a person can act on, a retry class, and a status where it applies', (code) => {
    const entry: { message: string; status?: number; retry: RetryClass; action?: string } = CATALOGUE[code];
    expect(code).toMatch(/^[A-Z][A-Z_]+$/);
    expect(entry.message).toMatch(/^[A-Z].{4,}[^.]$/);
    expect(RETRY_CLASSES).toContain(entry.retry);
    if (entry.status !== undefined) {
      expect(Number.isInteger(entry.status) && entry.status >= 400 && entry.status <= 599).toBe(true);
    }
    if (entry.retry === 'hold' || entry.retry === 'wait' || entry.retry === 'skip') {
      // A hold (or why an order waits or was skipped) is for an operator: what they read, and
      // what to do. It never reaches an API client as an error.
      expect(code).not.toMatch(/^E/);
      expect(entry.status).toBeUndefined();
      expect(entry.action).toEqual(expect.stringMatching(/^[A-Z].{20,}/));
    } else {
      expect(code).toMatch(/^E[A-Z_]+$/);
    }
    if (entry.retry === 'retry-after') expect(entry.status === undefined || entry.status === 429 || entry.status === 503).toBe(true);
  });

  it('holds fixed text only: no placeholder, address, number or secret to fill in', () => {
    for (const entry of Object.values(CATALOGUE)) {
      for (const text of [entry.message, 'action' in entry ? entry.action : '']) {
        expect(text).not.toMatch(/\$\{|\{[a-z]|@|\d{3,}/);
      }
    }
  });

  it('has every code the source raises', () => {
    const missing: string[] = [];
    for (const { file, text } of productionSources()) {
      for (const pattern of RAISED) {
        for (const m of text.matchAll(pattern)) {
          const code = m[1]!;
          if (!FOREIGN.test(code) && !isCode(code)) missing.push(`${file}: ${code}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('is the only way jobs fail for good: no UnrecoverableError built elsewhere, no hand-written reason prefixes', () => {
    const adHoc: string[] = [];
    for (const { file, text } of productionSources()) {
      if (file.startsWith(path.join('src', 'errors'))) continue;
      if (/new UnrecoverableError\(/.test(text)) adHoc.push(`${file}: new UnrecoverableError`);
      for (const m of text.matchAll(/`([A-Z][A-Z_]+): /g)) if (isCode(m[1]!)) adHoc.push(`${file}: \`${m[1]}: `);
      if (text.includes('`held: ${')) adHoc.push(`${file}: \`held: `);
    }
    expect(adHoc).toEqual([]);
  });
});

describe('errors with a code', () => {
  it('take status and message from the catalogue unless the case says more', () => {
    const plain = new DropshipError('EBAD_SIGNATURE');
    expect([plain.statusCode, plain.message]).toEqual([401, CATALOGUE.EBAD_SIGNATURE.message]);
    const listed = new DropshipError('EINVALID_ORDER', ['id: must be 1-64 characters', 'lines: at least one']);
    expect(listed.toReply()).toEqual({ error: 'EINVALID_ORDER', message: 'The order is invalid:', problems: ['id: must be 1-64 characters', 'lines: at least one'] });
    expect(new DropshipError('ECONFIG', [], 'X is not set', { status: 503 }).toReply()).toEqual({ error: 'ECONFIG', message: 'X is not set', problems: [] });
    expect(new DropshipError('ECONFIG', [], 'X is not set', { status: 503 }).statusCode).toBe(503);
    // A transport's code reaching the API's error handler is a server failure.
    expect(new DropshipError('ECONNECTION').statusCode).toBe(500);
  });

  it('keep a delivery failure classified as its transport said', () => {
    const e = DeliveryError.retryAfter('ERATE_LIMITED', 'olive.test answered 429', 30_000);
    expect([e.code, e.permanent, e.retryAfterMs, e.unsure, e.name]).toEqual(['ERATE_LIMITED', false, 30_000, false, 'DeliveryError']);
    expect(CATALOGUE[e.code].retry).toBe('retry-after');
  });
});

describe('failed jobs', () => {
  it('fail for good with their code as the only metadata, readable back from the reason', () => {
    const err = unrecoverable('EREJECTED', 'HTTP 400 from https://olive.test/po: bad sku');
    expect(err.name).toBe('UnrecoverableError');
    expect(err.message).toBe('EREJECTED: HTTP 400 from https://olive.test/po: bad sku');
    expect(err.code).toBe('EREJECTED');
    expect(Object.keys(err).filter((k) => k !== 'name')).toEqual(['code']);
    expect(readFailure(err.message)).toEqual({ kind: 'error', code: 'EREJECTED', retry: 'permanent', detail: 'HTTP 400 from https://olive.test/po: bad sku' });
    expect(readFailure(failureReason('ECONNECTION', 'sftp.test:22: connection refused'))).toEqual({
      kind: 'error',
      code: 'ECONNECTION',
      retry: 'retry',
      detail: 'sftp.test:22: connection refused',
    });
  });

  it('read a held order back into its reasons, even when a message lists problems with "; "', () => {
    const reasons = [
      { code: 'NO_SHIP_TO' as const, message: 'the order has no shipping address' },
      { code: 'UNSHIPPABLE' as const, message: 'shipment 1+a cannot go by ups: shipTo.name: is empty; weight: must be positive' },
      { code: 'AMBIGUOUS_LINE' as const, message: 'line 2 (SKU "X-1") is claimed by suppliers a and b' },
    ];
    const reason = heldOrder(reasons).message;
    expect(reason).toBe(heldReason(reasons));
    expect(reason.startsWith('held: NO_SHIP_TO the order has no shipping address; UNSHIPPABLE ')).toBe(true);
    expect(readFailure(reason)).toEqual({ kind: 'held', reasons });
    // As operators and the tests have always seen it.
    expect(readFailure('held: NO_SHIP_TO the order has no shipping address')).toEqual({ kind: 'held', reasons: [reasons[0]] });
  });

  it('read nothing into a reason the catalogue did not write', () => {
    for (const reason of [undefined, '', 'Error: socket hang up', 'EWHATEVER: x', 'NO_SHIP_TO: x', 'held: something else', 'toString: x']) {
      expect(readFailure(reason)).toBeUndefined();
    }
  });
});
