import { CATALOGUE, type Code, type ErrorCode, type HoldCode, type HoldReason, isCode, isHoldCode, isOrderStateCode, type RetryClass } from './catalogue';

/**
 * How a failure is written into a failed job's reason (BullMQ keeps an error's message only),
 * and read back. Two shapes, both kept as users and operators have always seen them:
 * - `CODE: detail` for an error (`EREJECTED: HTTP 400 from olive: unknown sku`);
 * - `held: CODE message; CODE message` for an order held for its hold reasons.
 */

const HELD_PREFIX = 'held: ';

/** A failed job's reason for an error with `code`. */
export function failureReason(code: ErrorCode, detail: string): string {
  return `${code}: ${detail}`;
}

/** A held order's failed reason: each hold reason's code and message. */
export function heldReason(reasons: readonly HoldReason[]): string {
  return `${HELD_PREFIX}${reasons.map((r) => `${r.code} ${r.message}`).join('; ')}`;
}

/** Why a job failed, read back from its reason. */
export type JobFailure =
  | { kind: 'error'; code: ErrorCode; retry: RetryClass; detail: string }
  | { kind: 'held'; reasons: HoldReason[] };

const HOLD_CODES = (Object.keys(CATALOGUE) as Code[]).filter(isHoldCode);
// A hold reason starts the list or follows "; ". Messages may hold "; " themselves (a list of
// problems), so the list is cut only where a hold code follows.
const HOLD_START = new RegExp(`(?:^|; )(${HOLD_CODES.join('|')}) `, 'g');
const ERROR_REASON = /^([A-Z][A-Z_]*): ([\s\S]*)$/;

/**
 * The code (or hold reasons) of a failed job's reason, as `failureReason` and `heldReason`
 * wrote it; undefined for a reason written otherwise (an unexpected error, BullMQ's own).
 */
export function readFailure(reason: string | undefined): JobFailure | undefined {
  if (reason === undefined) return undefined;
  if (reason.startsWith(HELD_PREFIX)) {
    const list = reason.slice(HELD_PREFIX.length);
    const starts = [...list.matchAll(HOLD_START)];
    if (starts[0]?.index !== 0) return undefined;
    const reasons = starts.map((m, i) => ({
      code: m[1] as HoldCode,
      message: list.slice(m.index + m[0].length, starts[i + 1]?.index ?? list.length),
    }));
    return { kind: 'held', reasons };
  }
  const m = ERROR_REASON.exec(reason);
  const code = m?.[1];
  if (code === undefined || !isCode(code) || isHoldCode(code) || isOrderStateCode(code)) return undefined;
  return { kind: 'error', code, retry: CATALOGUE[code].retry, detail: m?.[2] ?? '' };
}
