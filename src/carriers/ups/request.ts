import { DropshipError } from '../../errors';
import type { ShipFrom } from '../../core/shipment';
import type { CarrierRequestBuilder, CarrierShipment } from '../carrier';
import { regionCode } from '../../core/regions';
import { cleanText, codePointLength, fitAddressLines, truncate } from '../../core/text';
import { carrierFields, fitCode, fitRegion, fitWhole, parsePhone, weightInTenths, type CarrierPhone } from '../field-limits';
import { carrierDeliveryId, labelReference } from '../reference';
import { upsOptionsSchema, type UpsOptions } from './options';

/**
 * UPS Shipping API request builder: `POST /shipments/{version}/ship`, request schema
 * `SHIPRequestWrapper` of `specs/ups-Shipping.json`. Built to the schema, not to
 * UPS's embedded examples: `Package`, `ShipmentCharge` and `AddressLine` are arrays.
 */

/** Field limits, from the `maxLength` values of ups-Shipping.json (code points). */
export const UPS_LIMITS = {
  name: 35,
  attentionName: 35,
  addressLine: 35,
  /** `AddressLine` says "maximum: 3" (misplaced as a numeric keyword, so unenforced by the schema). */
  addressLines: 3,
  city: 30,
  stateProvinceCode: 5,
  postalCode: 9,
  phoneExtension: 4,
  weight: 5,
} as const;

/** The `Address` container shared by `Shipper` and `ShipTo`. */
export interface UpsAddress {
  AddressLine: string[];
  City: string;
  StateProvinceCode?: string;
  PostalCode?: string;
  CountryCode: string;
}

/** The `Phone` container shared by `Shipper` and `ShipTo`. */
export interface UpsPhone {
  Number: string;
  Extension?: string;
}

/** A `ReferenceNumber` item (shipment-level `Shipment_ReferenceNumber` or `Package_ReferenceNumber`). */
export interface UpsReferenceNumber {
  Value: string;
}

/** The subset of `SHIPRequestWrapper` this builder sends. */
export interface UpsShipRequest {
  ShipmentRequest: {
    Request: { RequestOption: UpsOptions['requestOption'] };
    Shipment: {
      Shipper: { Name: string; AttentionName: string; ShipperNumber: string; Phone?: UpsPhone; Address: UpsAddress };
      ShipTo: { Name: string; AttentionName: string; Phone?: UpsPhone; Address: UpsAddress };
      PaymentInformation: { ShipmentCharge: { Type: '01'; BillShipper: { AccountNumber: string } }[] };
      Service: { Code: string };
      ReferenceNumber?: UpsReferenceNumber[];
      Package: {
        Packaging: { Code: '02' };
        PackageWeight: { UnitOfMeasurement: { Code: UpsOptions['weightUnit'] }; Weight: string };
        ReferenceNumber?: UpsReferenceNumber[];
      }[];
    };
    LabelSpecification: {
      LabelImageFormat: { Code: UpsOptions['labelFormat'] };
      LabelStockSize: { Height: string; Width: string };
    };
  };
}

const DEFAULT_STOCK = { Height: '6', Width: '4' } as const;
const COUNTRY_CODE = /^[A-Z]{2}$/;
const SERVICE_CODE = /^[0-9A-Za-z]{2}$/;

/**
 * Where UPS takes a reference for a shipment between two countries: `Shipment.ReferenceNumber`
 * is "Valid if the origin/destination pair is not US/US or PR/PR", `Package.ReferenceNumber`
 * "Valid if the origin/destination pair is US/US or PR/PR" (ups-Shipping.json; UPS refuses the
 * other with 120541 "Shipment/ReferenceNumber is not allowed for this shipment").
 */
export function upsReferenceLevel(originCountry: string, destinationCountry: string): 'shipment' | 'package' {
  const pair = `${originCountry}/${destinationCountry}`;
  return pair === 'US/US' || pair === 'PR/PR' ? 'package' : 'shipment';
}

/**
 * Countries whose StateProvinceCode UPS requires, as a valid code (ups-Shipping.json,
 * `ShipTo_Address.StateProvinceCode`: "Required for US, Canada, and Vietnam (VN)"; for
 * Ireland it "must contain the county"). Codes, not names: the field takes at most 5.
 */
const REGION_REQUIRED = new Set(['US', 'CA', 'VN', 'IE']);

/**
 * Postal codes UPS requires, with their form (`ShipTo_Address.PostalCode`: "If the ShipTo
 * country or territory is US or Puerto Rico, 5 or 9 digits are required", CA "A#A#A#").
 */
const POSTAL_FORMS: Readonly<Record<string, { form: RegExp; says: string }>> = {
  US: { form: /^\d{5}(?:\d{4})?$/, says: '5 or 9 digits' },
  PR: { form: /^\d{5}(?:\d{4})?$/, says: '5 or 9 digits' },
  CA: { form: /^[A-Z]\d[A-Z]\d[A-Z]\d$/, says: 'A#A#A#' },
};

/**
 * The address part of a party, fitted to UPS limits without cutting anything, and what of it
 * was sent. `shipTo` adds UPS's per-country rules for the consignee (state and postal code).
 */
function upsAddress(party: CarrierShipment['shipTo'] | ShipFrom, role: 'shipper' | 'shipTo') {
  const country = party.country.trim().toUpperCase();
  const problems: string[] = [];
  const street = fitAddressLines(party.line1, party.line2, UPS_LIMITS.addressLine, UPS_LIMITS.addressLines);
  if (!street.complete) problems.push(`line1 and line2 need more than the ${UPS_LIMITS.addressLines} address lines of ${UPS_LIMITS.addressLine} characters UPS takes`);
  const city = fitWhole(party.city, UPS_LIMITS.city, 'city', problems);
  let region: string | undefined;
  if (role === 'shipTo' && REGION_REQUIRED.has(country)) {
    // A wrong or missing state makes UPS refuse the shipment or misroute it: hold instead.
    const code = regionCode(country, party.region);
    region = code === undefined ? undefined : country === 'VN' ? `VN-${code}` : code;
    if (region === undefined || codePointLength(region) > UPS_LIMITS.stateProvinceCode) {
      region = undefined;
      problems.push(cleanText(party.region) === '' ? `region is missing; UPS requires a state or province code for ${country}` : `region is not a ${country} state, province or county UPS knows (ISO 3166-2)`);
    }
  } else {
    // A region longer than 5 that names no known subdivision is left out, and not claimed.
    region = fitRegion(country, party.region, UPS_LIMITS.stateProvinceCode);
  }
  // UPS wants postal codes as bare alphanumerics ("A1A1A1", 9-digit ZIP+4).
  const postalCode = fitCode(party.postalCode, UPS_LIMITS.postalCode, 'always');
  const postalForm = role === 'shipTo' ? POSTAL_FORMS[country] : undefined;
  if (postalForm !== undefined && (postalCode === undefined || !postalForm.form.test(postalCode))) {
    problems.push(cleanText(party.postalCode) === '' ? `postalCode is missing; UPS requires one for ${country}` : `postalCode is not of the form UPS requires for ${country} (${postalForm.says})`);
  }
  const address: UpsAddress = {
    AddressLine: street.lines,
    City: city,
    ...(region !== undefined && { StateProvinceCode: region }),
    ...(postalCode !== undefined && { PostalCode: postalCode }),
    CountryCode: country,
  };
  if (street.lines.length === 0) problems.push('line1 has no printable characters');
  if (city === '') problems.push('city has no printable characters');
  if (!COUNTRY_CODE.test(country)) problems.push('country must be an ISO 3166-1 alpha-2 code');
  return { address, street, region, postalCode, problems };
}

function upsPhone(phone: CarrierPhone | undefined): UpsPhone | undefined {
  if (phone === undefined) return undefined;
  return phone.extension === undefined ? { Number: phone.number } : { Number: phone.number, Extension: phone.extension };
}

/** Tenths of a unit as UPS's 5-character `Weight` string; whole units when tenths do not fit. */
function upsWeight(grams: number, unit: UpsOptions['weightUnit']): string | undefined {
  const tenths = weightInTenths(grams, unit === 'KGS' ? 'kg' : 'lb');
  const exact = tenths % 10 === 0 ? String(tenths / 10) : (tenths / 10).toFixed(1);
  if (exact.length <= UPS_LIMITS.weight) return exact;
  const whole = String(Math.ceil(tenths / 10));
  return whole.length <= UPS_LIMITS.weight ? whole : undefined;
}

/** The shipper's part of a request, and what is wrong with it: the same for every shipment from one address. */
interface UpsShipper {
  problems: string[];
  address: UpsAddress;
  name: string;
  attentionName: string;
  phone: UpsPhone | undefined;
}

/**
 * Worked out once per shipper (a configuration's warehouse or supplier address, which is not
 * changed once loaded) rather than for every label: the requests only serialise it.
 */
const shippers = new WeakMap<ShipFrom, UpsShipper>();

function upsShipper(shipper: ShipFrom): UpsShipper {
  let known = shippers.get(shipper);
  if (!known) {
    const from = upsAddress(shipper, 'shipper');
    const problems = from.problems.map((p) => `shipper ${p}`);
    const name = truncate(shipper.company, UPS_LIMITS.name) || truncate(shipper.name, UPS_LIMITS.name);
    if (name === '') problems.push('shipper name has no printable characters');
    known = {
      problems,
      address: from.address,
      name,
      // Required by UPS for international shipments; harmless for domestic ones.
      attentionName: truncate(shipper.name, UPS_LIMITS.attentionName) || name,
      phone: upsPhone(parsePhone(shipper.phone, from.address.CountryCode, UPS_LIMITS.phoneExtension)),
    };
    shippers.set(shipper, known);
  }
  return known;
}

function build(shipment: CarrierShipment, options: UpsOptions) {
  const { shipper, shipTo } = shipment;
  const configProblems: string[] = [];
  const orderProblems: string[] = [];

  if (!SERVICE_CODE.test(shipment.service)) {
    configProblems.push('shipment.service: a UPS service code is two letters or digits, such as "03" (Ground)');
  }
  const from = upsShipper(shipper);
  configProblems.push(...from.problems);
  if (configProblems.length > 0) throw new DropshipError('ECONFIG', configProblems);
  const shipperName = from.name;

  const to = upsAddress(shipTo, 'shipTo');
  orderProblems.push(...to.problems.map((p) => `shipTo.${p}`));
  const personName = fitWhole(shipTo.name, UPS_LIMITS.attentionName, 'shipTo.name', orderProblems);
  const company = fitWhole(shipTo.company, UPS_LIMITS.name, 'shipTo.company', orderProblems);
  if (personName === '') orderProblems.push('shipTo.name has no printable characters');
  const shipperPhone = from.phone;
  const ownPhone = upsPhone(parsePhone(shipTo.phone, to.address.CountryCode, UPS_LIMITS.phoneExtension));
  // UPS requires ShipTo.Phone when the ship-to's country is not the shipper's. Without the
  // customer's own (none, or contact-restricted), the shipper's number goes, as for FedEx:
  // store data that reaches a person who can help.
  const international = to.address.CountryCode !== from.address.CountryCode;
  const shipToPhone = ownPhone ?? (international ? shipperPhone : undefined);
  if (international && shipToPhone === undefined) orderProblems.push("shipTo.phone is missing, and so is the shipper's; UPS requires a phone for an international shipment");
  let weight: string | undefined;
  if (!Number.isFinite(shipment.weightGrams) || shipment.weightGrams < 0) {
    orderProblems.push('weight must be a non-negative number of grams');
  } else {
    weight = upsWeight(shipment.weightGrams, options.weightUnit);
    if (weight === undefined) orderProblems.push(`weight does not fit one UPS package (at most 99999 ${options.weightUnit})`);
  }
  if (orderProblems.length > 0 || weight === undefined) throw new DropshipError('EINVALID_ORDER', orderProblems);

  const stock = options.labelStockSize ?? DEFAULT_STOCK;
  // The label's reference (reference.ts), by which Label Recovery finds it after a lost answer.
  const reference: UpsReferenceNumber[] = [{ Value: labelReference(carrierDeliveryId(shipment.shipmentId)) }];
  const referenceLevel = upsReferenceLevel(from.address.CountryCode, to.address.CountryCode);

  const request: UpsShipRequest = {
    ShipmentRequest: {
      Request: { RequestOption: options.requestOption },
      Shipment: {
        Shipper: {
          Name: shipperName,
          AttentionName: from.attentionName,
          ShipperNumber: options.shipperNumber,
          ...(shipperPhone && { Phone: shipperPhone }),
          Address: from.address,
        },
        ShipTo: {
          // UPS's Name is the consignee's company; the person goes in AttentionName.
          Name: company || personName,
          AttentionName: personName,
          ...(shipToPhone && { Phone: shipToPhone }),
          Address: to.address,
        },
        // Schema-optional, but its description requires one 01 (Transportation) charge.
        PaymentInformation: {
          ShipmentCharge: [{ Type: '01', BillShipper: { AccountNumber: options.shipperNumber } }],
        },
        Service: { Code: shipment.service },
        ...(referenceLevel === 'shipment' && { ReferenceNumber: reference }),
        Package: [
          {
            Packaging: { Code: '02' },
            PackageWeight: { UnitOfMeasurement: { Code: options.weightUnit }, Weight: weight },
            ...(referenceLevel === 'package' && { ReferenceNumber: reference }),
          },
        ],
      },
      LabelSpecification: {
        LabelImageFormat: { Code: options.labelFormat },
        // The schema requires LabelStockSize with every LabelSpecification, even for GIF
        // (UPS documents it for thermal formats only and ignores it for GIF).
        LabelStockSize: { Height: stock.Height, Width: stock.Width },
      },
    },
  };

  const fields = carrierFields({
    company: company !== '',
    line1: to.street.hasLine1,
    line2: to.street.hasLine2,
    region: to.region !== undefined,
    postalCode: to.postalCode !== undefined,
    // The shipper's number stands in for the phone; it is not the customer's.
    phone: ownPhone !== undefined,
  });
  return { body: JSON.stringify(request), fields };
}

/**
 * Builds UPS Shipping API `ShipmentRequest`s (format `ups-ship`): ship-to, one package
 * with its weight, the service, billed to the shipper's account, and the label's reference
 * (a digest of the delivery id, `reference.ts`: on the package for US/US and PR/PR, on the
 * shipment otherwise, as UPS requires). Nothing else about the order reaches UPS (privacy
 * promise 3).
 *
 * Nothing is cut: street lines wrap into the 3 address lines of 35 (line1 and line2 at word
 * boundaries, line2 keeping at least one line), and a street that needs more, a name or
 * company over 35 or a city over 30 is refused (the order is held). A state or province
 * name is sent as its ISO 3166-2 code ("California" → "CA"); for US, CA, VN and IE a valid
 * code is required, and for US/PR and CA a postal code of the form UPS documents. Elsewhere
 * a region or postal code that is not a code is left out, and not reported in `fields`.
 * An international ship-to gets the shipper's phone when it has none of its own.
 *
 * @throws DropshipError `ECONFIG` for an unusable service code or shipper address,
 *   `EINVALID_ORDER` for a ship-to or weight UPS cannot take.
 */
export const upsCarrier: CarrierRequestBuilder<UpsOptions> = {
  id: 'ups',
  format: 'ups-ship',
  optionsSchema: upsOptionsSchema,
  build,
};
