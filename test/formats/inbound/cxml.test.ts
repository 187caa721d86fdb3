import { cxmlConfirmationFormat, cxmlResponse } from '../../../src/formats/inbound/cxml';
import { CXML_DTD, confirmationRequest, dtdProblems, problemsOf, shipNotice, spec } from './support';

const read = (xml: string) => cxmlConfirmationFormat.read(xml, undefined);

const NOTICE = {
  shipmentId: 'ASN-77',
  shipmentDate: '2026-12-05T16:30:00-05:00',
  carriers: [
    { domain: 'SCAC', name: 'UPSN' },
    { domain: 'companyName', name: 'UPS' },
  ],
  tracking: ['1Z999AA10123456784', '1Z 999 AA1 0123456785'],
  portions: [
    {
      orderId: 'order-1001',
      items: [
        { lineNumber: 1, quantity: 2, sku: 'MUG-BLUE' },
        { lineNumber: 2, quantity: 1, sku: 'TEA & "EARL" <GREY>' },
      ],
    },
    { orderId: 'order-1002' },
  ],
};

/** Every document this file reads as valid, checked against the vendored Fulfill DTD. */
const valid: string[] = [];
function readValid(xml: string) {
  valid.push(xml);
  return read(xml);
}
afterAll(() => {
  expect(dtdProblems(valid)).toBe('');
});

describe('the cXML confirmation reader', () => {
  it('reads the vendored ShipNoticeRequest sample (valid against the Fulfill DTD)', () => {
    expect(dtdProblems([spec('cxml-ShipNoticeRequest-sample.xml')])).toBe('');
    expect(cxmlConfirmationFormat.id).toBe('cxml');
    expect(read(spec('cxml-ShipNoticeRequest-sample.xml'))).toEqual({
      confirmations: [
        {
          reference: 'S2-123',
          confirmation: { kind: 'shipment', orderId: 'DO1234', carrier: 'Federal Express', trackingNumbers: ['820282611194'], shippedAt: '2000-10-14T08:30:19-08:00' },
        },
      ],
    });
  });

  it('reads a ShipNoticeRequest written in the test: one shipment per portion, lines by SupplierPartID', () => {
    const shipment = { kind: 'shipment', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784', '1Z999AA10123456785'], shippedAt: '2026-12-05T16:30:00-05:00' } as const;
    expect(readValid(shipNotice(NOTICE)).confirmations).toEqual([
      {
        reference: 'ASN-77',
        confirmation: {
          ...shipment,
          orderId: 'order-1001',
          lines: [
            { sku: 'MUG-BLUE', quantity: 2 },
            { sku: 'TEA & "EARL" <GREY>', quantity: 1 },
          ],
        },
      },
      { reference: 'ASN-77', confirmation: { ...shipment, orderId: 'order-1002' } },
    ]);
    // Without a companyName, the SCAC.
    expect(readValid(shipNotice({ ...NOTICE, carriers: [{ domain: 'SCAC', name: 'FDEG' }], portions: [{ orderId: 'order-1' }] })).confirmations[0]!.confirmation).toMatchObject({ carrier: 'FDEG' });
  });

  it.each([
    ['accept', 'accepted'],
    ['reject', 'rejected'],
    ['backordered', 'backordered'],
  ] as const)('reads a ConfirmationRequest of type %s for the whole order', (type, status) => {
    const xml = confirmationRequest({ type, confirmId: 'C-9', orderId: 'order-1001', comments: 'Out of stock until March' });
    expect(readValid(xml).confirmations).toEqual([
      { reference: 'C-9', confirmation: { kind: 'acknowledgement', orderId: 'order-1001', status, ...(status === 'accepted' ? {} : { reason: 'Out of stock until March' }) } },
    ]);
  });

  it('reads a detail ConfirmationRequest whose items all answer the same for their whole line as that answer', () => {
    const xml = confirmationRequest({
      type: 'detail',
      orderId: 'order-1001',
      items: [
        { lineNumber: 1, quantity: 2, statuses: [{ type: 'backordered', quantity: 2 }] },
        { lineNumber: 2, quantity: 1, statuses: [{ type: 'backordered', quantity: 1 }] },
      ],
    });
    expect(readValid(xml).confirmations).toEqual([{ confirmation: { kind: 'acknowledgement', orderId: 'order-1001', status: 'backordered' } }]);
  });

  describe('refuses what it cannot read, naming where, never a value', () => {
    it('items that answer differently by line (cXML names lines by number, confirmations by SKU)', () => {
      const xml = confirmationRequest({
        type: 'detail',
        orderId: 'order-1001',
        items: [
          { lineNumber: 1, quantity: 2, statuses: [{ type: 'accept', quantity: 1 }, { type: 'backordered', quantity: 1 }] },
          { lineNumber: 2, quantity: 1, statuses: [{ type: 'reject', quantity: 1 }] },
        ],
      });
      expect(dtdProblems([xml])).toBe('');
      expect(problemsOf(() => read(xml))).toEqual([expect.stringMatching(/^ConfirmationRequest: its items answer differently by line or for part of a line/)]);
    });

    it('a notice without orderID, SupplierPartID, carrier or tracking; a deleted notice', () => {
      const xml = shipNotice({ ...NOTICE, portions: [{ items: [{ lineNumber: 1, quantity: 2 }] }] });
      expect(dtdProblems([xml])).toBe('');
      expect(problemsOf(() => read(xml))).toEqual([
        'ShipNoticePortion 1: OrderReference has no orderID (our order id)',
        'ShipNoticePortion 1, ShipNoticeItem 1 (lineNumber 1): has no ItemID/SupplierPartID (our SKU); lines are matched by SKU',
      ]);
      expect(problemsOf(() => read(shipNotice({ ...NOTICE, operation: 'delete' })))).toEqual(['ShipNoticeHeader: operation "delete" withdraws a ship notice; it is not a shipment']);
      const bad = shipNotice({ ...NOTICE, tracking: ['?'], portions: [{ orderId: 'Jane Doe' }] });
      const problems = problemsOf(() => read(bad));
      expect(problems).toEqual([
        'ShipNoticePortion 1: orderId must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit, not ending with "." and without ".."',
        'ShipNoticePortion 1: trackingNumbers.0 must be 4-64 letters and digits',
      ]);
      expect(problems.join('\n')).not.toContain('Jane');
    });

    it('entities (XXE, billion laughs), XML that is not well-formed, another root or request, a huge document', () => {
      const xxe = `<?xml version="1.0"?>\n<!DOCTYPE cXML [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<cXML><Request><ShipNoticeRequest>&x;</ShipNoticeRequest></Request></cXML>`;
      expect(problemsOf(() => read(xxe))).toEqual(['the document declares entities (a DOCTYPE internal subset or <!ENTITY>): refused']);
      const laughs = `<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n<cXML>&lol2;</cXML>`;
      expect(problemsOf(() => read(laughs))).toEqual(['the document declares entities (a DOCTYPE internal subset or <!ENTITY>): refused']);
      expect(problemsOf(() => read(shipNotice(NOTICE).replace('</ShipControl>', '')))).toEqual([expect.stringMatching(/^the document is not well-formed XML \(line \d+, column \d+: InvalidTag\)$/)]);
      expect(problemsOf(() => read(shipNotice(NOTICE).slice(0, 900)))).toEqual([expect.stringMatching(/^the document is not well-formed XML/)]);
      expect(problemsOf(() => read('<Order/>'))).toEqual(['the document is not cXML: its root element must be <cXML>']);
      expect(problemsOf(() => read('<cXML><Request><OrderRequest/></Request></cXML>'))).toEqual(['Request: holds neither a ShipNoticeRequest nor a ConfirmationRequest']);
      const huge = shipNotice(NOTICE).replace('</cXML>', `<!--${'x'.repeat(10 * 1024 * 1024)}--></cXML>`);
      expect(problemsOf(() => read(huge))).toEqual([`the document is ${huge.length} characters; at most ${10 * 1024 * 1024} are read`]);
    });
  });
});

describe('the cXML answer to a supplier (POST /suppliers/{id}/cxml)', () => {
  it('is a Response with a Status, valid against the cXML DTD, for 200, 400 and 409', () => {
    const context = { payloadId: 'reply-1@store.example', timestamp: '2026-12-06T12:00:00Z' };
    const ok = cxmlResponse(200, context);
    expect(ok).toContain('<Status code="200" text="OK"/>');
    const bad = cxmlResponse(400, context, 'ShipNoticePortion 1: OrderReference has no orderID & <more>');
    expect(bad).toContain('<Status code="400" text="Bad Request">ShipNoticePortion 1: OrderReference has no orderID &amp; &lt;more&gt;</Status>');
    const conflict = cxmlResponse(409, context, 'SKU is not on this purchase order');
    expect(conflict).toContain('<Status code="409" text="Conflict">');
    expect(dtdProblems([ok, bad, conflict], CXML_DTD)).toBe('');
    // The check checks: a Status without its code is not valid cXML.
    expect(dtdProblems([ok.replace(' code="200"', '')], CXML_DTD)).toMatch(/code/);
  });
});
