import fc from 'fast-check';
import { CXML_DTD_URL, type CxmlOptions, cxmlFormat, insertSharedSecret, orderTotal, payloadId, xmlSafe } from '../../src/formats/cxml';
import type { DropShipOrder, RenderContext } from '../../src/formats/format';
import { CONTEXT, CXML_OPTIONS, FULL, NASTY, WITHHELD, copy } from './po-fixtures';
import { cxmlProblems, removeScratch, xpath, xpathNumber } from './xmllint';

const options = (overrides: Record<string, unknown> = {}): CxmlOptions => cxmlFormat.optionsSchema.parse({ ...CXML_OPTIONS, ...overrides });

/** Every document this file renders or derives: all validated against the DTD in `afterAll`. */
const rendered: string[] = [];
function render(po: DropShipOrder, o: CxmlOptions = options(), context: RenderContext = CONTEXT): string {
  const doc = cxmlFormat.render(copy(po), o, context);
  rendered.push(doc);
  return doc;
}

afterAll(() => {
  expect(rendered.length).toBeGreaterThan(50);
  expect(cxmlProblems(rendered)).toBe('');
  removeScratch();
});

describe('cXML OrderRequest', () => {
  it('is valid against the cXML 1.2.063 DTD, and declares that DTD', () => {
    const docs = [render(FULL), render(WITHHELD), render(FULL, options({ deploymentMode: 'test', lang: 'de-DE' }))];
    expect(cxmlProblems(docs)).toBe('');
    expect(docs[0]).toContain(`<!DOCTYPE cXML SYSTEM "${CXML_DTD_URL}">`);
    expect(CXML_DTD_URL).toBe('http://xml.cxml.org/schemas/cXML/1.2.063/cXML.dtd');
    expect(xpath(docs[0] ?? '', '/cXML/@version')).toBe('1.2.063');
  });

  it('the validation catches an invalid document (checks the check)', () => {
    const valid = cxmlFormat.render(WITHHELD, options(), CONTEXT);
    expect(cxmlProblems([valid.replace(/<BillTo>[\s\S]*<\/BillTo>/, '')])).toMatch(/validity error/);
    expect(cxmlProblems([valid.replace('1.2.063/cXML.dtd', '1.2.050/cXML.dtd')])).toMatch(/--valid/);
  });

  it('takes From, To and Sender credentials from formatOptions, and the timestamp from the context', () => {
    const doc = render(FULL);
    expect(xpath(doc, '/cXML/Header/From/Credential/@domain')).toBe('NetworkId');
    expect(xpath(doc, '/cXML/Header/From/Credential/Identity')).toBe('AN01000000001');
    expect(xpath(doc, '/cXML/Header/To/Credential/Identity')).toBe('AN01000000002');
    expect(xpath(doc, '/cXML/Header/Sender/Credential/Identity')).toBe('AN01000000001');
    expect(xpath(doc, '/cXML/Header/Sender/UserAgent')).toBe('Test Larder dropship-pipeline');
    expect(xpath(doc, '/cXML/@timestamp')).toBe(CONTEXT.createdAt);
    expect(xpath(doc, '/cXML/Request/@deploymentMode')).toBe('production');
    expect(xpath(doc, '//OrderRequestHeader/@orderID')).toBe('1001');
    expect(xpath(doc, '//OrderRequestHeader/@orderDate')).toBe(FULL.order.placedAt);
    expect(xpath(render(WITHHELD), '//OrderRequestHeader/@orderDate')).toBe(CONTEXT.createdAt);
  });

  describe('payloadID', () => {
    it('is the delivery id at the configured domain, the same on every retry', () => {
      const first = render(FULL);
      const retry = render(FULL, options(), { ...CONTEXT, createdAt: '2026-11-21T09:00:00Z', controlNumber: 99 });
      expect(xpath(first, '/cXML/@payloadID')).toBe('1001+creamery+po@orders.test-larder.example');
      expect(xpath(retry, '/cXML/@payloadID')).toBe(xpath(first, '/cXML/@payloadID'));
    });

    it('differs for every delivery, including ids a naive clean-up would merge', () => {
      const ids = ['1001+a+po', '1001+b+po', '1001+a+po+2', 'a/b', 'a_b', 'a%2Fb', 'a@b', 'a b', 'Zoë', 'Zoe'];
      const payloads = ids.map((id) => payloadId(id, 'x.example'));
      expect(new Set(payloads).size).toBe(ids.length);
      for (const p of payloads) expect(p.split('@')).toHaveLength(2);
      expect(payloadId('a/b', 'x.example')).toBe('a%2Fb@x.example');
      fc.assert(
        fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
          fc.pre(a !== b);
          expect(payloadId(a, 'x.example')).not.toBe(payloadId(b, 'x.example'));
          expect(payloadId(a, 'x.example')).toMatch(/^[A-Za-z0-9._+%-]*@x\.example$/);
        }),
      );
    });
  });

  it('ships to the allow-listed address, keeping non-ASCII text and long values whole', () => {
    const doc = render(FULL);
    const a = '//OrderRequestHeader/ShipTo/Address';
    expect(xpath(doc, `${a}/Name`)).toBe(FULL.shipTo.company);
    expect(xpath(doc, `${a}/PostalAddress/DeliverTo`)).toBe(FULL.shipTo.name);
    expect(xpath(doc, `${a}/PostalAddress/Street[1]`)).toBe(FULL.shipTo.line1);
    expect(xpath(doc, `${a}/PostalAddress/Street[2]`)).toBe(FULL.shipTo.line2);
    expect(xpath(doc, `${a}/PostalAddress/City`)).toBe(FULL.shipTo.city);
    expect(xpath(doc, `${a}/PostalAddress/State`)).toBe('BY');
    expect(xpath(doc, `${a}/PostalAddress/PostalCode`)).toBe('82467');
    expect(xpath(doc, `${a}/PostalAddress/Country/@isoCountryCode`)).toBe('DE');
    expect(xpath(doc, `${a}/Email`)).toBe(FULL.customer.email);
    expect(xpath(doc, `${a}/Phone/TelephoneNumber/CountryCode`)).toBe('49');
    expect(xpath(doc, `${a}/Phone/TelephoneNumber/Number`)).toBe('8821 555 0199');
    expect(xpath(doc, '//ShipTo/CarrierIdentifier')).toBe('ups');
    expect(xpath(doc, '//ShipTo/TransportInformation/ShippingInstructions/Description')).toBe('11');
    expect(xpath(doc, '//Contact[@role="endUser"]/Name')).toBe(FULL.customer.name);
    expect(xpath(doc, '//Comments[@type="giftMessage"]')).toBe(FULL.order.giftMessage);
    expect(xpath(doc, '//Comments[@type="notes"]')).toBe(FULL.order.notes);
    expect(xpath(doc, '//Extrinsic[@name="trackingNumber"]')).toBe(FULL.shipment.trackingNumber);
    const long = 'Straße '.repeat(2000).trim();
    expect(xpath(render({ ...WITHHELD, shipTo: { ...WITHHELD.shipTo, line1: long } }), `${a}/PostalAddress/Street[1]`)).toBe(long);
  });

  it('has one ItemOut per line: quantity, SupplierPartID from the SKU, Description from the name', () => {
    const doc = render(FULL);
    expect(xpathNumber(doc, 'count(//ItemOut)')).toBe(FULL.lines.length);
    FULL.lines.forEach((line, i) => {
      const item = `//ItemOut[${i + 1}]`;
      expect(xpath(doc, `${item}/@quantity`)).toBe(String(line.quantity));
      expect(xpath(doc, `${item}/@lineNumber`)).toBe(String(i + 1));
      expect(xpath(doc, `${item}/ItemID/SupplierPartID`)).toBe(line.sku);
      expect(xpath(doc, `${item}/ItemDetail/Description`)).toBe(line.name);
      expect(xpath(doc, `${item}/ItemDetail/UnitPrice/Money`)).toBe(line.unitPrice);
      expect(xpath(doc, `${item}/ItemDetail/UnitPrice/Money/@currency`)).toBe('EUR');
    });
    expect(xpath(doc, '//ItemOut[2]/ItemDetail/Extrinsic[@name="Engraving"]')).toBe('A & S');
    expect(xpath(doc, '//ItemOut[1]/ItemDetail/Dimension/@quantity')).toBe('250');
  });

  it('sends an exact total of the disclosed prices', () => {
    expect(xpath(render(FULL), '//OrderRequestHeader/Total/Money')).toBe('67.265');
    expect(orderTotal([{ quantity: 3, unitPrice: '0.10' }, { quantity: 1, unitPrice: '0.2' }])).toBe('0.50');
    expect(orderTotal([{ quantity: 100000, unitPrice: '999999999999.999999' }])).toBe('99999999999999999.900000');
    expect(orderTotal([{ quantity: 1, unitPrice: '1' }, { quantity: 2 }])).toBeUndefined();
  });

  it('marks withheld prices: 0 with a comment where the DTD demands an amount, never a made-up price', () => {
    const doc = render(WITHHELD);
    expect(xpath(doc, '//OrderRequestHeader/Total/Money')).toBe('0');
    expect(xpath(doc, '//ItemOut[1]/ItemDetail/UnitPrice/Money')).toBe('0');
    expect(doc).toContain('<!-- total withheld');
    expect(doc).toContain('<!-- unit price withheld');
    // order.currency withheld too: the configured currency.
    expect(xpath(doc, '//Total/Money/@currency')).toBe('USD');
    expect(xpath(render(WITHHELD, options({ currency: 'CAD' })), '//Total/Money/@currency')).toBe('CAD');
    // A line with neither name nor price needs no ItemDetail.
    expect(xpathNumber(render({ ...WITHHELD, lines: [{ sku: 'A', quantity: 1 }] }), 'count(//ItemDetail)')).toBe(0);
  });

  it("bills the store's own accounts-payable address from formatOptions", () => {
    const doc = render(FULL);
    expect(xpath(doc, '//BillTo/Address/@addressID')).toBe('AP-1');
    expect(xpath(doc, '//BillTo/Address/Name')).toBe('Test Larder Accounts Payable');
    expect(xpath(doc, '//BillTo/Address/PostalAddress/Street')).toBe('1 Depot Road');
    expect(xpath(doc, '//BillTo/Address/Email')).toBe('ap@test-larder.example');
  });

  it('leaves PostalAddress out when the country is withheld (the DTD requires one), and everything else in place', () => {
    const doc = render({ ...WITHHELD, shipTo: { name: 'Ada Example', line1: '12 Sample Street', city: 'Portland' } });
    expect(xpathNumber(doc, 'count(//ShipTo//PostalAddress)')).toBe(0);
    expect(xpath(doc, '//ShipTo/Address/Name')).toBe('Ada Example');
  });
});

describe('cXML escaping', () => {
  const everywhere = (value: string): DropShipOrder => ({
    supplierId: 'creamery',
    order: { id: value, placedAt: value, currency: 'EUR', giftMessage: value, notes: value },
    customer: { name: value, email: value, phone: value },
    shipTo: { name: value, company: value, line1: value, line2: value, city: value, region: value, postalCode: value, country: 'US', phone: value },
    shipment: { id: value, carrier: value, service: value, trackingNumber: value, label: value },
    lines: [{ sku: value, name: value, quantity: 1, unitPrice: '1.00', properties: { [value]: value } }],
  });
  const context = (value: string): RenderContext => ({ deliveryId: value, createdAt: value });

  it('keeps markup, quotes and delimiters as text and strips what XML 1.0 forbids', () => {
    const value = `${NASTY} </Street><Injected a="1"/> ]]> \uFFFE \uD800 &amp; &#0;`;
    const doc = render(everywhere(value), options(), context(value));
    expect(cxmlProblems([doc])).toBe('');
    expect(xpathNumber(doc, 'count(//Injected)')).toBe(0);
    const expected = xmlSafe(value);
    for (const c of ['\u0001', '\uFFFE', '\uD800']) expect(expected).not.toContain(c);
    expect(xpath(doc, '//ShipTo/Address/PostalAddress/Street[1]')).toBe(expected);
    expect(xpath(doc, '//ItemOut/ItemDetail/Description')).toBe(expected);
    // Attributes keep tabs, line breaks and quotes too (written as character references).
    expect(xpath(doc, '//OrderRequestHeader/@orderID')).toBe(expected);
    expect(xpath(doc, '//ItemOut/ItemDetail/Extrinsic/@name')).toBe(expected);
  });

  it('keeps non-ASCII text as UTF-8', () => {
    const doc = render(FULL);
    expect(doc).toContain('Zoë Ångström-Łódź');
    expect(doc).toContain('東京 green tea cheese 🍵');
    expect(Buffer.from(doc, 'utf8').toString('utf8')).toBe(doc);
  });

  it('stays valid and reads back whatever the text (property)', () => {
    const text = fc.string({
      unit: fc.oneof(
        { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
        { weight: 2, arbitrary: fc.constantFrom('<', '>', '&', '"', "'", ']]>', '</Name>', '\r', '\n', '\t', '\u0000', '\u0085', '\uFFFF', '\uDC00', '😀', 'é') },
      ),
      maxLength: 60,
    });
    const samples: Array<{ doc: string; value: string }> = [];
    fc.assert(
      fc.property(text, (value) => {
        samples.push({ doc: render(everywhere(value), options(), context(value)), value });
      }),
      { numRuns: 60 },
    );
    expect(cxmlProblems(samples.map((s) => s.doc))).toBe('');
    for (const { doc, value } of samples.slice(0, 20)) {
      expect(xpath(doc, '//OrderRequestHeader/ShipTo/Address/PostalAddress/City')).toBe(xmlSafe(value));
      expect(xpath(doc, '/cXML/@timestamp')).toBe(xmlSafe(value));
    }
  });
});

describe('cXML shared secret', () => {
  it('is never rendered: the options carry only the name of the variable that holds it', () => {
    const doc = render(FULL);
    expect(doc).not.toContain('SharedSecret');
    expect(doc).not.toContain('CREAMERY_CXML_SECRET');
    expect(cxmlFormat.optionsSchema.safeParse({ ...CXML_OPTIONS, sender: { ...CXML_OPTIONS.sender, sharedSecret: 'coyote' } }).success).toBe(false);
    expect(cxmlFormat.optionsSchema.safeParse({ ...CXML_OPTIONS, sender: { ...CXML_OPTIONS.sender, sharedSecretEnv: 'not a name' } }).success).toBe(false);
  });

  it('is inserted at send time into the Sender credential, escaped, and the document stays valid', () => {
    const withSecret = insertSharedSecret(render(FULL), 'co<y>o&te');
    rendered.push(withSecret);
    expect(cxmlProblems([withSecret])).toBe('');
    expect(xpath(withSecret, '/cXML/Header/Sender/Credential/SharedSecret')).toBe('co<y>o&te');
    expect(xpathNumber(withSecret, 'count(//SharedSecret)')).toBe(1);
    expect(() => insertSharedSecret(withSecret, 'again')).toThrow(/already/);
    expect(() => insertSharedSecret('{"not":"xml"}', 'x')).toThrow(/not a cXML document/);
  });
});

describe('cXML options', () => {
  it('needs the parties, the payload domain and the bill-to; has defaults for the rest', () => {
    expect(cxmlFormat.optionsSchema.safeParse({}).success).toBe(false);
    const { billTo: _billTo, ...noBillTo } = CXML_OPTIONS;
    expect(cxmlFormat.optionsSchema.safeParse(noBillTo).success).toBe(false);
    expect(options()).toMatchObject({
      deploymentMode: 'production',
      lang: 'en',
      currency: 'USD',
      unitOfMeasure: 'EA',
      itemClassification: { domain: 'custom', value: '0' },
    });
    expect(options({ sender: { domain: 'NetworkId', identity: 'x' } }).sender.userAgent).toBe('dropship-pipeline');
  });

  it.each([
    ['a payload domain that is no host name', { payloadIdDomain: 'not a host' }],
    ['a bill-to country that is no ISO code', { billTo: { ...CXML_OPTIONS.billTo, country: 'USA' } }],
    ['an unknown option', { colour: 'blue' }],
    ['a language code with spaces', { lang: 'en US' }],
  ])('rejects %s', (_name, o) => {
    expect(cxmlFormat.optionsSchema.safeParse({ ...CXML_OPTIONS, ...o }).success).toBe(false);
  });
});
