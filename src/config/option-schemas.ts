import { z } from 'zod';
import { parseDuration } from '../core/duration';

/** What an environment variable's name may look like. */
export const ENV_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The NAME of an environment variable that holds a secret: config names secrets, never
 * holds them. `what` prefixes the message (e.g. the option's name).
 */
export function envVarName(what?: string) {
  return z
    .string({ error: `${what ? `${what} ` : ''}must be the NAME of an environment variable` })
    .regex(ENV_VAR_NAME, { error: `${what ? `${what} ` : ''}must be the NAME of an environment variable (letters, digits, _), not its value` });
}

/** A positive duration ("30s", "500ms", "2m" or a number of milliseconds), parsed to milliseconds. */
export function positiveDuration(what?: string) {
  return z.union([z.number(), z.string()], { error: `${what ? `${what} ` : ''}must be a duration such as "30s"` }).transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `${what ? `${what} ` : ''}must be a positive duration such as "30s" or a number of milliseconds` });
      return z.NEVER;
    }
    return ms;
  });
}
