import { createHash } from 'node:crypto';
import type { DeliveryPayload, DeliveryReceipt, LabelVoid, TransportContext, TransportKind } from '../../transports/transport';
import { CarrierApiClient, carrierIo, problemsOf, type CarrierApi, type CarrierCall, type CarrierIo, type CarrierProblem } from '../api-client';
import { asList, isRecord, stringAt } from '../json';
import { upsOptionsSchema, type UpsOptions } from './options';

/**
 * The UPS API client: OAuth client credentials (`ups-OAuthClientCredentials.json`) and the
 * Shipping API's `POST /shipments/{version}/ship` (`ups-Shipping.json`), as transport kind
 * `ups`. It sends the body built by `upsCarrier` unchanged.
 */

/** Base URLs of the UPS environments (the Shipping API lives under `/api`, OAuth at the root). */
export const UPS_ENVIRONMENTS = {
  test: 'https://wwwcie.ups.com',
  production: 'https://onlinetools.ups.com',
} as const;

/** Default `{version}` of the Ship API path. */
export const UPS_DEFAULT_API_VERSION = 'v2409';

/** `transactionSrc`: which application is calling (UPS: up to 512 characters). */
const TRANSACTION_SOURCE = 'dropship';

const UPS_API: CarrierApi = { id: 'ups', name: 'UPS', format: 'ups-ship', environments: UPS_ENVIRONMENTS };

/** `transId` (UPS: 32 characters at most): the same for every attempt of one delivery. */
export function upsTransId(deliveryId: string): string {
  return createHash('sha256').update(deliveryId).digest('hex').slice(0, 32);
}

class UpsClient extends CarrierApiClient {
  private readonly version: string;
  private readonly merchantId: string | undefined;

  constructor(options: UpsOptions, context: TransportContext, io: CarrierIo) {
    super(UPS_API, options, context, io);
    this.version = options.apiVersion ?? UPS_DEFAULT_API_VERSION;
    this.merchantId = options.merchantId;
  }

  /** HTTP Basic client_id:client_secret, form `grant_type=client_credentials`. */
  protected tokenCall(): CarrierCall {
    const { clientId, clientSecret } = this.credentials;
    return {
      path: '/security/v1/oauth/token',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`, 'utf8').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        ...(this.merchantId === undefined ? {} : { 'x-merchant-id': this.merchantId }),
      },
      body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
    };
  }

  protected shipCall(payload: DeliveryPayload, token: string): CarrierCall {
    return {
      path: `/api/shipments/${this.version}/ship`,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json',
        transId: upsTransId(payload.deliveryId),
        transactionSrc: TRANSACTION_SOURCE,
      },
      body: payload.body,
    };
  }

  /** `DELETE /api/shipments/{version}/void/cancel/{shipmentidentificationnumber}` (Void Shipment). */
  protected voidCall(label: LabelVoid, token: string): CarrierCall {
    return {
      method: 'DELETE',
      path: `/api/shipments/${this.version}/void/cancel/${encodeURIComponent(label.shipmentNumber ?? label.trackingNumber)}`,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        transId: upsTransId(label.deliveryId),
        transactionSrc: TRANSACTION_SOURCE,
      },
      body: '',
    };
  }

  /** `VoidShipmentResponse.SummaryResult.Status`: code `1` is voided. */
  protected voidOutcome(answer: unknown): { voided: boolean; message?: string } {
    const response = isRecord(answer) ? answer.VoidShipmentResponse : undefined;
    const summary = isRecord(response) ? response.SummaryResult : undefined;
    const status = isRecord(summary) ? summary.Status : undefined;
    const description = stringAt(status, 'Description');
    return { voided: stringAt(status, 'Code') === '1', ...(description !== undefined ? { message: description } : {}) };
  }

  /** `response.errors[]` of `ErrorResponse` (Shipping) and `tokenErrorResponse` (OAuth). */
  protected problems(answer: unknown): CarrierProblem[] {
    return problemsOf(isRecord(answer) && isRecord(answer.response) ? answer.response.errors : undefined);
  }

  /** `ShipmentResponse.ShipmentResults`: tracking numbers, the first package's label, total charges. */
  protected receipt(answer: unknown): DeliveryReceipt | undefined {
    const response = isRecord(answer) ? answer.ShipmentResponse : undefined;
    const results = isRecord(response) ? response.ShipmentResults : undefined;
    if (!isRecord(results)) return undefined;
    // An array since v2403; older versions send one package as an object.
    const packages = asList(results.PackageResults).filter(isRecord);
    const trackingNumbers = packages.map((p) => stringAt(p, 'TrackingNumber')).filter((t): t is string => t !== undefined);
    const trackingNumber = trackingNumbers[0] ?? stringAt(results, 'ShipmentIdentificationNumber');
    if (trackingNumber === undefined) return undefined;

    const label = packages.map((p) => p.ShippingLabel).find(isRecord);
    const image = stringAt(label, 'GraphicImage');
    const format = isRecord(label) ? stringAt(label.ImageFormat, 'Code') : undefined;
    const charges = isRecord(results.ShipmentCharges) ? results.ShipmentCharges.TotalCharges : undefined;
    const amount = stringAt(charges, 'MonetaryValue');
    const currency = stringAt(charges, 'CurrencyCode');

    const fields: Record<string, string> = { carrier: 'ups', trackingNumber };
    // Void Shipment takes the shipment's number, which differs from a package's in multi-package shipments.
    const shipmentNumber = stringAt(results, 'ShipmentIdentificationNumber');
    if (shipmentNumber !== undefined && shipmentNumber !== trackingNumber) fields.shipmentNumber = shipmentNumber;
    if (trackingNumbers.length > 1) fields.trackingNumbers = trackingNumbers.join(',');
    if (image !== undefined) fields.label = image;
    if (format !== undefined) fields.labelFormat = format;
    if (amount !== undefined) fields.charges = currency === undefined ? amount : `${amount} ${currency}`;
    return { location: `ups:${trackingNumber}`, response: fields };
  }
}

/**
 * UPS API client as a transport (kind `ups`, options = the `carriers.ups` block of
 * `config/store.yaml`). `deliver` buys a label for a `ups-ship` payload and returns
 * `{ carrier, trackingNumber, trackingNumbers?, label (base64), labelFormat, charges? }`;
 * `verify` fetches a token; tokens are shared through `context.cache`.
 *
 * Retries: 401 once with a fresh token; 408, 429, 5xx and network errors retryable
 * (honouring Retry-After); 400, 403, 404 and other answers permanent, with UPS's error code
 * and message (cut to 200 characters: UPS may quote the address). UPS takes no idempotency
 * key, so a label bought just before a crash is bought again on the retry.
 */
export const upsTransport: TransportKind<UpsOptions> = {
  kind: 'ups',
  optionsSchema: upsOptionsSchema,
  create: (options, context) => new UpsClient(options, context, carrierIo()),
};
