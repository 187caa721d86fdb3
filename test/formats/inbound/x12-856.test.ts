import fc from 'fast-check';
import type { ShipmentConfirmation } from '../../../src/core/confirmation';
import { x12ShipNoticeFormat } from '../../../src/formats/inbound/x12-856';
import { type X12InboundOptions } from '../../../src/formats/inbound/x12-envelope';
import { loadNodeX12, parseWithNodeX12 } from '../x12-reader';
import { asnBody, type AsnShipment, type Delimiters, problemsOf, spec, writeX12 } from './support';

const DEFAULTS: X12InboundOptions = { skuQualifiers: ['SK', 'BP', 'VP'] };
const read = (text: string, options: X12InboundOptions = DEFAULTS) => x12ShipNoticeFormat.read(text, options);

const SHIPMENT: AsnShipment = {
  reference: 'ASN-1001',
  orderId: 'order-1001',
  carrier: 'UPSN',
  trackingNumbers: ['1Z999AA10123456784'],
  lines: [
    { sku: 'MUG-BLUE', quantity: 2 },
    { sku: 'TEA/EARL-GREY', quantity: 1 },
  ],
  shippedAt: '2026-12-05T16:30:00Z',
};

const EXPECTED: ShipmentConfirmation = {
  kind: 'shipment',
  orderId: 'order-1001',
  carrier: 'UPSN',
  trackingNumbers: ['1Z999AA10123456784'],
  lines: [
    { sku: 'MUG-BLUE', quantity: 2 },
    { sku: 'TEA/EARL-GREY', quantity: 1 },
  ],
  shippedAt: '2026-12-05T16:30:00Z',
};

describe('the X12 856 reader', () => {
  it('has id x12-856 and checks its options, naming every problem', () => {
    expect(x12ShipNoticeFormat.id).toBe('x12-856');
    expect(x12ShipNoticeFormat.parseOptions!({})).toEqual({ ok: true, options: DEFAULTS });
    expect(x12ShipNoticeFormat.parseOptions!({ skuQualifiers: ['UP', 'EN'] })).toEqual({ ok: true, options: { skuQualifiers: ['UP', 'EN'] } });
    const bad = x12ShipNoticeFormat.parseOptions!({ skuQualifiers: ['sku', 'SK', ''], extra: 1 });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.problems).toEqual([
      'skuQualifiers.0: must be a two-character product ID qualifier such as "SK"',
      'skuQualifiers.2: must be a two-character product ID qualifier such as "SK"',
      'options: Unrecognized key: "extra"',
    ]);
  });

  it('reads the vendored EdiEngine cross-dock ASN (004010, line-break terminators, S/O/P/I, two orders)', () => {
    const doc = read(spec('x12-856-4010-edi-engine-sample.edi'), { skuQualifiers: ['UP', 'EN'] });
    const common = { kind: 'shipment', carrier: 'OVNT', trackingNumbers: ['0000000008741'], shippedAt: '2009-09-21T00:00:00Z' } as const;
    expect(doc.confirmations).toEqual([
      {
        reference: '000009',
        confirmation: {
          ...common,
          orderId: 'POREF00',
          lines: [
            { sku: '0000000000642', quantity: 12 },
            { sku: '0000000000831', quantity: 12 },
            { sku: '0000000000283', quantity: 12 },
            { sku: '0000000000203', quantity: 12 },
          ],
        },
      },
      { reference: '000009', confirmation: { ...common, orderId: 'POREF01', lines: [{ sku: '0000000000642', quantity: 12 }] } },
    ]);
  });

  it('names the items whose product ids carry none of the SKU qualifiers (the sample has only UP and EN)', () => {
    const problems = problemsOf(() => read(spec('x12-856-4010-edi-engine-sample.edi')));
    expect(problems).toHaveLength(5);
    expect(problems[0]).toBe('transaction set 0001, segment 27 (HL) (item level): no LIN product ID with qualifier SK, BP, VP (our SKU)');
  });

  it.each(['004010', '005010'] as const)('reads an 856 written by the test in %s into the exact confirmation', (version) => {
    const edi = writeX12({ version, functionalId: 'SH', sets: [{ code: '856', body: asnBody(SHIPMENT) }] });
    expect(read(edi).confirmations).toEqual([{ confirmation: EXPECTED, reference: 'ASN-1001' }]);
  });

  it('fills controlNumber from the configured REF at the shipment level', () => {
    const body = asnBody(SHIPMENT);
    body.splice(2, 0, ['REF', 'ZZ', '7']);
    const edi = writeX12({ version: '004010', functionalId: 'SH', sets: [{ code: '856', body }] });
    expect(read(edi, { ...DEFAULTS, controlNumberRef: 'ZZ' }).confirmations).toEqual([{ confirmation: EXPECTED, reference: 'ASN-1001', controlNumber: 7 }]);
    expect(read(edi).confirmations).toEqual([{ confirmation: EXPECTED, reference: 'ASN-1001' }]);
  });

  it('reads tracking numbers from the packs (MAN*CP), removes spaces and dashes, and keeps each once', () => {
    const edi = writeX12({
      version: '005010',
      functionalId: 'SH',
      sets: [{ code: '856', body: asnBody({ ...SHIPMENT, packs: true, trackingNumbers: ['1Z 999 AA1 0123456784', '1Z999AA10123456785', '1Z999AA10123456785'] }) }],
    });
    expect(read(edi).confirmations[0]!.confirmation).toMatchObject({ trackingNumbers: ['1Z999AA10123456784', '1Z999AA10123456785'], lines: EXPECTED.lines });
  });

  it('prefers SK over BP and VP, and takes the qualifier configured', () => {
    const body = asnBody({ ...SHIPMENT, lines: [{ sku: 'OURS-1', quantity: 3 }] });
    const lin = body.find((s) => s[0] === 'LIN')!;
    lin.splice(1, lin.length - 1, '', 'VP', 'THEIRS-1', 'SK', 'OURS-1', 'BP', 'BUYER-1');
    const edi = writeX12({ version: '004010', functionalId: 'SH', sets: [{ code: '856', body }] });
    expect(read(edi).confirmations[0]!.confirmation).toMatchObject({ lines: [{ sku: 'OURS-1', quantity: 3 }] });
    expect(read(edi, { skuQualifiers: ['BP'] }).confirmations[0]!.confirmation).toMatchObject({ lines: [{ sku: 'BUYER-1', quantity: 3 }] });
  });

  it('reads an order level without items as the whole purchase order, and several transaction sets and interchanges in one file', () => {
    const one = writeX12({ version: '004010', functionalId: 'SH', control: 7, sets: [{ code: '856', body: asnBody({ ...SHIPMENT, lines: [] }) }, { code: '856', body: asnBody({ ...SHIPMENT, reference: 'ASN-2', orderId: 'order-2' }) }] });
    const two = writeX12({ version: '005010', functionalId: 'SH', control: 8, sets: [{ code: '856', body: asnBody({ ...SHIPMENT, reference: 'ASN-3', orderId: 'order-3' }) }] });
    const doc = read(`\uFEFF${one}\r\n${two}`);
    expect(doc.confirmations.map((c) => [c.reference, c.confirmation.orderId, 'lines' in c.confirmation ? c.confirmation.lines?.length : undefined])).toEqual([
      ['ASN-1001', 'order-1001', undefined],
      ['ASN-2', 'order-2', 2],
      ['ASN-3', 'order-3', 2],
    ]);
    const { lines: _lines, ...whole } = EXPECTED;
    expect(doc.confirmations[0]!.confirmation).toEqual(whole);
  });

  it('reads odd delimiters and no line breaks (a line feed as the segment terminator too)', () => {
    for (const delimiters of [
      { element: '|', segment: '\n', component: ':', repetition: '`' },
      { element: '^', segment: '\'', component: '\\', repetition: '{' },
      { element: '\u001d', segment: '\u001c', component: '\u001f', repetition: '\u001e' },
    ] satisfies Delimiters[]) {
      const edi = writeX12({ version: '005010', functionalId: 'SH', delimiters, lineBreak: '', sets: [{ code: '856', body: asnBody(SHIPMENT) }] });
      expect(read(edi).confirmations).toEqual([{ confirmation: EXPECTED, reference: 'ASN-1001' }]);
    }
  });

  const nodeX12 = loadNodeX12();
  (nodeX12 ? it : it.skip)('writes test documents node-x12 also reads as valid interchanges (checks the test writer)', () => {
    const edi = writeX12({ version: '005010', functionalId: 'SH', sets: [{ code: '856', body: asnBody(SHIPMENT) }] });
    const parsed = parseWithNodeX12(nodeX12!, edi);
    expect(parsed.segments.filter((s) => s.tag === 'HL').length).toBe(4);
  });

  describe('refuses a document that cannot be read, naming where', () => {
    const good = () => writeX12({ version: '004010', functionalId: 'SH', sets: [{ code: '856', body: asnBody(SHIPMENT) }] });

    it('a wrong SE01 count, SE02, GE01, GE02, IEA01 and IEA02', () => {
      const edi = good()
        .replace(/SE\*(\d+)\*0001~/, (_m, n: string) => `SE*${Number(n) + 1}*0002~`)
        .replace('GE*1*1~', 'GE*2*9~')
        .replace('IEA*1*000000001~', 'IEA*3*000000002~');
      expect(problemsOf(() => read(edi))).toEqual([
        'segment 18 (SE): SE01 says 17 segments, transaction set 0001 has 16 (ST to SE)',
        'segment 18 (SE): SE02 (0002) does not repeat ST02 (0001)',
        'segment 19 (GE): GE01 says 2 transaction sets, the group has 1',
        'segment 19 (GE): GE02 (9) does not repeat GS06 (1)',
        'segment 20 (IEA): IEA01 says 3 functional groups, the interchange has 1',
        'segment 20 (IEA): IEA02 (000000002) does not repeat ISA13 (000000001)',
      ]);
    });

    it('a truncated file (at every cut, never a confirmation)', () => {
      const edi = good();
      for (let cut = 1; cut < edi.length - 1; cut += 7) {
        const problems = problemsOf(() => read(edi.slice(0, cut)));
        expect(problems.join('\n')).toMatch(/cut short|not an X12 interchange|no IEA|no SE|no GE|ISA/);
      }
    });

    it('not X12, another transaction set, an unknown version, a cancellation', () => {
      expect(problemsOf(() => read('order-1001,UPS,1Z999'))).toEqual(['the document does not start with an ISA segment: it is not an X12 interchange']);
      expect(problemsOf(() => read(writeX12({ version: '004010', functionalId: 'PR', sets: [{ code: '855', body: [['BAK', '00', 'AD', 'order-1']] }] })))).toEqual([
        'segment 3 (ST): transaction set 0001 is a 855, not a 856',
      ]);
      expect(problemsOf(() => read(good().replace('*00401*', '*00305*')))).toEqual(['segment 1 (ISA): ISA12 is "00305"; versions 00401 (004010) and 00501 (005010) are read']);
      expect(problemsOf(() => read(good().replace('BSN*00*', 'BSN*01*')))).toEqual(['transaction set 0001, segment 4 (BSN): BSN01 01 cancels a ship notice; a cancellation is not a shipment']);
    });

    it('missing PRF, carrier, tracking numbers; a wrong quantity, a bad order id and tracking number (never quoting them)', () => {
      const body = asnBody({ ...SHIPMENT, orderId: 'bad order id!', trackingNumbers: ['1Z?'] });
      const sn1 = body.find((s) => s[0] === 'SN1')!;
      sn1[2] = 'two';
      const edi = writeX12({ version: '005010', functionalId: 'SH', sets: [{ code: '856', body }] });
      const problems = problemsOf(() => read(edi));
      expect(problems).toEqual([
        'transaction set 0001, segment 11 (HL) (item level): SN102 (quantity shipped) must be a whole number',
        'transaction set 0001, segment 9 (HL) (order level): orderId must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit, not ending with "." and without ".."',
        'transaction set 0001, segment 9 (HL) (order level): trackingNumbers.0 must be 4-64 letters and digits',
      ]);
      expect(problems.join('\n')).not.toMatch(/bad order id|1Z\?/);
      const bare = asnBody({ ...SHIPMENT }).filter((s) => !['PRF', 'TD5', 'REF'].includes(s[0]!));
      expect(problemsOf(() => read(writeX12({ version: '004010', functionalId: 'SH', sets: [{ code: '856', body: bare }] })))).toEqual([
        'transaction set 0001, segment 7 (HL) (order level): has no PRF01 (our purchase order number)',
      ]);
      const noCarrier = asnBody({ ...SHIPMENT }).filter((s) => !['TD5', 'REF'].includes(s[0]!));
      expect(problemsOf(() => read(writeX12({ version: '004010', functionalId: 'SH', sets: [{ code: '856', body: noCarrier }] })))).toEqual([
        'transaction set 0001, segment 7 (HL) (order level): no TD5 names the carrier (TD503 SCAC or TD505 routing)',
        'transaction set 0001, segment 7 (HL) (order level): no tracking number (REF*2I, REF*CN, MAN*CP or MAN*GM)',
      ]);
    });

    it('a huge document, before reading it', () => {
      const huge = good() + ' '.repeat(10 * 1024 * 1024);
      expect(problemsOf(() => read(huge))).toEqual([`the document is ${huge.length} characters; at most ${10 * 1024 * 1024} are read`]);
    });
  });

  it('reads back what it is given: generated shipments written as 856s with random delimiters (property)', () => {
    const POOL = ['*', '~', '|', '^', '!', ':', ';', '>', '<', '{', '}', '#', '$', '%', '@', '\\', '`', '\n', '\u001c', '\u001d'];
    const delimiters = fc.shuffledSubarray(POOL, { minLength: 4, maxLength: 4 }).map(([element, segment, component, repetition]) => ({ element, segment, component, repetition }) as Delimiters);
    const alnum = (min: number, max: number) => fc.stringMatching(new RegExp(`^[A-Za-z0-9]{${min},${max}}$`));
    const shipment = fc.record({
      reference: alnum(1, 22),
      orderId: alnum(1, 22),
      carrier: fc.stringMatching(/^[A-Za-z0-9](?:[A-Za-z0-9 ]{0,20}[A-Za-z0-9])?$/),
      trackingNumbers: fc.uniqueArray(alnum(4, 30), { minLength: 1, maxLength: 4 }),
      lines: fc.array(fc.record({ sku: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9/-]{0,30}$/), quantity: fc.integer({ min: 1, max: 100_000 }) }), { maxLength: 6 }),
      shippedAt: fc.option(fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z')), { nil: undefined }),
      packs: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(shipment, { minLength: 1, maxLength: 3 }), fc.constantFrom('004010', '005010'), delimiters, fc.constantFrom('', '\n', '\r\n'), (shipments, version, d, lineBreak) => {
        const edi = writeX12({ version, functionalId: 'SH', delimiters: d, lineBreak: d.segment === '\n' ? '' : lineBreak, sets: shipments.map((s) => ({ code: '856', body: asnBody(s) })) });
        const expected = shipments.map((s) => ({
          reference: s.reference,
          confirmation: {
            kind: 'shipment',
            orderId: s.orderId,
            carrier: s.carrier,
            trackingNumbers: s.trackingNumbers,
            ...(s.lines.length > 0 ? { lines: s.lines } : {}),
            ...(s.shippedAt !== undefined ? { shippedAt: s.shippedAt } : {}),
          },
        }));
        expect(read(edi).confirmations).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});

