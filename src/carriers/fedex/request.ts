import { DropshipError } from '../../errors';
import type { ShipFrom } from '../../core/shipment';
import type { CarrierRequestBuilder, CarrierShipment } from '../carrier';
import { fitAddressLines, truncate } from '../../core/text';
import { carrierFields, fitCode, fitRegion, fitWhole, parsePhone, weightInTenths, type CarrierPhone } from '../field-limits';
import { carrierDeliveryId, labelReference } from '../reference';
import { fedexOptionsSchema, type FedexOptions } from './options';

/**
 * FedEx Ship API request builder: `POST /ship/v1/shipments`, schema `Full_Schema_Ship` of
 * `specs/fedex-ship-v1-Shipment-Resource.json`.
 */

/**
 * Field limits in code points. The schema itself only sets `city` (35); the others are the
 * "Maximum length is N" statements in its descriptions. FedEx's description of
 * `streetLines` gives no line count; three lines matches UPS and FedEx's labels.
 */
export const FEDEX_LIMITS = {
  personName: 70,
  companyName: 35,
  streetLine: 35,
  streetLines: 3,
  city: 35,
  /** "two-character state, province, codes" (US, CA, PR); longer values are names, not codes. */
  stateOrProvinceCode: 2,
  postalCode: 10,
  phoneExtension: 6,
  /** "Minimum length is 10 and supports maximum of 15". */
  phoneMinDigits: 10,
} as const;

/** `PartyAddress` as this builder sends it. */
export interface FedexAddress {
  streetLines: string[];
  city: string;
  stateOrProvinceCode?: string;
  postalCode?: string;
  countryCode: string;
}

/** `PartyContact` as this builder sends it. */
export interface FedexContact {
  personName: string;
  companyName?: string;
  phoneNumber: string;
  phoneExtension?: string;
}

/** The subset of `Full_Schema_Ship` this builder sends. */
export interface FedexShipRequest {
  labelResponseOptions: FedexOptions['labelResponseOptions'];
  requestedShipment: {
    shipper: { contact: FedexContact; address: FedexAddress };
    recipients: { contact: FedexContact; address: FedexAddress }[];
    pickupType: FedexOptions['pickupType'];
    serviceType: string;
    packagingType: string;
    totalWeight: number;
    shippingChargesPayment: { paymentType: 'SENDER' };
    labelSpecification: { imageType: FedexOptions['labelImageType']; labelStockType: FedexOptions['labelStockType'] };
    requestedPackageLineItems: {
      weight: { units: FedexOptions['weightUnit']; value: number };
      customerReferences: { customerReferenceType: 'CUSTOMER_REFERENCE'; value: string }[];
    }[];
  };
  accountNumber: { value: string };
}

const COUNTRY_CODE = /^[A-Z]{2}$/;
const SERVICE_TYPE = /^[A-Z][A-Z0-9_]*$/;

function fedexAddress(party: CarrierShipment['shipTo'] | ShipFrom) {
  const country = party.country.trim().toUpperCase();
  const problems: string[] = [];
  const street = fitAddressLines(party.line1, party.line2, FEDEX_LIMITS.streetLine, FEDEX_LIMITS.streetLines);
  if (!street.complete) problems.push(`line1 and line2 need more than the ${FEDEX_LIMITS.streetLines} street lines of ${FEDEX_LIMITS.streetLine} characters FedEx takes`);
  const city = fitWhole(party.city, FEDEX_LIMITS.city, 'city', problems);
  // A state or province name is sent as its two-letter ISO 3166-2 code ("Ontario" → "ON").
  const region = fitRegion(country, party.region, FEDEX_LIMITS.stateOrProvinceCode);
  const postalCode = fitCode(party.postalCode, FEDEX_LIMITS.postalCode, 'when-long');
  const address: FedexAddress = {
    streetLines: street.lines,
    city,
    ...(region !== undefined && { stateOrProvinceCode: region }),
    ...(postalCode !== undefined && { postalCode }),
    countryCode: country,
  };
  if (street.lines.length === 0) problems.push('line1 has no printable characters');
  if (city === '') problems.push('city has no printable characters');
  if (!COUNTRY_CODE.test(country)) problems.push('country must be an ISO 3166-1 alpha-2 code');
  return { address, street, region, postalCode, problems };
}

/** A phone FedEx accepts: 10 to 15 digits. */
function fedexPhone(text: string | undefined, country: string): CarrierPhone | undefined {
  const phone = parsePhone(text, country, FEDEX_LIMITS.phoneExtension);
  return phone !== undefined && phone.number.length >= FEDEX_LIMITS.phoneMinDigits ? phone : undefined;
}

function contact(name: string, company: string, phone: CarrierPhone): FedexContact {
  return {
    personName: name,
    ...(company !== '' && { companyName: company }),
    phoneNumber: phone.number,
    ...(phone.extension !== undefined && { phoneExtension: phone.extension }),
  };
}

/** The shipper's part of a request, and what is wrong with it: the same for every shipment from one address. */
interface FedexShipper {
  problems: string[];
  address: FedexAddress;
  phone: CarrierPhone | undefined;
  contact: FedexContact | undefined;
}

/**
 * Worked out once per shipper (a configuration's warehouse or supplier address, which is not
 * changed once loaded) rather than for every label: the requests only serialise it.
 */
const shippers = new WeakMap<ShipFrom, FedexShipper>();

function fedexShipper(shipper: ShipFrom): FedexShipper {
  let known = shippers.get(shipper);
  if (!known) {
    const from = fedexAddress(shipper);
    const problems = from.problems.map((p) => `shipper ${p}`);
    const name = truncate(shipper.name, FEDEX_LIMITS.personName);
    if (name === '') problems.push('shipper name has no printable characters');
    const phone = fedexPhone(shipper.phone, from.address.countryCode);
    if (phone === undefined) problems.push('shipper phone must have 10 to 15 digits (FedEx requires one)');
    known = { problems, address: from.address, phone, contact: phone && contact(name, truncate(shipper.company, FEDEX_LIMITS.companyName), phone) };
    shippers.set(shipper, known);
  }
  return known;
}

function build(shipment: CarrierShipment, options: FedexOptions) {
  const { shipper, shipTo } = shipment;
  const configProblems: string[] = [];
  const orderProblems: string[] = [];

  if (!SERVICE_TYPE.test(shipment.service)) {
    configProblems.push('shipment.service: a FedEx service type is capitals and "_", such as FEDEX_GROUND');
  }
  const from = fedexShipper(shipper);
  configProblems.push(...from.problems);
  const shipperPhone = from.phone;
  if (configProblems.length > 0 || shipperPhone === undefined || from.contact === undefined) throw new DropshipError('ECONFIG', configProblems);

  const to = fedexAddress(shipTo);
  orderProblems.push(...to.problems.map((p) => `shipTo.${p}`));
  const name = fitWhole(shipTo.name, FEDEX_LIMITS.personName, 'shipTo.name', orderProblems);
  if (name === '') orderProblems.push('shipTo.name has no printable characters');
  const company = fitWhole(shipTo.company, FEDEX_LIMITS.companyName, 'shipTo.company', orderProblems);
  if (!Number.isFinite(shipment.weightGrams) || shipment.weightGrams < 0) {
    orderProblems.push('weight must be a non-negative number of grams');
  }
  if (orderProblems.length > 0) throw new DropshipError('EINVALID_ORDER', orderProblems);

  // The schema requires recipients[].contact.phoneNumber. shipTo.phone is absent when the
  // order has none or the customer is contact-restricted (privacy promise 6); FedEx then
  // gets the shipper's number, which is store data and reaches a person who can help.
  const shipToPhone = fedexPhone(shipTo.phone, to.address.countryCode);

  const packageWeight = weightInTenths(shipment.weightGrams, options.weightUnit === 'KG' ? 'kg' : 'lb') / 10;
  const request: FedexShipRequest = {
    labelResponseOptions: options.labelResponseOptions,
    requestedShipment: {
      shipper: { contact: from.contact, address: from.address },
      // contact and address in one item: FedEx's own sample splits them, which its schema rejects.
      recipients: [{ contact: contact(name, company, shipToPhone ?? shipperPhone), address: to.address }],
      pickupType: options.pickupType,
      serviceType: shipment.service,
      packagingType: options.packagingType,
      // The schema describes totalWeight as pounds, whatever the package weight's unit.
      totalWeight: weightInTenths(shipment.weightGrams, 'lb') / 10,
      shippingChargesPayment: { paymentType: 'SENDER' },
      labelSpecification: { imageType: options.labelImageType, labelStockType: options.labelStockType },
      requestedPackageLineItems: [
        {
          weight: { units: options.weightUnit, value: packageWeight },
          // The label's reference (reference.ts; 26 characters, within CUSTOMER_REFERENCE's
          // 30 for Ground and 40 for Express), by which Track by References finds the
          // shipment after a lost answer.
          customerReferences: [{ customerReferenceType: 'CUSTOMER_REFERENCE', value: labelReference(carrierDeliveryId(shipment.shipmentId)) }],
        },
      ],
    },
    accountNumber: { value: options.accountNumber },
  };

  const fields = carrierFields({
    company: company !== '',
    line1: to.street.hasLine1,
    line2: to.street.hasLine2,
    region: to.region !== undefined,
    postalCode: to.postalCode !== undefined,
    phone: shipToPhone !== undefined,
  });
  return { body: JSON.stringify(request), fields };
}

/**
 * Builds FedEx Ship API Create Shipment bodies (format `fedex-ship`): shipper, one
 * recipient, one package with its weight and the label's reference (a digest of the delivery
 * id, `reference.ts`, as the package's `CUSTOMER_REFERENCE`), the service, paid by the
 * sender's account. Nothing else about the order reaches FedEx (privacy promise 3).
 *
 * Nothing of the recipient is cut: street lines wrap into 3 lines of 35 (line1 and line2 at
 * word boundaries, line2 keeping at least one line), and a street that needs more, a
 * personName over 70, a companyName over 35 or a city over 35 is refused (the order is
 * held). A state or province name is sent as its two-letter ISO 3166-2 code; a region or
 * postal code (10) that is not a code is left out rather than shortened, and not reported in
 * `fields`. Phones are sent as 10–15 digits; the recipient phone falls back to the shipper's.
 *
 * @throws DropshipError `ECONFIG` for an unusable service type or shipper (address, phone),
 *   `EINVALID_ORDER` for a ship-to or weight FedEx cannot take.
 */
export const fedexCarrier: CarrierRequestBuilder<FedexOptions> = {
  id: 'fedex',
  format: 'fedex-ship',
  optionsSchema: fedexOptionsSchema,
  build,
};
