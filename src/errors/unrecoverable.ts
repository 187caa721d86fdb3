import { UnrecoverableError } from 'bullmq';
import type { ErrorCode, HoldReason } from './catalogue';
import { failureReason, heldReason } from './failure';

/*
 * Kept out of `./index`: it loads bullmq, and src/core imports the rest of src/errors (pure).
 * Workers and the queue code import it from here.
 */

/** A failure BullMQ does not retry, carrying a catalogue code. */
export type CodedUnrecoverableError = UnrecoverableError & { readonly code: ErrorCode };

/**
 * Fails a job for good with `code`: the job is kept, failed, for replay. Its reason reads
 * `CODE: detail` (see `readFailure`); `detail` names what and where, never personal data.
 */
export function unrecoverable(code: ErrorCode, detail: string): CodedUnrecoverableError {
  return Object.assign(new UnrecoverableError(failureReason(code, detail)), { code });
}

/** Fails an order job for good because it is held: it waits for an operator to fix the cause and replay. */
export function heldOrder(reasons: readonly HoldReason[]): UnrecoverableError {
  return new UnrecoverableError(heldReason(reasons));
}
