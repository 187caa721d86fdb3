import { luhnValid } from '../../src/core/card-data';

/**
 * Card-like numbers in `text` (13-19 digits, optionally spaced or dashed, Luhn-valid in any
 * window), except millisecond timestamps of this run (BullMQ stores those: 13 digits, one in
 * ten passes Luhn) and the fractional digits of decimal numbers. Independent of the
 * scrubber's own detector on purpose.
 */
export function cardLikeNumbers(text: string): string[] {
  const now = Date.now();
  const found: string[] = [];
  for (const m of text.matchAll(/\d(?:[ -]?\d)*/g)) {
    // The fractional part of a decimal number (a float in a log line) is no card number.
    if (m.index !== undefined && m.index >= 2 && /\d\./.test(text.slice(m.index - 2, m.index))) continue;
    const digits = m[0].replace(/[ -]/g, '');
    if (digits.length === 13 && Math.abs(Number(digits) - now) < 86_400_000) continue;
    const timestampSeq = /^\d{13}-\d+$/.test(m[0]) && Math.abs(Number(m[0].slice(0, 13)) - now) < 86_400_000;
    if (timestampSeq) continue;
    outer: for (let len = 13; len <= 19; len++) {
      for (let i = 0; i + len <= digits.length; i++) {
        if (luhnValid(digits.slice(i, i + len))) {
          found.push(m[0]);
          break outer;
        }
      }
    }
  }
  return found;
}

/** Whether any of `cards` appears in `text`, in any spacing or dashing. */
export function containsAnyOf(text: string, cards: readonly string[]): boolean {
  const digitsOnly = text.replace(/(\d)[ -](?=\d)/g, '$1');
  return cards.some((c) => digitsOnly.includes(c));
}

/**
 * `text` without the given identifiers, in every spelling a payload gives them (as is, JSON-,
 * XML- and CSV-escaped, upper-cased for X12's basic character set, whitespace folded).
 * Identifiers (order id, line ids, SKUs) are never scrubbed, so one that passes the Luhn check
 * goes out unchanged; a scan for card data skips exactly those values, and only those that
 * hold a card-like number (a short id such as "1" is never removed).
 */
export function withoutIdentifiers(text: string, identifiers: readonly string[]): string {
  let out = text;
  for (const id of identifiers) {
    if (cardLikeNumbers(id).length === 0) continue;
    const folded = id.normalize('NFC').replace(/\s+/gu, ' ').trim();
    const spellings = new Set([id, folded, folded.toUpperCase(), JSON.stringify(id).slice(1, -1), folded.replace(/"/g, '""')]);
    spellings.add(folded.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;'));
    spellings.add(folded.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
    // Longest first, so a spelling that contains another is removed whole.
    for (const s of [...spellings].sort((a, b) => b.length - a.length)) if (s !== '') out = out.split(s).join('#');
  }
  return out;
}
