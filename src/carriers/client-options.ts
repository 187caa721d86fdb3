import { z } from 'zod';
import { envVarName, positiveDuration } from '../config/option-schemas';

/**
 * Options of the carrier API clients (src/transports/*-api.ts) that live in the same
 * `carriers.<id>` block of store.yaml as the request builders' options. Pure schema: the
 * builders spread these into their own options schemas and ignore them.
 */

const filePath = z.string({ error: 'must be a file path' }).min(1, { error: 'must be a file path' });

/**
 * Options of the carrier API clients shared by UPS and FedEx, spread into each builder's
 * options schema. None has a schema default, so the builders' parsed options stay as they
 * were; the clients apply the documented defaults. Secrets are named here, never given.
 */
export const CARRIER_CLIENT_FIELDS = {
  /**
   * Overrides the environment's URL (a proxy, or a local stand-in in tests); `https://` only.
   * @defaultValue the URL of `environment`
   */
  baseUrl: z
    .string({ error: 'must be an https:// URL' })
    .refine((value) => URL.canParse(value), { error: 'is not a valid URL' })
    .refine((value) => !URL.canParse(value) || new URL(value).protocol === 'https:', {
      error: 'must start with https:// (plain http is not allowed: every transfer is encrypted)',
    })
    .optional(),
  /** Name of the environment variable holding the API client ID (or use `clientIdFile`). */
  clientIdEnv: envVarName().optional(),
  /** Name of the environment variable holding the API client secret (or use `clientSecretFile`). */
  clientSecretEnv: envVarName().optional(),
  /** File holding the API client ID (relative to the config directory), e.g. a container secret. */
  clientIdFile: filePath.optional(),
  /** File holding the API client secret (relative to the config directory), e.g. a container secret. */
  clientSecretFile: filePath.optional(),
  /**
   * PEM file of the CA(s) to trust instead of the public ones (relative to the config
   * directory), e.g. for a TLS-inspecting proxy at `baseUrl`.
   * @defaultValue the public CAs Node.js trusts
   */
  caFile: filePath.optional(),
  /**
   * Time allowed for one request, connecting included ("30s", "500ms" or milliseconds).
   * @defaultValue 30s
   */
  timeout: positiveDuration().optional(),
};

/** The client options every carrier block may carry, as parsed (durations in milliseconds). */
export interface CarrierClientOptions {
  environment?: 'test' | 'production' | undefined;
  baseUrl?: string | undefined;
  clientIdEnv?: string | undefined;
  clientSecretEnv?: string | undefined;
  clientIdFile?: string | undefined;
  clientSecretFile?: string | undefined;
  caFile?: string | undefined;
  timeout?: number | undefined;
}

/** Default of {@link CarrierClientOptions.timeout}. */
export const DEFAULT_CARRIER_TIMEOUT_MS = 30_000;

/**
 * The cross-field check of the client options (`clientIdEnv` or `clientIdFile`, not both;
 * the same for the secret), for `.superRefine(checkCredentialSources, WHEN_MAPPING)` on each
 * builder's schema.
 */
export function checkCredentialSources(
  value: CarrierClientOptions,
  ctx: { addIssue(issue: { code: 'custom'; path: string[]; message: string }): void },
): void {
  for (const [env, file] of [['clientIdEnv', 'clientIdFile'], ['clientSecretEnv', 'clientSecretFile']] as const) {
    if (value[env] !== undefined && value[file] !== undefined) {
      ctx.addIssue({ code: 'custom', path: [file], message: `give ${env} or ${file}, not both` });
    }
  }
}

/** A zod error message for a carrier option: "is required (WHAT)" when absent, else "must be WHAT". */
export function expected(what: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? `is required (${what})` : `must be ${what}`);
}

/** Runs a refinement even when other keys have problems, so every problem is reported at once. */
export const WHEN_MAPPING = {
  when: (payload: { value: unknown }): boolean => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value),
};

