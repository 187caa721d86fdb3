import { csvFormat, neutraliseFormula } from '../../src/formats/csv';
import type { DropShipOrder } from '../../src/formats/format';

const CONTEXT = { deliveryId: '7+s+po', createdAt: '2026-11-20T15:04:05Z' };

const po = (lines: DropShipOrder['lines'], shipTo: DropShipOrder['shipTo'] = {}): DropShipOrder => ({
  supplierId: 's',
  order: { id: '7' },
  customer: {},
  shipTo,
  shipment: {},
  lines,
});

describe('CSV purchase orders', () => {
  it('neutralises cells that a spreadsheet would run as formulas', () => {
    for (const cell of ['=HYPERLINK("x")', '+1 555', '-2+3', '@SUM(A1)', '\tx', '\rx']) expect(neutraliseFormula(cell)).toBe(`'${cell}`);
    expect(neutraliseFormula('Plain')).toBe('Plain');
  });

  it('quotes delimiters, quotes and line breaks inside values (RFC 4180) and keeps non-ASCII', () => {
    const body = csvFormat.render(
      po([{ sku: 'A,1', name: 'Say "cheese"\nnow', quantity: 2 }], { name: 'Zoë Ångström', line1: '=cmd|calc' }),
      { delimiter: ',', lineEnding: 'crlf', header: true },
      CONTEXT,
    );
    expect(body).toBe('order_id,ship_to_name,ship_to_line1,sku,name,quantity\r\n7,Zoë Ångström,\'=cmd|calc,"A,1","Say ""cheese""\nnow",2\r\n');
  });

  it('honours delimiter, line ending and header options', () => {
    const body = csvFormat.render(po([{ sku: 'X', quantity: 1 }]), { delimiter: ';', lineEnding: 'lf', header: false }, CONTEXT);
    expect(body).toBe('7;X;1\n');
  });
});
