import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import { DropshipError } from '../../src/errors';
import { FIXTURE_CONFIG_DIR } from '../support/orders';

/** store.yaml `store.platform` and its options: parsed into `store.platform`, every problem named with file and path. */

const REST = 'shipping: { methods: { std: { carrier: ups, service: "03" } } }\ncarriers: { ups: { shipperNumber: "A1B2C3" } }\n';

function load(store: string): ReturnType<typeof loadConfig> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dropship-config-'));
  cpSync(FIXTURE_CONFIG_DIR, dir, { recursive: true });
  writeFileSync(path.join(dir, 'store.yaml'), `${store}\n${REST}`);
  try {
    return loadConfig(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function problems(store: string): string[] {
  try {
    load(store);
  } catch (error) {
    expect(error).toBeInstanceOf(DropshipError);
    return [...(error as DropshipError).problems];
  }
  throw new Error('expected the configuration to be refused');
}

describe('store.platform in store.yaml', () => {
  it('is none by default: no platform is told', () => {
    expect(load('store: { name: X }').store.platform).toBeUndefined();
    expect(load('store: { name: X, platform: none }').store.platform).toBeUndefined();
  });

  it('takes Shopify options with their defaults', () => {
    const config = load('store:\n  name: X\n  platform: shopify\n  shopify: { shopDomain: Test-Larder.myshopify.com, accessTokenEnv: SHOPIFY_ADMIN_TOKEN, apiVersion: "2026-07" }');
    expect(config.store.platform).toEqual({
      id: 'shopify',
      options: { shopDomain: 'test-larder.myshopify.com', accessTokenEnv: 'SHOPIFY_ADMIN_TOKEN', apiVersion: '2026-07', notifyCustomer: true },
    });
  });

  it('takes WooCommerce options with their defaults', () => {
    const config = load('store:\n  name: X\n  platform: woocommerce\n  woocommerce: { url: "https://shop.example.com/store", consumerKeyEnv: WOO_KEY, consumerSecretEnv: WOO_SECRET }');
    expect(config.store.platform).toEqual({
      id: 'woocommerce',
      options: { url: 'https://shop.example.com/store', consumerKeyEnv: 'WOO_KEY', consumerSecretEnv: 'WOO_SECRET', tracking: 'shipment-tracking', complete: true },
    });
  });

  it('names every problem with its file and path', () => {
    expect(
      problems(`store:
  name: X
  platform: shopify
  shopify:
    shopDomain: shop.example.com
    accessTokenEnv: shpat_0123456789abcdef-real-token
    apiVersion: "2026-13"
    notifyCustomer: "yes"
    baseUrl: http://127.0.0.1:8443
    scopes: [write_orders]
  woocommerce: { url: "https://shop.example.com", consumerKeyEnv: K, consumerSecretEnv: S }`),
    ).toEqual([
      'store.yaml: store.shopify.shopDomain: must be the shop\'s .myshopify.com domain, such as "example.myshopify.com"',
      'store.yaml: store.shopify.accessTokenEnv: must be the NAME of an environment variable (letters, digits, _), not its value',
      'store.yaml: store.shopify.apiVersion: must be a Shopify API version YYYY-MM, such as "2026-07" (releases are 01, 04, 07 and 10)',
      'store.yaml: store.shopify.notifyCustomer: must be true or false',
      'store.yaml: store.shopify.baseUrl: must start with https:// (plain http is not allowed: the credentials travel with every request)',
      'store.yaml: store.shopify: unknown option "scopes"; Shopify options are shopDomain, accessTokenEnv, apiVersion, notifyCustomer, baseUrl, caFile, timeout',
      'store.yaml: store.woocommerce: is set, but platform is shopify: set platform: woocommerce, or remove it',
    ]);
  });

  it('wants the block of the platform it names, and no other', () => {
    expect(problems('store: { name: X, platform: woocommerce }')).toEqual(['store.yaml: store.woocommerce: is required when platform is woocommerce']);
    expect(problems('store:\n  name: X\n  shopify: { shopDomain: a.myshopify.com, accessTokenEnv: T, apiVersion: "2026-07" }')).toEqual([
      'store.yaml: store.shopify: is set, but platform is none: set platform: shopify, or remove it',
    ]);
    expect(problems('store: { name: X, platform: magento }')).toEqual(['store.yaml: store.platform: must be shopify, woocommerce or none']);
    expect(problems('store:\n  name: X\n  platform: woocommerce\n  woocommerce: { url: "http://shop.example.com", consumerKeyEnv: "ck_0123456789abcdef0123456789abcdef01234567", consumerSecretEnv: S, tracking: email }')).toEqual([
      'store.yaml: store.woocommerce.url: must start with https:// (plain http is not allowed: the credentials travel with every request)',
      'store.yaml: store.woocommerce.consumerKeyEnv: looks like the secret itself: give the NAME of the environment variable that holds it, and keep the secret out of config files',
      'store.yaml: store.woocommerce.tracking: must be shipment-tracking or note',
    ]);
  });
});
