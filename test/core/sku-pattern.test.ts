import fc from 'fast-check';
import { compileSkuPatterns, literalSkuPattern, skuPatternProblem } from '../../src/core/sku-pattern';

const matches = (patterns: string[], sku: string) => compileSkuPatterns(patterns)(sku);

/** SKUs as stores write them: any Unicode, with `/`, spaces, dots, `#` and the wildcards themselves. */
const skuArb = fc
  .array(
    fc.oneof(
      fc.constantFrom('/', ' ', '.', '#', '*', '?', '\\', '[', ']', '{', '}', ',', '(', ')', '!', '-', '_', 'A', 'a', 'é', '😀'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    ),
    { minLength: 1, maxLength: 12 },
  )
  .map((parts) => parts.join(''));

describe('SKU patterns: SKUs are opaque strings', () => {
  it.each([
    ['VC-*', 'VC-CHEDDAR-1', true],
    ['VC-*', 'VC-', true],
    ['VC-*', 'vc-cheddar', false], // case-sensitive, as the merchant wrote it
    ['VC-*', 'XVC-1', false], // anchored to the whole SKU
    ['BUTTER-42', 'BUTTER-42', true],
    ['BUTTER-42', 'BUTTER-420', false],
    ['VC-*', 'VC-12/500G', true], // "/" is an ordinary character
    ['VC-*/500G', 'VC-CHEDDAR/AGED/500G', true],
    ['OLV 500 ML*', 'OLV 500 ML.BTL', true],
    ['CHOC-#?', 'CHOC-#1', true],
    ['CHOC-#?', 'CHOC-#12', false],
    ['CHOC-#?', 'CHOC-#😀', true], // "?" is one character, even outside the BMP
    ['.hidden*', '.hidden-sku', true], // a leading dot is ordinary
    ['A*B*C', 'A//B..C', true],
    ['A*B*C', 'A//B..D', false],
    ['**', 'anything/at all', true],
    ['PRE\\*', 'PRE*', true], // "\" makes the next character literal
    ['PRE\\*', 'PREFIX', false],
    ['\\[L\\]-*', '[L]-1', true],
    ['SHIRT (RED)', 'SHIRT (RED)', true],
  ])('%j against %j: %s', (pattern, sku, expected) => {
    expect(matches([pattern], sku)).toBe(expected);
  });

  it('never claims a line without a SKU, not even with "*"', () => {
    expect(matches(['*'], '')).toBe(false);
    expect(matches(['*'], ' ')).toBe(true);
  });

  it('matches when any pattern of the list does', () => {
    expect(matches(['VC-*', 'BUTTER-42'], 'BUTTER-42')).toBe(true);
    expect(matches(['VC-*', 'BUTTER-42'], 'VC-1')).toBe(true);
    expect(matches(['VC-*', 'BUTTER-42'], 'OLV-1')).toBe(false);
  });

  it('stays fast on patterns with many stars against long SKUs (no exponential backtracking)', () => {
    const pattern = `${'*a'.repeat(30)}*b`;
    const sku = 'a'.repeat(2000);
    // A counter would need instrumenting the matcher; the bound is the algorithm's: at most
    // pattern × SKU steps, which this call does in well under a second even on a busy machine.
    expect(matches([pattern], sku)).toBe(false);
  });

  describe('properties', () => {
    it('every SKU matches its own literal pattern', () => {
      fc.assert(fc.property(skuArb, (sku) => matches([literalSkuPattern(sku)], sku)));
    });

    it('a pattern without wildcards matches no other string', () => {
      fc.assert(
        fc.property(skuArb, skuArb, (sku, other) => {
          fc.pre(sku !== other);
          return !matches([literalSkuPattern(sku)], other);
        }),
      );
    });

    it('"P*" matches exactly the SKUs that start with P', () => {
      fc.assert(
        fc.property(skuArb, skuArb, fc.nat(12), (prefixSource, sku, cut) => {
          const prefix = [...prefixSource].slice(0, cut).join('');
          const expected = sku.startsWith(prefix);
          return matches([`${literalSkuPattern(prefix)}*`], sku) === expected;
        }),
      );
      fc.assert(fc.property(skuArb, skuArb, (prefix, rest) => matches([`${literalSkuPattern(prefix)}*`], prefix + rest)));
    });

    it('"*S" matches exactly the SKUs that end with S, "*S*" those that contain it', () => {
      fc.assert(
        fc.property(skuArb, skuArb, (part, sku) => {
          const literal = literalSkuPattern(part);
          return matches([`*${literal}`], sku) === sku.endsWith(part) && matches([`*${literal}*`], sku) === sku.includes(part);
        }),
      );
    });

    it('"?" stands for exactly one character', () => {
      fc.assert(
        fc.property(skuArb, (sku) => {
          const length = [...sku].length;
          return matches(['?'.repeat(length)], sku) && !matches(['?'.repeat(length + 1)], sku) && (length === 1 || !matches(['?'.repeat(length - 1)], sku));
        }),
      );
    });

    it('agrees with a reference matcher built from a regular expression', () => {
      const patternArb = fc
        .array(fc.oneof(fc.constant('*'), fc.constant('?'), fc.constantFrom('a', 'b', '/', '.', ' ', '#')), { maxLength: 8 })
        .map((parts) => parts.join(''));
      const skuOf = fc.array(fc.constantFrom('a', 'b', '/', '.', ' ', '#'), { minLength: 1, maxLength: 10 }).map((p) => p.join(''));
      fc.assert(
        fc.property(patternArb, skuOf, (pattern, sku) => {
          fc.pre(pattern !== '');
          const reference = new RegExp(`^${pattern.replace(/\./g, '\\.').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'su');
          return matches([pattern], sku) === reference.test(sku);
        }),
      );
    });
  });
});

describe('SKU patterns: glob constructs that would silently change meaning are refused', () => {
  it.each([
    ['VC-[AB]*', /character class/],
    ['VC-{A,B}*', /braces/],
    ['VC-{1..9}', /braces/],
    ['!VC-*', /negated/],
    ['VC-+(A)', /extended glob "\+\(\.\.\.\)"/],
    ['VC-*(A)', /extended glob "\*\(\.\.\.\)"/],
    ['VC-\\', /lone "\\"/],
    ['', /must not be empty/],
  ])('%j: %s', (pattern, problem) => {
    expect(skuPatternProblem(pattern)).toMatch(problem);
    expect(() => compileSkuPatterns(['OK-*', pattern])).toThrow(/^SKU pattern 1: /);
  });

  it.each(['VC-*', 'BUTTER-42', 'VC-[', 'VC-]', 'VC-{A}', 'A(B)', 'A!', '\\!VC', '\\[AB]', 'SHIRT (RED) *'])('accepts %j', (pattern) => {
    expect(skuPatternProblem(pattern)).toBeUndefined();
  });
});
