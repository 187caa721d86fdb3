import { createHash } from 'node:crypto';
import { DeliveryError, type DeliveryPayload, type DeliveryReceipt, type LabelRecovery, type LabelVoid, type TransportContext, type TransportKind } from '../../transports/transport';
import { CarrierApiClient, carrierIo, problemsOf, type CarrierApi, type CarrierCall, type CarrierIo, type CarrierProblem } from '../api-client';
import { asList, isRecord, stringAt } from '../json';
import { upsOptionsSchema, type UpsOptions } from './options';

/**
 * The UPS API client: OAuth client credentials (`ups-OAuthClientCredentials.json`) and the
 * Shipping API's `POST /shipments/{version}/ship`, Void Shipment and Label Recovery
 * (`ups-Shipping.json`), as transport kind `ups`. It sends the body built by `upsCarrier`
 * unchanged.
 */

/** Base URLs of the UPS environments (the Shipping API lives under `/api`, OAuth at the root). */
export const UPS_ENVIRONMENTS = {
  test: 'https://wwwcie.ups.com',
  production: 'https://onlinetools.ups.com',
} as const;

/** Default `{version}` of the Ship API path. */
export const UPS_DEFAULT_API_VERSION = 'v2409';

/**
 * `{version}` of the Label Recovery path (`/labels/{version}/recovery`): "v1 original features
 * of the application", the spec's default; later versions only add COD turn-in pages, forms
 * and Roadie labels, which a drop-ship label has none of.
 */
export const UPS_LABEL_RECOVERY_VERSION = 'v1';

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

  /**
   * Label Recovery by reference: `POST /api/labels/{version}/recovery` with
   * `ReferenceValues` (the reference the ship request carried and the shipper number), the
   * label in the format and stock the ship request asked for. A label is given back with its
   * tracking number; a refusal (400 or 404 with UPS's error list: UPS publishes no separate
   * code for "nothing under this reference") means UPS holds no label under it. UPS answers
   * `LabelResults` as one object for a one-package shipment, though its schema says array.
   */
  protected async recover(payload: DeliveryPayload, body: unknown, _since: Date, signal: AbortSignal | undefined): Promise<LabelRecovery> {
    const request = isRecord(body) ? body.ShipmentRequest : undefined;
    const shipment = isRecord(request) ? request.Shipment : undefined;
    const shipper = isRecord(shipment) ? shipment.Shipper : undefined;
    const firstPackage = isRecord(shipment) ? asList(shipment.Package).find(isRecord) : undefined;
    const reference =
      stringAt(isRecord(shipment) ? asList(shipment.ReferenceNumber).find(isRecord) : undefined, 'Value') ??
      stringAt(firstPackage ? asList(firstPackage.ReferenceNumber).find(isRecord) : undefined, 'Value');
    const shipperNumber = stringAt(shipper, 'ShipperNumber');
    if (reference === undefined || shipperNumber === undefined) return { outcome: 'unasked', reason: 'the UPS request carries no reference to recover its label by' };
    const spec = isRecord(request) && isRecord(request.LabelSpecification) ? request.LabelSpecification : {};
    const format = stringAt(spec.LabelImageFormat, 'Code') ?? 'GIF';
    const stock = isRecord(spec.LabelStockSize) ? spec.LabelStockSize : undefined;
    const recovery = {
      LabelRecoveryRequest: {
        Request: { TransactionReference: { CustomerContext: upsTransId(payload.deliveryId) } },
        LabelSpecification: {
          LabelImageFormat: { Code: format },
          ...(stock !== undefined && { LabelStockSize: { Height: String(stock.Height), Width: String(stock.Width) } }),
        },
        ReferenceValues: { ReferenceNumber: { Value: reference }, ShipperNumber: shipperNumber },
      },
    };
    const answer = await this.authorized(
      (token) => ({
        path: `/api/labels/${UPS_LABEL_RECOVERY_VERSION}/recovery`,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json',
          transId: upsTransId(payload.deliveryId),
          transactionSrc: TRANSACTION_SOURCE,
        },
        body: JSON.stringify(recovery),
      }),
      'label recovery',
      signal,
    );
    if (answer.status === 400 || answer.status === 404) {
      if (this.problems(answer.json).length > 0) return { outcome: 'none' };
    }
    if (answer.status < 200 || answer.status >= 300) throw this.refusal('label recovery', answer);
    const receipt = recoveredReceipt(answer.json);
    if (receipt === undefined) {
      throw DeliveryError.retryable('EREMOTE', `UPS label recovery answered ${answer.status} without a tracking number and label`);
    }
    return { outcome: 'recovered', receipt };
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

/** The receipt of a recovered label: as a purchase's, without charges (Label Recovery gives none). */
function recoveredReceipt(answer: unknown): DeliveryReceipt | undefined {
  const response = isRecord(answer) ? answer.LabelRecoveryResponse : undefined;
  if (!isRecord(response)) return undefined;
  // One object for one package, though the schema says array (UPS's own examples do it).
  const results = asList(response.LabelResults).filter(isRecord);
  const trackingNumbers = results.map((r) => stringAt(r, 'TrackingNumber')).filter((t): t is string => t !== undefined);
  const trackingNumber = trackingNumbers[0] ?? stringAt(response, 'ShipmentIdentificationNumber');
  const image = results.map((r) => r.LabelImage).find(isRecord);
  const graphic = stringAt(image, 'GraphicImage');
  if (trackingNumber === undefined || graphic === undefined) return undefined;
  const fields: Record<string, string> = { carrier: 'ups', trackingNumber, label: graphic, recovered: 'true' };
  const shipmentNumber = stringAt(response, 'ShipmentIdentificationNumber');
  if (shipmentNumber !== undefined && shipmentNumber !== trackingNumber) fields.shipmentNumber = shipmentNumber;
  if (trackingNumbers.length > 1) fields.trackingNumbers = trackingNumbers.join(',');
  const format = isRecord(image) ? stringAt(image.LabelImageFormat, 'Code') : undefined;
  if (format !== undefined) fields.labelFormat = format.toUpperCase();
  return { location: `ups:${trackingNumber}`, response: fields };
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
 * key: after an attempt whose answer was lost, `recoverLabel` gets the label back by the
 * reference the request carries (Label Recovery) before anything is bought again.
 */
export const upsTransport: TransportKind<UpsOptions> = {
  kind: 'ups',
  optionsSchema: upsOptionsSchema,
  create: (options, context) => new UpsClient(options, context, carrierIo()),
};
