import { z } from 'zod';
import { parseDuration } from '../core/duration';
import { Address } from '../core/order';
import { skuPatternProblem } from '../core/sku-pattern';
import { envVarName } from './option-schemas';
import { shopifyStoreOptionsSchema } from '../stores/shopify/options';
import { wooCommerceStoreOptionsSchema } from '../stores/woocommerce/options';

/** Address a parcel leaves from: carriers need a phone for the shipper. */
export const ShipFromSchema = Address.extend({
  phone: z.string().trim().min(1, 'is required for a ship-from address (carriers need it)').max(40),
}).strict();

const Duration = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration such as "30s", "15m" or "2h"' });
      return z.NEVER;
    }
    return ms;
  });

/** Requests one client address may make to one entry point per window. */
const RateLimit = (max: number) =>
  z
    .object({
      max: z.number().int('must be a whole number').min(1, 'must be at least 1').max(1_000_000).default(max),
      per: Duration.refine((ms) => ms >= 1000 && ms <= 86_400_000, 'must be between 1s and 1d').default(60_000),
    })
    .strict()
    .prefault({});

/** What proxy-addr (fastify's `trustProxy`) accepts, less `true` and hop counts: either would let any client name its own address. */
const ProxyAddress = z
  .string()
  .refine(
    (v) => ['loopback', 'linklocal', 'uniquelocal'].includes(v) || [z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()].some((s) => s.safeParse(v).success),
    'must be an IP address, a CIDR range such as 10.0.0.0/8, or loopback, linklocal or uniquelocal',
  );

/**
 * A SKU pattern (`src/core/sku-pattern.ts`): `*` and `?` wildcards, everything else literal.
 * Exported for other SKU lists in configuration, which take the same patterns.
 */
export const SkuPattern = z.string().trim().superRefine((pattern, ctx) => {
  const problem = skuPatternProblem(pattern);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

/** A store status as the platform spells it ("paid", "on-hold", "partially_refunded"). */
const StatusName = z
  .string()
  .trim()
  .regex(/^[a-z][a-z0-9_-]{0,39}$/, 'must be a status as the store spells it, such as "paid" or "on-hold"');

/** store.yaml `fulfil`: which orders and lines ship. */
const FulfilSchema = z
  .object({
    shopify: z
      .object({ financialStatuses: z.array(StatusName).max(20).default(['paid', 'partially_refunded', 'authorized']) })
      .strict()
      .prefault({}),
    woocommerce: z.object({ statuses: z.array(StatusName).max(20).default(['processing']) }).strict().prefault({}),
    testOrders: z.boolean().default(false),
    skipSkus: z.array(SkuPattern).max(1000).default([]),
  })
  .strict()
  .prefault({});

/** `config/store.yaml`. */
export const StoreFileSchema = z
  .object({
    /** The store, and the platform it runs on: where what shipped is told (`src/stores`). */
    store: z
      .object({
        name: z.string().trim().min(1),
        /** Which platform hears what shipped; `none`: nobody is told. @defaultValue "none" */
        platform: z.enum(['shopify', 'woocommerce', 'none'], { error: 'must be shopify, woocommerce or none' }).default('none'),
        shopify: shopifyStoreOptionsSchema.optional(),
        woocommerce: wooCommerceStoreOptionsSchema.optional(),
      })
      .strict()
      .superRefine(
        (store, ctx) => {
          // Runs even when an option is wrong (the value is then the raw input), so every problem is reported at once.
          const chosen = (store as { platform?: unknown }).platform ?? 'none';
          if (chosen !== 'shopify' && chosen !== 'woocommerce' && chosen !== 'none') return;
          for (const platform of ['shopify', 'woocommerce'] as const) {
            if (chosen === platform && store[platform] === undefined) {
              ctx.addIssue({ code: 'custom', path: [platform], message: `is required when platform is ${platform}` });
            } else if (chosen !== platform && store[platform] !== undefined) {
              ctx.addIssue({ code: 'custom', path: [platform], message: `is set, but platform is ${chosen}: set platform: ${platform}, or remove it` });
            }
          }
        },
        { when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value) },
      ),
    /** Omit when every line is drop-shipped: unclaimed lines then hold their order. */
    warehouse: z
      .object({
        id: z
          .string()
          .regex(/^[a-z0-9-]+$/, 'must be lower-case letters, digits and "-"')
          .default('warehouse'),
        address: ShipFromSchema,
      })
      .strict()
      .optional(),
    shipping: z
      .object({
        /** Order shipping method → carrier and the carrier's own service code. */
        methods: z
          .record(
            z.string().min(1),
            z.object({ carrier: z.enum(['ups', 'fedex']), service: z.string().trim().min(1) }).strict(),
          )
          .refine((m) => Object.keys(m).length > 0, 'must name at least one shipping method'),
        /** Method used when an order's method is not in the map; omit to hold such orders. */
        default: z.string().min(1).optional(),
        /** Weight assumed for a line whose product has none. @defaultValue 500 */
        defaultLineWeightGrams: z.number().positive().max(1_000_000).default(500),
      })
      .strict(),
    /** Per-carrier settings, validated by each carrier's own schema. */
    carriers: z.object({ ups: z.unknown().optional(), fedex: z.unknown().optional() }).strict().default({}),
    retention: z
      .object({
        /** How long completed jobs (which hold personal data) stay in Redis. @defaultValue "1h" */
        completedJobs: Duration.default(3_600_000),
        /** How long the "already seen / already delivered" markers are kept. @defaultValue "90d" */
        dedupe: Duration.default(90 * 86_400_000),
        /** How long the disclosure ledger keeps what was shared about an order. @defaultValue "400d" */
        disclosures: Duration.default(400 * 86_400_000),
      })
      .strict()
      .default({ completedJobs: 3_600_000, dedupe: 90 * 86_400_000, disclosures: 400 * 86_400_000 }),
    api: z
      .object({
        /**
         * Per entry point, per client address, counted in Redis across every API process.
         * WooCommerce gets more: all of a store's webhooks (order.updated too) come from its
         * one server, and it disables a webhook after five failed deliveries in a row.
         * @defaultValue 600 per minute for orders, shopify and suppliers (confirmations), 1200 for woocommerce, 300 for dashboard
         */
        rateLimits: z
          .object({ orders: RateLimit(600), shopify: RateLimit(600), woocommerce: RateLimit(1200), dashboard: RateLimit(300), suppliers: RateLimit(600) })
          .strict()
          .prefault({}),
        /** Reverse proxies whose `X-Forwarded-For` is believed. @defaultValue [] (none) */
        trustProxy: z.array(ProxyAddress).max(100).default([]),
        /**
         * A Shopify webhook triggered longer ago than this (`X-Shopify-Triggered-At`) is refused
         * as replayed or stale. Shopify retries for 4 hours with the original time.
         * @defaultValue "24h"
         */
        webhookMaxAge: Duration.refine((ms) => ms >= 3_600_000 && ms <= 7 * 86_400_000, 'must be between 1h and 7d').default(86_400_000),
      })
      .strict()
      .prefault({}),
    /**
     * Which orders and lines ship. Cancelled, refunded and voided orders never do, whatever
     * the lists say. @defaultValue Shopify paid, partially_refunded, authorized; WooCommerce processing
     */
    fulfil: FulfilSchema,
  })
  .strict();
export type StoreFile = z.infer<typeof StoreFileSchema>;

/** The inbound formats a supplier's SFTP folder may hold (src/formats/inbound). */
export const CONFIRMATION_FILE_FORMATS = ['csv', 'json', 'x12-856', 'x12-855', 'cxml'] as const;

/**
 * A supplier's `confirmations`: how it tells us what it accepted and shipped. Over our HTTPS
 * API (with its own secret), and/or as files in a folder of its SFTP server (the delivery's
 * login) fetched on a schedule.
 */
const ConfirmationsSchema = z
  .object({
    https: z
      .object({
        auth: z
          .object({ hmacSecretEnv: envVarName('auth.hmacSecretEnv').optional(), bearerTokenEnv: envVarName('auth.bearerTokenEnv').optional() })
          .strict()
          .refine((a) => (a.hmacSecretEnv === undefined) !== (a.bearerTokenEnv === undefined), 'needs exactly one of hmacSecretEnv or bearerTokenEnv'),
      })
      .strict()
      .optional(),
    sftp: z
      .object({
        remoteDir: z.string().trim().min(1).regex(/^[^\\\p{Cc}]+$/u, 'must be a folder path without "\\" or control characters'),
        every: Duration.refine((ms) => ms >= 10_000 && ms <= 86_400_000, 'must be between 10s and 1d').default(300_000),
        format: z.enum(CONFIRMATION_FILE_FORMATS, { error: `must be one of ${CONFIRMATION_FILE_FORMATS.join(', ')}` }),
      })
      .strict()
      .optional(),
    /** Options of the CSV inbound format (its column names), checked by that format. */
    csv: z.unknown().optional(),
    /**
     * Options of the X12 inbound formats (x12-856, x12-855): `skuQualifiers`, `controlNumberRef`,
     * checked by those formats. Only with an X12 `sftp.format` (X12 arrives by SFTP only).
     */
    x12: z.unknown().optional(),
    /** A purchase order neither acknowledged nor shipped this long after it was sent is overdue. @defaultValue "48h" */
    expectWithin: Duration.refine((ms) => ms >= 60_000, 'must be at least 1m').default(48 * 3_600_000),
  })
  .strict()
  .refine((c) => c.https !== undefined || c.sftp !== undefined, 'needs https, sftp or both');

/** `config/suppliers/<id>.yaml`; `delivery` and `formatOptions` are checked by their plug-ins. */
export const SupplierFileSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9-]+$/, 'must be lower-case letters, digits and "-"'),
    name: z.string().trim().min(1),
    skus: z.array(SkuPattern).min(1, 'must list at least one SKU pattern'),
    shipFrom: ShipFromSchema,
    labels: z.enum(['retailer', 'supplier']).default('retailer'),
    fields: z.array(z.string()).min(1, 'must name at least one field'),
    format: z.string().min(1),
    formatOptions: z.record(z.string(), z.unknown()).default({}),
    delivery: z
      .object({
        transport: z.string().min(1),
        filename: z.string().min(1).optional(),
        cancelFilename: z.string().min(1).optional(),
        batchFilename: z.string().min(1).optional(),
      })
      .passthrough(),
    pgp: z.object({ publicKeyFile: z.string().min(1) }).strict().optional(),
    /** One file per interval (or per `maxOrders`) instead of one per order. */
    batch: z
      .object({
        every: Duration.refine((ms) => ms >= 1000, 'must be at least 1s'),
        maxOrders: z.number().int().min(1).max(10_000).default(500),
      })
      .strict()
      .optional(),
    retry: z
      .object({
        attempts: z.number().int().min(1).max(1000).default(10),
        backoff: Duration.default(30_000),
      })
      .strict()
      .default({ attempts: 10, backoff: 30_000 }),
    confirmations: ConfirmationsSchema.optional(),
  })
  .strict();
export type SupplierFile = z.infer<typeof SupplierFileSchema>;
