import { z } from 'zod';
import { httpsUrl, secretEnvName, STORE_CLIENT_FIELDS } from '../options';

/**
 * `store.woocommerce` in `config/store.yaml`: how the pipeline reaches the store's REST API
 * to tell it what shipped. Pure schema, shared by the configuration and the client.
 */

const OPTION_KEYS = 'url, consumerKeyEnv, consumerSecretEnv, tracking, complete, baseUrl, caFile, timeout';

export const wooCommerceStoreOptionsSchema = z.strictObject(
  {
    /** The site's address, as in WordPress Settings → General (a sub-folder included); https only. */
    url: httpsUrl('the site\'s https:// address, such as "https://shop.example.com"'),
    /** Name of the environment variable holding the REST API consumer key (`ck_…`). */
    consumerKeyEnv: secretEnvName(),
    /** Name of the environment variable holding the REST API consumer secret (`cs_…`). */
    consumerSecretEnv: secretEnvName(),
    /**
     * How tracking reaches the customer: `shipment-tracking` adds a tracking item with the
     * Shipment Tracking extension; `note` adds a customer note to the order.
     * @defaultValue `'shipment-tracking'`
     */
    tracking: z.enum(['shipment-tracking', 'note'], { error: 'must be shipment-tracking or note' }).default('shipment-tracking'),
    /** Whether an order whose every line has shipped is set to `completed` (WooCommerce then emails the customer). @defaultValue true */
    complete: z.boolean({ error: 'must be true or false' }).default(true),
    /** Replaces `url` (a proxy, or a local stand-in). @defaultValue `url` */
    baseUrl: httpsUrl('an https:// URL').optional(),
    ...STORE_CLIENT_FIELDS,
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown option ${issue.keys.map((k) => `"${k}"`).join(', ')}; WooCommerce options are ${OPTION_KEYS}`
        : `must be a mapping of WooCommerce options (${OPTION_KEYS})`,
  },
);

/** Validated `store.woocommerce`, defaults applied. */
export type WooCommerceStoreOptions = z.output<typeof wooCommerceStoreOptionsSchema>;
