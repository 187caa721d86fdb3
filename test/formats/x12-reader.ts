import { createRequire } from 'node:module';

/**
 * Two independent readers for the X12 tests: a small one written here from the standard's
 * envelope rules (delimiters read from the fixed ISA positions), and node-x12, a maintained
 * parser from npm, when it is installed (`npm install --save-dev node-x12`).
 */

export interface X12Segment {
  tag: string;
  /** Elements after the tag: `elements[0]` is XX01. */
  elements: string[];
}

export interface X12Document {
  element: string;
  segment: string;
  component: string;
  /** ISA11: the repetition separator in 005010, "U" in 004010. */
  isa11: string;
  /** The ISA segment as written, terminator included. */
  isa: string;
  segments: X12Segment[];
}

/** Splits an interchange by the delimiters its ISA declares (element at 3, component at 104, terminator at 105). */
export function readX12(edi: string): X12Document {
  if (!edi.startsWith('ISA')) throw new Error('not an X12 interchange: no ISA at the start');
  const element = edi.charAt(3);
  const component = edi.charAt(104);
  const segment = edi.charAt(105);
  const pieces = edi.split(segment);
  const last = pieces.pop();
  if (last === undefined || last.trim() !== '') throw new Error('text after the last segment terminator');
  const segments = pieces.map((piece, i) => {
    // Line breaks after a terminator are for people; a parser skips them.
    const text = i === 0 ? piece : piece.replace(/^[\r\n]+/, '');
    const [tag = '', ...elements] = text.split(element);
    return { tag, elements };
  });
  return { element, segment, component, isa11: segments[0]?.elements[10] ?? '', isa: edi.slice(0, 106), segments };
}

/** The value of `tag` + two-digit position in the `n`th (0-based) segment with that tag. */
export function el(doc: X12Document, tag: string, position: number, n = 0): string | undefined {
  return doc.segments.filter((s) => s.tag === tag)[n]?.elements[position - 1];
}

/** The 850 segments in the order the standard places them (heading, detail, summary). */
const ORDER = ['ISA', 'GS', 'ST', 'BEG', 'CUR', 'REF', 'PER', 'ITD', 'DTM', 'PKG', 'TD5', 'N9', 'MSG', 'N1', 'N2', 'N3', 'N4', 'PER', 'PO1', 'PID', 'PO4', 'MSG', 'CTT', 'AMT', 'SE', 'GE', 'IEA'];
/** Loops (and, in a batch, transaction sets) start over at their first segment; within one, tags never go backwards. */
const LOOP_STARTS = new Set(['ST', 'N9', 'N1', 'PO1']);
export function followsStandardOrder(doc: X12Document): boolean {
  let position = 0;
  for (const { tag } of doc.segments) {
    const candidates = ORDER.map((t, i) => (t === tag ? i : -1)).filter((i) => i >= 0);
    const next = candidates.find((i) => i >= position || (LOOP_STARTS.has(tag) && i >= ORDER.indexOf(tag)));
    if (next === undefined) return false;
    position = next;
  }
  return true;
}

/** Fixed widths of ISA01..ISA16. */
const ISA_WIDTHS = [2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1];

/** Envelope rules every interchange must keep, checked on the samples and on every rendered document. */
export function checkEnvelope(doc: X12Document): void {
  const tags = doc.segments.map((s) => s.tag);
  expect(tags.slice(0, 3)).toEqual(['ISA', 'GS', 'ST']);
  expect(tags.slice(-3)).toEqual(['SE', 'GE', 'IEA']);
  expect(doc.isa).toHaveLength(106);
  expect(doc.isa.endsWith(doc.segment)).toBe(true);
  const isa = doc.segments[0]?.elements ?? [];
  expect(isa.map((e) => e.length)).toEqual(ISA_WIDTHS);
  // Every transaction set (one, or one per purchase order of a batch): SE01 counts ST..SE,
  // SE02 repeats ST02, ST02 is unique in the group, CTT01 counts its PO1 lines.
  const sets = tags.flatMap((t, i) => (t === 'ST' ? [i] : []));
  const controls = new Set<string>();
  sets.forEach((st, k) => {
    const se = tags.indexOf('SE', st);
    expect(se).toBeGreaterThan(st);
    if (k + 1 < sets.length) expect(se).toBeLessThan(sets[k + 1]!);
    const segments = doc.segments.slice(st, se + 1);
    expect(segments[0]?.elements[0]).toBe('850');
    expect(Number(segments.at(-1)?.elements[0])).toBe(se - st + 1);
    expect(segments.at(-1)?.elements[1]).toBe(segments[0]?.elements[1]);
    controls.add(segments[0]?.elements[1] ?? '');
    const ctt = segments.find((x) => x.tag === 'CTT');
    expect(ctt?.elements[0]).toBe(String(segments.filter((x) => x.tag === 'PO1').length));
  });
  expect(controls.size).toBe(sets.length);
  expect(el(doc, 'GE', 1)).toBe(String(sets.length));
  expect(el(doc, 'GE', 2)).toBe(el(doc, 'GS', 6));
  expect(el(doc, 'IEA', 1)).toBe('1');
  expect(el(doc, 'IEA', 2)).toBe(isa[12]);
  expect(followsStandardOrder(doc)).toBe(true);
  // No trailing empty elements: X12 leaves them out.
  for (const s of doc.segments.slice(1)) expect(s.elements[s.elements.length - 1]).not.toBe('');
}

// ---------------------------------------------------------------------------------------
// node-x12

interface NodeX12Segment {
  tag: string;
  elements: Array<{ value: string }>;
  valueOf(position: number): string | null;
}
interface NodeX12Interchange {
  header: NodeX12Segment;
  trailer: NodeX12Segment;
  functionalGroups: Array<{
    header: NodeX12Segment;
    trailer: NodeX12Segment;
    transactions: Array<{ header: NodeX12Segment; trailer: NodeX12Segment; segments: NodeX12Segment[] }>;
  }>;
}
interface NodeX12 {
  X12Parser: new (strict: boolean) => { parse(edi: string): NodeX12Interchange };
}

/** node-x12 if installed; undefined otherwise (the tests that need it are then skipped and say so). */
export function loadNodeX12(): NodeX12 | undefined {
  try {
    return createRequire(__filename)('node-x12') as NodeX12;
  } catch {
    return undefined;
  }
}

/** Parses strictly with node-x12 (it throws on a wrong SE01, GE01, IEA01 or control number) and flattens the result. */
export function parseWithNodeX12(lib: NodeX12, edi: string): { interchange: NodeX12Interchange; segments: X12Segment[] } {
  // A parser keeps state between documents (several make a "fat" interchange): one per document.
  const interchange = new lib.X12Parser(true).parse(edi);
  const flat = (s: NodeX12Segment): X12Segment => ({ tag: s.tag, elements: s.elements.map((e) => e.value) });
  const segments: X12Segment[] = [flat(interchange.header)];
  for (const group of interchange.functionalGroups) {
    segments.push(flat(group.header));
    for (const t of group.transactions) segments.push(flat(t.header), ...t.segments.map(flat), flat(t.trailer));
    segments.push(flat(group.trailer));
  }
  segments.push(flat(interchange.trailer));
  return { interchange, segments };
}
