import { normaliseCarrier } from '../../src/core/confirmation';

/**
 * Carrier names as suppliers write them (names, SCAC codes, any case, spacing and
 * punctuation) become the store platform's spelling, which Shopify matches exactly, with a
 * tracking link only for carriers whose tracking page is known.
 */

const URLS = {
  UPS: 'https://www.ups.com/track?tracknum=1Z999AA10123456784',
  FedEx: 'https://www.fedex.com/fedextrack/?trknbr=794644790138',
  USPS: 'https://tools.usps.com/go/TrackConfirmAction?tLabels=9400100000000000000000',
  'DHL Express': 'https://www.dhl.com/en/express/tracking.html?AWB=1234567890',
} as const;

const TRACKING = {
  UPS: '1Z999AA10123456784',
  FedEx: '794644790138',
  USPS: '9400100000000000000000',
  'DHL Express': '1234567890',
} as const;

describe('normaliseCarrier', () => {
  const cases: Array<[written: string, company: keyof typeof URLS]> = [
    ['UPS', 'UPS'],
    ['ups', 'UPS'],
    ['Ups', 'UPS'],
    ['  UPS  ', 'UPS'],
    ['UPSN', 'UPS'],
    ['upsn', 'UPS'],
    ['United Parcel Service', 'UPS'],
    ['UNITED  PARCEL\tSERVICE', 'UPS'],
    ['UPS Ground', 'UPS'],
    ['U.P.S.', 'UPS'],
    ['FedEx', 'FedEx'],
    ['FEDEX', 'FedEx'],
    ['fedex', 'FedEx'],
    ['Fed Ex', 'FedEx'],
    ['Fed-Ex', 'FedEx'],
    ['Federal Express', 'FedEx'],
    ['FedEx Ground', 'FedEx'],
    ['fedex express', 'FedEx'],
    ['FDEG', 'FedEx'],
    ['FDEN', 'FedEx'],
    ['FDXE', 'FedEx'],
    ['USPS', 'USPS'],
    ['usps', 'USPS'],
    ['U.S.P.S.', 'USPS'],
    ['US Postal Service', 'USPS'],
    ['U.S. Postal Service', 'USPS'],
    ['United States Postal Service', 'USPS'],
    ['USPS Priority Mail', 'USPS'],
    ['DHL', 'DHL Express'],
    ['dhl', 'DHL Express'],
    ['DHL Express', 'DHL Express'],
    ['dhl express', 'DHL Express'],
    ['DHL-Express', 'DHL Express'],
    ['DHL_EXPRESS', 'DHL Express'],
    ['DHLC', 'DHL Express'],
  ];

  it.each(cases)('writes %j as %s, with its tracking link', (written, company) => {
    expect(normaliseCarrier(written, TRACKING[company])).toEqual({ company, trackingUrl: URLS[company] });
    // Without a tracking number: the name only.
    expect(normaliseCarrier(written)).toEqual({ company });
  });

  it.each([
    ['Acme Freight', 'Acme Freight'],
    ['  Acme  Freight ', 'Acme  Freight'],
    ['local courier', 'local courier'],
    ['UPS Freight', 'UPS Freight'],
    ['UPGF', 'UPGF'],
    ['DHL Parcel', 'DHL Parcel'],
  ])('keeps an unknown carrier %j as written (trimmed), without a tracking link', (written, company) => {
    expect(normaliseCarrier(written, '1Z999AA10123456784')).toEqual({ company });
    expect(normaliseCarrier(written, '1Z999AA10123456784')).not.toHaveProperty('trackingUrl');
  });

  it('gives a known carrier without a tracking page its name and no link', () => {
    expect(normaliseCarrier('dhl e-commerce', 'GM2951173225136423')).toEqual({ company: 'DHL eCommerce' });
    expect(normaliseCarrier('DHL eCommerce', 'GM2951173225136423')).toEqual({ company: 'DHL eCommerce' });
    expect(normaliseCarrier('gls', '12345678')).toEqual({ company: 'GLS' });
  });

  it('puts the tracking number into the link encoded, whatever it holds', () => {
    expect(normaliseCarrier('UPS', '1Z 999/AA&1')).toEqual({ company: 'UPS', trackingUrl: 'https://www.ups.com/track?tracknum=1Z%20999%2FAA%261' });
  });
});
