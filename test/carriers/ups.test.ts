import fc from 'fast-check';
import type { CarrierShipment } from '../../src/carriers/carrier';
import { upsCarrier, type UpsShipRequest } from '../../src/carriers/ups/request';
import type { UpsOptions } from '../../src/carriers/ups/options';
import { DropshipError } from '../../src/errors';
import { labelReference } from '../../src/carriers/reference';
import { misplacedUpsReference } from '../../testkit/carrier-standins';
import { requestBodyValidator } from '../../testkit/openapi';
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

const validateShipRequest = requestBodyValidator('ups-Shipping.json', 'post', '/shipments/{version}/ship');
const SERVICES = ['01', '02', '03', '07', '08', '11', '12', '13', '14', '54', '59', '65'];

const options = (input: Record<string, unknown> = {}): UpsOptions =>
  upsCarrier.optionsSchema.parse({ shipperNumber: 'A1B2C3', ...input });

function build(shipment: CarrierShipment, opts: UpsOptions = options()) {
  const built = upsCarrier.build(shipment, opts);
  return { ...built, request: JSON.parse(built.body) as UpsShipRequest };
}

/**
 * UPS limits the schema states but cannot enforce: AddressLine's `maxLength: 35`,
 * `minLength: 1` and `maximum: 3` sit on the array, where they constrain nothing.
 */
function limitProblems(request: UpsShipRequest): string[] {
  const problems: string[] = [];
  const { Shipper, ShipTo, Package } = request.ShipmentRequest.Shipment;
  for (const [who, party] of [['Shipper', Shipper], ['ShipTo', ShipTo]] as const) {
    const lines = party.Address.AddressLine;
    if (lines.length < 1 || lines.length > 3) problems.push(`${who} has ${lines.length} address lines`);
    for (const line of lines) {
      if (cpLength(line) < 1 || cpLength(line) > 35) problems.push(`${who} address line of ${cpLength(line)}`);
      if (line !== line.trim()) problems.push(`${who} address line not trimmed`);
    }
    if (party.Phone && !/^\d{1,15}$/.test(party.Phone.Number)) problems.push(`${who} phone not 1-15 digits`);
    if (party.Phone?.Extension !== undefined && !/^\d{1,4}$/.test(party.Phone.Extension)) {
      problems.push(`${who} phone extension not 1-4 digits`);
    }
  }
  const weight = Package[0]?.PackageWeight.Weight ?? '';
  if (!/^\d+(\.\d)?$/.test(weight) || Number(weight) < 0.1) problems.push(`weight ${weight}`);
  if (!allStrings(request).every(isWellFormed)) problems.push('a string has a lone surrogate');
  return problems;
}

describe('upsCarrier.build', () => {
  it('builds the exact ShipmentRequest for a domestic shipment', () => {
    const { body, fields } = upsCarrier.build(domesticShipment('ups', '03'), options());
    const expected: UpsShipRequest = {
      ShipmentRequest: {
        Request: { RequestOption: 'nonvalidate' },
        Shipment: {
          Shipper: {
            Name: 'Example Outfitters Warehouse',
            AttentionName: 'Example Outfitters Warehouse',
            ShipperNumber: 'A1B2C3',
            Phone: { Number: '8025550100' },
            Address: {
              AddressLine: ['40 Pitman Rd'],
              City: 'Websterville',
              StateProvinceCode: 'VT',
              PostalCode: '05678',
              CountryCode: 'US',
            },
          },
          ShipTo: {
            Name: 'Example Bakery LLC',
            AttentionName: 'Avery Example',
            Phone: { Number: '8025550123' },
            Address: {
              AddressLine: ['12 Main St', 'Apt 4'],
              City: 'Burlington',
              StateProvinceCode: 'VT',
              PostalCode: '054011234',
              CountryCode: 'US',
            },
          },
          PaymentInformation: { ShipmentCharge: [{ Type: '01', BillShipper: { AccountNumber: 'A1B2C3' } }] },
          Service: { Code: '03' },
          // US/US: the reference goes on the package (a shipment-level one is refused).
          Package: [
            {
              Packaging: { Code: '02' },
              PackageWeight: { UnitOfMeasurement: { Code: 'LBS' }, Weight: '3.4' },
              ReferenceNumber: [{ Value: labelReference('1001-warehouse+carrier') }],
            },
          ],
        },
        LabelSpecification: { LabelImageFormat: { Code: 'GIF' }, LabelStockSize: { Height: '6', Width: '4' } },
      },
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

  const cases: [string, CarrierShipment, UpsOptions][] = [
    ['domestic US', domesticShipment('ups', '03'), options()],
    ['domestic US, ZPL label', domesticShipment('ups', '01'), options({ labelFormat: 'ZPL' })],
    ['domestic US, EPL 4x8, validate', domesticShipment('ups', '02'), options({ labelFormat: 'EPL', labelStockSize: { Height: '8', Width: '4' }, requestOption: 'validate' })],
    ...Object.entries(SHIP_TOS).map(([name, shipTo]): [string, CarrierShipment, UpsOptions] => [
      name,
      { ...domesticShipment('ups', '65'), shipTo },
      options({ weightUnit: 'KGS' }),
    ]),
  ];
  it.each(cases)('builds a schema-valid request: %s', (_name, shipment, opts) => {
    const { request } = build(shipment, opts);
    expect(validateShipRequest(request)).toEqual([]);
    expect(limitProblems(request)).toEqual([]);
  });

  it('keeps non-ASCII text as it is', () => {
    const { request, fields } = build({ ...domesticShipment('ups', '11'), shipTo: SHIP_TOS['international DE, non-ASCII']! });
    const { ShipTo } = request.ShipmentRequest.Shipment;
    expect(ShipTo).toEqual({
      Name: 'Zoë Ångström',
      AttentionName: 'Zoë Ångström',
      Phone: { Number: '492215550100' },
      Address: { AddressLine: ['Hauptstraße 1', 'Hinterhaus, 3. OG'], City: 'Köln', PostalCode: '50667', CountryCode: 'DE' },
    });
    expect(fields).not.toContain('shipTo.region');
    expect(fields).not.toContain('shipTo.company');
  });

  it('wraps long street lines into the three address lines UPS allows, by word; nothing is cut', () => {
    const { request, fields } = build({ ...domesticShipment('ups', '03'), shipTo: SHIP_TOS['long street wrapped into three lines']! });
    const { ShipTo } = request.ShipmentRequest.Shipment;
    expect(ShipTo.Name).toBe('Example Research Cooperative');
    expect(ShipTo.AttentionName).toBe('Maximiliane Theodora Wolkenstein');
    expect(ShipTo.Address.AddressLine).toEqual([
      'Building 7, Innovation Campus, 1234',
      'Extraordinarily Long Boulevard Name',
      'Suite 5500, Attention Receiving',
    ]);
    expect(ShipTo.Address.City).toBe('Llanfairpwllgwyngyll');
    // A region that names no subdivision, or a postal code too long, is left out, and not reported.
    expect(ShipTo.Address.StateProvinceCode).toBeUndefined();
    expect(ShipTo.Address.PostalCode).toBeUndefined();
    expect(ShipTo.Phone).toEqual({ Number: '442079460958' });
    expect(fields).toEqual(expect.arrayContaining(['shipTo.line1', 'shipTo.line2', 'shipTo.company', 'shipTo.phone']));
    expect(fields).not.toContain('shipTo.region');
    expect(fields).not.toContain('shipTo.postalCode');
  });

  it('gives line1 all three lines when there is no line2', () => {
    const shipTo = { ...SHIP_TOS['long street wrapped into three lines']!, line1: 'Building 7, Innovation Campus, 1234 Extraordinarily Long Boulevard Name Northeast Extension', line2: '   ' };
    const { request, fields } = build({ ...domesticShipment('ups', '03'), shipTo });
    expect(request.ShipmentRequest.Shipment.ShipTo.Address.AddressLine).toEqual([
      'Building 7, Innovation Campus, 1234',
      'Extraordinarily Long Boulevard Name',
      'Northeast Extension',
    ]);
    expect(fields).not.toContain('shipTo.line2');
  });

  it('refuses (the order is held) a street that needs more than three lines, and a name, company or city it would have to cut', () => {
    expect(() => build({ ...domesticShipment('ups', '03'), shipTo: TOO_LONG })).toThrow(
      expect.objectContaining({
        code: 'EINVALID_ORDER',
        problems: [
          'shipTo.line1 and line2 need more than the 3 address lines of 35 characters UPS takes',
          'shipTo.city is 58 characters; the carrier takes at most 30',
          'shipTo.name is 64 characters; the carrier takes at most 35',
          'shipTo.company is 66 characters; the carrier takes at most 35',
        ],
      }),
    );
  });

  it('never cuts inside a character: surrogate pairs, combining marks, flags count as what they are', () => {
    const { request } = build({ ...domesticShipment('ups', '03'), shipTo: SHIP_TOS['astral and combining characters at the edge']! });
    const { ShipTo } = request.ShipmentRequest.Shipment;
    expect(ShipTo.Name).toBe(`${'a'.repeat(33)}😀😀`);
    expect(ShipTo.Address.AddressLine).toEqual(['b'.repeat(34), 'q\u0301 more words here']);
    expect(ShipTo.Address.City).toBe(`${'c'.repeat(28)}🇺🇸`);
    expect(ShipTo.Address.StateProvinceCode).toBe('VT');
  });

  it.each([
    ['US', 'California', 'CA'],
    ['US', 'calif.', 'CA'],
    ['US', 'US-NY', 'NY'],
    ['CA', 'Québec', 'QC'],
    ['CA', 'ontario', 'ON'],
    ['MX', 'Nuevo León', 'NLE'],
    ['AU', 'New South Wales', 'NSW'],
    ['DE', 'Bayern', 'BY'],
    ['IE', 'Cork', 'CO'],
  ])('sends the state or province of %s %p as its ISO 3166-2 code %p', (country, region, code) => {
    const base = domesticShipment('ups', '03');
    const postalCode = { US: '05401', CA: 'H2X 1Y4' }[country] ?? '12345';
    const { request, fields } = build({ ...base, shipTo: { ...base.shipTo, country, region, postalCode } });
    expect(request.ShipmentRequest.Shipment.ShipTo.Address.StateProvinceCode).toBe(code);
    expect(fields).toContain('shipTo.region');
  });

  it.each([
    [{ region: undefined }, 'shipTo.region is missing; UPS requires a state or province code for US'],
    [{ region: 'Narnia' }, 'shipTo.region is not a US state, province or county UPS knows (ISO 3166-2)'],
    [{ postalCode: undefined }, 'shipTo.postalCode is missing; UPS requires one for US'],
    [{ postalCode: '0540' }, 'shipTo.postalCode is not of the form UPS requires for US (5 or 9 digits)'],
    [{ country: 'CA', region: 'QC', postalCode: '12345' }, 'shipTo.postalCode is not of the form UPS requires for CA (A#A#A#)'],
    [{ country: 'CA', region: 'Bayern', postalCode: 'H2X 1Y4' }, 'shipTo.region is not a CA state, province or county UPS knows (ISO 3166-2)'],
  ])('refuses (the order is held) a ship-to %p: %s', (change, problem) => {
    const base = domesticShipment('ups', '03');
    expect(() => build({ ...base, shipTo: { ...base.shipTo, ...change } })).toThrow(expect.objectContaining({ code: 'EINVALID_ORDER', problems: [problem] }));
  });

  it("gives an international ship-to without a phone the shipper's (UPS requires one), without claiming shipTo.phone", () => {
    const base = domesticShipment('ups', '07');
    const { request, fields } = build({ ...base, shipTo: SHIP_TOS['international FR, contact-restricted (no phone)']! });
    expect(request.ShipmentRequest.Shipment.ShipTo.Phone).toEqual({ Number: '8025550100' });
    expect(fields).not.toContain('shipTo.phone');
    expect(() => build({ ...base, shipper: { ...base.shipper, phone: 'ask the desk' }, shipTo: SHIP_TOS['international FR, contact-restricted (no phone)']! })).toThrow(
      expect.objectContaining({ code: 'EINVALID_ORDER', problems: ["shipTo.phone is missing, and so is the shipper's; UPS requires a phone for an international shipment"] }),
    );
  });

  it('sends ShipTo.Phone only when the ship-to has a usable phone', () => {
    const base = domesticShipment('ups', '03');
    const without = build({ ...base, shipTo: { ...base.shipTo, phone: undefined } });
    expect(without.request.ShipmentRequest.Shipment.ShipTo.Phone).toBeUndefined();
    expect(without.fields).not.toContain('shipTo.phone');
    const noDigits = build({ ...base, shipTo: { ...base.shipTo, phone: 'ask at the desk' } });
    expect(noDigits.request.ShipmentRequest.Shipment.ShipTo.Phone).toBeUndefined();
    expect(noDigits.fields).not.toContain('shipTo.phone');
    const withExt = build({ ...base, shipTo: { ...base.shipTo, phone: '802.555.0123 ext. 42' } });
    expect(withExt.request.ShipmentRequest.Shipment.ShipTo.Phone).toEqual({ Number: '8025550123', Extension: '42' });
  });

  it('uses the person as Name when there is no company', () => {
    const { request, fields } = build({ ...domesticShipment('ups', '03'), shipTo: SHIP_TOS['minimal: no company, line2, region, postal code or phone']! });
    const { ShipTo } = request.ShipmentRequest.Shipment;
    expect(ShipTo).toEqual({
      Name: 'Kai Example',
      AttentionName: 'Kai Example',
      // International (the shipper is in the US): UPS requires a phone, so the shipper's goes.
      Phone: { Number: '8025550100' },
      Address: { AddressLine: ['1 Example Way'], City: 'Hong Kong', CountryCode: 'HK' },
    });
    expect(fields).toEqual(['lines.weight', 'shipTo.city', 'shipTo.country', 'shipTo.line1', 'shipTo.name', 'shipment.service']);
  });

  it.each([
    [0, 'LBS', '0.1'],
    [1, 'LBS', '0.1'],
    [453.59237, 'LBS', '1'],
    [453.6, 'LBS', '1.1'],
    [907.18474, 'LBS', '2'],
    [1500, 'LBS', '3.4'],
    [1000, 'KGS', '1'],
    [1000.5, 'KGS', '1.1'],
    [68_000, 'KGS', '68'],
    [500_000, 'LBS', '1103'], // 1102.3 lb: 6 characters with the decimal, so whole pounds up
  ] as const)('declares %p g as %s %s (rounded up to 0.1, at least 0.1)', (grams, unit, weight) => {
    const { request } = build({ ...domesticShipment('ups', '03'), weightGrams: grams }, options({ weightUnit: unit }));
    expect(request.ShipmentRequest.Shipment.Package[0]?.PackageWeight).toEqual({ UnitOfMeasurement: { Code: unit }, Weight: weight });
  });

  it('defaults the label stock to 4x6 for thermal formats, and sends it for GIF too (schema-required)', () => {
    for (const labelFormat of ['ZPL', 'EPL', 'SPL', 'GIF']) {
      const { request } = build(domesticShipment('ups', '03'), options({ labelFormat }));
      expect(request.ShipmentRequest.LabelSpecification).toEqual({
        LabelImageFormat: { Code: labelFormat },
        LabelStockSize: { Height: '6', Width: '4' },
      });
    }
  });

  it.each([
    ['US', 'US', 'package'],
    ['PR', 'PR', 'package'],
    ['US', 'PR', 'shipment'],
    ['US', 'CA', 'shipment'],
    ['DE', 'DE', 'shipment'],
  ] as const)('puts the label reference from %s to %s on the %s (UPS refuses the other level)', (from, to, level) => {
    const base = domesticShipment('ups', '11');
    const shipment: CarrierShipment = {
      ...base,
      shipper: { ...base.shipper, country: from, region: from === 'US' ? 'VT' : undefined, postalCode: from === 'DE' ? '50667' : base.shipper.postalCode },
      shipTo: { ...base.shipTo, country: to, region: to === 'CA' ? 'QC' : to === 'DE' ? undefined : base.shipTo.region, postalCode: to === 'CA' ? 'H2X1Y4' : to === 'DE' ? '50667' : '00901' },
    };
    const { request } = build(shipment);
    const reference = [{ Value: labelReference(`${shipment.shipmentId}+carrier`) }];
    const { Shipment } = request.ShipmentRequest;
    expect(Shipment.ReferenceNumber).toEqual(level === 'shipment' ? reference : undefined);
    expect(Shipment.Package[0]?.ReferenceNumber).toEqual(level === 'package' ? reference : undefined);
    expect(validateShipRequest(request)).toEqual([]);
    expect(misplacedUpsReference(request as unknown as Record<string, unknown>)).toBeUndefined();
  });

  it('gives every shipment its own reference, the same on every build, within UPS limits and telling nothing of the order', () => {
    const a = build(domesticShipment('ups', '03')).request.ShipmentRequest.Shipment.Package[0]?.ReferenceNumber?.[0]?.Value ?? '';
    const again = build(structuredClone(domesticShipment('ups', '03'))).request.ShipmentRequest.Shipment.Package[0]?.ReferenceNumber?.[0]?.Value;
    const other = build({ ...domesticShipment('ups', '03'), shipmentId: '1002-warehouse' }).request.ShipmentRequest.Shipment.Package[0]?.ReferenceNumber?.[0]?.Value;
    expect(again).toBe(a);
    expect(other).not.toBe(a);
    // Letters only: no run of digits in it can look like a card number.
    expect(a).toMatch(/^DS[A-P]{24}$/);
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (id) => /^DS[A-P]{24}$/.test(labelReference(id))), { numRuns: 500 });
    expect(a).not.toContain('1001');
  });

  it('is deterministic', () => {
    const shipment = domesticShipment('ups', '03');
    expect(upsCarrier.build(shipment, options()).body).toBe(upsCarrier.build(structuredClone(shipment), options()).body);
  });

  it('rejects a ship-to UPS cannot take, listing every problem without personal data', () => {
    const base = domesticShipment('ups', '03');
    const attempt = () =>
      upsCarrier.build({ ...base, shipTo: { ...base.shipTo, name: ' \u0000 ', city: '\n', country: 'USA' }, weightGrams: Number.NaN }, options());
    expect(attempt).toThrow(DropshipError);
    try {
      attempt();
    } catch (e) {
      expect((e as DropshipError).code).toBe('EINVALID_ORDER');
      expect((e as DropshipError).problems).toEqual([
        'shipTo.city has no printable characters',
        'shipTo.country must be an ISO 3166-1 alpha-2 code',
        'shipTo.name has no printable characters',
        'weight must be a non-negative number of grams',
      ]);
    }
  });

  it('rejects a service code that is not a UPS code as a configuration error', () => {
    expect(() => upsCarrier.build(domesticShipment('ups', 'GROUND'), options())).toThrow(
      expect.objectContaining({ code: 'ECONFIG', problems: [expect.stringContaining('shipment.service')] }),
    );
  });

  it('rejects a weight no single UPS package can declare', () => {
    expect(() => upsCarrier.build({ ...domesticShipment('ups', '03'), weightGrams: 50_000_000 }, options())).toThrow(
      expect.objectContaining({ code: 'EINVALID_ORDER' }),
    );
  });

  it('property: any valid shipment gives a schema-valid request whose fields are all present in the input, or is refused naming ship-to fields', () => {
    let builtCount = 0;
    const optionsArb = fc.record({
      shipperNumber: fc.constantFrom('A1B2C3', '123456', 'zz99zz'),
      labelFormat: fc.constantFrom('GIF', 'ZPL', 'EPL', 'SPL'),
      weightUnit: fc.constantFrom('LBS', 'KGS'),
    });
    fc.assert(
      fc.property(arbitraryShipment('ups', SERVICES), optionsArb, (shipment, rawOptions) => {
        let built: ReturnType<typeof build>;
        try {
          built = build(shipment, options(rawOptions));
        } catch (err) {
          // Or refused, naming ship-to fields and the weight only: the order is held, nothing is cut.
          expect(err).toBeInstanceOf(DropshipError);
          expect((err as DropshipError).code).toBe('EINVALID_ORDER');
          for (const p of (err as DropshipError).problems) expect(p).toMatch(/^(shipTo\.(name|company|line1|city|region|postalCode|phone) |weight )/);
          return;
        }
        builtCount += 1;
        const { request, fields } = built;
        expect(validateShipRequest(request)).toEqual([]);
        expect(limitProblems(request)).toEqual([]);

        expect(fields).toEqual([...new Set(fields)].sort());
        for (const field of fields) {
          expect(CARRIER_FIELDS.has(field)).toBe(true);
          if (field.startsWith('shipTo.')) {
            const key = field.slice('shipTo.'.length) as keyof CarrierShipment['shipTo'];
            expect(isPresent(shipment.shipTo[key])).toBe(true);
          }
        }
        const { Address, Phone } = request.ShipmentRequest.Shipment.ShipTo;
        // A phone not claimed is the shipper's, sent because UPS requires one internationally.
        if (fields.includes('shipTo.phone')) expect(Phone).toBeDefined();
        else if (Phone !== undefined) expect(Phone).toEqual(request.ShipmentRequest.Shipment.Shipper.Phone);
        if (Address.CountryCode !== request.ShipmentRequest.Shipment.Shipper.Address.CountryCode) expect(Phone).toBeDefined();
        expect(fields.includes('shipTo.region')).toBe(Address.StateProvinceCode !== undefined);
        expect(fields.includes('shipTo.postalCode')).toBe(Address.PostalCode !== undefined);
        expect(fields.includes('shipTo.line1')).toBe(true);
        // The label's reference, where UPS takes it for this origin and destination.
        expect(misplacedUpsReference(request as unknown as Record<string, unknown>)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
    // Most generated ship-tos fit: the property checks requests, not only refusals.
    expect(builtCount).toBeGreaterThan(100);
  });
});

describe('upsCarrier.optionsSchema', () => {
  it('applies the documented defaults', () => {
    expect(upsCarrier.optionsSchema.parse({ shipperNumber: 'A1B2C3' })).toEqual({
      shipperNumber: 'A1B2C3',
      labelFormat: 'GIF',
      weightUnit: 'LBS',
      requestOption: 'nonvalidate',
    });
  });

  const messages = (input: unknown) => {
    const result = upsCarrier.optionsSchema.safeParse(input);
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  };

  it.each([
    [{}, ['shipperNumber: is required (the 6-character UPS account number, as a quoted string)']],
    [{ shipperNumber: 123456 }, ['shipperNumber: must be the 6-character UPS account number, as a quoted string']],
    [{ shipperNumber: 'A1B2C' }, ['shipperNumber: must be the 6-character UPS account number (letters and digits only)']],
    [{ shipperNumber: 'A1B2C3', labelFormat: 'PDF' }, ['labelFormat: must be one of GIF, ZPL, EPL, SPL']],
    [{ shipperNumber: 'A1B2C3', weightUnit: 'LB' }, ['weightUnit: must be LBS or KGS']],
    [{ shipperNumber: 'A1B2C3', requestOption: 'full' }, ['requestOption: must be nonvalidate or validate']],
    [{ shipperNumber: 'A1B2C3', labelStockSize: { Height: '7', Width: '4' } }, ['labelStockSize.Height: must be "6" or "8" (inches)']],
    [
      { shipperNumber: 'A1B2C3', accountNumber: '123456789' },
      ['(root): unknown option "accountNumber"; UPS options are shipperNumber, labelFormat, weightUnit, requestOption, labelStockSize'],
    ],
    ['A1B2C3', ['(root): must be a mapping of UPS options (shipperNumber, labelFormat, weightUnit, requestOption, labelStockSize)']],
  ])('rejects %p with a clear message', (input, expected) => {
    expect(messages(input)).toEqual(expected);
  });

  it('reports every problem at once', () => {
    expect(messages({ shipperNumber: '1', labelFormat: 'PNG', weightUnit: 'G', extra: true })).toHaveLength(4);
  });
});
