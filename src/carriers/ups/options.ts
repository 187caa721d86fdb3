import { z } from 'zod';
import { CARRIER_CLIENT_FIELDS, WHEN_MAPPING, checkCredentialSources, expected } from '../client-options';

/**
 * The `carriers.ups` options of `config/store.yaml`, shared by the UPS request builder
 * (request.ts) and API client (client.ts): in a file of their own so the client takes its
 * options without importing the builder.
 */

const LABEL_FORMATS = ['GIF', 'ZPL', 'EPL', 'SPL'] as const;
const OPTION_KEYS = 'shipperNumber, labelFormat, weightUnit, requestOption, labelStockSize';

/**
 * Options of the UPS request builder (`upsCarrier`, request.ts) and the UPS API client
 * (client.ts): the `carriers.ups` section of `config/store.yaml`.
 */
export const upsOptionsSchema = z.strictObject(
  {
    /** The 6-character UPS account number; billed for transportation and shown as shipper. */
    shipperNumber: z
      .string({ error: expected('the 6-character UPS account number, as a quoted string') })
      .trim()
      .regex(/^[A-Za-z0-9]{6}$/, 'must be the 6-character UPS account number (letters and digits only)'),
    /** Label image format. @defaultValue `'GIF'` */
    labelFormat: z.enum(LABEL_FORMATS, { error: 'must be one of GIF, ZPL, EPL, SPL' }).default('GIF'),
    /** Unit the package weight is declared in. @defaultValue `'LBS'` */
    weightUnit: z.enum(['LBS', 'KGS'], { error: 'must be LBS or KGS' }).default('LBS'),
    /** `validate` makes UPS check city/state/postal code combinations. @defaultValue `'nonvalidate'` */
    requestOption: z.enum(['nonvalidate', 'validate'], { error: 'must be nonvalidate or validate' }).default('nonvalidate'),
    /**
     * Label stock in inches. Thermal labels (ZPL, EPL, SPL) take 4 wide by 6 or 8 high.
     * @defaultValue `{ Height: '6', Width: '4' }`
     */
    labelStockSize: z
      .strictObject(
        {
          Height: z.enum(['6', '8'], { error: 'must be "6" or "8" (inches)' }),
          Width: z.literal('4', { error: 'must be "4" (inches)' }),
        },
        { error: 'must be { Height: "6" | "8", Width: "4" }' },
      )
      .optional(),
    // The API client's options (client.ts); the builder ignores them.
    ...CARRIER_CLIENT_FIELDS,
    /**
     * Which UPS API: `test` is the Customer Integration Environment (https://wwwcie.ups.com),
     * `production` is https://onlinetools.ups.com.
     * @defaultValue `'test'`
     */
    environment: z.enum(['test', 'production'], { error: 'must be test or production' }).optional(),
    /**
     * Ship API version, the `{version}` of `/api/shipments/{version}/ship`.
     * @defaultValue `'v2409'`
     */
    apiVersion: z.string({ error: 'must be a UPS API version such as "v2409"' }).regex(/^v\d{4}$/, 'must be a UPS API version such as "v2409"').optional(),
    /** The 6-character UPS account number sent as `x-merchant-id` with token requests. */
    merchantId: z
      .string({ error: 'must be the 6-character UPS account number, as a quoted string' })
      .regex(/^[A-Za-z0-9]{6}$/, 'must be the 6-character UPS account number (letters and digits only)')
      .optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown option ${issue.keys.map((k) => `"${k}"`).join(', ')}; UPS options are ${OPTION_KEYS}`
        : `must be a mapping of UPS options (${OPTION_KEYS})`,
  },
).superRefine(checkCredentialSources, WHEN_MAPPING);

/** Validated UPS options, defaults applied. */
export type UpsOptions = z.output<typeof upsOptionsSchema>;
