import { z } from 'zod';
import { transliterate as toAscii } from 'transliteration';
import type { FieldPath } from '../core/field-paths';
import { regionCode } from '../core/regions';
import { cleanText, codePointLength, fitAddressLines, wrapLines } from '../core/text';
import { redactCardNumbers } from '../core/card-data';
import { DropshipError } from '../errors';
import type { BatchContext, BatchItem, DropShipOrder, PayloadCheck, PurchaseOrderFormat, RenderContext } from './format';

/**
 * ANSI X12 850 Purchase Order, drop-ship (`BEG*00*DS`), in one interchange (ISA/IEA)
 * holding one functional group (GS/GE) holding one transaction set (ST/SE).
 *
 * A value is written faithfully or the purchase order is not written at all: `check` (and
 * `render`, which throws a `DropshipError` `EINVALID_ORDER` with the same problems) names
 * every value the document cannot carry, and planning holds the order with them.
 * - Text (names, street lines, city, descriptions, messages): control characters and line
 *   breaks become spaces, whitespace is collapsed, and delimiter characters become spaces
 *   (X12 has no escape). A character outside the receiver's character set is a problem,
 *   unless `transliterate` is on and it has a standard ASCII spelling ("Zoë" → "Zoe",
 *   "Straße" → "Strasse", "Москва" → "Moskva"). Street lines wrap into two N3 segments of
 *   two elements, descriptions into more PID segments and messages into more MSG segments;
 *   a name, company or city longer than its element is a problem, never cut.
 * - The consignee (N1*ST) is the ship-to name, or its company: never the buyer's name. A
 *   ship-to without either is a problem. Without any ship-to, the customer's contact goes in
 *   the header PER.
 * - Codes (state, postal code, country, phone, e-mail, currency, tracking number) are left
 *   out when they cannot be sent unchanged (a shortened code names something else), and
 *   `check` reports their fields as unsent. A state or province name is written as its
 *   ISO 3166-2 code ("California" → "CA") when it has one of two letters.
 * - The purchase order's own identifiers (order id → BEG03, SKU → PO107) are written exactly
 *   as given, whitespace included (so "A 1" and "A  1" stay two items), or they are a
 *   problem: a PO for the wrong item is worse than none.
 * Lengths are counted in characters (code points).
 */

const delimiter = (what: string, fallback: string) =>
  z
    .string()
    .length(1, 'must be a single character')
    .refine((c) => !/[A-Za-z0-9 .]/.test(c), `${what} must not be a letter, digit, space or "." (they occur in values)`)
    .default(fallback);

const qualifier = z.string().regex(/^[A-Z0-9]{2}$/, 'must be a two-character ID code qualifier such as "ZZ" or "01"');
const isaId = z.string().regex(/^[\x21-\x7E](?:[\x20-\x7E]{0,13}[\x21-\x7E])?$/, 'must be 1-15 printable ASCII characters, no leading or trailing space');
const gsCode = z.string().regex(/^[\x21-\x7E](?:[\x20-\x7E]{0,13}[\x21-\x7E])$/, 'must be 2-15 printable ASCII characters, no leading or trailing space');

const Party = z
  .object({
    /** ISA05/ISA07 interchange ID qualifier, e.g. "ZZ" (mutually defined), "01" (DUNS), "12" (phone). */
    qualifier,
    /** ISA06/ISA08 interchange id, padded with spaces to 15 characters in the ISA. */
    id: isaId,
    /** GS02/GS03 application code. @defaultValue the interchange `id` */
    applicationCode: gsCode.optional(),
  })
  .strict();

const X12Options = z
  .object({
    /** X12 release: 005010 (ISA12 00501) or 004010 (ISA12 00401). @defaultValue "005010" */
    version: z.enum(['005010', '004010']).default('005010'),
    /** GS08 when the partner wants an industry variant, e.g. "004010VICS". @defaultValue `version` */
    groupVersionCode: z.string().regex(/^[A-Z0-9]{6,12}$/, 'must be 6-12 letters or digits such as "004010VICS"').optional(),
    /** The store: ISA05/ISA06 and GS02. */
    sender: Party,
    /** The supplier: ISA07/ISA08 and GS03. */
    receiver: Party,
    /** ISA15: "P" (production) or "T" (test). @defaultValue "production" */
    usage: z.enum(['production', 'test']).default('production'),
    /** ISA14: ask for a TA1 interchange acknowledgment. @defaultValue false */
    acknowledgmentRequested: z.boolean().default(false),
    /**
     * The interchange's delimiters, declared in the ISA. Each a single character that is not
     * a letter, digit, space or "."; all different. Values never contain them: inside text
     * they become spaces. @defaultValue `{ element: "*", segment: "~", component: ">", repetition: "^" }`
     */
    delimiters: z
      .object({
        /** Element separator (the character after "ISA"). @defaultValue "*" */
        element: delimiter('the element separator', '*'),
        /** Segment terminator. @defaultValue "~" */
        segment: delimiter('the segment terminator', '~'),
        /** Component element separator (ISA16). @defaultValue ">" */
        component: delimiter('the component separator', '>'),
        /** Repetition separator (ISA11, 005010 only). @defaultValue "^" */
        repetition: delimiter('the repetition separator', '^'),
      })
      .strict()
      .default({ element: '*', segment: '~', component: '>', repetition: '^' }),
    /**
     * What follows each segment terminator, for people reading the file; parsers skip it.
     * @defaultValue "lf"
     */
    lineBreak: z.enum(['none', 'lf', 'crlf']).default('lf'),
    /**
     * Characters the receiver takes: `basic` (upper-case letters, digits, space and
     * `! " & ' ( ) * + , - . / : ; ? =`; text is upper-cased), `extended` (printable
     * ASCII), `utf8` (any character; only if the partner agreed). @defaultValue "extended"
     */
    charset: z.enum(['basic', 'extended', 'utf8']).default('extended'),
    /**
     * Write characters the charset cannot carry in their standard ASCII transliteration
     * ("Zoë" → "Zoe", "東京" → "Dong Jing") instead of holding the order. Only when the
     * supplier agreed that its copy of a name or address may be spelt so. @defaultValue false
     */
    transliterate: z.boolean().default(false),
    /** PO103 unit of measure. @defaultValue "EA" */
    unitOfMeasure: z.string().regex(/^[A-Z0-9]{2}$/, 'must be a two-character X12 unit code such as "EA"').default('EA'),
  })
  .strict()
  .superRefine((o, ctx) => {
    const d = o.delimiters;
    const used = o.version === '005010' ? [d.element, d.segment, d.component, d.repetition] : [d.element, d.segment, d.component];
    if (new Set(used).size !== used.length) ctx.addIssue({ code: 'custom', path: ['delimiters'], message: 'delimiters must be different characters' });
    if (o.lineBreak !== 'none' && (d.segment === '\n' || d.segment === '\r')) {
      ctx.addIssue({ code: 'custom', path: ['lineBreak'], message: 'must be "none" when the segment terminator is a line break' });
    }
    for (const side of ['sender', 'receiver'] as const) {
      const p = o[side];
      for (const [key, value] of [['id', p.id], ['applicationCode', p.applicationCode ?? p.id]] as const) {
        if (used.some((c) => value.includes(c))) ctx.addIssue({ code: 'custom', path: [side, key], message: 'must not contain a delimiter character' });
      }
      if (p.applicationCode === undefined && p.id.length < 2) {
        ctx.addIssue({ code: 'custom', path: [side, 'applicationCode'], message: 'is required when the interchange id is shorter than 2 characters' });
      }
    }
  });
export type X12Options = z.infer<typeof X12Options>;

// ---------------------------------------------------------------------------------------
// Making values safe

const NOT_BASIC = /[^A-Z0-9 !"&'()*+,\-./:;?=]/;
const NOT_PRINTABLE_ASCII = /[^\x20-\x7E]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** What the transliteration library writes for a character it has no spelling for. */
const NO_SPELLING = '\uFFFD';

/**
 * A value written in the receiver's character set, without delimiters, on one line; nothing
 * redacted (codes and identifiers go out as given). Undefined when a character cannot be
 * carried (with `transliterate`: has no ASCII spelling either). The basic character set is
 * upper case, so upper-casing is not a change of value.
 */
function x12Chars(value: string, charset: X12Options['charset'], delimiters: readonly string[], transliterate = false): string | undefined {
  let text = cleanText(value);
  if (charset !== 'utf8') {
    // Invisible formatting (zero-width space and joiner, soft hyphen, direction marks,
    // variation selectors) carries nothing a reader sees: dropping it changes no value.
    text = cleanText(text.replace(/[\p{Cf}\uFE00-\uFE0F]/gu, ''));
    if (transliterate) text = cleanText(toAscii(text, { unknown: NO_SPELLING }));
    if (charset === 'basic') text = text.toUpperCase();
    if (text.includes(NO_SPELLING) || (charset === 'basic' ? NOT_BASIC : NOT_PRINTABLE_ASCII).test(text)) return undefined;
  }
  for (const d of delimiters) text = text.split(d).join(' ');
  return cleanText(text);
}

/** Free text written in the receiver's character set, as {@link x12Chars}, card numbers redacted. */
export function x12Text(value: string, charset: X12Options['charset'], delimiters: readonly string[], transliterate = false): string | undefined {
  const text = x12Chars(value, charset, delimiters, transliterate);
  // Delimiters turned into spaces can join digits into a card number the scrubber did not see.
  return text === undefined ? undefined : redactCardNumbers(text);
}

/** Decimal string as X12 type R wants it: no leading zeros, no trailing fractional zeros. */
function decimalR(value: string): string {
  const [whole = '0', fraction = ''] = value.split('.');
  const w = whole.replace(/^0+(?=\d)/, '');
  const f = fraction.replace(/0+$/, '');
  return f === '' ? w : `${w}.${f}`;
}

function weightR(grams: number): string {
  return decimalR(grams.toFixed(3));
}

// ---------------------------------------------------------------------------------------
// The document

/** The wall-clock date and time an ISO 8601 timestamp was written with (its own offset). */
function wallClock(iso: string): { yyyy: string; mm: string; dd: string; hh: string; mi: string } {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(iso);
  if (!m) throw new Error('the render context and order need ISO 8601 date-times');
  const [, yyyy = '', mm = '', dd = '', hh = '', mi = ''] = m;
  return { yyyy, mm, dd, hh, mi };
}

/** Lengths by element, where 004010 and 005010 differ. */
const LIMITS = {
  '005010': { REF02: 50, PER04: 256, AMT02: 18 },
  '004010': { REF02: 30, PER04: 80, AMT02: 15 },
} as const;

class Writer {
  readonly segments: string[] = [];
  /** Values the document cannot carry faithfully: the PO must not be sent. */
  readonly problems: string[] = [];
  /** Fields left out (codes that cannot be sent unchanged). */
  readonly unsent = new Set<FieldPath>();
  private readonly safe: readonly string[];

  constructor(
    private readonly o: X12Options,
    private readonly terminator: string,
  ) {
    const d = o.delimiters;
    this.safe = o.version === '005010' ? [d.element, d.segment, d.component, d.repetition] : [d.element, d.segment, d.component];
  }

  /** Appends a segment; trailing empty elements are left out, as X12 requires. */
  segment(tag: string, ...elements: Array<string | undefined>): void {
    const values = elements.map((e) => e ?? '');
    while (values.length > 0 && values[values.length - 1] === '') values.pop();
    this.segments.push([tag, ...values].join(this.o.delimiters.element) + this.terminator);
  }

  /** `value` in the receiver's character set, without delimiters; a problem naming `where` when it cannot be. */
  safeText(value: string | undefined, where: string): string | undefined {
    if (value === undefined) return undefined;
    const text = x12Text(value, this.o.charset, this.safe, this.o.transliterate);
    if (text === undefined) {
      this.problems.push(
        this.o.transliterate
          ? `${where} has characters X12 charset "${this.o.charset}" cannot carry and that have no ASCII transliteration`
          : `${where} has characters X12 charset "${this.o.charset}" cannot carry (formatOptions.transliterate: true writes them in ASCII where a standard spelling exists)`,
      );
    }
    return text === '' ? undefined : text;
  }

  /** Free text within `max` characters of `element`, or a problem: a name is never cut. */
  text(value: string | undefined, max: number, where: string, element: string): string | undefined {
    const text = this.safeText(value, where);
    if (text !== undefined && codePointLength(text) > max) {
      this.problems.push(`${where} is ${codePointLength(text)} characters; X12 ${element} takes at most ${max}`);
      return undefined;
    }
    return text;
  }

  /** Free text wrapped into lines of `width` (as many segments as it takes). */
  lines(value: string | undefined, width: number, where: string): string[] {
    const text = this.safeText(value, where);
    return text === undefined ? [] : wrapLines(text, width);
  }

  /**
   * A code: as given, or left out (and reported unsent) when it cannot be sent unchanged within
   * `min`..`max`. Never redacted: a Luhn-valid tracking number is not card data, and an
   * unchanged value had no delimiter that folding could have turned into a space joining digits.
   */
  code(value: string | undefined, min: number, max: number, where: FieldPath): string | undefined {
    if (value === undefined) return undefined;
    const clean = cleanText(value);
    const safe = x12Chars(clean, this.o.charset, this.safe);
    const expected = this.o.charset === 'basic' ? clean.toUpperCase() : clean;
    if (safe === expected && safe !== '' && codePointLength(safe) >= min && codePointLength(safe) <= max) return safe;
    this.unsent.add(where);
    return undefined;
  }

  /**
   * An identifier the PO cannot do without, exactly as given (whitespace included: "A 1" and
   * "A  1" are two items), or a problem naming `where` and `element`.
   */
  identifier(value: string | undefined, max: number, where: string, element: string): string | undefined {
    if (value === undefined) {
      this.problems.push(`${where} is withheld, but X12 ${element} needs it`);
      return undefined;
    }
    const written = this.o.charset === 'basic' ? value.toUpperCase() : value;
    const outsideCharset = this.o.charset === 'basic' ? NOT_BASIC : this.o.charset === 'extended' ? NOT_PRINTABLE_ASCII : LONE_SURROGATE;
    if (
      written.trim() === '' ||
      written !== written.trim() ||
      /[^\P{White_Space} ]|\p{Cc}/u.test(written) ||
      outsideCharset.test(written) ||
      this.safe.some((d) => written.includes(d))
    ) {
      this.problems.push(`${where} has characters X12 ${element} cannot carry with charset "${this.o.charset}" and these delimiters (choose other delimiters or charset)`);
      return undefined;
    }
    if (codePointLength(written) > max) {
      this.problems.push(`${where} is ${codePointLength(written)} characters; X12 ${element} takes at most ${max}`);
      return undefined;
    }
    return written;
  }
}

/** Contact (PER*IC): the customer's name, the ship-to's phone (or the customer's) and e-mail. */
function contact(w: Writer, po: DropShipOrder, o: X12Options): void {
  const phone = po.shipTo.phone !== undefined ? w.code(po.shipTo.phone, 1, LIMITS[o.version].PER04, 'shipTo.phone') : w.code(po.customer.phone, 1, LIMITS[o.version].PER04, 'customer.phone');
  const email = w.code(po.customer.email, 1, LIMITS[o.version].PER04, 'customer.email');
  const name = w.text(po.customer.name, 60, 'customer.name', 'PER02');
  if (phone === undefined && email === undefined && name === undefined) return;
  const comms: Array<string | undefined> = [];
  if (phone !== undefined) comms.push('TE', phone);
  if (email !== undefined) comms.push('EM', email);
  w.segment('PER', 'IC', name, ...comms);
}

function hasShipTo(po: DropShipOrder): boolean {
  const s = po.shipTo;
  return [s.name, s.company, s.line1, s.line2, s.city, s.region, s.postalCode, s.country].some((v) => v !== undefined);
}

function shipToLoop(w: Writer, po: DropShipOrder, o: X12Options): void {
  const s = po.shipTo;
  // N102 is required with N101 "ST": the consignee, never the buyer standing in for it.
  const reported = w.problems.length;
  const name = w.text(s.name, 60, 'shipTo.name', 'N102');
  const company = w.text(s.company, 60, 'shipTo.company', s.name === undefined ? 'N102' : 'N201');
  // Neither written, and not for a reason already given (a character set, a length).
  if (name === undefined && company === undefined && w.problems.length === reported) {
    w.problems.push('shipTo.name and shipTo.company are both withheld or empty, but X12 N1*ST needs the consignee (the customer\'s name is not sent in its place)');
  }
  w.segment('N1', 'ST', name ?? company);
  if (name !== undefined && company !== undefined) w.segment('N2', company);
  // Up to two N3 segments of two 55-character lines: long streets wrap instead of being cut.
  const street = fitAddressLines(w.safeText(s.line1, 'shipTo.line1'), w.safeText(s.line2, 'shipTo.line2'), 55, 4);
  if (!street.complete) w.problems.push('shipTo.line1 and shipTo.line2 need more than the 4 lines of 55 characters X12 N3 takes');
  for (let i = 0; i < street.lines.length; i += 2) w.segment('N3', street.lines[i], street.lines[i + 1]);
  const city = w.text(s.city, 30, 'shipTo.city', 'N401');
  // N402 is a two-letter code: a state or province name is written as its ISO 3166-2 code.
  const subdivision = s.country !== undefined ? regionCode(s.country, s.region) : undefined;
  const region = w.code(subdivision !== undefined && subdivision.length === 2 ? subdivision : s.region, 2, 2, 'shipTo.region');
  const postal = w.code(s.postalCode, 3, 15, 'shipTo.postalCode');
  const country = w.code(s.country, 2, 3, 'shipTo.country');
  if ([city, region, postal, country].some((v) => v !== undefined)) w.segment('N4', city, region, postal, country);
  contact(w, po, o);
}

function messages(w: Writer, label: string, text: string | undefined, where: string): void {
  const lines = w.lines(text, 264, where);
  if (lines.length === 0) return;
  w.segment('N9', 'L1', label);
  for (const line of lines) w.segment('MSG', line);
}

function transactionSet(w: Writer, po: DropShipOrder, o: X12Options, context: RenderContext, control: string): void {
  const order = po.order;
  const date = wallClock(order.placedAt ?? context.createdAt);
  w.segment('ST', '850', control);
  // BEG01 transaction set purpose: 00 original, 01 cancellation (of the PO with this BEG03).
  w.segment('BEG', context.purpose === 'cancellation' ? '01' : '00', 'DS', w.identifier(order.id, 22, 'order.id', 'BEG03 (purchase order number)'), undefined, `${date.yyyy}${date.mm}${date.dd}`);
  const currency = w.code(order.currency, 3, 3, 'order.currency');
  if (currency !== undefined) w.segment('CUR', 'BY', currency);
  const tracking = w.code(po.shipment.trackingNumber, 1, LIMITS[o.version].REF02, 'shipment.trackingNumber');
  if (tracking !== undefined) w.segment('REF', 'CN', tracking);
  // Without a ship-to loop, the customer's contact is the purchase order's own (header PER).
  if (!hasShipTo(po)) contact(w, po, o);
  // Routing is a code ("ups 03", "fedex PRIORITY_OVERNIGHT"): sent unchanged or left out.
  const routingText = [po.shipment.carrier, po.shipment.service].filter((v) => v !== undefined).join(' ');
  const routing = routingText === '' ? undefined : w.code(routingText, 1, 35, 'shipment.service');
  if (routing === undefined && routingText !== '') {
    if (po.shipment.carrier !== undefined) w.unsent.add('shipment.carrier');
    if (po.shipment.service === undefined) w.unsent.delete('shipment.service');
  }
  if (routing !== undefined) w.segment('TD5', undefined, undefined, undefined, 'ZZ', routing);
  messages(w, 'GIFT MESSAGE', order.giftMessage, 'order.giftMessage');
  messages(w, 'NOTES', order.notes, 'order.notes');
  if (hasShipTo(po)) shipToLoop(w, po, o);

  let allPriced = true;
  let total = 0n;
  let scale = 0;
  po.lines.forEach((line, i) => {
    const where = `lines[${i}]`;
    const price = line.unitPrice === undefined ? undefined : decimalR(line.unitPrice);
    if (price !== undefined && price.replace('.', '').length > 17) w.problems.push(`${where}.unitPrice has more than the 17 digits X12 PO104 takes`);
    const sku = line.sku === undefined ? undefined : w.identifier(line.sku, 48, `${where}.sku`, 'PO107 (SKU)');
    w.segment(
      'PO1',
      String(i + 1),
      line.quantity === undefined ? undefined : String(line.quantity),
      line.quantity === undefined ? undefined : o.unitOfMeasure,
      price,
      undefined,
      sku === undefined ? undefined : 'SK',
      sku,
    );
    // A long description continues in further PID segments rather than being cut.
    for (const description of w.lines(line.name, 80, `${where}.name`)) w.segment('PID', 'F', undefined, undefined, undefined, description);
    if (line.weight !== undefined) w.segment('PO4', '1', undefined, undefined, undefined, 'G', weightR(line.weight), 'GR');
    for (const [key, value] of Object.entries(line.properties ?? {})) {
      for (const message of w.lines(`${key}: ${value}`, 264, `${where}.properties`)) w.segment('MSG', message);
    }
    if (price === undefined || line.quantity === undefined) {
      allPriced = false;
    } else {
      const [whole = '0', fraction = ''] = price.split('.');
      scale = Math.max(scale, fraction.length);
      // Scaled to 6 decimals (the most the canonical order allows), exact.
      total += BigInt(whole + fraction.padEnd(6, '0')) * BigInt(line.quantity);
    }
  });
  w.segment('CTT', String(po.lines.length));
  if (allPriced) {
    const digits = total.toString().padStart(7, '0');
    const amount = decimalR(`${digits.slice(0, -6)}.${digits.slice(-6).slice(0, scale)}`);
    if (amount.replace('.', '').length <= LIMITS[o.version].AMT02) w.segment('AMT', 'TT', amount);
  }
  // SE01 counts the segments from ST to SE, both included.
  const count = w.segments.length + 1;
  w.segment('SE', String(count), control);
}

/** The problems and unsent fields of one purchase order, from writing its transaction set. */
function checkView(po: DropShipOrder, options: X12Options): PayloadCheck {
  const w = new Writer(options, '');
  // The date and control number never make a document unwritable; any valid ones do.
  transactionSet(w, po, options, { deliveryId: 'check', createdAt: '2000-01-01T00:00:00Z' }, '0001');
  return { problems: w.problems, unsent: [...w.unsent].sort() };
}

/** What ends a segment: the segment delimiter and the line break asked for. */
function terminatorOf(o: X12Options): string {
  return o.delimiters.segment + { none: '', lf: '\n', crlf: '\r\n' }[o.lineBreak];
}

/**
 * `checkView`, and the interchange when it finds no problems, from one writing of the
 * transaction set: only BEG's date (the order's, else `createdAt`) and BEG01 read the
 * context, and neither makes a problem or an unsent field.
 */
function checkAndRender(po: DropShipOrder, options: X12Options, context: RenderContext): { check: PayloadCheck; body?: string } {
  const transaction = new Writer(options, terminatorOf(options));
  try {
    // ST02 of a lone purchase order is the interchange's number (checked when it is written).
    transactionSet(transaction, po, options, context, String(context.controlNumber ?? 1).padStart(9, '0'));
  } catch {
    // A date this context cannot give (the order's withheld): as check, then render, would go.
    const check = checkView(po, options);
    return check.problems.length > 0 ? { check } : { check, body: x12Format.render(po, options, context) };
  }
  const check = { problems: transaction.problems, unsent: [...transaction.unsent].sort() };
  if (check.problems.length > 0) return { check };
  return { check, body: interchange([{ po, context }], options, { createdAt: context.createdAt, ...(context.controlNumber !== undefined ? { controlNumber: context.controlNumber } : {}) }, transaction) };
}

/**
 * The interchange (ISA/GS ... GE/IEA) around one transaction set per purchase order;
 * `written` is the lone item's transaction set, already written (by `checkAndRender`).
 */
function interchange(items: readonly BatchItem[], options: X12Options, context: Pick<BatchContext, 'createdAt' | 'controlNumber'>, written?: Writer): string {
  const o = options;
  const controlNumber = context.controlNumber ?? 1;
  if (!Number.isInteger(controlNumber) || controlNumber < 1 || controlNumber > 999_999_999) {
    throw new RangeError('the X12 control number must be a whole number from 1 to 999999999');
  }
  const control9 = String(controlNumber).padStart(9, '0');
  const d = o.delimiters;
  const terminator = terminatorOf(o);
  const created = wallClock(context.createdAt);
  const is5010 = o.version === '005010';

  const isa = [
    'ISA',
    '00',
    ' '.repeat(10),
    '00',
    ' '.repeat(10),
    o.sender.qualifier,
    o.sender.id.padEnd(15, ' '),
    o.receiver.qualifier,
    o.receiver.id.padEnd(15, ' '),
    `${created.yyyy.slice(2)}${created.mm}${created.dd}`,
    `${created.hh}${created.mi}`,
    is5010 ? d.repetition : 'U',
    is5010 ? '00501' : '00401',
    control9,
    o.acknowledgmentRequested ? '1' : '0',
    o.usage === 'test' ? 'T' : 'P',
    d.component,
  ].join(d.element);

  const group = new Writer(o, terminator);
  group.segment(
    'GS',
    'PO',
    o.sender.applicationCode ?? o.sender.id,
    o.receiver.applicationCode ?? o.receiver.id,
    `${created.yyyy}${created.mm}${created.dd}`,
    `${created.hh}${created.mi}`,
    String(controlNumber),
    'X',
    o.groupVersionCode ?? o.version,
  );
  // ST02 of a lone purchase order is the interchange's own number; in a batch, 0001, 0002, ...
  items.forEach((item, i) => {
    let transaction = written;
    if (transaction === undefined) {
      transaction = new Writer(o, terminator);
      transactionSet(transaction, item.po, o, item.context, items.length === 1 ? control9 : String(i + 1).padStart(4, '0'));
    }
    if (transaction.problems.length > 0) {
      throw new DropshipError('EINVALID_ORDER', items.length === 1 ? transaction.problems : transaction.problems.map((p) => `purchase order ${i + 1}: ${p}`));
    }
    group.segments.push(...transaction.segments);
  });
  group.segment('GE', String(items.length), String(controlNumber));
  group.segment('IEA', '1', control9);
  return isa + terminator + group.segments.join('');
}

export const x12Format: PurchaseOrderFormat<X12Options> = {
  id: 'x12-850',
  fileExtension: 'edi',
  contentType: 'application/edi-x12',
  optionsSchema: X12Options,
  needsControlNumber: true,
  requiredFields: ['order.id', 'lines.sku', 'lines.quantity'],
  check: checkView,
  checkAndRender,
  render(po: DropShipOrder, options: X12Options, context: RenderContext): string {
    return interchange([{ po, context }], options, { createdAt: context.createdAt, ...(context.controlNumber !== undefined ? { controlNumber: context.controlNumber } : {}) });
  },
  /** One interchange and one functional group holding one transaction set per purchase order. */
  renderBatch(items: readonly BatchItem[], options: X12Options, context: BatchContext): string {
    return interchange(items, options, context);
  },
};
