import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { DropshipError } from '../../src/errors';
import type { DropShipOrder, RenderContext } from '../../src/formats/format';
import { type X12Options, x12Format, x12Text } from '../../src/formats/x12-850';
import { CONTEXT, FULL, WITHHELD, X12_FULL, X12_OPTIONS, copy } from './po-fixtures';
import { checkEnvelope, el, loadNodeX12, parseWithNodeX12, readX12 } from './x12-reader';
import { SPECS_DIR } from '../../testkit/specs';

const SAMPLES = {
  stedi5010: readFileSync(path.join(SPECS_DIR, 'x12-850-dropship-5010-stedi-sample.edi'), 'utf8'),
  vics4010: readFileSync(path.join(SPECS_DIR, 'x12-850-4010-vics-sample.edi'), 'utf8'),
};

/** The test supplier's options; with `transliterate: true` unless a test says otherwise, so `X12_FULL` can be written. */
const options = (overrides: Record<string, unknown> = {}): X12Options => x12Format.optionsSchema.parse({ ...X12_OPTIONS, transliterate: true, ...overrides });

/** Every document this file renders, checked again as a whole in `afterAll`. */
const rendered: string[] = [];
function render(po: DropShipOrder, o: X12Options = options(), context: RenderContext = CONTEXT): string {
  const edi = x12Format.render(copy(po), o, context);
  rendered.push(edi);
  return edi;
}

describe('the vendored samples in specs/ (checks the checks)', () => {
  it.each(Object.entries(SAMPLES))('%s keeps the envelope rules the renderer is held to', (_name, edi) => {
    checkEnvelope(readX12(edi));
  });

  it('the drop-ship sample has the shape the renderer produces: BEG*00*DS, TD5 routing, N1*ST/N3/N4, PO1 + PID*F, CTT', () => {
    const sample = readX12(SAMPLES.stedi5010);
    const ours = readX12(render(WITHHELD));
    for (const doc of [sample, ours]) {
      expect([el(doc, 'BEG', 1), el(doc, 'BEG', 2)]).toEqual(['00', 'DS']);
      expect([el(doc, 'TD5', 4)]).toEqual(['ZZ']);
      const tags = doc.segments.map((s) => s.tag);
      const n1 = tags.indexOf('N1');
      expect(el(doc, 'N1', 1)).toBe('ST');
      expect(tags.slice(n1 + 1, n1 + 3)).toEqual(['N3', 'N4']);
      tags.forEach((t, i) => {
        if (t === 'PO1') expect([tags[i + 1], doc.segments[i + 1]?.elements[0]]).toEqual(['PID', 'F']);
      });
      expect(doc.segments.filter((s) => s.tag === 'PO1').every((s) => s.elements[2] === 'EA' && s.elements.includes('SK'))).toBe(true);
      // GS has 8 elements, ISA 16, in both.
      expect([doc.segments[0]?.elements.length, doc.segments[1]?.elements.length]).toEqual([16, 8]);
    }
    expect([ours.element, ours.segment, ours.component, ours.isa11]).toEqual([sample.element, sample.segment, sample.component, '^']);
  });
});

describe('X12 850 envelopes', () => {
  it('pads ISA fields to their widths and takes ids and qualifiers from formatOptions', () => {
    const doc = readX12(render(X12_FULL));
    const isa = doc.segments[0]?.elements ?? [];
    expect(isa.slice(0, 8)).toEqual(['00', '          ', '00', '          ', 'ZZ', 'TESTLARDER     ', '01', '123456789      ']);
    expect(isa.slice(10)).toEqual(['^', '00501', '000000042', '0', 'T', '>']);
    expect(doc.segments[1]?.elements).toEqual(['PO', 'TESTLARDER', 'CREAMERYPO', '20261120', '1504', '42', 'X', '005010']);
  });

  it('dates ISA09/ISA10 and GS04/GS05 from context.createdAt, BEG05 from the order date, as written', () => {
    const doc = readX12(render(X12_FULL, options(), { ...CONTEXT, createdAt: '2027-01-02T03:04:59+01:00' }));
    expect(doc.segments[0]?.elements.slice(8, 10)).toEqual(['270102', '0304']);
    expect([el(doc, 'GS', 4), el(doc, 'GS', 5)]).toEqual(['20270102', '0304']);
    expect(el(doc, 'BEG', 5)).toBe('20261120');
    const undated = readX12(render({ ...WITHHELD, order: { id: '7' } }, options(), { ...CONTEXT, createdAt: '2027-01-02T03:04:59Z' }));
    expect(el(undated, 'BEG', 5)).toBe('20270102');
  });

  it('uses the control number for ISA13/IEA02 (9 digits), GS06/GE02 and ST02/SE02; 1 when none is given', () => {
    const doc = readX12(render(WITHHELD, options(), { ...CONTEXT, controlNumber: 123456789 }));
    expect([doc.segments[0]?.elements[12], el(doc, 'IEA', 2), el(doc, 'GS', 6), el(doc, 'GE', 2), el(doc, 'ST', 2), el(doc, 'SE', 2)]).toEqual([
      '123456789',
      '123456789',
      '123456789',
      '123456789',
      '123456789',
      '123456789',
    ]);
    const first = readX12(render(WITHHELD, options(), { deliveryId: 'd', createdAt: CONTEXT.createdAt }));
    expect([first.segments[0]?.elements[12], el(first, 'GS', 6), el(first, 'ST', 2)]).toEqual(['000000001', '1', '000000001']);
    expect(x12Format.needsControlNumber).toBe(true);
  });

  it.each([0, -1, 1.5, 1_000_000_000, Number.NaN])('refuses control number %p', (controlNumber) => {
    expect(() => x12Format.render(WITHHELD, options(), { ...CONTEXT, controlNumber })).toThrow(RangeError);
  });

  it('writes 004010 when asked: ISA11 "U", ISA12 00401, GS08 004010 or the configured variant', () => {
    const doc = readX12(render(X12_FULL, options({ version: '004010' })));
    expect(doc.segments[0]?.elements.slice(10, 12)).toEqual(['U', '00401']);
    expect(el(doc, 'GS', 8)).toBe('004010');
    expect(el(readX12(render(X12_FULL, options({ version: '004010', groupVersionCode: '004010VICS' }))), 'GS', 8)).toBe('004010VICS');
    // "^" is no delimiter in 004010, so it stays in text.
    expect(el(doc, 'MSG', 1, 1)).toContain('^bell^');
  });

  it('counts segments for SE01 from ST to SE inclusive', () => {
    const doc = readX12(render(X12_FULL));
    const tags = doc.segments.map((s) => s.tag);
    expect(el(doc, 'SE', 1)).toBe(String(tags.indexOf('SE') - tags.indexOf('ST') + 1));
    expect(el(doc, 'SE', 1)).toBe('28');
  });

  it('honours configured delimiters and line breaks', () => {
    const edi = render(X12_FULL, options({ delimiters: { element: '|', segment: '\u001C', component: '\\', repetition: '`' }, lineBreak: 'none' }));
    const doc = readX12(edi);
    expect([doc.element, doc.segment, doc.component, doc.isa11]).toEqual(['|', '\u001C', '\\', '`']);
    expect(edi).not.toContain('\n');
    checkEnvelope(doc);
    expect(render(WITHHELD, options({ lineBreak: 'crlf' }))).toMatch(/^ISA[^\r\n]{102}~\r\nGS/);
  });
});

describe('X12 850 content', () => {
  it('carries the order: BEG*00*DS with the PO number, ship-to in N1/N2/N3/N4, contact in PER, one PO1 + PID per line, CTT, AMT', () => {
    const doc = readX12(render(X12_FULL));
    expect(doc.segments.find((s) => s.tag === 'BEG')?.elements).toEqual(['00', 'DS', '1001', '', '20261120']);
    expect(el(doc, 'CUR', 2)).toBe('EUR');
    expect(el(doc, 'REF', 2)).toBe('1Z999AA10123456784');
    expect(el(doc, 'TD5', 5)).toBe('ups 11');
    expect(el(doc, 'N1', 2)).toBe('Zoe Angstrom-Lodz');
    expect(el(doc, 'N2', 1)).toBe('Strasse & Sohne GmbH <Lieferung');
    expect(doc.segments.find((s) => s.tag === 'N4')?.elements).toEqual(['Garmisch-Partenkirchen', 'BY', '82467', 'DE']);
    expect(doc.segments.find((s) => s.tag === 'PER')?.elements).toEqual(['IC', 'Zoe Angstrom-Lodz', 'TE', '+49 8821 555 0199', 'EM', 'zoe.angstrom@example.com']);
    const po1 = doc.segments.filter((s) => s.tag === 'PO1').map((s) => s.elements);
    expect(po1).toEqual([
      ['1', '2', 'EA', '12', '', 'SK', 'VC-CHEVRE'],
      ['2', '3', 'EA', '6.255', '', 'SK', 'BUTTER-42'],
      ['3', '1', 'EA', '24.5', '', 'SK', 'VC-TEA/1'],
    ]);
    expect(doc.segments.filter((s) => s.tag === 'PID').map((s) => s.elements[4])).toEqual([
      // ">" is this interchange's component separator, so it becomes a space (X12 has no escape).
      'Chevre log -- 200 g <<frais',
      'Cultured butter, salted; "Normandy style" 250g <limited & rare seasonal others',
      'Dong Jing green tea cheese (series speciale)',
    ]);
    expect(doc.segments.filter((s) => s.tag === 'PO4').map((s) => s.elements)).toEqual([
      ['1', '', '', '', 'G', '250', 'GR'],
      ['1', '', '', '', 'G', '1000.5', 'GR'],
    ]);
    expect([el(doc, 'CTT', 1), el(doc, 'AMT', 1), el(doc, 'AMT', 2)]).toEqual(['3', 'TT', '67.265']);
  });

  it('wraps a long street into a second N3 instead of losing it, each line at most 55 characters', () => {
    const doc = readX12(render(X12_FULL));
    const lines = doc.segments.filter((s) => s.tag === 'N3').flatMap((s) => s.elements);
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(55);
    const safe = (v: string) => x12Text(v, 'extended', ['*', '~', '>', '^'], true);
    expect(lines.join(' ')).toBe(`${safe(X12_FULL.shipTo.line1 ?? '')} ${safe(X12_FULL.shipTo.line2 ?? '')}`);
  });

  it('sends no price, no AMT and no contact when the allow-list withholds them', () => {
    const doc = readX12(render(WITHHELD));
    expect(doc.segments.filter((s) => s.tag === 'PO1').map((s) => s.elements)).toEqual([
      ['1', '1', 'EA', '', '', 'SK', 'VC-CHEVRE'],
      ['2', '3', 'EA', '', '', 'SK', 'BUTTER-42'],
    ]);
    expect(doc.segments.map((s) => s.tag)).not.toEqual(expect.arrayContaining(['AMT', 'PER', 'CUR', 'REF', 'N9']));
  });

  it('writes amounts as X12 decimals, exactly (no float sums)', () => {
    const po: DropShipOrder = { ...WITHHELD, lines: [{ sku: 'A', quantity: 3, unitPrice: '0.10' }, { sku: 'B', quantity: 1, unitPrice: '007.000' }] };
    const doc = readX12(render(po));
    expect(doc.segments.filter((s) => s.tag === 'PO1').map((s) => s.elements[3])).toEqual(['0.1', '7']);
    expect(el(doc, 'AMT', 2)).toBe('7.3');
  });

  it('puts gift messages and notes in N9/MSG, wrapped at 264 characters, and line properties in MSG', () => {
    const long = 'word '.repeat(120).trim();
    const doc = readX12(render({ ...WITHHELD, order: { id: '9', giftMessage: long }, lines: [{ sku: 'A', quantity: 1, properties: { Engraving: 'A & S' } }] }));
    const msgs = doc.segments.filter((s) => s.tag === 'MSG').map((s) => s.elements[0] ?? '');
    expect(el(doc, 'N9', 2)).toBe('GIFT MESSAGE');
    expect(msgs.slice(0, -1).join(' ')).toBe(long);
    for (const m of msgs) expect(m.length).toBeLessThanOrEqual(264);
    expect(msgs[msgs.length - 1]).toBe('Engraving: A & S');
  });
});

describe('X12 850 sanitising', () => {
  const po = (name: string, extra: Partial<DropShipOrder['shipTo']> = {}): DropShipOrder => ({
    ...WITHHELD,
    shipTo: { ...WITHHELD.shipTo, name, ...extra },
    lines: [{ sku: 'A-1', name, quantity: 1 }],
  });

  it('replaces delimiter characters inside values with spaces, so no value can add an element or a segment', () => {
    const doc = readX12(render(po('Ann*Bee~ST*850*X>Y^Z\nnext')));
    expect(el(doc, 'N1', 2)).toBe('Ann Bee ST 850 X Y Z next');
    expect(el(doc, 'PID', 5)).toBe('Ann Bee ST 850 X Y Z next');
    expect(doc.segments.filter((s) => s.tag === 'ST')).toHaveLength(1);
  });

  it('extended (default): a value with characters outside printable ASCII holds the order, naming the field and not the value', () => {
    const strict = options({ transliterate: false });
    const view = { ...po('Зоя Иванова', { city: 'Москва' }), customer: { name: 'Ivan Buyer' } };
    expect(x12Format.check?.(copy(view), strict).problems).toEqual([
      'shipTo.name has characters X12 charset "extended" cannot carry (formatOptions.transliterate: true writes them in ASCII where a standard spelling exists)',
      'shipTo.city has characters X12 charset "extended" cannot carry (formatOptions.transliterate: true writes them in ASCII where a standard spelling exists)',
      'lines[0].name has characters X12 charset "extended" cannot carry (formatOptions.transliterate: true writes them in ASCII where a standard spelling exists)',
    ]);
    // render refuses too: the buyer's name never stands in for the consignee, and no city is dropped.
    expect(() => x12Format.render(copy(view), strict, CONTEXT)).toThrow(DropshipError);
    try {
      x12Format.render(copy(view), strict, CONTEXT);
    } catch (err) {
      expect(String(err)).not.toMatch(/Зоя|Москва|Ivan/);
    }
    // Accents are characters too: without transliteration, "Zoë" is not "Zoe".
    expect(x12Format.check?.(copy(po('Zoë')), strict).problems).toHaveLength(2);
  });

  it('with transliterate: true, writes the standard ASCII spelling of every script; what has none (an emoji) still holds', () => {
    const doc = readX12(render(po('Zoë Łódź Straße Œuvre “quoted” — 東京 ½ kg', { city: 'Москва' })));
    expect(el(doc, 'N1', 2)).toBe('Zoe Lodz Strasse OEuvre "quoted" -- Dong Jing 1/2 kg');
    expect(el(doc, 'N4', 1)).toBe('Moskva');
    expect(x12Format.check?.(copy(po('Gift 😀')), options()).problems).toEqual([
      'shipTo.name has characters X12 charset "extended" cannot carry and that have no ASCII transliteration',
      'lines[0].name has characters X12 charset "extended" cannot carry and that have no ASCII transliteration',
    ]);
  });

  it('drops invisible formatting (zero-width space, soft hyphen, direction marks): it changes no value a reader sees', () => {
    const doc = readX12(render(po('Ann\u200BBee\u00AD Smith\u200E'), options({ transliterate: false })));
    expect(el(doc, 'N1', 2)).toBe('AnnBee Smith');
  });

  it('basic: upper case, and only the basic character set; other punctuation holds', () => {
    const edi = render(po('Zoë 4 home (x) 50 ok?'), options({ charset: 'basic' }));
    expect(el(readX12(edi), 'N1', 2)).toBe('ZOE 4 HOME (X) 50 OK?');
    const body = edi.replace(/[*~>^\n]/g, '');
    expect(body).toMatch(/^[A-Z0-9 !"&'()+,\-./:;?=]*$/);
    expect(x12Format.check?.(copy(po('Apt #4 @home')), options({ charset: 'basic' })).problems).toEqual([
      'shipTo.name has characters X12 charset "basic" cannot carry and that have no ASCII transliteration',
      'lines[0].name has characters X12 charset "basic" cannot carry and that have no ASCII transliteration',
    ]);
  });

  it('utf8: keeps every character but controls and delimiters', () => {
    const doc = readX12(render(po('Zoë 東京 😀*x'), options({ charset: 'utf8' })));
    expect(el(doc, 'N1', 2)).toBe('Zoë 東京 😀 x');
  });

  it('never cuts: a name or city longer than its element holds; a long description continues in more PID segments', () => {
    const name = `${'x'.repeat(79)}😀😀tail`;
    expect(x12Format.check?.(copy(po(name)), options({ charset: 'utf8' })).problems).toEqual(['shipTo.name is 85 characters; X12 N102 takes at most 60']);
    const city = 'Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch';
    expect(x12Format.check?.(copy(po('A', { city })), options()).problems).toEqual([`shipTo.city is ${city.length} characters; X12 N401 takes at most 30`]);
    // Lengths count characters: an emoji is one (two UTF-16 units), and is kept whole.
    const doc = readX12(render({ ...po('A'), lines: [{ sku: 'A-1', name, quantity: 1 }] }, options({ charset: 'utf8' })));
    expect(doc.segments.filter((s) => s.tag === 'PID').map((s) => s.elements[4])).toEqual([`${'x'.repeat(79)}😀`, '😀tail']);
    // "e" + combining accent is one character after NFC, and fits exactly.
    const accented = readX12(render({ ...po('A'), lines: [{ sku: 'A-1', name: `${'x'.repeat(79)}e\u0301`, quantity: 1 }] }, options({ charset: 'utf8' })));
    expect(el(accented, 'PID', 5)).toBe(`${'x'.repeat(79)}é`);
  });

  it('writes a state or province name as its two-letter ISO 3166-2 code, and leaves out (unsent) codes that cannot be sent unchanged', () => {
    const view: DropShipOrder = {
      ...po('A', { region: 'Oregon', postalCode: '1234567890123456', country: 'US', phone: '555*0100' }),
      customer: { email: 'ann~bee@example.com' },
    };
    const doc = readX12(render(view));
    expect(doc.segments.find((s) => s.tag === 'N4')?.elements).toEqual(['Portland', 'OR', '', 'US']);
    expect(doc.segments.map((s) => s.tag)).not.toContain('PER');
    expect(x12Format.check?.(copy(view), options())).toEqual({ problems: [], unsent: ['customer.email', 'shipTo.phone', 'shipTo.postalCode'] });
    expect(x12Format.check?.(copy(po('A', { region: 'Nowhere Land' })), options()).unsent).toEqual(['shipTo.region']);
  });

  it('never lets the buyer stand in for the consignee: a ship-to without name or company holds; without any ship-to, the contact goes in the header', () => {
    const { name: _name, ...nameless } = WITHHELD.shipTo;
    expect(x12Format.check?.({ ...WITHHELD, shipTo: nameless, customer: { name: 'Bea Buyer' } }, options()).problems).toEqual([
      "shipTo.name and shipTo.company are both withheld or empty, but X12 N1*ST needs the consignee (the customer's name is not sent in its place)",
    ]);
    // A name of control characters only is no name either.
    expect(x12Format.check?.({ ...WITHHELD, shipTo: { ...nameless, name: '\u0001\u0002' }, customer: { name: 'Bea Buyer' } }, options()).problems).toEqual([
      "shipTo.name and shipTo.company are both withheld or empty, but X12 N1*ST needs the consignee (the customer's name is not sent in its place)",
    ]);
    const company = readX12(render({ ...WITHHELD, shipTo: { ...nameless, company: 'Acme Ltd' }, customer: { name: 'Bea Buyer' } }));
    expect([el(company, 'N1', 1), el(company, 'N1', 2), el(company, 'PER', 2)]).toEqual(['ST', 'Acme Ltd', 'Bea Buyer']);
    const contactOnly = readX12(render({ ...WITHHELD, shipTo: {}, customer: { name: 'Bea Buyer', email: 'bea@example.com' } }));
    const tags = contactOnly.segments.map((s) => s.tag);
    expect(tags).not.toContain('N1');
    expect(tags.indexOf('PER')).toBeLessThan(tags.indexOf('PO1'));
    expect(contactOnly.segments.find((s) => s.tag === 'PER')?.elements).toEqual(['IC', 'Bea Buyer', 'EM', 'bea@example.com']);
  });

  it('writes identifiers exactly as given: SKUs that differ only in whitespace stay two items; edge whitespace holds', () => {
    const doc = readX12(render({ ...WITHHELD, lines: [{ sku: 'A 1', quantity: 1 }, { sku: 'A  1', quantity: 2 }] }));
    expect(doc.segments.filter((s) => s.tag === 'PO1').map((s) => s.elements[6])).toEqual(['A 1', 'A  1']);
    const problems = x12Format.check?.({ ...WITHHELD, lines: [{ sku: 'A1 ', quantity: 1 }, { sku: 'A\t1', quantity: 1 }, { sku: 'A1', quantity: 1 }] }, options()).problems;
    expect(problems).toEqual([
      'lines[0].sku has characters X12 PO107 (SKU) cannot carry with charset "extended" and these delimiters (choose other delimiters or charset)',
      'lines[1].sku has characters X12 PO107 (SKU) cannot carry with charset "extended" and these delimiters (choose other delimiters or charset)',
    ]);
  });

  it('refuses to render a PO whose order id or SKU cannot be sent unchanged, naming the element and not the value', () => {
    const attempt = (p: DropShipOrder, o = options()) => () => x12Format.render(p, o, CONTEXT);
    const secretSku = 'SKU*WITH*STARS';
    expect(attempt({ ...WITHHELD, lines: [{ sku: secretSku, quantity: 1 }] })).toThrow(DropshipError);
    try {
      attempt({ ...WITHHELD, lines: [{ sku: secretSku, quantity: 1 }] })();
    } catch (err) {
      expect(err).toMatchObject({ code: 'EINVALID_ORDER', problems: [expect.stringContaining('lines[0].sku')] });
      expect(String(err)).not.toContain(secretSku);
    }
    expect(attempt({ ...WITHHELD, lines: [{ sku: 'x'.repeat(49), quantity: 1 }] })).toThrow(/PO107/);
    expect(attempt({ ...WITHHELD, order: { id: 'A'.repeat(23) } })).toThrow(DropshipError);
    expect(attempt({ ...WITHHELD, order: {} })).toThrow(/order.id is withheld/);
    expect(attempt({ ...WITHHELD, lines: [{ sku: 'vc_1', quantity: 1 }] }, options({ charset: 'basic' }))).toThrow(DropshipError);
    // Upper-casing is what the basic character set means, so that is no change of identity.
    expect(el(readX12(render({ ...WITHHELD, lines: [{ sku: 'vc-1', quantity: 1 }] }, options({ charset: 'basic' }))), 'PO1', 7)).toBe('VC-1');
  });
});

describe('X12 850 options', () => {
  const parse = (o: Record<string, unknown>) => x12Format.optionsSchema.safeParse({ ...X12_OPTIONS, ...o });

  it('has defaults for everything but the parties', () => {
    expect(x12Format.optionsSchema.parse(X12_OPTIONS)).toMatchObject({
      version: '005010',
      usage: 'test',
      acknowledgmentRequested: false,
      delimiters: { element: '*', segment: '~', component: '>', repetition: '^' },
      lineBreak: 'lf',
      charset: 'extended',
      unitOfMeasure: 'EA',
    });
    expect(x12Format.optionsSchema.safeParse({}).success).toBe(false);
  });

  it.each([
    ['equal delimiters', { delimiters: { element: '*', segment: '*' } }],
    ['a letter as delimiter', { delimiters: { element: 'A' } }],
    ['"." as delimiter', { delimiters: { component: '.' } }],
    ['an id with a delimiter', { sender: { qualifier: 'ZZ', id: 'A*B' } }],
    ['an id longer than 15', { sender: { qualifier: 'ZZ', id: 'X'.repeat(16) } }],
    ['a one-character id without an application code', { sender: { qualifier: 'ZZ', id: 'X' } }],
    ['a bad qualifier', { receiver: { qualifier: 'zz', id: 'X1' } }],
    ['line breaks after a line-break terminator', { delimiters: { segment: '\n' } }],
    ['an unknown option', { colour: 'blue' }],
  ])('rejects %s', (_name, o) => {
    expect(parse(o).success).toBe(false);
  });
});

describe('X12 850 documents cannot be broken', () => {
  const text = fc.string({
    unit: fc.oneof(
      { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
      { weight: 2, arbitrary: fc.constantFrom('*', '~', '>', '^', '|', '\n', '\r', '\t', '\u0000', '\uD800', 'é', 'ß', '😀', '東') },
    ),
    maxLength: 120,
  });
  const LIMITS: Record<string, number> = { BEG03: 22, N102: 60, N201: 60, N301: 55, N302: 55, N401: 30, N402: 2, N403: 15, N404: 3, PER02: 60, PID05: 80, MSG01: 264, TD505: 35, REF02: 50, PO107: 48 };

  it('keeps envelope, character set and element lengths whatever the text, for every charset', () => {
    fc.assert(
      fc.property(text, text, text, text, text, fc.constantFrom('basic', 'extended', 'utf8') as fc.Arbitrary<X12Options['charset']>, (name, street, city, description, message, charset) => {
        const po: DropShipOrder = {
          ...X12_FULL,
          order: { ...X12_FULL.order, giftMessage: message },
          shipTo: { ...X12_FULL.shipTo, name, line1: street, city },
          lines: [{ sku: 'SKU-1', name: description, quantity: 2, unitPrice: '1.5', properties: { [message.slice(0, 10)]: name } }],
        };
        const o = options({ charset });
        const checked = x12Format.check?.(copy(po), o);
        if (checked && checked.problems.length > 0) {
          // Held, not written: render refuses with the same problems.
          expect(() => x12Format.render(copy(po), o, CONTEXT)).toThrow(DropshipError);
          return;
        }
        const edi = render(po, o);
        const doc = readX12(edi);
        checkEnvelope(doc);
        expect(doc.segments.filter((s) => s.tag === 'PO1')).toHaveLength(1);
        expect(doc.segments.filter((s) => s.tag === 'ST')).toHaveLength(1);
        for (const s of doc.segments) {
          s.elements.forEach((value, i) => {
            const max = LIMITS[`${s.tag}${String(i + 1).padStart(2, '0')}`];
            if (max !== undefined) expect([...value].length).toBeLessThanOrEqual(max);
          });
        }
        const content = edi.replace(/[*~>^\n]/g, '');
        if (charset === 'basic') expect(content).toMatch(/^[A-Z0-9 !"&'()+,\-./:;?=]*$/);
        if (charset === 'extended') expect(content).toMatch(/^[\x20-\x7E]*$/);
        // Never a control character or a lone surrogate, whatever the charset.
        expect(content).not.toMatch(/[\p{Cc}]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/u);
      }),
      { numRuns: 150 },
    );
  });

  it('writes every value that fits, whatever delimiters and control characters it holds', () => {
    const writable = fc.string({ unit: fc.constantFrom('a', 'B', '7', ' ', '-', '*', '~', '>', '^', '|', '\n', '\t', '\u0000'), maxLength: 30 });
    fc.assert(
      fc.property(writable, writable, writable, (name, street, city) => {
        const po: DropShipOrder = { ...WITHHELD, shipTo: { ...WITHHELD.shipTo, name: `N ${name}`, line1: `1 ${street}`, city: `C ${city}` } };
        const doc = readX12(render(po));
        checkEnvelope(doc);
        expect(el(doc, 'N1', 2)).toBe(x12Text(`N ${name}`, 'extended', ['*', '~', '>', '^']));
      }),
      { numRuns: 80 },
    );
  });
});

const nodeX12 = loadNodeX12();
(nodeX12 ? describe : describe.skip)('parsed back with node-x12 (skipped until `npm install --save-dev node-x12`)', () => {
  it('parses the samples, as a check of the check', () => {
    if (!nodeX12) return;
    for (const edi of Object.values(SAMPLES)) expect(parseWithNodeX12(nodeX12, edi).segments.length).toBe(readX12(edi).segments.length);
  });

  it('parses every rendered document strictly and reads back what the order says', () => {
    if (!nodeX12) return;
    const doc = render(X12_FULL);
    const { interchange, segments } = parseWithNodeX12(nodeX12, doc);
    expect(interchange.functionalGroups).toHaveLength(1);
    expect(interchange.functionalGroups[0]?.transactions).toHaveLength(1);
    const tx = interchange.functionalGroups[0]?.transactions[0];
    expect(tx?.header.valueOf(1)).toBe('850');
    expect(interchange.header.valueOf(6)?.trim()).toBe('TESTLARDER');
    expect(interchange.header.valueOf(8)?.trim()).toBe('123456789');
    const po1 = tx?.segments.filter((s) => s.tag === 'PO1') ?? [];
    expect(po1.map((s) => [s.valueOf(2), s.valueOf(7)])).toEqual(FULL.lines.map((l) => [String(l.quantity), l.sku]));
    expect(tx?.segments.find((s) => s.tag === 'BEG')?.valueOf(3)).toBe(FULL.order.id);
    expect(tx?.segments.find((s) => s.tag === 'N4')?.valueOf(3)).toBe(FULL.shipTo.postalCode);
    expect(segments.map((s) => s.tag)).toEqual(readX12(doc).segments.map((s) => s.tag));
  });
});

afterAll(() => {
  // Every document rendered above: the same envelope rules, and node-x12's strict parse when installed.
  expect(rendered.length).toBeGreaterThan(100);
  for (const edi of rendered) {
    const mine = readX12(edi);
    checkEnvelope(mine);
    if (nodeX12) {
      const theirs = parseWithNodeX12(nodeX12, edi).segments;
      // node-x12 reads ISA13 and IEA02 as numbers.
      const normalise = (s: { tag: string; elements: string[] }) =>
        s.tag === 'ISA' || s.tag === 'IEA' ? { tag: s.tag, elements: s.elements.map((e, i) => ((s.tag === 'ISA' && i === 12) || (s.tag === 'IEA' && i === 1) ? String(Number(e)) : e)) } : s;
      expect(theirs.map(normalise)).toEqual(mine.segments.map(normalise));
    }
  }
});
