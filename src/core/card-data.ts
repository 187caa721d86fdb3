/**
 * Card data detection and redaction (privacy promise 1). Pure functions.
 *
 * A "card-like number" is a run of 13 to 19 digits that passes the Luhn check, its digits
 * optionally separated by up to three whitespace characters (any kind: tabs, no-break
 * spaces, line breaks) or dashes: what a person may type, and what a carrier or format may
 * later fold into single spaces. A maximal digit run is redacted whole
 * when any 13..19-digit window inside it is Luhn-valid: a card number glued to other
 * digits must not survive because the run as a whole fails the check.
 */
export const REDACTED = '[redacted]';

// A digit is anything NFKC folds to 0-9 (fullwidth, mathematical, superscript digits). Between
// digits, anything a format may later drop or turn into a space still joins them: whitespace
// runs of any length (carriers and X12 fold them into one space), control and invisible format
// characters (NUL, zero-width space: cXML drops them), dashes and the X12 delimiters.
const DIGIT_RUN = /\p{N}(?:[\s\p{Cc}\p{Cf}*~^>|:-]*\p{N})*/gu;
/** Thirteen digits anywhere (the classes are disjoint, so this cannot backtrack badly). */
const THIRTEEN_DIGITS = /\p{N}(?:\P{N}*\p{N}){12}/u;
const digitsOf = (run: string) => run.normalize('NFKC').replace(/[^0-9]/g, '');

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
