import { z } from 'zod';
import { MAX_CONFIRMATION_DOCUMENT_CHARS } from './format';

/**
 * The X12 envelope as the inbound X12 formats (856, 855) read it: a small tokenizer written
 * from the standard's envelope rules rather than a parser from npm. node-x12, the one
 * maintained-looking X12 parser for Node, has had no commit since 2022, stops at the first
 * envelope error (a reader here reports every one, naming the segment), and is used by the
 * tests as an independent second reader instead.
 *
 * - The delimiters come from the ISA's fixed positions: the element separator is character 4,
 *   the component separator character 105 and the segment terminator character 106 (ISA is
 *   fixed width). Line breaks after a terminator are skipped; a file may hold several
 *   interchanges one after another.
 * - Envelope integrity: IEA01 counts the groups and IEA02 repeats ISA13, GE01 counts the
 *   transaction sets and GE02 repeats GS06, SE01 counts the segments from ST to SE and SE02
 *   repeats ST02. A missing trailer (a truncated file) is a problem.
 * - Versions 004010 (ISA12 00401) and 005010 (ISA12 00501); others are refused.
 * Problems name the segment by its position in the file (1 is the first ISA) and its tag,
 * and never quote a value other than a control number or a code.
 */

export interface X12Segment {
  tag: string;
  /** `elements[0]` is XX01. */
  elements: string[];
  /** Position in the file, 1 for the first ISA. */
  position: number;
}

export interface X12TransactionSet {
  /** ST01, e.g. "856". */
  code: string;
  /** ST02. */
  control: string;
  /** GS06 of the group holding it. */
  groupControl: string;
  /** ISA13 of the interchange holding it, as a number. */
  interchangeControl: number;
  /** ISA12: 00401 or 00501. */
  version: string;
  /** The segments between ST and SE. */
  segments: X12Segment[];
  component: string;
}

/** The value of element `n` (1-based) of a segment, trimmed; undefined when empty or absent. */
export function element(segment: X12Segment | undefined, n: number): string | undefined {
  const value = segment?.elements[n - 1]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** "segment 12 (SE)": where a problem is. */
export function at(segment: X12Segment): string {
  return `segment ${segment.position} (${segment.tag})`;
}

/**
 * The transaction sets of every interchange in `text`, each expected to be an `expected`
 * (e.g. "856"); envelope problems are appended to `problems`.
 */
export function readTransactionSets(text: string, expected: string, problems: string[]): X12TransactionSet[] {
  if (text.length > MAX_CONFIRMATION_DOCUMENT_CHARS) {
    problems.push(`the document is ${text.length} characters; at most ${MAX_CONFIRMATION_DOCUMENT_CHARS} are read`);
    return [];
  }
  let rest = text.replace(/^\uFEFF/, '').replace(/^\s+/, '');
  if (!rest.startsWith('ISA')) {
    problems.push('the document does not start with an ISA segment: it is not an X12 interchange');
    return [];
  }
  const sets: X12TransactionSet[] = [];
  let position = 0;
  while (rest.length > 0) {
    if (!rest.startsWith('ISA')) {
      problems.push(`after segment ${position}: text follows the interchange that is not another ISA`);
      break;
    }
    if (rest.length < 106) {
      problems.push(`segment ${position + 1} (ISA): the ISA is cut short (it is 106 characters long)`);
      break;
    }
    const elementSep = rest.charAt(3);
    const component = rest.charAt(104);
    const terminator = rest.charAt(105);
    const isaElements = rest.slice(4, 105).split(elementSep);
    if (/[A-Za-z0-9 ]/.test(elementSep) || isaElements.length !== 16 || terminator === elementSep || terminator === component) {
      problems.push(`segment ${position + 1} (ISA): not a fixed-width ISA (16 elements, delimiters at characters 4, 105 and 106)`);
      break;
    }
    // The segments of this interchange, up to its IEA.
    const pieces = rest.slice(106).split(terminator);
    const isa: X12Segment = { tag: 'ISA', elements: isaElements, position: ++position };
    const segments: X12Segment[] = [];
    let consumed = 106;
    let ended = false;
    for (const [n, piece] of pieces.entries()) {
      const body = piece.replace(/^[\r\n]+/, '');
      if (n === pieces.length - 1) {
        // What follows the last terminator is not a segment: text there means the file was cut.
        if (body.trim() !== '') problems.push(`segment ${position + 1}: has no segment terminator (the file is cut short)`);
        break;
      }
      consumed += piece.length + terminator.length;
      if (body.trim() === '') continue;
      const [tag = '', ...elements] = body.split(elementSep);
      const segment = { tag: tag.trim(), elements, position: ++position };
      segments.push(segment);
      if (segment.tag === 'IEA') {
        ended = true;
        break;
      }
    }
    sets.push(...interchange(isa, segments, expected, component, problems));
    if (!ended) {
      problems.push(`the interchange at segment ${isa.position} has no IEA trailer (the file is cut short)`);
      break;
    }
    rest = rest.slice(Math.min(consumed, rest.length)).replace(/^\s+/, '');
  }
  return sets;
}

const count = z.string().regex(/^\d{1,10}$/);

function interchange(isa: X12Segment, segments: X12Segment[], expected: string, component: string, problems: string[]): X12TransactionSet[] {
  const version = (isa.elements[11] ?? '').trim();
  const isa13 = (isa.elements[12] ?? '').trim();
  if (version !== '00401' && version !== '00501') {
    problems.push(`${at(isa)}: ISA12 is ${JSON.stringify(version)}; versions 00401 (004010) and 00501 (005010) are read`);
  }
  if (!/^\d{9}$/.test(isa13)) problems.push(`${at(isa)}: ISA13 (interchange control number) must be 9 digits`);
  const interchangeControl = Number(isa13);
  const sets: X12TransactionSet[] = [];
  let groups = 0;
  let i = 0;
  while (i < segments.length) {
    const segment = segments[i] as X12Segment;
    if (segment.tag === 'IEA') {
      if (!count.safeParse(element(segment, 1)).success || Number(element(segment, 1)) !== groups) {
        problems.push(`${at(segment)}: IEA01 says ${count.safeParse(element(segment, 1)).success ? element(segment, 1) : 'an invalid number of'} functional groups, the interchange has ${groups}`);
      }
      if (element(segment, 2) !== isa13) problems.push(`${at(segment)}: IEA02 (${element(segment, 2) ?? 'empty'}) does not repeat ISA13 (${isa13})`);
      return sets;
    }
    if (segment.tag !== 'GS') {
      problems.push(`${at(segment)}: expected GS (a functional group) or IEA`);
      i++;
      continue;
    }
    groups++;
    const gs = segment;
    const gs06 = element(gs, 6) ?? '';
    let setsInGroup = 0;
    i++;
    let closed = false;
    while (i < segments.length) {
      const s = segments[i] as X12Segment;
      if (s.tag === 'GE') {
        if (!count.safeParse(element(s, 1)).success || Number(element(s, 1)) !== setsInGroup) {
          problems.push(`${at(s)}: GE01 says ${count.safeParse(element(s, 1)).success ? element(s, 1) : 'an invalid number of'} transaction sets, the group has ${setsInGroup}`);
        }
        if (element(s, 2) !== gs06) problems.push(`${at(s)}: GE02 (${element(s, 2) ?? 'empty'}) does not repeat GS06 (${gs06 || 'empty'})`);
        i++;
        closed = true;
        break;
      }
      if (s.tag === 'IEA') break;
      if (s.tag !== 'ST') {
        problems.push(`${at(s)}: expected ST (a transaction set) or GE`);
        i++;
        continue;
      }
      setsInGroup++;
      const st = s;
      const body: X12Segment[] = [];
      i++;
      let se: X12Segment | undefined;
      while (i < segments.length) {
        const t = segments[i] as X12Segment;
        if (t.tag === 'SE') {
          se = t;
          i++;
          break;
        }
        if (t.tag === 'ST' || t.tag === 'GE' || t.tag === 'IEA') break;
        body.push(t);
        i++;
      }
      const st02 = element(st, 2) ?? '';
      if (se === undefined) {
        problems.push(`${at(st)}: transaction set ${st02 || '(no ST02)'} has no SE trailer`);
      } else {
        const counted = body.length + 2;
        if (!count.safeParse(element(se, 1)).success || Number(element(se, 1)) !== counted) {
          problems.push(`${at(se)}: SE01 says ${count.safeParse(element(se, 1)).success ? element(se, 1) : 'an invalid number of'} segments, transaction set ${st02} has ${counted} (ST to SE)`);
        }
        if (element(se, 2) !== st02) problems.push(`${at(se)}: SE02 (${element(se, 2) ?? 'empty'}) does not repeat ST02 (${st02 || 'empty'})`);
      }
      if (element(st, 1) !== expected) {
        problems.push(`${at(st)}: transaction set ${st02} is a ${element(st, 1) ?? '(no ST01)'}, not a ${expected}`);
        continue;
      }
      sets.push({ code: expected, control: st02, groupControl: gs06, interchangeControl, version, segments: body, component });
    }
    if (!closed) problems.push(`${at(gs)}: functional group ${gs06 || '(no GS06)'} has no GE trailer`);
  }
  return sets;
}

/**
 * A date (CCYYMMDD, or YYMMDD) and optional time (HHMM, HHMMSS, HHMMSSDD) as an ISO 8601
 * date-time. X12 carries a time zone in a separate code (DTM04) that few senders fill: with
 * one of the US codes or UT/GM it is applied, otherwise the time is read as UTC.
 */
export function x12DateTime(date: string | undefined, time?: string, zone?: string): string | undefined {
  if (date === undefined) return undefined;
  const d = /^(\d{4})(\d{2})(\d{2})$/.exec(date) ?? (/^(\d{2})(\d{2})(\d{2})$/.exec(date) ? [date, `20${date.slice(0, 2)}`, date.slice(2, 4), date.slice(4, 6)] : null);
  if (!d) return undefined;
  const t = time === undefined ? ['0000', '00', '00', '00'] : /^(\d{2})(\d{2})(\d{2})?/.exec(time);
  if (!t) return undefined;
  const offsets: Record<string, string> = { UT: 'Z', GM: 'Z', ET: '-05:00', ES: '-05:00', ED: '-04:00', CT: '-06:00', CS: '-06:00', CD: '-05:00', MT: '-07:00', MS: '-07:00', MD: '-06:00', PT: '-08:00', PS: '-08:00', PD: '-07:00' };
  const offset = (zone !== undefined ? offsets[zone] : undefined) ?? 'Z';
  return `${d[1]}-${d[2]}-${d[3]}T${t[1]}:${t[2]}:${t[3] ?? '00'}${offset}`;
}

/** A quantity element (type R): a whole number, or undefined. */
export function x12Quantity(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+(\.0*)?$/.test(value)) return undefined;
  return Number(value);
}

/** The qualifiers a supplier's line may name our SKU with, in order of preference. */
export const DEFAULT_SKU_QUALIFIERS = ['SK', 'BP', 'VP'] as const;

/** Options of the inbound X12 formats (a supplier's `confirmations.x12`). */
export const X12InboundOptions = z
  .object({
    /**
     * Product ID qualifiers (LIN, PO1) that carry our SKU, in order of preference.
     * @defaultValue ["SK", "BP", "VP"]: stock keeping unit (how our 850 sends it, PO107),
     * buyer's part number, vendor's part number.
     */
    skuQualifiers: z
      .array(z.string().regex(/^[A-Z0-9]{2}$/, 'must be a two-character product ID qualifier such as "SK"'))
      .min(1, 'must name at least one qualifier')
      .max(10)
      .default([...DEFAULT_SKU_QUALIFIERS]),
    /**
     * The REF qualifier under which this supplier repeats the interchange control number
     * (ISA13) of our 850 that it answers, when it does (no standard element carries it):
     * the 855's header REF, the 856's shipment or order level REF. Unset: not read.
     */
    controlNumberRef: z.string().regex(/^[A-Z0-9]{2,3}$/, 'must be a REF01 reference qualifier such as "ZZ"').optional(),
  })
  .strict();
export type X12InboundOptions = z.infer<typeof X12InboundOptions>;

/** Checks the options block, naming every problem. */
export function parseX12Options(raw: unknown): { ok: true; options: X12InboundOptions } | { ok: false; problems: string[] } {
  const parsed = X12InboundOptions.safeParse(raw ?? {});
  if (parsed.success) return { ok: true, options: parsed.data };
  return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : 'options'}: ${i.message}`) };
}

/**
 * The SKU among product ID pairs (qualifier, id) starting at element `from`: the id of the
 * first qualifier in `qualifiers` the segment carries.
 */
export function skuOf(segment: X12Segment, from: number, qualifiers: readonly string[]): string | undefined {
  const pairs = new Map<string, string>();
  for (let n = from; n + 1 <= segment.elements.length; n += 2) {
    const qualifier = element(segment, n);
    const id = segment.elements[n]?.trim();
    if (qualifier !== undefined && id !== undefined && id !== '' && !pairs.has(qualifier)) pairs.set(qualifier, id);
  }
  for (const q of qualifiers) {
    const id = pairs.get(q);
    if (id !== undefined) return id;
  }
  return undefined;
}

/** The options when the supplier's block gives none. */
export function defaultX12Options(): X12InboundOptions {
  return { skuQualifiers: [...DEFAULT_SKU_QUALIFIERS] };
}

/**
 * The control number of our 850 the document names under `options.controlNumberRef`, from
 * the first REF with that qualifier in `segments`; a problem when it is not 1-999999999.
 */
export function controlNumberOf(segments: readonly X12Segment[], options: X12InboundOptions, where: string, problems: string[]): number | undefined {
  if (options.controlNumberRef === undefined) return undefined;
  const ref = segments.find((s) => s.tag === 'REF' && element(s, 1) === options.controlNumberRef);
  const value = element(ref, 2);
  if (ref === undefined || value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) {
    problems.push(`${where}, ${at(ref)}: REF02 under ${options.controlNumberRef} (our 850's control number) must be a number from 1 to 999999999`);
    return undefined;
  }
  return Number(value);
}
