/**
 * The error catalogue and the error classes. Pure: src/core imports it. The one part that
 * loads bullmq, `unrecoverable` (a job failed for good), is imported from `./unrecoverable`.
 */
export { CATALOGUE, type CatalogueEntry, type Code, entryOf, type ErrorCode, type HoldCode, type HoldReason, isCode, isHoldCode, isOrderStateCode, type OrderReason, type RetryClass, type SkipCode, type WaitCode } from './catalogue';
export { DropshipError, type ErrorReply } from './dropship-error';
export { DeliveryError, type DeliveryErrorCode } from './delivery-error';
export { failureReason, heldReason, type JobFailure, readFailure } from './failure';
