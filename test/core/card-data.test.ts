import { containsCardNumber, luhnValid, redactCardNumbers, REDACTED } from '../../src/core/card-data';

describe('card-like numbers', () => {
  it.each(['4111111111111111', '4111 1111 1111 1111', '4111-1111-1111-1111', '378282246310005', '6011111111111117'])(
    'redacts %s wherever it stands in free text',
    (card) => {
      const text = `Please charge ${card} for the gift`;
      expect(redactCardNumbers(text)).toBe(`Please charge ${REDACTED} for the gift`);
      expect(containsCardNumber(text)).toBe(true);
    },
  );

  it('redacts a card number glued to other digits', () => {
    expect(containsCardNumber('ref 99 4111111111111111 7')).toBe(true);
    expect(redactCardNumbers('ref 994111111111111111')).toBe(`ref ${REDACTED}`);
  });

  it('keeps numbers that are not card-like', () => {
    const text = 'Call +1 503 555 0199, order 1001, zip 97205, 12 Sample Street';
    expect(redactCardNumbers(text)).toBe(text);
    // 16 digits, but no 13..19-digit window passes Luhn.
    expect(redactCardNumbers('1111111111111111')).toBe('1111111111111111');
    expect(redactCardNumbers('411111111111')).toBe('411111111111'); // 12 digits
  });

  it('redacts a long run when any card-length window in it passes Luhn (privacy over fidelity)', () => {
    expect(redactCardNumbers('4111111111111112')).toBe(REDACTED); // the whole fails Luhn; 13 of its digits pass
  });

  it('implements the Luhn check', () => {
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
  });
});

describe('card numbers typed with other separators', () => {
  it.each(['4111  1111  1111  1111', '4111\t1111\t1111\t1111', '4111\u00a01111\u00a01111\u00a01111', '4111 -1111- 1111 1111', '4111\n1111\n1111\n1111'])(
    'redacts %j',
    (card) => {
      expect(redactCardNumbers(`ship to Apt ${card} please`)).toBe(`ship to Apt ${REDACTED} please`);
    },
  );
});
