import { z } from 'zod';
import { envVarName, positiveDuration } from '../config/option-schemas';

/**
 * Options every store platform's client takes besides its own (`store.shopify`,
 * `store.woocommerce` in `config/store.yaml`). Pure schema: the platforms spread these into
 * their own options schemas. Secrets are named (environment variables), never given.
 */

/** An `https://` URL; plain http is refused (the credentials travel with every request). */
export function httpsUrl(what: string) {
  return z
    .string({ error: `must be ${what}` })
    .refine((value) => URL.canParse(value), { error: `must be ${what}` })
    .refine((value) => !URL.canParse(value) || new URL(value).protocol === 'https:', {
      error: 'must start with https:// (plain http is not allowed: the credentials travel with every request)',
    })
    .refine((value) => !URL.canParse(value) || (new URL(value).search === '' && new URL(value).hash === ''), {
      error: 'must not carry a query (?…) or a fragment (#…)',
    })
    .refine((value) => !URL.canParse(value) || (new URL(value).username === '' && new URL(value).password === ''), {
      error: 'must not hold a user name or password (name the environment variables instead)',
    });
}

/**
 * The NAME of the environment variable holding a secret, refusing what looks like the secret
 * itself (a Shopify `shpat_…` token, a WooCommerce `ck_…`/`cs_…` key) pasted in its place.
 */
export function secretEnvName() {
  return envVarName().refine((name) => !/^(shp(at|ca|pa|ss)_[0-9a-fA-F]{32}|c[ks]_[0-9a-f]{40})$/.test(name), {
    error: 'looks like the secret itself: give the NAME of the environment variable that holds it, and keep the secret out of config files',
  });
}

export const STORE_CLIENT_FIELDS = {
  /**
   * PEM file of the CA(s) to trust instead of the public ones (relative to the config
   * directory): a TLS-inspecting proxy at `baseUrl`, or a local stand-in.
   * @defaultValue the public CAs Node.js trusts
   */
  caFile: z.string({ error: 'must be a file path' }).min(1, { error: 'must be a file path' }).optional(),
  /** Time allowed for one request, connecting included ("30s", "500ms" or milliseconds). @defaultValue 30s */
  timeout: positiveDuration().optional(),
};

/** Default of the `timeout` option. */
export const DEFAULT_STORE_TIMEOUT_MS = 30_000;
