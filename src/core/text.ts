/**
 * Text that must fit a field: one printable line, cut or wrapped to a length. Shared by the
 * carrier request builders and the formats with field limits (X12); pure.
 *
 * Lengths are counted in Unicode code points, as JSON Schema's `maxLength` counts them, and
 * text is only ever cut between grapheme clusters, so a cut never splits a surrogate pair,
 * a letter from its combining accent, or an emoji sequence.
 */

const graphemes = new Intl.Segmenter('und', { granularity: 'grapheme' });

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** Control characters and line/paragraph separators: carriers want one-line values. */
const CONTROL_OR_BREAK = /[\p{Cc}\p{Zl}\p{Zp}]/gu;
const WHITESPACE_RUN = /\s+/gu;

/** Printable ASCII words with single spaces between them: what `cleanText` returns unchanged. */
const CLEAN_ASCII = /^[!-~]+(?: [!-~]+)*$/;

/** Length in code points. */
export function codePointLength(text: string): number {
  // UTF-16 units less one for each surrogate pair (what iterating the string counts), without the iterator.
  let n = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        n -= 1;
        i += 1;
      }
    }
  }
  return n;
}

/**
 * One printable line: NFC (so "e" + combining diaeresis counts as one), lone surrogates
 * replaced (they cannot be encoded as UTF-8), control characters and runs of whitespace
 * turned into single spaces, trimmed. Empty when nothing printable is left.
 */
export function cleanText(text: string | undefined): string {
  if (text === undefined) return '';
  // Most values are already one clean line of printable ASCII: nothing below would change them.
  if (CLEAN_ASCII.test(text)) return text;
  return text
    .replace(LONE_SURROGATE, '\uFFFD')
    .normalize('NFC')
    .replace(CONTROL_OR_BREAK, ' ')
    .replace(WHITESPACE_RUN, ' ')
    .trim();
}

/**
 * Splits `text` into pieces of at most `max` code points, cutting between graphemes; a
 * single grapheme longer than `max` (a pathological run of combining marks) is cut between
 * code points, which is still never inside a character.
 */
function hardSplit(text: string, max: number): string[] {
  const pieces: string[] = [];
  let current = '';
  let length = 0;
  for (const { segment } of graphemes.segment(text)) {
    const points = [...segment];
    if (length + points.length <= max) {
      current += segment;
      length += points.length;
      continue;
    }
    if (current !== '') pieces.push(current);
    current = '';
    length = 0;
    for (let i = 0; i < points.length; i += max) {
      const chunk = points.slice(i, i + max);
      if (chunk.length === max && i + max < points.length) pieces.push(chunk.join(''));
      else {
        current = chunk.join('');
        length = chunk.length;
      }
    }
  }
  if (current !== '') pieces.push(current);
  return pieces;
}

/** `cleanText`, then cut to at most `max` code points (trailing space dropped). */
export function truncate(text: string | undefined, max: number): string {
  const clean = cleanText(text);
  if (codePointLength(clean) <= max) return clean;
  return (hardSplit(clean, max)[0] ?? '').trimEnd();
}

/**
 * `cleanText`, then word-wrap into lines of at most `width` code points, breaking inside
 * a word only when the word alone is longer than a line.
 */
export function wrapLines(text: string | undefined, width: number): string[] {
  const clean = cleanText(text);
  if (clean === '') return [];
  const lines: string[] = [];
  let current = '';
  for (const word of clean.split(' ')) {
    const candidate = current === '' ? word : `${current} ${word}`;
    if (codePointLength(candidate) <= width) {
      current = candidate;
    } else if (codePointLength(word) <= width) {
      lines.push(current);
      current = word;
    } else {
      if (current !== '') lines.push(current);
      const pieces = hardSplit(word, width);
      current = pieces.pop() ?? '';
      lines.push(...pieces);
    }
  }
  if (current !== '') lines.push(current);
  return lines;
}

/**
 * Street address lines within a carrier's `maxLines` × `width`: line1 and line2 are
 * wrapped separately (line2 keeps starting a new line, as on a label), and when together
 * they need more lines than allowed, line2 still keeps at least one.
 * Reports which of the two inputs made it into the result, and whether all of both did
 * (`complete`): a caller that must not cut an address holds it when it is not.
 */
export function fitAddressLines(
  line1: string | undefined,
  line2: string | undefined,
  width: number,
  maxLines: number,
): { lines: string[]; hasLine1: boolean; hasLine2: boolean; complete: boolean } {
  const first = wrapLines(line1, width);
  const second = wrapLines(line2, width);
  const firstCount = Math.min(first.length, second.length > 0 ? maxLines - 1 : maxLines);
  const kept1 = first.slice(0, firstCount);
  const kept2 = second.slice(0, maxLines - kept1.length);
  return { lines: [...kept1, ...kept2], hasLine1: kept1.length > 0, hasLine2: kept2.length > 0, complete: kept1.length === first.length && kept2.length === second.length };
}
