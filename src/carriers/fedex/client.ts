import { DeliveryError, type DeliveryPayload, type DeliveryReceipt, type LabelRecovery, type LabelVoid, type TransportContext, type TransportKind } from '../../transports/transport';
import { fedexOptionsSchema, type FedexOptions } from './options';
import { CarrierApiClient, carrierIo, problemsOf, type CarrierApi, type CarrierCall, type CarrierIo, type CarrierProblem } from '../api-client';
import { asList, isRecord, stringAt } from '../json';

/**
 * The FedEx API client: API Authorization (`fedex-authorization-v1-APIAuthorization-Resource.json`),
 * Create and Cancel Shipment (`fedex-ship-v1-Shipment-Resource.json`) and Track by References
 * (`fedex-track-v1-ReferenceNumbers-Resource.json`), as transport kind `fedex`. It sends the
 * body built by `fedexCarrier` unchanged.
 */

/** Base URLs of the FedEx environments. */
export const FEDEX_ENVIRONMENTS = {
  test: 'https://apis-sandbox.fedex.com',
  production: 'https://apis.fedex.com',
} as const;

const FEDEX_API: CarrierApi = { id: 'fedex', name: 'FedEx', format: 'fedex-ship', environments: FEDEX_ENVIRONMENTS };

/** `contentType` values of a package or shipment document that are the shipping label. */
const LABEL_CONTENT = new Set(['LABEL', 'MERGED_LABEL_DOCUMENTS', 'MERGED_LABELS_ONLY']);

/** `latestStatusDetail.code` of a cancelled shipment: nothing left to cancel. */
const CANCELLED_STATUS = 'CA';

/** Days before the lost attempt that Track by References searches from (a date in UTC may be the day before FedEx's). */
const SHIP_DATE_SLACK_DAYS = 1;

/** `YYYY-MM-DD` of `date` moved by `days`, in UTC. */
function shipDate(date: Date, days: number): string {
  return new Date(date.getTime() + days * 86_400_000).toISOString().slice(0, 10);
}

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

  /**
   * Track by References (`POST /track/v1/referencenumbers`, `CUSTOMER_REFERENCE`, the
   * account number, ship dates from the day before the lost attempt to tomorrow): the
   * shipments FedEx holds under the reference the request carried. None: buy. Found: each is
   * cancelled (Cancel Shipment, as a void), then the label is bought again.
   *
   * Why cancel rather than reuse: FedEx gives a label only in the Create Shipment answer,
   * and that answer is what was lost. Track answers with a status, not a label; the Ship API
   * has no reprint of a shipment that was not created as an open or asynchronous one. A
   * shipment whose label no one has cannot be used; cancelling it costs nothing before it is
   * tendered, and leaves exactly one live shipment, the one bought next. A cancellation FedEx
   * refuses throws (the worker then flags the label bought next).
   *
   * The schema names the end date `shipDateEndDate` (and requires it); FedEx's own examples
   * send `shipDateEnd`. Both are sent, with the same date.
   */
  protected async recover(payload: DeliveryPayload, body: unknown, since: Date, signal: AbortSignal | undefined): Promise<LabelRecovery> {
    const requested = isRecord(body) ? body.requestedShipment : undefined;
    const item = isRecord(requested) ? asList(requested.requestedPackageLineItems).find(isRecord) : undefined;
    const reference = item ? asList(item.customerReferences).filter(isRecord).find((r) => stringAt(r, 'customerReferenceType') === 'CUSTOMER_REFERENCE') : undefined;
    const value = stringAt(reference, 'value');
    if (value === undefined) return { outcome: 'unasked', reason: 'the FedEx request carries no customer reference to find its shipment by' };
    const accountNumber = (isRecord(body) ? stringAt(body.accountNumber, 'value') : undefined) ?? this.accountNumber;
    const end = shipDate(new Date(), 1);
    const query = {
      referencesInformation: {
        type: 'CUSTOMER_REFERENCE',
        value,
        accountNumber,
        shipDateBegin: shipDate(since, -SHIP_DATE_SLACK_DAYS),
        shipDateEnd: end,
        shipDateEndDate: end,
      },
      includeDetailedScans: false,
    };
    const answer = await this.authorized(
      (token) => ({
        path: '/track/v1/referencenumbers',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json',
          'x-customer-transaction-id': payload.deliveryId,
          'x-locale': 'en_US',
        },
        body: JSON.stringify(query),
      }),
      'track by reference',
      signal,
    );
    if (answer.status < 200 || answer.status >= 300) throw this.refusal('track by reference', answer);
    const output = isRecord(answer.json) ? answer.json.output : undefined;
    if (!isRecord(output)) throw DeliveryError.retryable('EREMOTE', `FedEx track by reference answered ${answer.status} without an output`);
    const live = new Set<string>();
    for (const complete of asList(output.completeTrackResults).filter(isRecord)) {
      for (const result of asList(complete.trackResults).filter(isRecord)) {
        // A result with an error is FedEx saying it found nothing (TRACKING.REFERENCENUMBER.NOTFOUND).
        if (isRecord(result.error)) continue;
        const number = stringAt(result.trackingNumberInfo, 'trackingNumber');
        if (number === undefined || stringAt(result.latestStatusDetail, 'code') === CANCELLED_STATUS) continue;
        live.add(number);
      }
    }
    if (live.size === 0) return { outcome: 'none' };
    for (const trackingNumber of live) {
      await this.voidLabel(
        { deliveryId: `${payload.deliveryId}-recovery`, orderId: payload.orderId, shipmentId: payload.deliveryId.replace(/\+carrier$/, ''), recipient: 'fedex', labelDeliveryId: payload.deliveryId, trackingNumber },
        signal,
      );
    }
    return { outcome: 'cancelled', trackingNumbers: [...live] };
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
 * `x-customer-transaction-id` it echoes is the delivery id, for support, not deduplication):
 * after an attempt whose answer was lost, `recoverLabel` finds the shipment by its customer
 * reference and cancels it before the label is bought again.
 */
export const fedexTransport: TransportKind<FedexOptions> = {
  kind: 'fedex',
  optionsSchema: fedexOptionsSchema,
  create: (options, context) => new FedexClient(options, context, carrierIo()),
};
