/**
 * SKU patterns (a supplier's `skus`, and any other list of SKUs in configuration). Pure.
 *
 * A SKU is an opaque string: `/`, spaces, dots, `#` and every other character are ordinary.
 * A pattern matches a whole SKU, case-sensitively, code point by code point (no Unicode
 * normalisation, no case folding: the pattern is compared as the merchant wrote it):
 * - `*` matches any run of characters, including none and including `/`;
 * - `?` matches exactly one character (one code point);
 * - `\` makes the next character literal (`\*`, `\?`, `\\`, `\[`);
 * - everything else matches itself.
 *
 * Patterns were picomatch globs before, which read `/` as a path separator and gave meaning
 * to `[abc]`, `{a,b}`, `!(x)` and a leading `!`. Those constructs are refused
 * (`skuPatternProblem`) rather than silently read as literal text, so a configuration that
 * relied on them stops at start-up instead of routing lines elsewhere.
 */

type Token = { kind: 'literal'; char: string } | { kind: 'star' } | { kind: 'one' };

/** Why `pattern` cannot be used, or undefined when it can. The text names no SKU data. */
export function skuPatternProblem(pattern: string): string | undefined {
  if (pattern === '') return 'a SKU pattern must not be empty';
  const chars = [...pattern];
  // Positions of unescaped characters, so `\[` stays a literal bracket.
  const plain: { char: string; at: number }[] = [];
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] === '\\') {
      if (i === chars.length - 1) return 'ends with a lone "\\" (write "\\\\" for a backslash)';
      i++;
      continue;
    }
    plain.push({ char: chars[i] ?? '', at: i });
  }
  const later = (from: number, char: string) => plain.some((p) => p.at > from && p.char === char);
  if (plain[0]?.at === 0 && plain[0].char === '!') {
    return 'starts with "!": negated patterns are not supported (write "\\!" for a SKU starting with "!")';
  }
  for (const [index, { char, at }] of plain.entries()) {
    if (char === '[' && later(at, ']')) {
      return 'uses a character class "[...]", which SKU patterns do not support: list each pattern, or write "\\[" for a literal bracket';
    }
    if (char === '{') {
      const close = plain.slice(index + 1).find((p) => p.char === '}');
      const inside = close === undefined ? '' : chars.slice(at + 1, close.at).join('');
      if (inside.includes(',') || inside.includes('..')) {
        return 'uses braces "{a,b}", which SKU patterns do not support: list each pattern, or write "\\{" for a literal brace';
      }
    }
    const previous = plain[index - 1];
    if (char === '(' && previous?.at === at - 1 && '!@+?*'.includes(previous.char) && later(at, ')')) {
      return `uses an extended glob "${previous.char}(...)", which SKU patterns do not support: write "\\(" for a literal parenthesis`;
    }
  }
  return undefined;
}

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i] ?? '';
    if (char === '\\' && i + 1 < chars.length) tokens.push({ kind: 'literal', char: chars[++i] ?? '' });
    else if (char === '*') {
      // `**` means the same as `*`; one token keeps matching linear in the SKU per star.
      if (tokens[tokens.length - 1]?.kind !== 'star') tokens.push({ kind: 'star' });
    } else if (char === '?') tokens.push({ kind: 'one' });
    else tokens.push({ kind: 'literal', char });
  }
  return tokens;
}

/**
 * Wildcard matching over code points: the classic greedy walk that, on a mismatch, resumes
 * after the last `*` one character further. At most O(pattern × SKU) steps, with no
 * regular expression that could backtrack exponentially.
 */
function matches(tokens: readonly Token[], sku: readonly string[]): boolean {
  let t = 0;
  let s = 0;
  let starAt = -1;
  let resumeAt = 0;
  while (s < sku.length) {
    const token = tokens[t];
    if (token !== undefined && (token.kind === 'one' || (token.kind === 'literal' && token.char === sku[s]))) {
      t++;
      s++;
    } else if (token?.kind === 'star') {
      starAt = t++;
      resumeAt = s;
    } else if (starAt >= 0) {
      t = starAt + 1;
      s = ++resumeAt;
    } else return false;
  }
  while (tokens[t]?.kind === 'star') t++;
  return t === tokens.length;
}

/**
 * Compiles SKU patterns into one predicate: true when the SKU matches any of them. An empty
 * SKU (a line without one) matches no pattern, not even `*`. Throws an `Error` naming the
 * pattern's index when one is refused by `skuPatternProblem`; configuration is checked when
 * it loads, so this only throws for patterns that never went through it.
 */
export function compileSkuPatterns(patterns: readonly string[]): (sku: string) => boolean {
  const exact = new Set<string>();
  const wild: Token[][] = [];
  patterns.forEach((pattern, index) => {
    const problem = skuPatternProblem(pattern);
    if (problem !== undefined) throw new Error(`SKU pattern ${index}: ${problem}`);
    const tokens = tokenize(pattern);
    if (tokens.every((t) => t.kind === 'literal')) exact.add(tokens.map((t) => (t.kind === 'literal' ? t.char : '')).join(''));
    else wild.push(tokens);
  });
  return (sku: string) => {
    if (sku === '') return false;
    if (exact.has(sku)) return true;
    if (wild.length === 0) return false;
    const chars = [...sku];
    return wild.some((tokens) => matches(tokens, chars));
  };
}

/** The pattern that matches exactly `sku` and nothing else (`*`, `?` and `\` escaped). */
export function literalSkuPattern(sku: string): string {
  // `!`, `[`, `{` and `(` are escaped too, so no literal reads as a refused glob construct.
  return sku.replace(/[\\*?![{(]/g, (c) => `\\${c}`);
}
