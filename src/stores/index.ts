import type { StoreIo } from './http-client';
import { ShopifyStore } from './shopify/client';
import type { PacerClock } from './shopify/pacing';
import type { StorePlatform } from './store';
import { WooCommerceStore } from './woocommerce/client';
import type { StoreConfig } from '../config/config';

/**
 * The store platform registry: the client of the platform `store.platform` names, or
 * undefined when it is `none` (nobody is told what shipped).
 */

export type { FulfillmentRequest, FulfillmentResult, StorePlatform } from './store';

export interface StorePlatformContext {
  /** Environment the secrets' variables are read from. @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
  /** The I/O the client runs on (tests). @defaultValue real files and undici */
  io?: StoreIo;
  /** The clock Shopify's cost pacing waits on (tests). @defaultValue real time */
  clock?: PacerClock;
}

/**
 * Creates the configured store platform's client. Reads its secrets from the environment now,
 * so a missing variable fails at start-up.
 * @throws DeliveryError `ECONFIG` (permanent): a secret's variable is not set, the CA cannot be read
 */
export function createStorePlatform(config: { dir: string; store: Pick<StoreConfig, 'platform'> }, context: StorePlatformContext = {}): StorePlatform | undefined {
  const platform = config.store.platform;
  if (platform === undefined) return undefined;
  const clientContext = { configDir: config.dir, env: context.env ?? process.env, ...(context.io === undefined ? {} : { io: context.io }) };
  switch (platform.id) {
    case 'shopify':
      return new ShopifyStore(platform.options, { ...clientContext, ...(context.clock === undefined ? {} : { clock: context.clock }) });
    case 'woocommerce':
      return new WooCommerceStore(platform.options, clientContext);
  }
}
