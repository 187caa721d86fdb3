import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createLocalCa, type LocalCa } from './https';

/**
 * Local HTTPS servers standing in for the UPS and FedEx APIs (OAuth token endpoint, Create
 * Shipment, Void / Cancel Shipment, and the question about a label whose answer was lost:
 * UPS Label Recovery, FedEx Track by References), for the demo and the tests. Each sale is
 * kept with the reference it carried (`sold`), and a scripted `lostAnswer` sells the label
 * and then drops the connection unanswered, as a purchase whose answer never came back. Every request is checked for path, method,
 * required headers and authentication (HTTP Basic for UPS tokens, form credentials for FedEx
 * tokens, Bearer on shipments); with {@link StandInOptions.checks} (the tests pass checks made
 * from the carriers' published OpenAPI documents) request bodies and every answer, canned or
 * scripted, are checked too. Anything that does not conform is recorded in `violations` (and
 * answered 400), so a test ends with `expect(standIn.violations).toEqual([])`.
 */

export type Carrier = 'ups' | 'fedex';
/** `recover`: UPS Label Recovery (`POST /api/labels/{version}/recovery`), FedEx Track by References (`POST /track/v1/referencenumbers`). */
export type StandInEndpoint = 'token' | 'ship' | 'void' | 'recover';

/** One label the stand-in sold. */
export interface SoldLabel {
  trackingNumber: string;
  /** The reference the shipment carried (UPS `ReferenceNumber`, FedEx `CUSTOMER_REFERENCE`), if any. */
  reference?: string;
  /** `transId` (UPS) or `x-customer-transaction-id` (FedEx) of the purchase. */
  transactionId?: string;
  /** The label image in the format asked for (given back by Label Recovery). */
  format: string;
  /** Voided or cancelled since. */
  voided: boolean;
  /** The purchase's answer was dropped (a scripted `lostAnswer`). */
  answerLost: boolean;
}

/** A scripted answer for the next request to one endpoint. */
export interface StandInAnswer {
  status: number;
  /** `Retry-After` header value. */
  retryAfter?: string;
  /** The carrier's error list, wrapped in the carrier's error body. */
  errors?: { code: string; message: string }[];
  /** A whole body instead (JSON-encoded unless a string). */
  body?: unknown;
  /** Repeat the bearer token the request carried in each error message, as a careless gateway might. */
  echoToken?: boolean;
  /**
   * Do what the request asks (a ship request sells its label), then drop the connection
   * without answering: the answer is lost on its way back. `status` is then ignored.
   */
  lostAnswer?: boolean;
}

/** A request as the stand-in saw it. */
export interface StandInRequest {
  endpoint: StandInEndpoint | 'unknown';
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The status it was answered with. */
  status: number;
  /** The bearer token a ship request carried. */
  token?: string;
}

export interface CarrierStandIn {
  readonly carrier: Carrier;
  /** `https://127.0.0.1:<port>`: the client's `baseUrl`. */
  readonly url: string;
  /** PEM of the CA that issued the stand-in's certificate: the client's `caFile`. */
  readonly caFile: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Every request, in order. */
  readonly requests: StandInRequest[];
  /** Every deviation from the published specs, by the client or by the stand-in's own answers. */
  readonly violations: string[];
  /** Every access token issued, in order. */
  readonly tokens: string[];
  /** Tracking numbers of the labels bought and not voided. */
  readonly labels: ReadonlySet<string>;
  /** Tracking numbers voided, in order. */
  readonly voided: string[];
  /** Every label sold, in order, voided ones included. */
  readonly sold: SoldLabel[];
  /** Labels sold and not voided, per reference: more than one is a label bought twice. */
  liveLabelsByReference(): Map<string, SoldLabel[]>;
  /** Delay before each token answer (to let concurrent callers pile up). */
  tokenDelayMs: number;
  /** Requests of one endpoint. */
  requestsTo(endpoint: StandInEndpoint): StandInRequest[];
  /** Every token issued so far is answered 401 from now on (as after expiry). */
  expireTokens(): void;
  /** Queues answers for the next requests to `endpoint` that pass the checks. */
  script(endpoint: StandInEndpoint, ...answers: StandInAnswer[]): void;
  /** Forgets requests, violations, scripts and tokens. */
  reset(): void;
  stop(): Promise<void>;
}

/** Checks one value; returns one line per problem, empty when it conforms. */
export type ConformanceCheck = (data: unknown) => string[];

/** Conformance checks of a stand-in beyond paths, headers and credentials (e.g. from the OpenAPI documents). */
export interface StandInChecks {
  /** The check of a request body (the parsed form for `token`, the JSON for `ship`, `recover` and FedEx `void`). */
  request(endpoint: StandInEndpoint): ConformanceCheck;
  /** The check of an answer with this status, or undefined when nothing is documented for it. */
  response(endpoint: StandInEndpoint, status: number): ConformanceCheck | undefined;
}

export interface StandInOptions {
  /** Body and answer checks. @defaultValue none: bodies are taken as they come */
  checks?: StandInChecks;
  clientId?: string;
  clientSecret?: string;
  /** `expires_in` of issued tokens, in seconds. @defaultValue 3600 (FedEx), 14399 (UPS) */
  expiresInSeconds?: number;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Small, real label images per format, base64 (what the carriers send in the label fields). */
export const SAMPLE_LABELS: Record<string, string> = {
  GIF: 'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7',
  PNG: 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  ZPL: Buffer.from('^XA^FO50,50^A0N,40,40^FDSTAND-IN LABEL^FS^XZ').toString('base64'),
  ZPLII: Buffer.from('^XA^FO50,50^A0N,40,40^FDSTAND-IN LABEL^FS^XZ').toString('base64'),
  EPL: Buffer.from('N\nA50,50,0,4,1,1,N,"STAND-IN LABEL"\nP1\n').toString('base64'),
  EPL2: Buffer.from('N\nA50,50,0,4,1,1,N,"STAND-IN LABEL"\nP1\n').toString('base64'),
  SPL: Buffer.from('STAND-IN LABEL').toString('base64'),
  PDF: Buffer.from('%PDF-1.4\n% stand-in label\n%%EOF\n').toString('base64'),
};

/** The `ShipmentResponse` UPS gives for a valid `ShipmentRequest`, built from it. */
export function upsShipResponse(request: Json, sequence: number): Json {
  const shipmentRequest = isObject(request.ShipmentRequest) ? request.ShipmentRequest : {};
  const shipment = isObject(shipmentRequest.Shipment) ? shipmentRequest.Shipment : {};
  const shipper = isObject(shipment.Shipper) ? shipment.Shipper : {};
  const service = isObject(shipment.Service) ? String(shipment.Service.Code) : '03';
  const labelSpec = isObject(shipmentRequest.LabelSpecification) ? shipmentRequest.LabelSpecification : {};
  const format = isObject(labelSpec.LabelImageFormat) ? String(labelSpec.LabelImageFormat.Code) : 'GIF';
  const packages = Array.isArray(shipment.Package) ? shipment.Package : [{}];
  const firstPackage: unknown = packages[0];
  const weight = isObject(firstPackage) && isObject(firstPackage.PackageWeight) ? firstPackage.PackageWeight : {};
  const unit = isObject(weight.UnitOfMeasurement) ? String(weight.UnitOfMeasurement.Code) : 'LBS';
  const account = String(shipper.ShipperNumber ?? 'A1B2C3').padEnd(6, '0').slice(0, 6);
  const tracking = packages.map((_, i) => `1Z${account}${service.padStart(2, '0').slice(0, 2)}${String(sequence * 10 + i).padStart(8, '0')}`);
  const money = (value: string) => ({ CurrencyCode: 'USD', MonetaryValue: value });
  return {
    ShipmentResponse: {
      Response: { ResponseStatus: { Code: '1', Description: 'Success' }, TransactionReference: { CustomerContext: 'stand-in' } },
      ShipmentResults: {
        ShipmentCharges: { TransportationCharges: money('14.22'), ServiceOptionsCharges: money('0.00'), TotalCharges: money('14.22') },
        // The schema wants exactly 8 characters.
        BillingWeight: { UnitOfMeasurement: { Code: unit, Description: unit === 'KGS' ? 'Kilograms' : 'Pounds' }, Weight: String(weight.Weight ?? '1.0').padStart(8, '0').slice(-8) },
        ShipmentIdentificationNumber: tracking[0],
        PackageResults: tracking.map((number) => ({
          TrackingNumber: number,
          ServiceOptionsCharges: money('0.00'),
          ShippingLabel: { ImageFormat: { Code: format, Description: format }, GraphicImage: SAMPLE_LABELS[format] ?? SAMPLE_LABELS.GIF },
        })),
      },
    },
  };
}

/** The Create Shipment answer FedEx gives for a valid `Full_Schema_Ship` request, built from it. */
export function fedexShipResponse(request: Json, sequence: number, customerTransactionId: string | undefined): Json {
  const requested = isObject(request.requestedShipment) ? request.requestedShipment : {};
  const labelSpec = isObject(requested.labelSpecification) ? requested.labelSpecification : {};
  const imageType = String(labelSpec.imageType ?? 'PDF');
  const urlOnly = request.labelResponseOptions === 'URL_ONLY';
  const items = Array.isArray(requested.requestedPackageLineItems) ? requested.requestedPackageLineItems : [{}];
  const tracking = items.map((_, i) => `7949${String(sequence * 10 + i).padStart(8, '0')}`);
  return {
    transactionId: randomUUID(),
    ...(customerTransactionId === undefined ? {} : { customerTransactionId }),
    output: {
      transactionShipments: [
        {
          serviceType: String(requested.serviceType ?? 'FEDEX_GROUND'),
          shipDatestamp: new Date().toISOString().slice(0, 10),
          serviceCategory: 'GROUND',
          masterTrackingNumber: tracking[0],
          pieceResponses: tracking.map((number, i) => ({
            trackingNumber: number,
            masterTrackingNumber: tracking[0],
            packageSequenceNumber: i + 1,
            netChargeAmount: 23.45,
            packageDocuments: [
              {
                contentType: 'LABEL',
                copiesToPrint: 1,
                docType: imageType,
                trackingNumber: number,
                ...(urlOnly
                  ? { url: `https://wwwdev.idev.fedex.com/document/v2/document/retrieve/SH,${number}_SHIPPING_P/isLabel=true&autoPrint=false` }
                  : { encodedLabel: SAMPLE_LABELS[imageType] ?? SAMPLE_LABELS.PDF }),
              },
            ],
          })),
          completedShipmentDetail: {
            carrierCode: 'FDXG',
            shipmentRating: { actualRateType: 'PAYOR_ACCOUNT_PACKAGE', shipmentRateDetails: [{ rateType: 'PAYOR_ACCOUNT_PACKAGE', totalNetCharge: 23.45, currency: 'USD' }] },
          },
        },
      ],
    },
  };
}

/** The carrier's error body around an error list. */
export function errorBody(carrier: Carrier, errors: { code: string; message: string }[], customerTransactionId?: string): Json {
  return carrier === 'ups'
    ? { response: { errors } }
    : { transactionId: randomUUID(), ...(customerTransactionId === undefined ? {} : { customerTransactionId }), errors };
}

/** The first `ReferenceNumber.Value` of a UPS shipment or its first package. */
function upsReferences(shipment: Json): { shipment?: string; package?: string } {
  const first = (list: unknown): string | undefined => {
    const item: unknown = Array.isArray(list) ? list[0] : undefined;
    return isObject(item) && typeof item.Value === 'string' ? item.Value : undefined;
  };
  const firstPackage: unknown = Array.isArray(shipment.Package) ? shipment.Package[0] : undefined;
  const atShipment = first(shipment.ReferenceNumber);
  const atPackage = isObject(firstPackage) ? first(firstPackage.ReferenceNumber) : undefined;
  return { ...(atShipment === undefined ? {} : { shipment: atShipment }), ...(atPackage === undefined ? {} : { package: atPackage }) };
}

function countryOf(party: unknown): string {
  return isObject(party) && isObject(party.Address) ? String(party.Address.CountryCode) : '';
}

/**
 * Where ups-Shipping.json allows a reference: `Shipment.ReferenceNumber` "Valid if the
 * origin/destination pair is not US/US or PR/PR", `Package.ReferenceNumber` "Valid if the
 * origin/destination pair is US/US or PR/PR". What is wrong, or undefined.
 */
export function misplacedUpsReference(request: Json): string | undefined {
  const shipmentRequest = isObject(request.ShipmentRequest) ? request.ShipmentRequest : {};
  const shipment = isObject(shipmentRequest.Shipment) ? shipmentRequest.Shipment : {};
  const pair = `${countryOf(shipment.ShipFrom ?? shipment.Shipper)}/${countryOf(shipment.ShipTo)}`;
  const domestic = pair === 'US/US' || pair === 'PR/PR';
  const refs = upsReferences(shipment);
  if (domestic && refs.shipment !== undefined) return `Shipment.ReferenceNumber is not valid for ${pair} (the spec: "Valid if the origin/destination pair is not US/US or PR/PR")`;
  if (!domestic && refs.package !== undefined) return `Package.ReferenceNumber is not valid for ${pair} (the spec: "Valid if the origin/destination pair is US/US or PR/PR")`;
  return undefined;
}

/** The reference a ship request carries: UPS `ReferenceNumber` (either level), FedEx `CUSTOMER_REFERENCE`. */
function referenceOf(carrier: Carrier, request: Json): string | undefined {
  if (carrier === 'ups') {
    const shipmentRequest = isObject(request.ShipmentRequest) ? request.ShipmentRequest : {};
    const refs = upsReferences(isObject(shipmentRequest.Shipment) ? shipmentRequest.Shipment : {});
    return refs.shipment ?? refs.package;
  }
  const requested = isObject(request.requestedShipment) ? request.requestedShipment : {};
  const items = Array.isArray(requested.requestedPackageLineItems) ? (requested.requestedPackageLineItems as unknown[]) : [];
  for (const item of items) {
    const references = isObject(item) && Array.isArray(item.customerReferences) ? (item.customerReferences as unknown[]) : [];
    const found = references.find((r) => isObject(r) && r.customerReferenceType === 'CUSTOMER_REFERENCE');
    if (isObject(found) && typeof found.value === 'string') return found.value;
  }
  return undefined;
}

/** The label format a ship request asks for. */
function labelFormatOf(carrier: Carrier, request: Json): string {
  if (carrier === 'ups') {
    const spec = isObject(request.ShipmentRequest) && isObject(request.ShipmentRequest.LabelSpecification) ? request.ShipmentRequest.LabelSpecification : {};
    return isObject(spec.LabelImageFormat) ? String(spec.LabelImageFormat.Code) : 'GIF';
  }
  const requested = isObject(request.requestedShipment) ? request.requestedShipment : {};
  return isObject(requested.labelSpecification) ? String(requested.labelSpecification.imageType ?? 'PDF') : 'PDF';
}

/** Constant-time comparison of two strings. */
function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function formObject(body: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(body));
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Drop the connection instead of answering. */
  lost?: boolean;
}

/** Starts a stand-in for UPS: OAuth client credentials and the Shipping API. */
export function startUpsStandIn(options: StandInOptions = {}): Promise<CarrierStandIn> {
  return startCarrierStandIn('ups', options);
}

/** Starts a stand-in for FedEx: API Authorization and the Ship API. */
export function startFedexStandIn(options: StandInOptions = {}): Promise<CarrierStandIn> {
  return startCarrierStandIn('fedex', options);
}

/** Starts a stand-in for `carrier` on a free loopback port, with a certificate from a fresh CA. */
export async function startCarrierStandIn(carrier: Carrier, options: StandInOptions = {}): Promise<CarrierStandIn> {
  const ca: LocalCa = await createLocalCa(`${carrier} stand-in CA`);
  const cert = await ca.issue('localhost');
  const clientId = options.clientId ?? `${carrier}-client-${randomBytes(6).toString('hex')}`;
  const clientSecret = options.clientSecret ?? `${carrier}-secret-${randomBytes(12).toString('hex')}`;
  const expiresIn = options.expiresInSeconds ?? (carrier === 'ups' ? 14_399 : 3_600);
  const checks = options.checks;
  const validate: Record<StandInEndpoint, ConformanceCheck> = {
    token: checks?.request('token') ?? (() => []),
    ship: checks?.request('ship') ?? (() => []),
    void: checks?.request('void') ?? (() => []),
    recover: checks?.request('recover') ?? (() => []),
  };
  const requests: StandInRequest[] = [];
  const violations: string[] = [];
  const tokens: string[] = [];
  const expired = new Set<string>();
  const scripts: Record<StandInEndpoint, StandInAnswer[]> = { token: [], ship: [], void: [], recover: [] };
  const labels = new Set<string>();
  const voided: string[] = [];
  const sold: SoldLabel[] = [];
  let shipments = 0;

  const endpointOf = (method: string, path: string): StandInEndpoint | 'unknown' => {
    if (carrier === 'ups' && method === 'DELETE' && /^\/api\/shipments\/[^/]+\/void\/cancel\/[^/]+$/.test(path)) return 'void';
    if (carrier === 'fedex' && method === 'PUT' && path === '/ship/v1/shipments/cancel') return 'void';
    if (method !== 'POST') return 'unknown';
    if (carrier === 'ups') {
      if (path === '/security/v1/oauth/token') return 'token';
      if (/^\/api\/shipments\/[^/]+\/ship$/.test(path)) return 'ship';
      if (/^\/api\/labels\/[^/]+\/recovery$/.test(path)) return 'recover';
    } else {
      if (path === '/oauth/token') return 'token';
      if (path === '/ship/v1/shipments') return 'ship';
      if (path === '/track/v1/referencenumbers') return 'recover';
    }
    return 'unknown';
  };

  const violation = (problem: string): Reply => {
    violations.push(problem);
    return { status: 400, body: errorBody(carrier, [{ code: 'STANDIN.SPEC.VIOLATION', message: problem.slice(0, 300) }]) };
  };

  const scripted = (endpoint: StandInEndpoint, transactionId: string | undefined, token?: string): Reply | undefined => {
    const answer = scripts[endpoint].shift();
    if (answer === undefined) return undefined;
    if (answer.lostAnswer === true) return { status: 0, body: '', lost: true };
    const errors = (answer.errors ?? []).map((e) => (answer.echoToken === true && token !== undefined ? { ...e, message: `${e.message} (token ${token})` } : e));
    const body = answer.body ?? errorBody(carrier, errors, answer.status === 400 || answer.status === 500 ? transactionId : undefined);
    return { status: answer.status, body, ...(answer.retryAfter === undefined ? {} : { headers: { 'retry-after': answer.retryAfter } }) };
  };

  const issueToken = (): Reply => {
    const token = `standin.${carrier}.${randomBytes(24).toString('base64url')}`;
    tokens.push(token);
    return carrier === 'ups'
      ? {
          status: 200,
          body: {
            token_type: 'Bearer',
            issued_at: String(Date.now()),
            client_id: clientId,
            access_token: token,
            scope: '',
            expires_in: String(expiresIn),
            refresh_count: '0',
            status: 'approved',
          },
        }
      : { status: 200, body: { access_token: token, token_type: 'bearer', expires_in: expiresIn, scope: 'CXS' } };
  };

  const tokenRequest = (headers: IncomingHttpHeaders, body: string): Reply => {
    const contentType = header(headers, 'content-type') ?? '';
    if (!contentType.startsWith('application/x-www-form-urlencoded')) return violation(`token: content-type must be application/x-www-form-urlencoded, got "${contentType}"`);
    const form = formObject(body);
    const problems = validate.token(form);
    if (problems.length > 0) return violation(`token: form body does not match the spec: ${problems.join('; ')}`);
    if (form.grant_type !== 'client_credentials') return violation(`token: grant_type must be client_credentials, got "${form.grant_type}"`);
    const authorization = header(headers, 'authorization');
    const refused = (code: string, message: string): Reply => ({ status: 401, body: errorBody(carrier, [{ code, message }]) });
    if (carrier === 'ups') {
      // UPS: HTTP Basic client_id:client_secret, nothing secret in the form.
      if ('client_id' in form || 'client_secret' in form) return violation('token: UPS takes the client credentials as HTTP Basic, not in the form');
      const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(authorization ?? '');
      if (basic === null) return violation('token: UPS requires HTTP Basic authentication (security: BasicAuth)');
      const merchant = header(headers, 'x-merchant-id');
      if (merchant !== undefined && !/^[A-Za-z0-9]{6}$/.test(merchant)) return violation('token: x-merchant-id must be the 6-character account number');
      const decoded = Buffer.from(basic[1] ?? '', 'base64').toString('utf8');
      if (!same(decoded, `${clientId}:${clientSecret}`)) return refused('10401', 'ClientId is Invalid');
    } else {
      // FedEx: credentials in the form body, no Basic authentication.
      if (authorization !== undefined) return violation('token: FedEx takes the client credentials in the form body, not an authorization header');
      if (!same(form.client_id ?? '', clientId) || !same(form.client_secret ?? '', clientSecret)) {
        return refused('NOT.AUTHORIZED.ERROR', 'The given client credentials were not valid. Please modify your request and try again.');
      }
    }
    return scripted('token', undefined) ?? issueToken();
  };

  const unauthorized = (): Reply =>
    carrier === 'ups'
      ? { status: 401, body: errorBody('ups', [{ code: '250002', message: 'Invalid Authentication Information.' }]) }
      : { status: 401, body: errorBody('fedex', [{ code: 'NOT.AUTHORIZED.ERROR', message: 'Access token expired. Please modify your request and try again.' }]) };

  /** UPS `DELETE /api/shipments/{version}/void/cancel/{id}`, FedEx `PUT /ship/v1/shipments/cancel`. */
  const voidRequest = (path: string, headers: IncomingHttpHeaders, body: string, seen: StandInRequest): Reply => {
    const bearer = /^Bearer (\S+)$/.exec(header(headers, 'authorization') ?? '');
    if (bearer === null) return violation('void: authorization must be "Bearer <token>" (security: OAuth2)');
    const token = bearer[1] ?? '';
    seen.token = token;
    let trackingNumber: string;
    const transactionId = header(headers, 'x-customer-transaction-id');
    if (carrier === 'ups') {
      const [, version, id] = /^\/api\/shipments\/([^/]+)\/void\/cancel\/([^/]+)$/.exec(path) ?? [];
      if (version !== 'v2409') return violation(`void: version must be one of the spec's valid values (v2409), got "${version}"`);
      // "Alpha-numeric. Must pass 1Z rules. Must be upper case. Length 18".
      if (!/^1Z[0-9A-Z]{16}$/.test(id ?? '')) return violation(`void: shipmentidentificationnumber must be an upper-case 18-character 1Z number, got "${id}"`);
      if (body !== '') return violation('void: UPS Void Shipment takes no body');
      const transId = header(headers, 'transid');
      if (transId !== undefined && (transId.length === 0 || transId.length > 32)) return violation(`void: transId must be 1 to 32 characters, got ${transId.length}`);
      trackingNumber = id ?? '';
    } else {
      const contentType = header(headers, 'content-type') ?? '';
      if (!contentType.startsWith('application/json')) return violation(`void: content-type must be application/json, got "${contentType}"`);
      let request: unknown;
      try {
        request = JSON.parse(body);
      } catch {
        return violation('void: the body is not JSON');
      }
      const problems = validate.void(request);
      if (problems.length > 0) return violation(`void: body does not match the spec: ${problems.slice(0, 5).join('; ')}`);
      trackingNumber = isObject(request) && typeof request.trackingNumber === 'string' ? request.trackingNumber : '';
    }
    if (!tokens.includes(token) || expired.has(token)) return unauthorized();
    const answer = scripted('void', transactionId, token);
    if (answer !== undefined) return answer;
    if (!labels.has(trackingNumber)) {
      return carrier === 'ups'
        ? { status: 400, body: errorBody('ups', [{ code: '190117', message: 'The shipment cannot be voided: it is unknown or was voided already.' }]) }
        : { status: 400, body: errorBody('fedex', [{ code: 'TRACKING.TRACKINGNUMBER.NOTFOUND', message: 'Tracking number cannot be found. Please correct the tracking number and try again.' }], transactionId) };
    }
    labels.delete(trackingNumber);
    voided.push(trackingNumber);
    for (const label of sold) if (label.trackingNumber === trackingNumber) label.voided = true;
    return {
      status: 200,
      body:
        carrier === 'ups'
          ? {
              VoidShipmentResponse: {
                Response: { ResponseStatus: { Code: '1', Description: 'Success' } },
                SummaryResult: { Status: { Code: '1', Description: 'Voided' } },
              },
            }
          : {
              transactionId: randomUUID(),
              ...(transactionId === undefined ? {} : { customerTransactionId: transactionId }),
              output: { cancelledShipment: true, cancelledHistory: true, message: 'Shipment is successfully cancelled' },
            },
    };
  };

  const shipRequest = (path: string, headers: IncomingHttpHeaders, body: string, seen: StandInRequest): Reply => {
    const contentType = header(headers, 'content-type') ?? '';
    if (!contentType.startsWith('application/json')) return violation(`ship: content-type must be application/json, got "${contentType}"`);
    const transactionId = header(headers, 'x-customer-transaction-id');
    if (carrier === 'ups') {
      const version = /^\/api\/shipments\/([^/]+)\/ship$/.exec(path)?.[1];
      if (version !== 'v2409') return violation(`ship: version must be one of the spec's valid values (v2409), got "${version}"`);
      const transId = header(headers, 'transid');
      if (transId !== undefined && (transId.length === 0 || transId.length > 32)) return violation(`ship: transId must be 1 to 32 characters, got ${transId.length}`);
      const source = header(headers, 'transactionsrc');
      if (source !== undefined && (source.length === 0 || source.length > 512)) return violation('ship: transactionSrc must be 1 to 512 characters');
    } else {
      const locale = header(headers, 'x-locale');
      if (locale !== undefined && !/^[a-z]{2}_[A-Z]{2}$/.test(locale)) return violation(`ship: x-locale must look like en_US, got "${locale}"`);
    }
    const bearer = /^Bearer (\S+)$/.exec(header(headers, 'authorization') ?? '');
    if (bearer === null) return violation('ship: authorization must be "Bearer <token>" (security: OAuth2)');
    const token = bearer[1] ?? '';
    seen.token = token;
    let request: unknown;
    try {
      request = JSON.parse(body);
    } catch {
      return violation('ship: the body is not JSON');
    }
    const problems = validate.ship(request);
    if (problems.length > 0) return violation(`ship: body does not match the spec: ${problems.slice(0, 5).join('; ')}`);
    const shipped = request as Json;
    if (carrier === 'ups') {
      const misplaced = misplacedUpsReference(shipped);
      if (misplaced !== undefined) {
        violations.push(`ship: ${misplaced}`);
        return { status: 400, body: errorBody('ups', [{ code: '120541', message: 'Shipment/ReferenceNumber is not allowed for this shipment' }]) };
      }
    }
    if (!tokens.includes(token) || expired.has(token)) return unauthorized();
    const answer = scripted('ship', transactionId ?? header(headers, 'transid'), token);
    if (answer !== undefined && answer.lost !== true) return answer;
    shipments += 1;
    const reply = carrier === 'ups' ? upsShipResponse(shipped, shipments) : fedexShipResponse(shipped, shipments, transactionId);
    const reference = referenceOf(carrier, shipped);
    const format = labelFormatOf(carrier, shipped);
    for (const number of JSON.stringify(reply).match(carrier === 'ups' ? /1Z[0-9A-Z]{16}/g : /"trackingNumber":"(\d+)"/g) ?? []) {
      const trackingNumber = carrier === 'ups' ? number : number.replace(/\D/g, '');
      if (labels.has(trackingNumber)) continue;
      labels.add(trackingNumber);
      sold.push({
        trackingNumber,
        ...(reference === undefined ? {} : { reference }),
        ...(header(headers, carrier === 'ups' ? 'transid' : 'x-customer-transaction-id') === undefined ? {} : { transactionId: header(headers, carrier === 'ups' ? 'transid' : 'x-customer-transaction-id') }),
        format,
        voided: false,
        answerLost: answer?.lost === true,
      });
    }
    // Sold, and the answer dropped on its way back.
    if (answer?.lost === true) return answer;
    return { status: 200, body: reply };
  };

  /** UPS Label Recovery by reference, FedEx Track by References. */
  const recoverRequest = (path: string, headers: IncomingHttpHeaders, body: string, seen: StandInRequest): Reply => {
    const contentType = header(headers, 'content-type') ?? '';
    if (!contentType.startsWith('application/json')) return violation(`recover: content-type must be application/json, got "${contentType}"`);
    const transactionId = header(headers, 'x-customer-transaction-id');
    if (carrier === 'ups') {
      const version = /^\/api\/labels\/([^/]+)\/recovery$/.exec(path)?.[1] ?? '';
      // The path parameter's description lists v1, v1701, V1903 and v2603 (Roadie).
      if (!/^v(1|1701|1707|1903|2603)$/i.test(version)) return violation(`recover: version must be one the spec describes (v1, v1701, v1903, v2603), got "${version}"`);
      const transId = header(headers, 'transid');
      if (transId !== undefined && (transId.length === 0 || transId.length > 32)) return violation(`recover: transId must be 1 to 32 characters, got ${transId.length}`);
    } else {
      const locale = header(headers, 'x-locale');
      if (locale !== undefined && !/^[a-z]{2}_[A-Z]{2}$/.test(locale)) return violation(`recover: x-locale must look like en_US, got "${locale}"`);
    }
    const bearer = /^Bearer (\S+)$/.exec(header(headers, 'authorization') ?? '');
    if (bearer === null) return violation('recover: authorization must be "Bearer <token>" (security: OAuth2)');
    const token = bearer[1] ?? '';
    seen.token = token;
    let request: unknown;
    try {
      request = JSON.parse(body);
    } catch {
      return violation('recover: the body is not JSON');
    }
    const problems = validate.recover(request);
    if (problems.length > 0) return violation(`recover: body does not match the spec: ${problems.slice(0, 5).join('; ')}`);
    if (!tokens.includes(token) || expired.has(token)) return unauthorized();
    const answer = scripted('recover', transactionId, token);
    if (answer !== undefined) return answer;
    const asked = request as Json;
    if (carrier === 'ups') {
      const recovery = isObject(asked.LabelRecoveryRequest) ? asked.LabelRecoveryRequest : {};
      const values = isObject(recovery.ReferenceValues) ? recovery.ReferenceValues : undefined;
      const reference = values !== undefined && isObject(values.ReferenceNumber) ? values.ReferenceNumber.Value : undefined;
      // "Required if ReferenceNumber/Value is populated."
      if (typeof reference !== 'string' || typeof values?.ShipperNumber !== 'string') return violation('recover: the stand-in recovers labels by ReferenceValues (ReferenceNumber.Value and ShipperNumber)');
      const spec = isObject(recovery.LabelSpecification) ? recovery.LabelSpecification : {};
      const format = isObject(spec.LabelImageFormat) ? String(spec.LabelImageFormat.Code) : 'GIF';
      const found = sold.filter((l) => !l.voided && l.reference === reference && l.trackingNumber.slice(2, 8) === values.ShipperNumber);
      // UPS publishes no code for "nothing under this reference"; it refuses the request.
      if (found.length === 0) return { status: 400, body: errorBody('ups', [{ code: 'STANDIN.LABEL.NOTFOUND', message: 'No shipment was found for the reference number.' }]) };
      const results = found.map((l) => ({ TrackingNumber: l.trackingNumber, LabelImage: { LabelImageFormat: { Code: format }, GraphicImage: SAMPLE_LABELS[format] ?? SAMPLE_LABELS.GIF } }));
      return {
        status: 200,
        body: {
          LabelRecoveryResponse: {
            Response: { ResponseStatus: { Code: '1', Description: 'Success' } },
            ShipmentIdentificationNumber: found[0]?.trackingNumber,
            // One result as an object, as UPS answers it.
            LabelResults: results.length === 1 ? results[0] : results,
          },
        },
      };
    }
    const info = isObject(asked.referencesInformation) ? asked.referencesInformation : {};
    const found = sold.filter((l) => l.reference !== undefined && l.reference === info.value);
    const completeTrackResults =
      found.length === 0
        ? [{ trackResults: [{ error: { code: 'TRACKING.REFERENCENUMBER.NOTFOUND', message: 'Reference number cannot be found. Please correct the reference number and try again.' } }] }]
        : found.map((l) => ({
            trackingNumber: l.trackingNumber,
            trackResults: [
              {
                trackingNumberInfo: { trackingNumber: l.trackingNumber, carrierCode: 'FDXG' },
                latestStatusDetail: l.voided ? { code: 'CA', derivedCode: 'CA', statusByLocale: 'Shipment cancelled' } : { code: 'OC', derivedCode: 'IN', statusByLocale: 'Label created' },
              },
            ],
          }));
    return {
      status: 200,
      body: { transactionId: randomUUID(), ...(transactionId === undefined ? {} : { customerTransactionId: transactionId }), output: { completeTrackResults } },
    };
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const method = req.method ?? '';
    const path = (req.url ?? '').split('?')[0] ?? '';
    const endpoint = endpointOf(method, path);
    const seen: StandInRequest = { endpoint, method, path: req.url ?? '', headers: req.headers, body, status: 0 };
    requests.push(seen);
    let reply: Reply;
    if (endpoint === 'unknown') {
      violations.push(`${method} ${path} is not an operation of the ${carrier} specs`);
      reply = { status: 404, body: errorBody(carrier, [{ code: 'NOT.FOUND.ERROR', message: 'The resource you requested is no longer available.' }]) };
    } else {
      reply =
        endpoint === 'token'
          ? tokenRequest(req.headers, body)
          : endpoint === 'ship'
            ? shipRequest(path, req.headers, body, seen)
            : endpoint === 'recover'
              ? recoverRequest(path, req.headers, body, seen)
              : voidRequest(path, req.headers, body, seen);
    }
    seen.status = reply.status;
    if (reply.lost === true) {
      // Done, and the answer lost on its way back: the client sees the connection drop.
      res.socket?.destroy();
      return;
    }
    if (endpoint !== 'unknown' && typeof reply.body !== 'string') {
      const check = checks?.response(endpoint, reply.status);
      const problems = check?.(reply.body) ?? [];
      if (problems.length > 0) violations.push(`stand-in ${endpoint} answer ${reply.status} does not match the spec: ${problems.join('; ')}`);
    }
    const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    const send = (): void => {
      if (res.destroyed) return;
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(text);
    };
    if (endpoint === 'token' && standIn.tokenDelayMs > 0) setTimeout(send, standIn.tokenDelayMs).unref();
    else send();
  };

  const server: Server = createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const standIn: CarrierStandIn = {
    carrier,
    url: `https://127.0.0.1:${port}`,
    caFile: ca.caFile,
    clientId,
    clientSecret,
    requests,
    violations,
    tokens,
    labels,
    voided,
    sold,
    liveLabelsByReference: () => {
      const live = new Map<string, SoldLabel[]>();
      for (const label of sold) {
        if (label.voided || label.reference === undefined) continue;
        live.set(label.reference, [...(live.get(label.reference) ?? []), label]);
      }
      return live;
    },
    tokenDelayMs: 0,
    requestsTo: (endpoint) => requests.filter((r) => r.endpoint === endpoint),
    expireTokens: () => {
      for (const token of tokens) expired.add(token);
    },
    script: (endpoint, ...answers) => {
      scripts[endpoint].push(...answers);
    },
    reset: () => {
      requests.length = 0;
      violations.length = 0;
      tokens.length = 0;
      expired.clear();
      scripts.token = [];
      scripts.ship = [];
      scripts.void = [];
      scripts.recover = [];
      labels.clear();
      voided.length = 0;
      sold.length = 0;
      standIn.tokenDelayMs = 0;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      ca.remove();
    },
  };
  return standIn;
}
