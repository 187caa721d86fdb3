import { confirmationFormatById, confirmationFormatIds } from '../../../src/formats/inbound';

describe('the inbound format registry', () => {
  it('lists every inbound format by the id configuration names, and nothing else', () => {
    expect(confirmationFormatIds()).toEqual(['csv', 'cxml', 'json', 'x12-855', 'x12-856']);
    for (const id of confirmationFormatIds()) expect(confirmationFormatById(id)?.id).toBe(id);
    expect(confirmationFormatById('x12-850')).toBeUndefined();
  });

  it('every format refuses an empty document with EINVALID_CONFIRMATION and at least one problem', () => {
    for (const id of confirmationFormatIds()) {
      const format = confirmationFormatById(id)!;
      const options = format.parseOptions ? (id === 'csv' ? { columns: { orderId: 'a', sku: 'b', quantity: 'c', carrier: 'd', trackingNumber: 'e' } } : {}) : undefined;
      const parsed = format.parseOptions?.(options);
      if (parsed && !parsed.ok) throw new Error(parsed.problems.join('; '));
      expect(() => format.read('', parsed?.options)).toThrow(expect.objectContaining({ code: 'EINVALID_CONFIRMATION', problems: expect.arrayContaining([expect.any(String)]) }));
    }
  });
});
