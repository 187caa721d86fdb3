import { changedPaths, orderFingerprint } from '../../src/core/changes';
import { order } from '../support/orders';

/** What changed between two versions of an order: canonical field paths, never values. */
describe('changedPaths', () => {
  const before = order({ id: 'x-1' });
  const fp = orderFingerprint(before);

  it('finds nothing when only the store state or the version changed', () => {
    expect(changedPaths(fp, orderFingerprint({ ...before, state: { platform: 'shopify', financialStatus: 'paid', cancelled: false, test: false }, version: 99 }))).toEqual([]);
  });

  it('names the paths of an address and a quantity change', () => {
    const after = { ...before, shipTo: { ...before.shipTo!, line1: '14 Sample Street' }, lines: before.lines.map((l, i) => (i === 0 ? { ...l, quantity: 5 } : l)) };
    expect(changedPaths(fp, orderFingerprint(after))).toEqual(['lines.quantity', 'shipTo.line1']);
  });

  it('names a line added or removed, and a ship-to removed', () => {
    expect(changedPaths(fp, orderFingerprint({ ...before, lines: before.lines.slice(1) }))).toEqual(['lines.id', 'lines.name', 'lines.properties', 'lines.quantity', 'lines.sku', 'lines.unitPrice', 'lines.weight']);
    const { shipTo: _gone, ...noShipTo } = before;
    expect(changedPaths(fp, orderFingerprint(noShipTo))).toEqual(['shipTo.city', 'shipTo.company', 'shipTo.country', 'shipTo.line1', 'shipTo.line2', 'shipTo.name', 'shipTo.phone', 'shipTo.postalCode', 'shipTo.region']);
  });

  it('keeps no value: digests only', () => {
    expect(JSON.stringify(fp)).not.toMatch(/Sample Street|Ada|97205|Fig jam/);
  });
});
