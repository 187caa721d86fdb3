import { z } from 'zod';
import { httpsUrl, secretEnvName, STORE_CLIENT_FIELDS } from '../options';

/**
 * `store.shopify` in `config/store.yaml`: how the pipeline reaches the store's Admin GraphQL
 * API to tell it what shipped. Pure schema, shared by the configuration and the client.
 */

const OPTION_KEYS = 'shopDomain, accessTokenEnv, apiVersion, notifyCustomer, baseUrl, caFile, timeout';

/** Shopify's API versions are quarterly releases named YYYY-MM (01, 04, 07, 10). */
export const SHOPIFY_API_VERSION = /^20\d\d-(01|04|07|10)$/;

export const shopifyStoreOptionsSchema = z.strictObject(
  {
    /** The shop's own `.myshopify.com` domain (the Admin API does not answer on a custom domain). */
    shopDomain: z
      .string({ error: 'is required (the shop\'s domain, such as "example.myshopify.com")' })
      .trim()
      .toLowerCase()
      .regex(/^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$/, 'must be the shop\'s .myshopify.com domain, such as "example.myshopify.com"'),
    /** Name of the environment variable holding the Admin API access token (`shpat_…`). */
    accessTokenEnv: secretEnvName(),
    /** The Admin API version every request names, such as "2026-07"; pin one Shopify still supports. */
    apiVersion: z
      .string({ error: 'is required (a Shopify API version such as "2026-07")' })
      .regex(SHOPIFY_API_VERSION, 'must be a Shopify API version YYYY-MM, such as "2026-07" (releases are 01, 04, 07 and 10)'),
    /** Whether Shopify sends the customer its shipping confirmation. @defaultValue true */
    notifyCustomer: z.boolean({ error: 'must be true or false' }).default(true),
    /**
     * Replaces `https://{shopDomain}` (a proxy, or a local stand-in); followed by
     * `/admin/api/{apiVersion}/graphql.json`. @defaultValue `https://{shopDomain}`
     */
    baseUrl: httpsUrl('an https:// URL').optional(),
    ...STORE_CLIENT_FIELDS,
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown option ${issue.keys.map((k) => `"${k}"`).join(', ')}; Shopify options are ${OPTION_KEYS}`
        : `must be a mapping of Shopify options (${OPTION_KEYS})`,
  },
);

/** Validated `store.shopify`, defaults applied. */
export type ShopifyStoreOptions = z.output<typeof shopifyStoreOptionsSchema>;
