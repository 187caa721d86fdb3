import fc from 'fast-check';
import type { CarrierShipment } from '../../src/carriers/carrier';
import { fedexCarrier, type FedexShipRequest } from '../../src/carriers/fedex/request';
import type { FedexOptions } from '../../src/carriers/fedex/options';
import { DropshipError } from '../../src/errors';
import { labelReference } from '../../src/carriers/reference';
import { componentValidator, requestBodyValidator } from '../../testkit/openapi';
import {
  CARRIER_FIELDS,
  SHIP_TOS,
  TOO_LONG,
  allStrings,
  arbitraryShipment,
  cpLength,
  domesticShipment,
  isPresent,
  isWellFormed,
} from './fixtures';

const SPEC = 'fedex-ship-v1-Shipment-Resource.json';
const validateShipment = componentValidator(SPEC, 'Full_Schema_Ship');
const SERVICES = ['FEDEX_GROUND', 'GROUND_HOME_DELIVERY', 'STANDARD_OVERNIGHT', 'PRIORITY_OVERNIGHT', 'FEDEX_2_DAY', 'INTERNATIONAL_PRIORITY'];

const options = (input: Record<string, unknown> = {}): FedexOptions =>
  fedexCarrier.optionsSchema.parse({ accountNumber: '123456789', ...input });

function build(shipment: CarrierShipment, opts: FedexOptions = options()) {
  const built = fedexCarrier.build(shipment, opts);
  return { ...built, request: JSON.parse(built.body) as FedexShipRequest };
}

/** Limits FedEx states only in descriptions ("Maximum length is N"), which no schema checks. */
function limitProblems(request: FedexShipRequest): string[] {
  const problems: string[] = [];
  const { shipper, recipients, totalWeight, requestedPackageLineItems } = request.requestedShipment;
  if (recipients.length !== 1) problems.push(`${recipients.length} recipients`);
  for (const [who, party] of [['shipper', shipper], ...recipients.map((r) => ['recipient', r] as const)] as const) {
    const { streetLines, city, postalCode, stateOrProvinceCode } = party.address;
    if (streetLines.length < 1 || streetLines.length > 3) problems.push(`${who} has ${streetLines.length} street lines`);
    for (const line of streetLines) if (cpLength(line) < 1 || cpLength(line) > 35) problems.push(`${who} street line of ${cpLength(line)}`);
    if (cpLength(city) < 1 || cpLength(city) > 35) problems.push(`${who} city of ${cpLength(city)}`);
    if (postalCode !== undefined && cpLength(postalCode) > 10) problems.push(`${who} postal code too long`);
    if (stateOrProvinceCode !== undefined && cpLength(stateOrProvinceCode) > 2) problems.push(`${who} state code too long`);
    const { personName, companyName, phoneNumber, phoneExtension } = party.contact;
    if (cpLength(personName) < 1 || cpLength(personName) > 70) problems.push(`${who} personName of ${cpLength(personName)}`);
    if (companyName !== undefined && (cpLength(companyName) < 1 || cpLength(companyName) > 35)) problems.push(`${who} companyName`);
    if (!/^\d{10,15}$/.test(phoneNumber)) problems.push(`${who} phone not 10-15 digits`);
    if (phoneExtension !== undefined && !/^\d{1,6}$/.test(phoneExtension)) problems.push(`${who} extension`);
  }
  const value = requestedPackageLineItems[0]?.weight.value ?? 0;
  if (!(value >= 0.1) || Math.round(value * 10) / 10 !== value) problems.push(`package weight ${value}`);
  if (!(totalWeight >= 0.1) || Math.round(totalWeight * 10) / 10 !== totalWeight) problems.push(`total weight ${totalWeight}`);
  if (!allStrings(request).every(isWellFormed)) problems.push('a string has a lone surrogate');
  return problems;
}

describe('fedexCarrier.build', () => {
  it('builds the exact Create Shipment body for a domestic shipment', () => {
    const { body, fields } = fedexCarrier.build(domesticShipment('fedex', 'FEDEX_GROUND'), options());
    const expected: FedexShipRequest = {
      labelResponseOptions: 'LABEL',
      requestedShipment: {
        shipper: {
          contact: { personName: 'Example Outfitters Warehouse', phoneNumber: '8025550100' },
          address: { streetLines: ['40 Pitman Rd'], city: 'Websterville', stateOrProvinceCode: 'VT', postalCode: '05678', countryCode: 'US' },
        },
        recipients: [
          {
            contact: { personName: 'Avery Example', companyName: 'Example Bakery LLC', phoneNumber: '8025550123' },
            address: {
              streetLines: ['12 Main St', 'Apt 4'],
              city: 'Burlington',
              stateOrProvinceCode: 'VT',
              postalCode: '05401-1234',
              countryCode: 'US',
            },
          },
        ],
        pickupType: 'DROPOFF_AT_FEDEX_LOCATION',
        serviceType: 'FEDEX_GROUND',
        packagingType: 'YOUR_PACKAGING',
        totalWeight: 3.4,
        shippingChargesPayment: { paymentType: 'SENDER' },
        labelSpecification: { imageType: 'PDF', labelStockType: 'PAPER_4X6' },
        requestedPackageLineItems: [{ weight: { units: 'LB', value: 3.4 }, customerReferences: [{ customerReferenceType: 'CUSTOMER_REFERENCE', value: labelReference('1001-warehouse+carrier') }] }],
      },
      accountNumber: { value: '123456789' },
    };
    // String equality pins the key order too: the body is exactly what is POSTed.
    expect(body).toBe(JSON.stringify(expected));
    expect(fields).toEqual([
      'lines.weight',
      'shipTo.city',
      'shipTo.company',
      'shipTo.country',
      'shipTo.line1',
      'shipTo.line2',
      'shipTo.name',
      'shipTo.phone',
      'shipTo.postalCode',
      'shipTo.region',
      'shipment.service',
    ]);
  });

  const cases: [string, CarrierShipment, FedexOptions][] = [
    ['domestic US', domesticShipment('fedex', 'FEDEX_GROUND'), options()],
    ['domestic US, ZPLII thermal label, URL only', domesticShipment('fedex', 'PRIORITY_OVERNIGHT'), options({ labelImageType: 'ZPLII', labelStockType: 'STOCK_4X6', labelResponseOptions: 'URL_ONLY', pickupType: 'USE_SCHEDULED_PICKUP' })],
    ...Object.entries(SHIP_TOS).map(([name, shipTo]): [string, CarrierShipment, FedexOptions] => [
      name,
      { ...domesticShipment('fedex', 'INTERNATIONAL_PRIORITY'), shipTo },
      options({ weightUnit: 'KG', packagingType: 'FEDEX_PAK' }),
    ]),
  ];
  it.each(cases)('builds a schema-valid request: %s', (_name, shipment, opts) => {
    const { request } = build(shipment, opts);
    expect(validateShipment(request)).toEqual([]);
    expect(limitProblems(request)).toEqual([]);
  });

  it('validates against the Full_Schema_Ship branch of the published request body', () => {
    const { request } = build(domesticShipment('fedex', 'FEDEX_GROUND'));
    const branch = requestBodyValidator(SPEC, 'post', '/ship/v1/shipments', { oneOfBranch: 'Full_Schema_Ship' });
    expect(branch(request)).toEqual([]);
    // The body schema as published is oneOf Full_Schema_Ship and sample schemas that
    // accept anything, so no payload can match exactly one branch.
    expect(requestBodyValidator(SPEC, 'post', '/ship/v1/shipments')(request)).toContain('/ must match exactly one schema in oneOf');
  });

  it('puts contact and address in the same recipients[] item, with non-ASCII kept', () => {
    const { request, fields } = build({ ...domesticShipment('fedex', 'INTERNATIONAL_PRIORITY'), shipTo: SHIP_TOS['international DE, non-ASCII']! });
    expect(request.requestedShipment.recipients).toEqual([
      {
        contact: { personName: 'Zoë Ångström', phoneNumber: '492215550100' },
        address: { streetLines: ['Hauptstraße 1', 'Hinterhaus, 3. OG'], city: 'Köln', postalCode: '50667', countryCode: 'DE' },
      },
    ]);
    expect(fields).toContain('shipTo.phone');
  });

  it("uses the shipper's phone for a recipient without one, and does not report shipTo.phone", () => {
    // A contact-restricted customer's phone never reaches the builder; FedEx still requires one.
    const { request, fields } = build({ ...domesticShipment('fedex', 'INTERNATIONAL_PRIORITY'), shipTo: SHIP_TOS['international FR, contact-restricted (no phone)']! });
    expect(request.requestedShipment.recipients[0]?.contact).toEqual({
      personName: 'Élodie Œuvray-Ñúñez',
      companyName: 'Société Exemple SARL',
      phoneNumber: '8025550100',
    });
    expect(fields).not.toContain('shipTo.phone');
  });

  it.each([['ask at the desk'], ['555 0123'], ['+1 802 555 0123 4567 8901 2345']])(
    'treats %p as no usable ship-to phone (FedEx needs 10 to 15 digits)',
    (phone) => {
      const base = domesticShipment('fedex', 'FEDEX_GROUND');
      const { request, fields } = build({ ...base, shipTo: { ...base.shipTo, phone } });
      expect(request.requestedShipment.recipients[0]?.contact.phoneNumber).toBe('8025550100');
      expect(fields).not.toContain('shipTo.phone');
    },
  );

  it('wraps long street lines into the three street lines, by word; nothing is cut', () => {
    const { request, fields } = build({ ...domesticShipment('fedex', 'INTERNATIONAL_PRIORITY'), shipTo: SHIP_TOS['long street wrapped into three lines']! });
    const [recipient] = request.requestedShipment.recipients;
    expect(recipient).toEqual({
      contact: {
        personName: 'Maximiliane Theodora Wolkenstein',
        companyName: 'Example Research Cooperative',
        phoneNumber: '442079460958',
      },
      address: {
        streetLines: ['Building 7, Innovation Campus, 1234', 'Extraordinarily Long Boulevard Name', 'Suite 5500, Attention Receiving'],
        city: 'Llanfairpwllgwyngyll',
        countryCode: 'GB',
      },
    });
    expect(fields).not.toContain('shipTo.region');
    expect(fields).not.toContain('shipTo.postalCode');
    expect(fields).toContain('shipTo.line2');
  });

  it('refuses (the order is held) a street that needs more than three lines, and a name, company or city it would have to cut', () => {
    expect(() => build({ ...domesticShipment('fedex', 'INTERNATIONAL_PRIORITY'), shipTo: TOO_LONG })).toThrow(
      expect.objectContaining({
        code: 'EINVALID_ORDER',
        problems: [
          'shipTo.line1 and line2 need more than the 3 street lines of 35 characters FedEx takes',
          'shipTo.city is 58 characters; the carrier takes at most 35',
          'shipTo.company is 66 characters; the carrier takes at most 35',
        ],
      }),
    );
  });

  it.each([
    ['US', 'California', 'CA'],
    ['CA', 'Québec', 'QC'],
    ['DE', 'Bayern', 'BY'],
  ])('sends the state or province of %s %p as its two-letter ISO 3166-2 code %p', (country, region, code) => {
    const base = domesticShipment('fedex', 'FEDEX_GROUND');
    const { request, fields } = build({ ...base, shipTo: { ...base.shipTo, country, region } });
    expect(request.requestedShipment.recipients[0]?.address.stateOrProvinceCode).toBe(code);
    expect(fields).toContain('shipTo.region');
  });

  it('declares the package weight in the configured unit and totalWeight in pounds, rounded up to 0.1', () => {
    const kg = build({ ...domesticShipment('fedex', 'FEDEX_GROUND'), weightGrams: 1000.5 }, options({ weightUnit: 'KG' }));
    expect(kg.request.requestedShipment.requestedPackageLineItems.map((i) => i.weight)).toEqual([{ units: 'KG', value: 1.1 }]);
    expect(kg.request.requestedShipment.totalWeight).toBe(2.3);
    const tiny = build({ ...domesticShipment('fedex', 'FEDEX_GROUND'), weightGrams: 0 });
    expect(tiny.request.requestedShipment.requestedPackageLineItems[0]?.weight.value).toBe(0.1);
    expect(tiny.request.requestedShipment.totalWeight).toBe(0.1);
  });

  it("gives the package the label's reference as its CUSTOMER_REFERENCE: one per shipment, the same on every build, within FedEx's 30 (Ground)", () => {
    const refs = (shipment: CarrierShipment) => build(shipment).request.requestedShipment.requestedPackageLineItems.map((i) => i.customerReferences);
    const a = refs(domesticShipment('fedex', 'FEDEX_GROUND'));
    expect(a).toEqual([[{ customerReferenceType: 'CUSTOMER_REFERENCE', value: labelReference('1001-warehouse+carrier') }]]);
    expect(refs(structuredClone(domesticShipment('fedex', 'FEDEX_GROUND')))).toEqual(a);
    expect(refs({ ...domesticShipment('fedex', 'FEDEX_GROUND'), shipmentId: '1002-warehouse' })).not.toEqual(a);
    expect(a[0]?.[0]?.value.length).toBeLessThanOrEqual(30);
  });

  it('is deterministic', () => {
    const shipment = domesticShipment('fedex', 'FEDEX_GROUND');
    expect(fedexCarrier.build(shipment, options()).body).toBe(fedexCarrier.build(structuredClone(shipment), options()).body);
  });

  it('rejects a shipper without a usable phone as a configuration error', () => {
    const base = domesticShipment('fedex', 'FEDEX_GROUND');
    expect(() => fedexCarrier.build({ ...base, shipper: { ...base.shipper, phone: '555-0100' } }, options())).toThrow(
      expect.objectContaining({ code: 'ECONFIG', problems: ['shipper phone must have 10 to 15 digits (FedEx requires one)'] }),
    );
  });

  it('rejects a ship-to FedEx cannot take, listing every problem', () => {
    const base = domesticShipment('fedex', 'FEDEX_GROUND');
    const attempt = () =>
      fedexCarrier.build({ ...base, shipTo: { ...base.shipTo, line1: '\t', line2: undefined, name: '' }, weightGrams: -1 }, options());
    expect(attempt).toThrow(DropshipError);
    expect(attempt).toThrow(
      expect.objectContaining({
        code: 'EINVALID_ORDER',
        problems: [
          'shipTo.line1 has no printable characters',
          'shipTo.name has no printable characters',
          'weight must be a non-negative number of grams',
        ],
      }),
    );
  });

  it('rejects a service that is not a FedEx service type', () => {
    expect(() => fedexCarrier.build(domesticShipment('fedex', 'ground'), options())).toThrow(
      expect.objectContaining({ code: 'ECONFIG', problems: [expect.stringContaining('shipment.service')] }),
    );
  });

  it('property: any valid shipment gives a schema-valid request whose fields are all present in the input, or is refused naming ship-to fields', () => {
    let builtCount = 0;
    const optionsArb = fc.record({
      labelImageType: fc.constantFrom('PDF', 'PNG', 'ZPLII', 'EPL2'),
      weightUnit: fc.constantFrom('LB', 'KG'),
      labelResponseOptions: fc.constantFrom('LABEL', 'URL_ONLY'),
    });
    fc.assert(
      fc.property(arbitraryShipment('fedex', SERVICES), optionsArb, (shipment, rawOptions) => {
        let built: ReturnType<typeof build>;
        try {
          built = build(shipment, options(rawOptions));
        } catch (err) {
          // Or refused, naming ship-to fields only: the order is held, nothing is cut.
          expect(err).toBeInstanceOf(DropshipError);
          expect((err as DropshipError).code).toBe('EINVALID_ORDER');
          for (const p of (err as DropshipError).problems) expect(p).toMatch(/^shipTo\.(name|company|line1|city) /);
          return;
        }
        builtCount += 1;
        const { request, fields } = built;
        expect(validateShipment(request)).toEqual([]);
        expect(limitProblems(request)).toEqual([]);

        expect(fields).toEqual([...new Set(fields)].sort());
        for (const field of fields) {
          expect(CARRIER_FIELDS.has(field)).toBe(true);
          if (field.startsWith('shipTo.')) {
            const key = field.slice('shipTo.'.length) as keyof CarrierShipment['shipTo'];
            expect(isPresent(shipment.shipTo[key])).toBe(true);
          }
        }
        const [recipient] = request.requestedShipment.recipients;
        const shipperPhone = request.requestedShipment.shipper.contact.phoneNumber;
        if (!fields.includes('shipTo.phone')) expect(recipient?.contact.phoneNumber).toBe(shipperPhone);
        expect(fields.includes('shipTo.region')).toBe(recipient?.address.stateOrProvinceCode !== undefined);
        expect(fields.includes('shipTo.postalCode')).toBe(recipient?.address.postalCode !== undefined);
        expect(fields.includes('shipTo.company')).toBe(recipient?.contact.companyName !== undefined);
      }),
      { numRuns: 300 },
    );
    // Most generated ship-tos fit: the property checks requests, not only refusals.
    expect(builtCount).toBeGreaterThan(100);
  });
});

describe('fedexCarrier.optionsSchema', () => {
  it('applies the documented defaults', () => {
    expect(fedexCarrier.optionsSchema.parse({ accountNumber: '123456789' })).toEqual({
      accountNumber: '123456789',
      labelImageType: 'PDF',
      labelStockType: 'PAPER_4X6',
      pickupType: 'DROPOFF_AT_FEDEX_LOCATION',
      packagingType: 'YOUR_PACKAGING',
      weightUnit: 'LB',
      labelResponseOptions: 'LABEL',
    });
  });

  const messages = (input: unknown) => {
    const result = fedexCarrier.optionsSchema.safeParse(input);
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  };

  it.each([
    [{}, ['accountNumber: is required (the 9-digit FedEx account number, as a quoted string)']],
    [{ accountNumber: 123456789 }, ['accountNumber: must be the 9-digit FedEx account number, as a quoted string']],
    [{ accountNumber: '12345678X' }, ['accountNumber: must be the 9-digit FedEx account number']],
    [{ accountNumber: '123456789', labelImageType: 'GIF' }, ['labelImageType: must be one of PDF, PNG, ZPLII, EPL2']],
    [{ accountNumber: '123456789', weightUnit: 'LBS' }, ['weightUnit: must be LB or KG']],
    [{ accountNumber: '123456789', labelResponseOptions: 'PDF' }, ['labelResponseOptions: must be LABEL or URL_ONLY']],
    [
      { accountNumber: '123456789', pickupType: 'PICKUP' },
      ['pickupType: must be one of CONTACT_FEDEX_TO_SCHEDULE, DROPOFF_AT_FEDEX_LOCATION, USE_SCHEDULED_PICKUP'],
    ],
    [
      { accountNumber: '123456789', packagingType: 'box' },
      ['packagingType: must be a FedEx packaging type such as YOUR_PACKAGING (capitals, digits, "_")'],
    ],
    [
      { accountNumber: '123456789', shipperNumber: 'A1B2C3' },
      [
        '(root): unknown option "shipperNumber"; FedEx options are accountNumber, labelImageType, labelStockType, pickupType, packagingType, weightUnit, labelResponseOptions',
      ],
    ],
  ])('rejects %p with a clear message', (input, expected) => {
    expect(messages(input)).toEqual(expected);
  });

  it('names the allowed label stock types', () => {
    expect(messages({ accountNumber: '123456789', labelStockType: 'PAPER_A4' })).toEqual([
      expect.stringMatching(/^labelStockType: must be one of PAPER_4X6, .*STOCK_4X6/),
    ]);
  });
});
