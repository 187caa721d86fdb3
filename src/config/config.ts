import type { CarrierId, ShipFrom } from '../core/shipment';
import type { FieldPath } from '../core/field-paths';
import type { ShopifyStoreOptions } from '../stores/shopify/options';
import type { WooCommerceStoreOptions } from '../stores/woocommerce/options';

/** One drop-ship supplier, validated, with its plug-in options already parsed. */
export interface SupplierConfig {
  /** The file it came from, relative to the config directory (for error messages). */
  file: string;
  id: string;
  name: string;
  skus: string[];
  shipFrom: ShipFrom;
  labels: 'retailer' | 'supplier';
  fields: FieldPath[];
  format: string;
  formatOptions: unknown;
  delivery: {
    transport: string;
    /** Template with `{orderId}`, `{supplierId}`, `{shipmentId}`, `{ext}`. */
    filename: string;
    /** Template of a cancellation's file name (same placeholders); never the same as `filename`. */
    cancelFilename: string;
    /** Template of a batch file's name: `{batchId}`, `{supplierId}`, `{ext}`. */
    batchFilename: string;
    /** Parsed by the transport kind's own schema. */
    options: unknown;
  };
  /** Armored public key, read from `pgp.publicKeyFile`. */
  pgpPublicKey?: string;
  pgpPublicKeyFile?: string;
  retry: { attempts: number; backoffMs: number };
  /** Purchase orders collected and sent as one file per interval, or once `maxOrders` are in. */
  batch?: { everyMs: number; maxOrders: number };
  /** How the supplier tells us what it accepted and shipped (absent: it does not). */
  confirmations?: SupplierConfirmations;
}

/** A supplier's `confirmations` block, validated. */
export interface SupplierConfirmations {
  /** `POST /suppliers/{id}/…` with this supplier's own secret (an env var name). */
  https?: { auth: { hmacSecretEnv?: string; bearerTokenEnv?: string } };
  /** Files fetched from this folder of its SFTP server (the delivery's login) every `everyMs`. */
  sftp?: { remoteDir: string; everyMs: number; format: 'csv' | 'json' | 'x12-856' | 'x12-855' | 'cxml' };
  /** The CSV inbound format's options (its columns), parsed by that format. */
  csv?: unknown;
  /**
   * The X12 inbound formats' options (`skuQualifiers`, `controlNumberRef`), parsed by those
   * formats; present (with the defaults filled in) whenever `sftp.format` is x12-856 or x12-855.
   */
  x12?: unknown;
  /** A purchase order neither acknowledged nor shipped this long after it was sent is overdue. */
  expectWithinMs: number;
}

/** Requests one client address may make to one entry point in one window. */
export interface RateLimit {
  max: number;
  windowMs: number;
}

/**
 * The API's entry points, each with its own limit: `orders` is `POST /orders` and
 * `POST /orders/:id/cancel`; `dashboard` is `/admin/queues` and `/metrics`.
 */
export type RateLimitedEntry = 'orders' | 'shopify' | 'woocommerce' | 'dashboard' | 'suppliers';

export interface ApiConfig {
  rateLimits: Record<RateLimitedEntry, RateLimit>;
  /** Proxies (addresses, CIDR ranges, `loopback`…) whose `X-Forwarded-For` names the client; empty: none. */
  trustProxy: string[];
  /** Oldest Shopify webhook accepted, by `X-Shopify-Triggered-At`, in ms. */
  webhookMaxAgeMs: number;
}

/**
 * Which orders and lines ship (store.yaml `fulfil`): an order ships once its store state is
 * one of these; test orders only when `testOrders`; lines whose SKU matches `skipSkus` never.
 */
export interface FulfilConfig {
  shopify: { financialStatuses: string[] };
  woocommerce: { statuses: string[] };
  testOrders: boolean;
  skipSkus: string[];
}

/** The `fulfil` block's defaults: paid (or authorized) Shopify orders, processing WooCommerce ones. */
export const DEFAULT_FULFIL: FulfilConfig = {
  shopify: { financialStatuses: ['paid', 'partially_refunded', 'authorized'] },
  woocommerce: { statuses: ['processing'] },
  testOrders: false,
  skipSkus: [],
};

export interface StoreConfig {
  name: string;
  /** Where what shipped is told (`store.platform`); absent: `none`, nobody is told. */
  platform?: StorePlatformConfig;
  warehouse?: { id: string; address: ShipFrom };
  shipping: {
    methods: Record<string, { carrier: CarrierId; service: string }>;
    defaultMethod?: string;
    defaultLineWeightGrams: number;
  };
  /** Parsed by each carrier's own options schema. */
  carriers: Partial<Record<CarrierId, unknown>>;
  retention: { completedJobsMs: number; dedupeMs: number; disclosuresMs: number };
  api: ApiConfig;
  /** Loaded configurations always have it; absent (a configuration built in code): {@link DEFAULT_FULFIL}. */
  fulfil?: FulfilConfig;
}

/** `store.platform` with that platform's options (`store.shopify`, `store.woocommerce`), as parsed. */
export type StorePlatformConfig = { id: 'shopify'; options: ShopifyStoreOptions } | { id: 'woocommerce'; options: WooCommerceStoreOptions };

/** The whole validated configuration; frozen once loaded. */
export interface Config {
  dir: string;
  store: StoreConfig;
  /** Sorted by id. */
  suppliers: SupplierConfig[];
}
