/**
 * Card data detection and redaction (privacy promise 1). Pure functions.
 *
 * A "card-like number" is a run of 13 to 19 digits that passes the Luhn check, its digits
 * optionally separated by what people type between digit groups or what a format may later
 * drop or fold into a space: whitespace of any kind and length (tabs, no-break and thin
 * spaces, line breaks), every dash and minus sign, dots, slashes, underscores, invisible
 * format characters, and any mix of these. A digit is any Unicode decimal digit (Arabic-Indic,
 * Devanagari, fullwidth, mathematical, …), read as its value. A maximal digit run is redacted
 * whole when any 13..19-digit window inside it is Luhn-valid: a card number glued to other
 * digits must not survive because the run as a whole fails the check.
 *
 * This is for free text only: identifiers (SKUs, barcodes, tracking numbers, order and line
 * ids) are never passed through it (see `src/core/scrub.ts`), since an EAN-13 or a tracking
 * number passes the Luhn check as often as any other digit string.
 */
export const REDACTED = '[redacted]';

/**
 * What may stand between two digits of one number: whitespace and control characters,
 * invisible format characters (zero-width space, soft hyphen: cXML drops them), dashes
 * (\p{Pd}: hyphen, en and em dash, fullwidth hyphen-minus, …) and minus signs, connector
 * punctuation (\p{Pc}: "_", fullwidth low line), dots and middle dots, slashes and
 * backslashes, and the X12 delimiters (`* ~ ^ > | :`), which the X12 writer folds to spaces.
 * (The run's classes and \p{N} are disjoint, so matching cannot backtrack badly.)
 */
const DIGIT_RUN =
  /\p{N}(?:[\s\p{Cc}\p{Cf}\p{Pd}\p{Pc}\u2212\u2796\u207B\u208B\u02D7.\u00B7\u2022\u2024\u2027\u2219\u22C5\u3002\uFF0E\uFF61/\\\u2044\u2215\u29F8\uFF0F\uFF3C*~^>|:]*\p{N})*/gu;
/** Thirteen digits anywhere (the classes are disjoint, so this cannot backtrack badly). */
const THIRTEEN_DIGITS = /\p{N}(?:\P{N}*\p{N}){12}/u;
const DECIMAL_DIGIT = /^\p{Nd}$/u;
const ASCII_DIGIT = /^[0-9]$/;

const isDecimalDigit = (codePoint: number) => DECIMAL_DIGIT.test(String.fromCodePoint(codePoint));
const decimalValues = new Map<number, number>();

/**
 * The value of a Unicode decimal digit (\p{Nd}). Unicode encodes every decimal digit set as
 * ten consecutive code points from 0 to 9 (a stability policy), and adjacent sets (the five
 * mathematical ones) each take exactly ten; so the value is the distance from the start of
 * the run of decimal digits the code point is in, modulo ten.
 */
function decimalValue(codePoint: number): number {
  let value = decimalValues.get(codePoint);
  if (value === undefined) {
    let start = codePoint;
    while (start > 0 && isDecimalDigit(start - 1)) start--;
    value = (codePoint - start) % 10;
    decimalValues.set(codePoint, value);
  }
  return value;
}

/** The ASCII digits a run stands for: decimal digits by value, other numerals (², ①) by NFKC. */
function digitsOf(run: string): string {
  let digits = '';
  for (const char of run) {
    if (ASCII_DIGIT.test(char)) digits += char;
    else if (DECIMAL_DIGIT.test(char)) digits += String(decimalValue(char.codePointAt(0) ?? 0));
    else if (/\p{N}/u.test(char)) digits += char.normalize('NFKC').replace(/[^0-9]/g, '');
  }
  return digits;
}

/** `text` with every Unicode decimal digit written as its ASCII digit (for phone numbers). */
export function asciiDigits(text: string): string {
  return text.replace(/\p{Nd}/gu, (d) => (ASCII_DIGIT.test(d) ? d : String(decimalValue(d.codePointAt(0) ?? 0))));
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function runHasCardNumber(digits: string): boolean {
  if (digits.length < 13) return false;
  for (let len = 13; len <= 19; len++) {
    for (let start = 0; start + len <= digits.length; start++) {
      if (luhnValid(digits.slice(start, start + len))) return true;
    }
  }
  return false;
}

/** True when the text contains anything that looks like a card number. */
export function containsCardNumber(text: string): boolean {
  for (const match of text.matchAll(DIGIT_RUN)) {
    if (runHasCardNumber(digitsOf(match[0]))) return true;
  }
  return false;
}

/** Replaces every card-like digit run in `text` by `[redacted]`. */
export function redactCardNumbers(text: string): string {
  // Fast path, without building a match array: most strings do not have 13 digits at all.
  if (!THIRTEEN_DIGITS.test(text)) return text;
  return text.replace(DIGIT_RUN, (run) => (runHasCardNumber(digitsOf(run)) ? REDACTED : run));
}

/** Keys (case- and separator-insensitive) that hold card or browser data in any source payload. */
const SENSITIVE_KEY =
  /^(card_?number|credit_?card_?number|cc_?number|card_?bin|credit_?card_?bin|cvv|cvc|cvv2|cvc2|cvv_?result(_?code)?|cvc_?check|avs(_?result(_?code)?)?|avs_?code|exp(iry|iration)?(_?(month|year|date))?|browser_?ip|ip(_?address)?|customer_?ip(_?address)?|user_?agent|customer_?user_?agent|accept_?language|referr?er|referring_?site|landing_?site(_?ref)?|cookies?|session(_?hash|_?id)?|cart_?token|checkout_?token|client_?details|browser_?(height|width))$/i;

/** True when a payload key names card data or browser data that must be dropped at ingestion. */
export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key.replace(/-/g, '_'));
}
