import { formatTable } from '../../src/cli/table';

describe('formatTable', () => {
  it('prints a header and aligned columns: no index column, no quotes, numbers on the right', () => {
    const text = formatTable([
      { queue: 'orders', waiting: 0, failed: 12 },
      { queue: 'po-vermont-creamery', waiting: 3, failed: 0 },
    ]);
    expect(text).toBe(['queue                waiting  failed', 'orders                     0      12', 'po-vermont-creamery        3       0', ''].join('\n'));
  });

  it('keeps the columns asked for, in that order, and leaves missing values blank', () => {
    const rows: Array<{ id: string; state: string; reason?: string }> = [{ id: 'a+po', state: 'failed', reason: 'HTTP 422' }, { id: 'b+po', state: 'completed' }];
    expect(formatTable(rows, ['state', 'id', 'reason'])).toBe(['state      id    reason', 'failed     a+po  HTTP 422', 'completed  b+po', ''].join('\n'));
  });

  it('prints only the header for no rows', () => {
    expect(formatTable<{ id: string }>([], ['id'])).toBe('id\n');
  });
});
