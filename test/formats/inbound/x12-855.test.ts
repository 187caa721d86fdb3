import { x12AcknowledgmentFormat } from '../../../src/formats/inbound/x12-855';
import type { X12InboundOptions } from '../../../src/formats/inbound/x12-envelope';
import { problemsOf, spec, writeX12 } from './support';

const DEFAULTS: X12InboundOptions = { skuQualifiers: ['SK', 'BP', 'VP'] };
const read = (text: string, options: X12InboundOptions = DEFAULTS) => x12AcknowledgmentFormat.read(text, options);

/** An 855 for order-1001 with the given BAK02 and lines (PO1 with the SKU under SK, then its ACKs). */
function ack855(version: '004010' | '005010', bak02: string, lines: Array<{ sku: string; ordered: number; acks: Array<[string, string?]> }>, bak08?: string): string {
  const body: string[][] = [['BAK', '00', bak02, 'order-1001', '20261206', '', '', '', ...(bak08 !== undefined ? [bak08] : [])]];
  lines.forEach((line, i) => {
    body.push(['PO1', String(i + 1), String(line.ordered), 'EA', '9.99', '', 'VC', `VENDOR-${i}`, 'SK', line.sku]);
    for (const [code, quantity] of line.acks) body.push(['ACK', code, quantity ?? '', 'EA']);
  });
  body.push(['CTT', String(lines.length)]);
  return writeX12({ version, functionalId: 'PR', sets: [{ code: '855', body }] });
}

describe('the X12 855 reader', () => {
  it('has id x12-855 and the X12 options', () => {
    expect(x12AcknowledgmentFormat.id).toBe('x12-855');
    expect(x12AcknowledgmentFormat.parseOptions!(undefined)).toEqual({ ok: true, options: DEFAULTS });
  });

  it('reads the vendored Stedi 855 (005010, BAK*00*AD, SKUs under SK, every line IA)', () => {
    expect(read(spec('x12-855-5010-stedi-sample.edi')).confirmations).toEqual([
      {
        reference: '0001',
        confirmation: {
          kind: 'acknowledgement',
          orderId: '365465413',
          status: 'accepted',
          lines: [
            { sku: 'ACM/8900-400', quantity: 8 },
            { sku: 'ACM/1100-001', quantity: 4 },
          ],
        },
      },
    ]);
  });

  it('reads the vendored node-x12 855 (004010, lines that disagree: one acknowledgement per status), with EN configured as the SKU', () => {
    expect(read(spec('x12-855-4010-node-x12-sample.edi'), { skuQualifiers: ['EN'] }).confirmations).toEqual([
      {
        reference: '0005',
        confirmation: {
          kind: 'acknowledgement',
          orderId: 'POTEST1112',
          status: 'accepted',
          lines: [
            { sku: '9780446360265', quantity: 3 },
            { sku: '9780446360272', quantity: 2 },
          ],
        },
      },
      {
        reference: '0005',
        // ACK02 is 0 on a rejected line: the quantity rejected is the quantity ordered (PO102).
        confirmation: {
          kind: 'acknowledgement',
          orderId: 'POTEST1112',
          status: 'rejected',
          lines: [
            { sku: '9780767928427', quantity: 2 },
            { sku: '9780099599531', quantity: 1 },
          ],
        },
      },
    ]);
    expect(problemsOf(() => read(spec('x12-855-4010-node-x12-sample.edi')))).toHaveLength(4);
  });

  it.each(['004010', '005010'] as const)('%s: splits a line by its ACKs (accepted, backordered), reads BAK08 as the reference', (version) => {
    const edi = ack855(
      version,
      'AC',
      [
        { sku: 'MUG-BLUE', ordered: 5, acks: [['IA', '3'], ['IB', '2']] },
        { sku: 'TEA-1', ordered: 1, acks: [['R2', '0']] },
        { sku: 'SPOON', ordered: 4, acks: [['IH', '4']] },
      ],
      'SO-77',
    );
    expect(read(edi).confirmations).toEqual([
      { reference: 'SO-77', confirmation: { kind: 'acknowledgement', orderId: 'order-1001', status: 'accepted', lines: [{ sku: 'MUG-BLUE', quantity: 3 }] } },
      { reference: 'SO-77', confirmation: { kind: 'acknowledgement', orderId: 'order-1001', status: 'backordered', lines: [{ sku: 'MUG-BLUE', quantity: 2 }] } },
      { reference: 'SO-77', confirmation: { kind: 'acknowledgement', orderId: 'order-1001', status: 'rejected', lines: [{ sku: 'TEA-1', quantity: 1 }] } },
    ]);
  });

  it('an 855 without lines answers the whole order: AK accepted, RJ rejected; a PO1 without ACK takes BAK02', () => {
    expect(read(ack855('004010', 'AK', [])).confirmations).toEqual([{ reference: '0001', confirmation: { kind: 'acknowledgement', orderId: 'order-1001', status: 'accepted' } }]);
    expect(read(ack855('005010', 'RJ', [])).confirmations).toEqual([{ reference: '0001', confirmation: { kind: 'acknowledgement', orderId: 'order-1001', status: 'rejected' } }]);
    expect(read(ack855('005010', 'AD', [{ sku: 'MUG-BLUE', ordered: 2, acks: [] }])).confirmations).toEqual([
      { reference: '0001', confirmation: { kind: 'acknowledgement', orderId: 'order-1001', status: 'accepted', lines: [{ sku: 'MUG-BLUE', quantity: 2 }] } },
    ]);
  });

  it('fills controlNumber from the REF the supplier repeats our 850\'s control number under, when configured', () => {
    const edi = ack855('005010', 'AD', [{ sku: 'MUG-BLUE', ordered: 2, acks: [['IA', '2']] }]).replace(/(BAK\*[^~]*~\n)/, '$1REF*ZZ*000000042~\n').replace('SE*6*0001', 'SE*7*0001');
    expect(read(edi).confirmations[0]).not.toHaveProperty('controlNumber');
    expect(read(edi, { ...DEFAULTS, controlNumberRef: 'ZZ' }).confirmations[0]).toEqual({
      reference: '0001',
      controlNumber: 42,
      confirmation: { kind: 'acknowledgement', orderId: 'order-1001', status: 'accepted', lines: [{ sku: 'MUG-BLUE', quantity: 2 }] },
    });
    expect(problemsOf(() => read(edi.replace('REF*ZZ*000000042', 'REF*ZZ*ABC'), { ...DEFAULTS, controlNumberRef: 'ZZ' }))).toEqual([
      "transaction set 0001, segment 5 (REF): REF02 under ZZ (our 850's control number) must be a number from 1 to 999999999",
    ]);
  });

  it('reads odd delimiters', () => {
    const edi = ack855('005010', 'AD', [{ sku: 'MUG-BLUE', ordered: 2, acks: [['IA', '2']] }]);
    const odd = edi.replace(/\*/g, '|').replace(/~/g, '!').replace(/\n/g, '\r\n');
    expect(read(odd).confirmations[0]!.confirmation).toEqual({ kind: 'acknowledgement', orderId: 'order-1001', status: 'accepted', lines: [{ sku: 'MUG-BLUE', quantity: 2 }] });
  });

  describe('refuses what it cannot read, naming where', () => {
    it('an unknown BAK02 and ACK01, a missing BAK03, a line without our SKU', () => {
      const edi = ack855('004010', 'AH', [{ sku: 'MUG-BLUE', ordered: 2, acks: [['ZZ', '2']] }]).replace('order-1001', '');
      expect(problemsOf(() => read(edi))).toEqual([
        'transaction set 0001, segment 4 (BAK): has no BAK03 (our purchase order number)',
        'transaction set 0001, segment 4 (BAK): BAK02 "AH" is not an answer read here (accepted: AC, AD, AE, AK, AP, CA; rejected: RD, RF, RJ, RO)',
        'transaction set 0001, segment 6 (ACK): ACK01 "ZZ" is not a line status read here',
      ]);
      expect(problemsOf(() => read(ack855('004010', 'AD', [{ sku: 'MUG-BLUE', ordered: 2, acks: [] }]), { skuQualifiers: ['UP'] }))).toEqual([
        'transaction set 0001, segment 5 (PO1): no product ID with qualifier UP (our SKU)',
      ]);
    });

    it('envelope counts, and a file cut short', () => {
      const edi = ack855('005010', 'AD', []);
      expect(problemsOf(() => read(edi.replace('SE*4*0001', 'SE*9*0001')))).toEqual(['segment 6 (SE): SE01 says 9 segments, transaction set 0001 has 4 (ST to SE)']);
      expect(problemsOf(() => read(edi.slice(0, edi.indexOf('GE*'))))).toEqual([
        'segment 2 (GS): functional group 1 has no GE trailer',
        'the interchange at segment 1 has no IEA trailer (the file is cut short)',
      ]);
    });
  });
});
