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
