import { csvColumnFields, csvFormat, formatDateTime, neutraliseFormula } from '../../src/formats/csv';
import type { DropShipOrder } from '../../src/formats/format';

const CONTEXT = { deliveryId: '7+s+po', createdAt: '2026-11-20T15:04:05Z' };

const po = (lines: DropShipOrder['lines'], shipTo: DropShipOrder['shipTo'] = {}, order: DropShipOrder['order'] = { id: '7' }): DropShipOrder => ({
  supplierId: 's',
  order,
  customer: {},
  shipTo,
  shipment: {},
  lines,
});

const options = (o: Record<string, unknown> = {}) => csvFormat.optionsSchema.parse(o);

describe('CSV purchase orders', () => {
  it('neutralises cells that a spreadsheet would run as formulas', () => {
    for (const cell of ['=HYPERLINK("x")', '+1 555', '-2+3', '@SUM(A1)', '\tx', '\rx']) expect(neutraliseFormula(cell)).toBe(`'${cell}`);
    expect(neutraliseFormula('Plain')).toBe('Plain');
  });

  it('quotes delimiters, quotes and line breaks inside values (RFC 4180) and keeps non-ASCII', () => {
    const body = csvFormat.render(
      po([{ sku: 'A,1', name: 'Say "cheese"\nnow', quantity: 2 }], { name: 'Zoë Ångström', line1: '=cmd|calc' }),
      options({ delimiter: ',', lineEnding: 'crlf', header: true }),
      CONTEXT,
    );
    expect(body).toBe('order_id,ship_to_name,ship_to_line1,sku,name,quantity\r\n7,Zoë Ångström,\'=cmd|calc,"A,1","Say ""cheese""\nnow",2\r\n');
  });

  it('honours delimiter, line ending and header options', () => {
    const body = csvFormat.render(po([{ sku: 'X', quantity: 1 }]), options({ delimiter: ';', lineEnding: 'lf', header: false }), CONTEXT);
    expect(body).toBe('7;X;1\n');
  });

  it('still renders options written before columns, dateFormat and quote existed', () => {
    const legacy = { delimiter: ',', lineEnding: 'lf', header: true } as unknown as Parameters<typeof csvFormat.render>[1];
    expect(csvFormat.render(po([{ sku: 'X', quantity: 1 }]), legacy, CONTEXT)).toBe('order_id,sku,quantity\n7,X,1\n');
  });

  it('writes one row per line', () => {
    const body = csvFormat.render(po([{ sku: 'A', quantity: 1 }, { sku: 'B', quantity: 2 }, { sku: 'C', quantity: 3 }]), options({ lineEnding: 'lf' }), CONTEXT);
    expect(body.split('\n').filter(Boolean)).toEqual(['order_id,sku,quantity', '7,A,1', '7,B,2', '7,C,3']);
  });

  describe('a supplier layout (columns)', () => {
    it('writes exactly the listed columns in order, by field path or column name, with their headers', () => {
      const body = csvFormat.render(
        po([{ sku: 'A', name: 'Fig jam', quantity: 2 }], { city: 'Portland' }),
        options({ lineEnding: 'lf', columns: [{ field: 'lines.quantity', header: 'Qty' }, 'sku', 'shipTo.city', { field: 'order_id', header: 'PO Number' }] }),
        CONTEXT,
      );
      expect(body).toBe('Qty,sku,ship_to_city,PO Number\n2,A,Portland,7\n');
    });

    it('keeps a column whose field the allow-list withholds, empty, so the layout never shifts', () => {
      const body = csvFormat.render(po([{ sku: 'A', quantity: 2 }]), options({ lineEnding: 'lf', columns: ['order.id', 'lines.unitPrice', 'customer.email', 'lines.sku'] }), CONTEXT);
      expect(body).toBe('order_id,unit_price,customer_email,sku\n7,,,A\n');
    });

    it('can ask for columns outside the default layout', () => {
      const view: DropShipOrder = { ...po([{ sku: 'A' }]), customer: { contactRestricted: true } };
      expect(csvFormat.render(view, options({ lineEnding: 'lf', columns: ['customer.contactRestricted'] }), CONTEXT)).toBe('customer_contact_restricted\ntrue\n');
    });

    it('neutralises formulas and quotes values in custom layouts too', () => {
      const body = csvFormat.render(po([{ sku: '=1+1', name: 'a;b' }]), options({ delimiter: ';', lineEnding: 'lf', columns: ['sku', 'name'] }), CONTEXT);
      expect(body).toBe('sku;name\n\'=1+1;"a;b"\n');
    });

    it('keeps neutralising every column by default, and writes the columns a supplier lists in formulaGuard.off as they are', () => {
      const view: DropShipOrder = { ...po([{ sku: '-SKU-1', name: '=HYPERLINK("x")' }]), shipTo: { phone: '+1 802 555 0100' } };
      const columns = ['sku', 'name', 'shipTo.phone'];
      expect(csvFormat.render(view, options({ lineEnding: 'lf', columns }), CONTEXT)).toBe('sku,name,ship_to_phone\n\'-SKU-1,"\'=HYPERLINK(""x"")",\'+1 802 555 0100\n');
      // A machine importer reads SKUs and phones as data; the free-text name stays guarded.
      const machine = options({ lineEnding: 'lf', columns, formulaGuard: { off: ['lines.sku', 'ship_to_phone'] } });
      expect(csvFormat.render(view, machine, CONTEXT)).toBe('sku,name,ship_to_phone\n-SKU-1,"\'=HYPERLINK(""x"")",+1 802 555 0100\n');
      // The same in the default layout and in batches.
      expect(csvFormat.render(view, options({ lineEnding: 'lf', formulaGuard: { off: ['sku'] } }), CONTEXT)).toBe(
        'order_id,ship_to_phone,sku,name\n7,\'+1 802 555 0100,-SKU-1,"\'=HYPERLINK(""x"")"\n',
      );
      expect(csvFormat.renderBatch?.([{ po: view, context: CONTEXT }], machine, { batchId: 'b', createdAt: CONTEXT.createdAt })).toBe(
        'sku,name,ship_to_phone\n-SKU-1,"\'=HYPERLINK(""x"")",+1 802 555 0100\n',
      );
    });

    it('rejects a formulaGuard column that is not a CSV column', () => {
      const r = csvFormat.optionsSchema.safeParse({ formulaGuard: { off: ['sku', 'payment.cardNumber'] } });
      expect(r.success).toBe(false);
      expect(r.error?.issues.map((i) => i.path.join('.'))).toEqual(['formulaGuard.off.1']);
      expect(csvFormat.optionsSchema.parse({}).formulaGuard).toEqual({ off: [] });
    });

    it('rejects unknown columns, naming them', () => {
      const r = csvFormat.optionsSchema.safeParse({ columns: ['order.id', 'billTo.line1', { field: 'card', header: 'Card' }] });
      expect(r.success).toBe(false);
      expect(r.error?.issues.map((i) => i.path.join('.'))).toEqual(['columns.1', 'columns.2']);
      expect(r.error?.issues[0]?.message).toMatch(/^"billTo.line1" is not a CSV column \(known: order.id, /);
      expect(r.error?.issues[1]?.message).toMatch(/^"card" is not a CSV column/);
    });

    it('reports which canonical fields a layout asks for', () => {
      expect(csvColumnFields(['order_id', { field: 'shipTo.city', header: 'City' }, 'lines.quantity'])).toEqual(['order.id', 'shipTo.city', 'lines.quantity']);
    });
  });

  describe('dates and quoting', () => {
    it.each([
      ['iso', '2026-11-20T07:04:05-08:00'],
      ['yyyy-MM-dd', '2026-11-20'],
      ['MM/dd/yyyy', '11/20/2026'],
      ['dd.MM.yyyy HH:mm', '20.11.2026 07:04'],
      ['yyyy-MM-dd HH:mm:ss', '2026-11-20 07:04:05'],
    ])('writes placed_at with dateFormat %s, in the time it was written in', (dateFormat, expected) => {
      const view = po([{ sku: 'A' }], {}, { id: '7', placedAt: '2026-11-20T07:04:05-08:00' });
      const body = csvFormat.render(view, options({ lineEnding: 'lf', header: false, dateFormat, columns: ['placed_at'] }), CONTEXT);
      expect(body).toBe(`${expected}\n`);
    });

    it('formats dates without seconds and leaves what it cannot read as it is', () => {
      expect(formatDateTime('2026-01-02T03:04Z', 'yyyy-MM-dd HH:mm:ss')).toBe('2026-01-02 03:04:00');
      expect(formatDateTime('yesterday', 'yyyy')).toBe('yesterday');
    });

    it('rejects date patterns with anything but the tokens and separators', () => {
      for (const bad of ['YYYY-MM-DD', 'yyyy-MM-dd"x"', 'D', '=cmd', '']) expect(csvFormat.optionsSchema.safeParse({ dateFormat: bad }).success).toBe(false);
    });

    it('quotes every value, empty ones and the header too, with quote: always', () => {
      const body = csvFormat.render(po([{ sku: 'A', quantity: 1 }]), options({ lineEnding: 'lf', quote: 'always', columns: ['order.id', 'sku', 'name'] }), CONTEXT);
      expect(body).toBe('"order_id","sku","name"\n"7","A",""\n');
    });
  });
});
