import type { DeliveryPayload, DeliveryReceipt, LabelVoid, TransportContext, TransportKind } from '../../transports/transport';
import { fedexOptionsSchema, type FedexOptions } from './options';
import { CarrierApiClient, carrierIo, problemsOf, type CarrierApi, type CarrierCall, type CarrierIo, type CarrierProblem } from '../api-client';
import { asList, isRecord, stringAt } from '../json';

/**
 * The FedEx API client: API Authorization (`fedex-authorization-v1-APIAuthorization-Resource.json`)
 * and Create Shipment, `POST /ship/v1/shipments` (`fedex-ship-v1-Shipment-Resource.json`), as
 * transport kind `fedex`. It sends the body built by `fedexCarrier` unchanged.
 */

/** Base URLs of the FedEx environments. */
export const FEDEX_ENVIRONMENTS = {
  test: 'https://apis-sandbox.fedex.com',
  production: 'https://apis.fedex.com',
} as const;

const FEDEX_API: CarrierApi = { id: 'fedex', name: 'FedEx', format: 'fedex-ship', environments: FEDEX_ENVIRONMENTS };

/** `contentType` values of a package or shipment document that are the shipping label. */
const LABEL_CONTENT = new Set(['LABEL', 'MERGED_LABEL_DOCUMENTS', 'MERGED_LABELS_ONLY']);

class FedexClient extends CarrierApiClient {
  private readonly accountNumber: string;

  constructor(options: FedexOptions, context: TransportContext, io: CarrierIo) {
    super(FEDEX_API, options, context, io);
    this.accountNumber = options.accountNumber;
  }

  /** `PUT /ship/v1/shipments/cancel` (Cancel Shipment, `Full_Schema_Cancel_Shipment`). */
  protected voidCall(label: LabelVoid, token: string): CarrierCall {
    return {
      method: 'PUT',
      path: '/ship/v1/shipments/cancel',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json',
        'x-customer-transaction-id': label.deliveryId,
        'x-locale': 'en_US',
      },
      body: JSON.stringify({ accountNumber: { value: this.accountNumber }, trackingNumber: label.trackingNumber, deletionControl: 'DELETE_ALL_PACKAGES' }),
    };
  }

  /** `output.cancelledShipment` true is cancelled; `output.message` or the alerts say why not. */
  protected voidOutcome(answer: unknown): { voided: boolean; message?: string } {
    const output = isRecord(answer) ? answer.output : undefined;
    const alerts = isRecord(output) ? asList(output.alerts).filter(isRecord).map((a) => stringAt(a, 'message')).filter((m): m is string => m !== undefined) : [];
    const message = stringAt(output, 'message') ?? (alerts.join('; ') || undefined);
    return { voided: isRecord(output) && output.cancelledShipment === true, ...(message !== undefined ? { message } : {}) };
  }

  /** Form `grant_type=client_credentials&client_id=…&client_secret=…` (no Basic auth at FedEx). */
  protected tokenCall(): CarrierCall {
    const { clientId, clientSecret } = this.credentials;
    return {
      path: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }).toString(),
    };
  }

  protected shipCall(payload: DeliveryPayload, token: string): CarrierCall {
    return {
      path: '/ship/v1/shipments',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json',
        'x-customer-transaction-id': payload.deliveryId,
        'x-locale': 'en_US',
      },
      body: payload.body,
    };
  }

  /** `errors[]` of `ErrorResponseVO*` (Ship and Authorization alike). */
  protected problems(answer: unknown): CarrierProblem[] {
    return problemsOf(isRecord(answer) ? answer.errors : undefined);
  }

  /**
   * `output.transactionShipments[]`: tracking numbers of the pieces, the label document
   * (`encodedLabel` base64 for `LABEL`, `url` for `URL_ONLY`) and the net charge.
   */
  protected receipt(answer: unknown): DeliveryReceipt | undefined {
    const output = isRecord(answer) ? answer.output : undefined;
    const shipments = isRecord(output) ? asList(output.transactionShipments).filter(isRecord) : [];
    const pieces = shipments.flatMap((s) => asList(s.pieceResponses).filter(isRecord));
    const trackingNumbers = [...new Set(pieces.map((p) => stringAt(p, 'trackingNumber')).filter((t): t is string => t !== undefined))];
    const trackingNumber = stringAt(shipments[0], 'masterTrackingNumber') ?? trackingNumbers[0];
    if (trackingNumber === undefined) return undefined;

    const documents = [
      ...pieces.flatMap((p) => asList(p.packageDocuments).filter(isRecord)),
      ...shipments.flatMap((s) => asList(s.shipmentDocuments).filter(isRecord)),
    ];
    const label = documents.find((d) => LABEL_CONTENT.has(stringAt(d, 'contentType') ?? 'LABEL') && (stringAt(d, 'encodedLabel') ?? stringAt(d, 'url')) !== undefined);
    const fields: Record<string, string> = { carrier: 'fedex', trackingNumber };
    if (trackingNumbers.length > 1) fields.trackingNumbers = trackingNumbers.join(',');
    const encoded = stringAt(label, 'encodedLabel');
    const url = stringAt(label, 'url');
    if (encoded !== undefined) fields.label = encoded;
    else if (url !== undefined) fields.labelUrl = url;
    const format = stringAt(label, 'docType');
    if (format !== undefined) fields.labelFormat = format;
    const charges = netCharge(shipments[0]);
    if (charges !== undefined) fields.charges = charges;
    return { location: `fedex:${trackingNumber}`, response: fields };
  }
}

/** `completedShipmentDetail.shipmentRating.shipmentRateDetails[0]`'s net charge, e.g. "23.45 USD". */
function netCharge(shipment: Record<string, unknown> | undefined): string | undefined {
  const detail = isRecord(shipment) ? shipment.completedShipmentDetail : undefined;
  const rating = isRecord(detail) ? detail.shipmentRating : undefined;
  const rate = isRecord(rating) ? asList(rating.shipmentRateDetails).find(isRecord) : undefined;
  const amount = rate?.totalNetCharge;
  if (typeof amount !== 'number' || !Number.isFinite(amount)) return undefined;
  const currency = stringAt(rate, 'currency');
  return currency === undefined ? amount.toFixed(2) : `${amount.toFixed(2)} ${currency}`;
}

/**
 * FedEx API client as a transport (kind `fedex`, options = the `carriers.fedex` block of
 * `config/store.yaml`). `deliver` creates a shipment for a `fedex-ship` payload and returns
 * `{ carrier, trackingNumber, trackingNumbers?, label (base64) | labelUrl, labelFormat, charges? }`;
 * `verify` fetches a token; tokens are shared through `context.cache`.
 *
 * Retries: 401 once with a fresh token; 408, 429, 5xx and network errors retryable
 * (honouring Retry-After); 400, 403, 404 and other answers permanent, with FedEx's error code
 * and message (cut to 200 characters). FedEx takes no idempotency key (the
 * `x-customer-transaction-id` it echoes is the delivery id, for support, not deduplication).
 */
export const fedexTransport: TransportKind<FedexOptions> = {
  kind: 'fedex',
  optionsSchema: fedexOptionsSchema,
  create: (options, context) => new FedexClient(options, context, carrierIo()),
};
