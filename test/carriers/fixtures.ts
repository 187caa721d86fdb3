import fc from 'fast-check';
import type { CarrierShipment } from '../../src/carriers/carrier';
import { COUNTRY_CODES } from '../../src/core/countries';
import type { CarrierId, ShipFrom } from '../../src/core/shipment';

/** Synthetic shipments and generators shared by the carrier builder tests. No real people. */

export const WAREHOUSE: ShipFrom = {
  name: 'Example Outfitters Warehouse',
  line1: '40 Pitman Rd',
  city: 'Websterville',
  region: 'VT',
  postalCode: '05678',
  country: 'US',
  phone: '+1 802 555 0100',
};

/** A ship-to with every field set, in the warehouse's country. */
export function domesticShipment(carrier: CarrierId, service: string): CarrierShipment {
  return {
    shipmentId: '1001-warehouse',
    carrier,
    service,
    shipper: WAREHOUSE,
    shipTo: {
      name: 'Avery Example',
      company: 'Example Bakery LLC',
      line1: '12 Main St',
      line2: 'Apt 4',
      city: 'Burlington',
      region: 'VT',
      postalCode: '05401-1234',
      country: 'US',
      phone: '+1 (802) 555-0123',
    },
    weightGrams: 1500,
  };
}

/** Named ship-tos exercising non-ASCII text, limits and absent fields. */
export const SHIP_TOS: Record<string, CarrierShipment['shipTo']> = {
  'international DE, non-ASCII': {
    name: 'Zoë Ångström',
    line1: 'Hauptstraße 1',
    line2: 'Hinterhaus, 3. OG',
    city: 'Köln',
    postalCode: '50667',
    country: 'DE',
    phone: '+49 221 555 0100',
  },
  'international FR, contact-restricted (no phone)': {
    name: 'Élodie Œuvray-Ñúñez',
    company: 'Société Exemple SARL',
    line1: "12 rue de l'Église",
    city: 'Saint-Rémy-de-Provence',
    postalCode: '13210',
    country: 'FR',
  },
  'long street wrapped into three lines': {
    name: 'Maximiliane Theodora Wolkenstein',
    company: 'Example Research Cooperative',
    line1: 'Building 7, Innovation Campus, 1234 Extraordinarily Long Boulevard Name',
    line2: 'Suite 5500, Attention Receiving',
    city: 'Llanfairpwllgwyngyll',
    region: 'Ynys Môn',
    postalCode: 'LL61 5UJ 0000 EXTRA',
    country: 'GB',
    phone: '+44 20 7946 0958 ext. 1234567',
  },
  'astral and combining characters at the edge': {
    name: `${'a'.repeat(33)}😀😀`,
    line1: `${'b'.repeat(34)}q\u0301 more words here`,
    city: `${'c'.repeat(28)}🇺🇸`,
    country: 'US',
    region: 'vt',
    postalCode: '05401',
  },
  'minimal: no company, line2, region, postal code or phone': {
    name: 'Kai Example',
    line1: '1 Example Way',
    city: 'Hong Kong',
    country: 'HK',
  },
};

/** A ship-to too long for any carrier: no street wrapping fits it, and name, company and city would have to be cut. */
export const TOO_LONG: CarrierShipment['shipTo'] = {
  name: 'Maximiliane Anneliese Theodora Wolkenstein-Trostburg von Example',
  company: 'Example Interdisciplinary Research Cooperative of Northern Vermont',
  line1: 'Building 7, Innovation Campus, 1234 Extraordinarily Long Boulevard Name Northeast Extension',
  line2: 'Suite 5500, Attention Receiving Department, Loading Dock B (rear entrance)',
  city: 'Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch',
  region: 'Ynys Môn',
  postalCode: 'LL61 5UJ 0000 EXTRA',
  country: 'GB',
  phone: '+44 20 7946 0958 ext. 1234567',
};

/** Text a person could have typed, or not: words, any code points, lone surrogates. */
function anyText(maxLength: number): fc.Arbitrary<string> {
  const word = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
  return fc.oneof(
    fc.array(word, { maxLength: 12 }).map((words) => words.join(' ').slice(0, maxLength)),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength }),
  );
}

/** Whether a value carries something printable (what "present" means for a field). */
export function isPresent(value: string | undefined): value is string {
  return value !== undefined && value.replace(/[\s\p{Cc}\p{Zl}\p{Zp}]/gu, '') !== '';
}

const requiredText = (maxLength: number) => anyText(maxLength).filter(isPresent);
const optionalText = (maxLength: number) => fc.option(anyText(maxLength), { nil: undefined });

const phoneText = fc.oneof(
  anyText(40),
  fc
    .tuple(fc.constantFrom('+1 802 555 ', '+49 30 555 ', '+33 1 55 55 ', '(802) 555-'), fc.integer({ min: 0, max: 9999 }))
    .map(([prefix, n]) => `${prefix}${String(n).padStart(4, '0')}`),
);

/** Valid shipments of the canonical model's sizes, with arbitrary text in every ship-to field. */
export function arbitraryShipment(carrier: CarrierId, services: readonly string[]): fc.Arbitrary<CarrierShipment> {
  const shipTo = fc.record(
    {
      // Mostly values that fit every carrier, sometimes ones that do not (held, never cut).
      name: fc.oneof({ weight: 3, arbitrary: requiredText(30) }, { weight: 1, arbitrary: requiredText(200) }),
      company: fc.oneof({ weight: 3, arbitrary: optionalText(30) }, { weight: 1, arbitrary: optionalText(200) }),
      line1: fc.oneof({ weight: 3, arbitrary: requiredText(60) }, { weight: 1, arbitrary: requiredText(200) }),
      line2: fc.oneof({ weight: 3, arbitrary: optionalText(30) }, { weight: 1, arbitrary: optionalText(200) }),
      city: fc.oneof({ weight: 3, arbitrary: requiredText(28) }, { weight: 1, arbitrary: requiredText(100) }),
      region: fc.option(fc.oneof(fc.constantFrom('VT', 'NY', 'QC', 'BY'), anyText(100)), { nil: undefined }),
      postalCode: fc.option(fc.oneof(fc.constantFrom('05401', '05401-1234', 'H2X 1Y4', '10115'), anyText(20)), {
        nil: undefined,
      }),
      country: fc.constantFrom(...COUNTRY_CODES),
      phone: fc.option(phoneText, { nil: undefined }),
    },
    { requiredKeys: ['name', 'line1', 'city', 'country'] },
  );
  const shipper = fc.record({
    name: fc.constantFrom('Example Outfitters Warehouse', 'Vermont Example Creamery', 'Ëxample Lager GmbH'),
    company: fc.option(fc.constant('Example Outfitters Inc.'), { nil: undefined }),
    line1: fc.constantFrom('40 Pitman Rd', 'Industriestraße 12'),
    city: fc.constantFrom('Websterville', 'München'),
    region: fc.option(fc.constant('VT'), { nil: undefined }),
    postalCode: fc.option(fc.constant('05678'), { nil: undefined }),
    country: fc.constantFrom('US', 'DE'),
    phone: fc.constantFrom('+1 802 555 0100', '+49 89 555 01234', '802-555-0199 x12'),
  });
  return fc.record({
    shipmentId: fc.constant('1001-warehouse'),
    carrier: fc.constant(carrier),
    service: fc.constantFrom(...services),
    shipper,
    shipTo,
    weightGrams: fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.double({ min: 0, max: 1_000_000, noNaN: true })),
  });
}

/** Length in code points, as JSON Schema's maxLength counts. */
export const cpLength = (s: string): number => [...s].length;

/** Whether a string is well-formed UTF-16 (no lone surrogates). */
export const isWellFormed = (s: string): boolean =>
  !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

/** Every string anywhere in a JSON value. */
export function allStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(allStrings);
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(allStrings);
  return [];
}

/** Paths a carrier may ever learn (privacy promise 3): ship-to, package weight, service. */
export const CARRIER_FIELDS = new Set([
  'shipTo.name',
  'shipTo.company',
  'shipTo.line1',
  'shipTo.line2',
  'shipTo.city',
  'shipTo.region',
  'shipTo.postalCode',
  'shipTo.country',
  'shipTo.phone',
  'lines.weight',
  'shipment.service',
]);
