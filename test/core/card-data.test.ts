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

/** `digits` written in the decimal digit set whose zero is `zero` (one code point). */
const inScript = (digits: string, zero: number) => [...digits].map((d) => String.fromCodePoint(zero + Number(d))).join('');
const grouped = (digits: string, separator: string) => digits.replace(/(\d{4})(?=\d)/g, `$1${separator}`);

describe('card numbers in every digit script', () => {
  it.each([
    ['Arabic-Indic', 0x0660],
    ['Extended Arabic-Indic (Persian)', 0x06f0],
    ['Devanagari', 0x0966],
    ['Bengali', 0x09e6],
    ['Thai', 0x0e50],
    ['Myanmar', 0x1040],
    ['fullwidth', 0xff10],
    ['mathematical bold', 0x1d7ce],
    ['mathematical monospace', 0x1d7f6],
    ['Adlam', 0x1e950],
  ])('redacts a card number in %s digits, grouped with en dashes', (_script, zero) => {
    const card = grouped(inScript('4111111111111111', zero), '\u2013');
    expect(redactCardNumbers(`pay with ${card} thanks`)).toBe(`pay with ${REDACTED} thanks`);
  });

  it('reads every Unicode decimal digit as its value (cross-checked with NFKC where it folds to ASCII)', () => {
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      const char = String.fromCodePoint(cp);
      if (!/\p{Nd}/u.test(char)) continue;
      const folded = char.normalize('NFKC');
      if (!/^[0-9]$/.test(folded)) continue;
      // Thirteen of the same digit, then a check digit made of that script too.
      const body = folded.repeat(15);
      let check = 0;
      while (!luhnValid(body + String(check))) check++;
      expect([cp.toString(16), containsCardNumber(char.repeat(15) + String.fromCodePoint(cp - Number(folded) + check))]).toEqual([cp.toString(16), true]);
    }
  });

  it('redacts a card number mixing scripts', () => {
    const card = `${inScript('4111', 0x0660)} ${inScript('1111', 0x0966)}-1111 ${inScript('1111', 0xff10)}`;
    expect(redactCardNumbers(card)).toBe(REDACTED);
  });
});

describe('card numbers with every separator people type', () => {
  it.each([
    ['hyphen', '\u2010'],
    ['non-breaking hyphen', '\u2011'],
    ['figure dash', '\u2012'],
    ['en dash', '\u2013'],
    ['em dash', '\u2014'],
    ['horizontal bar', '\u2015'],
    ['minus sign', '\u2212'],
    ['fullwidth hyphen-minus', '\uff0d'],
    ['small hyphen-minus', '\ufe63'],
    ['dot', '.'],
    ['middle dot', '\u00b7'],
    ['fullwidth full stop', '\uff0e'],
    ['slash', '/'],
    ['backslash', '\\'],
    ['fraction slash', '\u2044'],
    ['fullwidth solidus', '\uff0f'],
    ['underscore', '_'],
    ['thin space', '\u2009'],
    ['narrow no-break space', '\u202f'],
    ['ideographic space', '\u3000'],
    ['soft hyphen', '\u00ad'],
    ['mixed: space, en dash, space', ' \u2013 '],
    ['mixed: dot and slash', './'],
  ])('redacts a card number grouped with %s', (_name, separator) => {
    expect(redactCardNumbers(`Apt 4, card ${grouped('5555555555554444', separator)}, thanks`)).toBe(`Apt 4, card ${REDACTED}, thanks`);
  });

  it('mixes separators within one number', () => {
    expect(redactCardNumbers('4111.1111-1111/1111')).toBe(REDACTED);
    expect(redactCardNumbers('4111 1111_1111\u20131111')).toBe(REDACTED);
  });

  it('keeps a phone number with an extension in free text', () => {
    // The 15 digits 1 802 555 0100 1004 pass the Luhn check; the words between them keep them apart.
    for (const text of ['Call +1 802 555 0100 ext. 1004', 'Call +1 802 555 0100 x1004', 'tel:+1-802-555-0100;ext=1004']) {
      expect(redactCardNumbers(text)).toBe(text);
    }
  });
});
