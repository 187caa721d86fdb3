import type { DropShipOrder, RenderContext } from '../../src/formats/format';

/**
 * Fixed purchase-order views for the format tests: synthetic data only. `FULL` discloses
 * every field a supplier may see and is built to be awkward: non-ASCII names, a street
 * longer than any X12 or carrier limit, and delimiter, markup and formula characters
 * inside values. `WITHHELD` is a typical narrow allow-list (no prices, no contact data).
 */

export const CONTEXT: RenderContext = { deliveryId: '1001+creamery+po', createdAt: '2026-11-20T15:04:05Z', controlNumber: 42 };

/** Every awkward character the formats must keep from breaking a document. */
export const NASTY = `a*b~c>d^e|f,g;h"i'j<k>l&m]]>n\ttab\nline\rcr\u0001ctl =SUM(A1)`;

export const FULL: DropShipOrder = {
  supplierId: 'creamery',
  order: {
    id: '1001',
    placedAt: '2026-11-20T07:04:05-08:00',
    currency: 'EUR',
    giftMessage: 'Alles Gute, Zoë! <3 & "cheers" ~ *hugs* > 100%\nSee you soon.',
    notes: '=HYPERLINK("http://evil.example") leave at door; ring ^bell^',
  },
  customer: { name: 'Zoë Ångström-Łódź', email: 'zoe.angstrom@example.com', phone: '+49 30 5550 1234', contactRestricted: false },
  shipTo: {
    name: 'Zoë Ångström-Łódź',
    company: 'Straße & Söhne GmbH <Lieferung>',
    line1:
      'Hauptstraße 123, Hinterhaus, Aufgang B, 4. Obergeschoss links, bei der großen Eiche gegenüber dem Bäcker, Klingel "Ångström*Łódź"',
    line2: 'c/o Müller ~ Tür 7',
    city: 'Garmisch-Partenkirchen im schönen Werdenfelser Land',
    region: 'BY',
    postalCode: '82467',
    country: 'DE',
    phone: '+49 8821 555 0199',
  },
  shipment: { id: '1001+creamery', carrier: 'ups', service: '11', trackingNumber: '1Z999AA10123456784' },
  lines: [
    { sku: 'VC-CHEVRE', name: 'Chèvre log — 200 g «frais»', quantity: 2, unitPrice: '12.00', weight: 250 },
    {
      sku: 'BUTTER-42',
      name: 'Cultured butter, salted; "Normandy style" 250g <limited> & rare ~ *seasonal* > others',
      quantity: 3,
      unitPrice: '6.255',
      properties: { Engraving: 'A & S', 'Gift wrap': 'yes, "red" ~ ribbon' },
    },
    { sku: 'VC-TEA/1', name: '東京 green tea cheese 🍵 (séries spéciale)', quantity: 1, unitPrice: '24.5', weight: 1000.5 },
  ],
};

export const WITHHELD: DropShipOrder = {
  supplierId: 'creamery',
  order: { id: '1002' },
  customer: {},
  shipTo: { name: 'Ada Example', line1: '12 Sample Street', line2: 'Apt 4', city: 'Portland', region: 'OR', postalCode: '97205', country: 'US' },
  shipment: { carrier: 'fedex', service: 'PRIORITY_OVERNIGHT' },
  lines: [
    { sku: 'VC-CHEVRE', name: 'Chèvre log', quantity: 1 },
    { sku: 'BUTTER-42', name: 'Cultured butter', quantity: 3 },
  ],
};

/**
 * `FULL` as an X12 supplier can take it with `transliterate: true`: every value has an ASCII
 * spelling (no emoji) and the city fits N401's 30 characters. The rest is as awkward.
 */
export const X12_FULL: DropShipOrder = {
  ...FULL,
  shipTo: { ...FULL.shipTo, city: 'Garmisch-Partenkirchen' },
  lines: FULL.lines.map((line, i) => (i === 2 ? { ...line, name: '東京 green tea cheese (séries spéciale)' } : line)),
};

/** The fixed views, by the name their golden files carry. */
export const VIEWS: Readonly<Record<string, DropShipOrder>> = { full: FULL, withheld: WITHHELD, 'x12-full': X12_FULL };

/** A deep copy, so a test can tell a format does not depend on object identity or mutate. */
export function copy<T>(value: T): T {
  return structuredClone(value);
}

/** `formatOptions` of a cXML supplier, as written in its YAML file. */
export const CXML_OPTIONS = {
  payloadIdDomain: 'orders.test-larder.example',
  from: { domain: 'NetworkId', identity: 'AN01000000001' },
  to: { domain: 'NetworkId', identity: 'AN01000000002' },
  sender: { domain: 'NetworkId', identity: 'AN01000000001', userAgent: 'Test Larder dropship-pipeline', sharedSecretEnv: 'CREAMERY_CXML_SECRET' },
  billTo: {
    name: 'Test Larder Accounts Payable',
    line1: '1 Depot Road',
    city: 'Portland',
    region: 'OR',
    postalCode: '97204',
    country: 'US',
    email: 'ap@test-larder.example',
    phone: '+1 503 555 0101',
    addressId: 'AP-1',
  },
};

/** `formatOptions` of an X12 supplier, as written in its YAML file. */
export const X12_OPTIONS = {
  sender: { qualifier: 'ZZ', id: 'TESTLARDER' },
  receiver: { qualifier: '01', id: '123456789', applicationCode: 'CREAMERYPO' },
  usage: 'test',
  // The test supplier agreed to ASCII spellings; tests of the default (hold) say so.
  transliterate: true,
};
