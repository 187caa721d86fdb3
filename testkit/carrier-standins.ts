import {
  startCarrierStandIn,
  type Carrier,
  type CarrierStandIn,
  type StandInChecks,
  type StandInEndpoint,
  type StandInOptions,
} from './receivers/carriers';
import { componentValidator, loadSpec, requestBodyValidator, type RequestValidator } from './openapi';

export {
  SAMPLE_LABELS,
  errorBody,
  misplacedUpsReference,
  type SoldLabel,
  fedexShipResponse,
  upsShipResponse,
  type Carrier,
  type CarrierStandIn,
  type StandInAnswer,
  type StandInEndpoint,
  type StandInRequest,
} from './receivers/carriers';

/**
 * The carrier stand-ins of testkit/receivers/carriers.ts, checking every request body and
 * every answer against the carriers' published OpenAPI documents in `specs/` (ajv).
 */

/** Where each endpoint lives in the carrier's specs. */
interface EndpointSpec {
  specFile: string;
  pathTemplate: string;
  method: 'post' | 'put' | 'delete';
}

export const SPECS: Record<Carrier, Record<StandInEndpoint, EndpointSpec>> = {
  ups: {
    token: { specFile: 'ups-OAuthClientCredentials.json', pathTemplate: '/security/v1/oauth/token', method: 'post' },
    ship: { specFile: 'ups-Shipping.json', pathTemplate: '/shipments/{version}/ship', method: 'post' },
    void: { specFile: 'ups-Shipping.json', pathTemplate: '/shipments/{version}/void/cancel/{shipmentidentificationnumber}', method: 'delete' },
    recover: { specFile: 'ups-Shipping.json', pathTemplate: '/labels/{version}/recovery', method: 'post' },
  },
  fedex: {
    token: { specFile: 'fedex-authorization-v1-APIAuthorization-Resource.json', pathTemplate: '/oauth/token', method: 'post' },
    ship: { specFile: 'fedex-ship-v1-Shipment-Resource.json', pathTemplate: '/ship/v1/shipments', method: 'post' },
    void: { specFile: 'fedex-ship-v1-Shipment-Resource.json', pathTemplate: '/ship/v1/shipments/cancel', method: 'put' },
    recover: { specFile: 'fedex-track-v1-ReferenceNumbers-Resource.json', pathTemplate: '/track/v1/referencenumbers', method: 'post' },
  },
};

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The validator of the JSON answer the spec documents for `status` at an endpoint, or
 * undefined when the spec documents none (e.g. UPS 5xx, FedEx 429).
 */
export function responseValidator(carrier: Carrier, endpoint: StandInEndpoint, status: number): RequestValidator | undefined {
  const { specFile, pathTemplate, method } = SPECS[carrier][endpoint];
  const { doc } = loadSpec(specFile);
  const paths = isObject(doc.paths) ? doc.paths : {};
  const operation = isObject(paths[pathTemplate]) ? (paths[pathTemplate] as Json)[method] : undefined;
  const responses = isObject(operation) && isObject(operation.responses) ? operation.responses : {};
  const response = responses[String(status)];
  const content = isObject(response) && isObject(response.content) ? response.content['application/json'] : undefined;
  const schema = isObject(content) ? content.schema : undefined;
  const ref = isObject(schema) && typeof schema.$ref === 'string' ? schema.$ref : undefined;
  return ref === undefined ? undefined : componentValidator(specFile, ref.replace('#/components/schemas/', ''));
}

/** The request body validator of one endpoint. */
function requestValidator(carrier: Carrier, endpoint: StandInEndpoint): RequestValidator {
  const { specFile, pathTemplate, method } = SPECS[carrier][endpoint];
  // UPS Void Shipment has no body (the stand-in checks its path parameters itself).
  if (endpoint === 'void' && carrier === 'ups') return () => [];
  if (endpoint === 'void') return requestBodyValidator(specFile, method, pathTemplate, { oneOfBranch: 'Full_Schema_Cancel_Shipment' });
  if (endpoint === 'token') return requestBodyValidator(specFile, 'post', pathTemplate, { contentType: 'application/x-www-form-urlencoded' });
  // Track by References is `oneOf` the full schema and two example-only schemas that match anything.
  if (endpoint === 'recover' && carrier === 'fedex') return requestBodyValidator(specFile, 'post', pathTemplate, { oneOfBranch: 'Full_Schema_Tracking_References' });
  // UPS Label Recovery: validated with the load-time corrections of testkit/openapi.ts (SPEC_PATCHES).
  if (endpoint === 'recover') return requestBodyValidator(specFile, 'post', pathTemplate);
  // FedEx's body is `oneOf` Full_Schema_Ship and sample schemas that match anything: use the full one.
  return requestBodyValidator(specFile, 'post', pathTemplate, carrier === 'fedex' ? { oneOfBranch: 'Full_Schema_Ship' } : {});
}

/** Checks of requests and answers against the carrier's OpenAPI documents. */
export function specChecks(carrier: Carrier): StandInChecks {
  return {
    request: (endpoint) => requestValidator(carrier, endpoint),
    response: (endpoint, status) => responseValidator(carrier, endpoint, status),
  };
}

/** A UPS stand-in that checks everything against the published specs. */
export function startUpsStandIn(options: StandInOptions = {}): Promise<CarrierStandIn> {
  return startCarrierStandIn('ups', { checks: specChecks('ups'), ...options });
}

/** A FedEx stand-in that checks everything against the published specs. */
export function startFedexStandIn(options: StandInOptions = {}): Promise<CarrierStandIn> {
  return startCarrierStandIn('fedex', { checks: specChecks('fedex'), ...options });
}
