import type { CarrierShipment } from '../../src/carriers/carrier';
import { CARRIERS, carrierById } from '../../src/carriers';
import type { CarrierId } from '../../src/core/shipment';
import { CARRIER_FIELDS, SHIP_TOS, domesticShipment } from './fixtures';

/** One contract every registered carrier builder meets (docs/architecture.md: one suite for all of a kind). */

const SAMPLES: Record<CarrierId, { service: string; options: unknown }> = {
  ups: { service: '03', options: { shipperNumber: 'A1B2C3' } },
  fedex: { service: 'FEDEX_GROUND', options: { accountNumber: '123456789' } },
};

describe.each(Object.keys(CARRIERS) as CarrierId[])('carrier %s', (id) => {
  const carrier = carrierById(id);
  const sample = SAMPLES[id];
  const options = carrier.optionsSchema.parse(sample.options);
  const shipment = (shipTo?: CarrierShipment['shipTo']): CarrierShipment => {
    const base = domesticShipment(id, sample.service);
    return shipTo ? { ...base, shipTo } : base;
  };

  it('is registered under its own id with a format name', () => {
    expect(carrier.id).toBe(id);
    expect(carrier.format).toMatch(/^[a-z]+-ship$/);
  });

  it('rejects options without an account', () => {
    expect(carrier.optionsSchema.safeParse({}).success).toBe(false);
  });

  it.each(Object.keys(SHIP_TOS))('discloses only shipping fields, sorted (%s)', (name) => {
    const { body, fields } = carrier.build(shipment(SHIP_TOS[name]), options);
    expect(fields).toEqual([...new Set(fields)].sort());
    expect(fields.filter((f) => !CARRIER_FIELDS.has(f))).toEqual([]);
    expect(fields).toEqual(expect.arrayContaining(['shipTo.name', 'shipTo.line1', 'shipTo.city', 'shipTo.country', 'lines.weight', 'shipment.service']));
    expect(() => JSON.parse(body)).not.toThrow();
  });

  it('does not send the shipment id (it embeds the order id, which carriers do not need)', () => {
    const { body } = carrier.build(shipment(), options);
    expect(body).not.toContain('1001');
  });
});

describe('carrierById', () => {
  it('throws for an id that names no carrier', () => {
    expect(() => carrierById('dhl' as CarrierId)).toThrow('unknown carrier "dhl"; known carriers are ups, fedex');
  });
});
