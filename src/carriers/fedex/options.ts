import { z } from 'zod';
import { CARRIER_CLIENT_FIELDS, WHEN_MAPPING, checkCredentialSources, expected } from '../client-options';

/**
 * The `carriers.fedex` options of `config/store.yaml`, shared by the FedEx request builder
 * (request.ts) and API client (client.ts): in a file of their own so the client takes its
 * options without importing the builder.
 */

/** `labelStockType` values of the schema's LabelSpecification. */
const LABEL_STOCK_TYPES = [
  'PAPER_4X6',
  'STOCK_4X675',
  'PAPER_4X675',
  'PAPER_4X8',
  'PAPER_4X9',
  'PAPER_7X475',
  'PAPER_85X11_BOTTOM_HALF_LABEL',
  'PAPER_85X11_TOP_HALF_LABEL',
  'PAPER_LETTER',
  'STOCK_4X675_LEADING_DOC_TAB',
  'STOCK_4X8',
  'STOCK_4X9_LEADING_DOC_TAB',
  'STOCK_4X6',
  'STOCK_4X675_TRAILING_DOC_TAB',
  'STOCK_4X9_TRAILING_DOC_TAB',
  'STOCK_4X9',
  'STOCK_4X85_TRAILING_DOC_TAB',
  'STOCK_4X105_TRAILING_DOC_TAB',
] as const;

const PICKUP_TYPES = ['CONTACT_FEDEX_TO_SCHEDULE', 'DROPOFF_AT_FEDEX_LOCATION', 'USE_SCHEDULED_PICKUP'] as const;

const OPTION_KEYS =
  'accountNumber, labelImageType, labelStockType, pickupType, packagingType, weightUnit, labelResponseOptions';

/**
 * Options of the FedEx request builder (`fedexCarrier`, request.ts) and the FedEx API client
 * (client.ts): the `carriers.fedex` section of `config/store.yaml`.
 */
export const fedexOptionsSchema = z.strictObject(
  {
    /** The 9-digit FedEx account number, billed as SENDER. */
    accountNumber: z
      .string({ error: expected('the 9-digit FedEx account number, as a quoted string') })
      .trim()
      .regex(/^\d{9}$/, 'must be the 9-digit FedEx account number'),
    /** Label image type. @defaultValue `'PDF'` */
    labelImageType: z.enum(['PDF', 'PNG', 'ZPLII', 'EPL2'], { error: 'must be one of PDF, PNG, ZPLII, EPL2' }).default('PDF'),
    /** Label stock. @defaultValue `'PAPER_4X6'` */
    labelStockType: z
      .enum(LABEL_STOCK_TYPES, { error: `must be one of ${LABEL_STOCK_TYPES.join(', ')}` })
      .default('PAPER_4X6'),
    /** How parcels reach FedEx. @defaultValue `'DROPOFF_AT_FEDEX_LOCATION'` */
    pickupType: z.enum(PICKUP_TYPES, { error: `must be one of ${PICKUP_TYPES.join(', ')}` }).default('DROPOFF_AT_FEDEX_LOCATION'),
    /**
     * FedEx packaging type (the schema lists none; e.g. YOUR_PACKAGING, FEDEX_PAK, FEDEX_BOX).
     * @defaultValue `'YOUR_PACKAGING'`
     */
    packagingType: z
      .string({ error: 'must be a FedEx packaging type such as YOUR_PACKAGING' })
      .regex(/^[A-Z][A-Z0-9_]*$/, 'must be a FedEx packaging type such as YOUR_PACKAGING (capitals, digits, "_")')
      .default('YOUR_PACKAGING'),
    /** Unit the package weight is declared in. @defaultValue `'LB'` */
    weightUnit: z.enum(['LB', 'KG'], { error: 'must be LB or KG' }).default('LB'),
    /** `LABEL` returns the label inline, `URL_ONLY` a link to it. @defaultValue `'LABEL'` */
    labelResponseOptions: z.enum(['LABEL', 'URL_ONLY'], { error: 'must be LABEL or URL_ONLY' }).default('LABEL'),
    // The API client's options (client.ts); the builder ignores them.
    ...CARRIER_CLIENT_FIELDS,
    /**
     * Which FedEx API: `test` is the sandbox (https://apis-sandbox.fedex.com), `production`
     * is https://apis.fedex.com.
     * @defaultValue `'test'`
     */
    environment: z.enum(['test', 'production'], { error: 'must be test or production' }).optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown option ${issue.keys.map((k) => `"${k}"`).join(', ')}; FedEx options are ${OPTION_KEYS}`
        : `must be a mapping of FedEx options (${OPTION_KEYS})`,
  },
).superRefine(checkCredentialSources, WHEN_MAPPING);

/** Validated FedEx options, defaults applied. */
export type FedexOptions = z.output<typeof fedexOptionsSchema>;
