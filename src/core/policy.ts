import { type FieldPath, isFieldPath, isNeverDisclosed } from './field-paths';

/** One way an allow-list breaks the privacy policy, with where it is. */
export interface PolicyProblem {
  /** Path inside the supplier file, e.g. `fields[3]`. */
  path: string;
  message: string;
}

/**
 * Checks a supplier's allow-list against the built-in policy (privacy promises 2 and 7):
 * configuration can narrow what leaves, never widen it. Returns every problem found.
 */
export function checkAllowList(fields: readonly string[]): { allowed: FieldPath[]; problems: PolicyProblem[] } {
  const problems: PolicyProblem[] = [];
  const allowed: FieldPath[] = [];
  fields.forEach((field, i) => {
    const path = `fields[${i}]`;
    if (isNeverDisclosed(field)) {
      problems.push({ path, message: `"${field}" may never be sent to a supplier (billing and payment data never leave)` });
    } else if (!isFieldPath(field)) {
      problems.push({ path, message: `"${field}" is not a canonical field path (see docs/canonical-order.md)` });
    } else if (allowed.includes(field)) {
      problems.push({ path, message: `"${field}" is listed twice` });
    } else {
      allowed.push(field);
    }
  });
  if (!allowed.includes('order.id') && !problems.some((p) => p.message.includes('"order.id"'))) {
    problems.push({
      path: 'fields',
      message: '"order.id" must be listed: every purchase order is identified by its order id (file name, shipment id, idempotency key)',
    });
  }
  return { allowed, problems };
}
