import { z } from 'zod';
import { cleanText, codePointLength, fitAddressLines, truncate, wrapLines } from '../core/text';
import { redactCardNumbers } from '../core/card-data';
import { DropshipError } from '../errors';
import type { BatchContext, BatchItem, DropShipOrder, PurchaseOrderFormat, RenderContext } from './format';

/**
 * ANSI X12 850 Purchase Order, drop-ship (`BEG*00*DS`), in one interchange (ISA/IEA)
 * holding one functional group (GS/GE) holding one transaction set (ST/SE).
 *
 * X12 has no escape mechanism, so every value is made safe before it is written, in this
 * order: control characters and line breaks become spaces; characters outside the chosen
 * character set are transliterated ("Zoë" → "Zoe", "ß" → "ss") or, when there is no
 * ASCII spelling, dropped; delimiter characters become spaces; whitespace is collapsed.
 * Then each kind of value is fitted to its element's maximum length:
 * - free text (names, street lines, city, descriptions, messages) is cut at a character
 *   boundary (street lines are first wrapped into a second N3 element and segment);
 * - codes (state, postal code, country, phone, e-mail, tracking number) are left out when
 *   making them safe changed them or they are too long: a shortened code names something else;
 * - the purchase order's own identifiers (order id → BEG03, SKU → PO107) that cannot be
 *   sent unchanged make `render` throw a `DropshipError` (`EINVALID_ORDER`) naming the
 *   element: a PO for the wrong item is worse than none.
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

/** Letters NFKD does not decompose into ASCII, and common typographic punctuation. */
const TRANSLITERATIONS: Record<string, string> = {
  ß: 'ss', ẞ: 'SS', Æ: 'AE', æ: 'ae', Ø: 'O', ø: 'o', Œ: 'OE', œ: 'oe', Đ: 'D', đ: 'd', Ð: 'D', ð: 'd',
  Ł: 'L', ł: 'l', Þ: 'TH', þ: 'th', ı: 'i', Ħ: 'H', ħ: 'h', ŋ: 'ng', Ŋ: 'NG', ĸ: 'q',
  '\u2018': "'", '\u2019': "'", '\u201A': "'", '\u201B': "'", '\u2032': "'",
  '\u201C': '"', '\u201D': '"', '\u201E': '"', '\u201F': '"', '\u2033': '"', '«': '"', '»': '"',
  '\u2010': '-', '\u2011': '-', '\u2012': '-', '\u2013': '-', '\u2014': '-', '\u2015': '-', '\u2212': '-',
  '\u2044': '/', '\u2022': '-', '·': '.', '×': 'x', '€': 'EUR', '£': 'GBP', '¥': 'JPY', '©': '(C)', '®': '(R)', '™': 'TM', '°': ' ',
};
const BASIC = /[^A-Z0-9 !"&'()*+,\-./:;?=]/g;
const NOT_PRINTABLE_ASCII = /[^\x20-\x7E]/g;

/** A value in the receiver's character set, without delimiters, on one line; nothing redacted. */
function x12Chars(value: string, charset: X12Options['charset'], delimiters: readonly string[]): string {
  let text = cleanText(value);
  if (charset !== 'utf8') {
    text = Array.from(text.normalize('NFKD').replace(/\p{M}/gu, ''), (ch) => TRANSLITERATIONS[ch] ?? ch).join('');
    text = charset === 'basic' ? text.toUpperCase().replace(BASIC, '') : text.replace(NOT_PRINTABLE_ASCII, '');
  }
  for (const d of delimiters) text = text.split(d).join(' ');
  return cleanText(text);
}

/** Free text written in the receiver's character set, without delimiters, on one line. */
export function x12Text(value: string, charset: X12Options['charset'], delimiters: readonly string[]): string {
  // Delimiters turned into spaces can join digits into a card number the scrubber did not see.
  return redactCardNumbers(x12Chars(value, charset, delimiters));
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

  /** `value` in the receiver's character set, without delimiters. */
  safeText(value: string): string {
    return x12Text(value, this.o.charset, this.safe);
  }

  text(value: string | undefined, max: number): string | undefined {
    if (value === undefined) return undefined;
    const t = truncate(this.safeText(value), max);
    return t === '' ? undefined : t;
  }

  lines(value: string | undefined, width: number): string[] {
    return value === undefined ? [] : wrapLines(this.safeText(value), width);
  }

  /**
   * Codes and identifiers go out exactly as given or not at all, so they are never redacted:
   * a Luhn-valid EAN-13 SKU or tracking number is not card data, and an unchanged value had
   * no delimiter that folding could have turned into a space joining digits.
   */
  private sameAfterSafe(value: string): string | undefined {
    const clean = cleanText(value);
    const safe = x12Chars(clean, this.o.charset, this.safe);
    const expected = this.o.charset === 'basic' ? clean.toUpperCase() : clean;
    return safe === expected && safe !== '' ? safe : undefined;
  }

  /** A code: as given, or undefined when it cannot be sent unchanged within `min`..`max`. */
  code(value: string | undefined, min: number, max: number): string | undefined {
    if (value === undefined) return undefined;
    const safe = this.sameAfterSafe(value);
    return safe !== undefined && codePointLength(safe) >= min && codePointLength(safe) <= max ? safe : undefined;
  }

  /** An identifier the PO cannot do without: as given, or a render error naming `where`. */
  identifier(value: string | undefined, max: number, where: string, element: string): string {
    if (value === undefined) throw new DropshipError('EINVALID_ORDER', [`${where} is withheld, but X12 ${element} needs it`]);
    const safe = this.sameAfterSafe(value);
    if (safe === undefined) {
      throw new DropshipError('EINVALID_ORDER', [
        `${where} has characters X12 ${element} cannot carry with charset "${this.o.charset}" and these delimiters (choose other delimiters or charset)`,
      ]);
    }
    if (codePointLength(safe) > max) {
      throw new DropshipError('EINVALID_ORDER', [`${where} is ${codePointLength(safe)} characters; X12 ${element} takes at most ${max}`]);
    }
    return safe;
  }
}

function shipToLoop(w: Writer, po: DropShipOrder, o: X12Options): void {
  const s = po.shipTo;
  const c = po.customer;
  const phone = w.code(s.phone ?? c.phone, 1, LIMITS[o.version].PER04);
  const email = w.code(c.email, 1, LIMITS[o.version].PER04);
  const contactName = w.text(c.name, 60);
  const hasAddress = [s.name, s.company, s.line1, s.line2, s.city, s.region, s.postalCode, s.country].some((v) => v !== undefined);
  if (!hasAddress && phone === undefined && email === undefined && contactName === undefined) return;

  // N102 is required with N101 "ST"; a ship-to without any name is a misconfigured allow-list.
  w.segment('N1', 'ST', w.text(s.name, 60) ?? w.text(s.company, 60) ?? contactName ?? 'RECIPIENT');
  if (s.name !== undefined && s.company !== undefined) w.segment('N2', w.text(s.company, 60));
  // Up to two N3 segments of two 55-character lines: long streets wrap instead of being cut.
  const street = fitAddressLines(
    s.line1 === undefined ? undefined : w.safeText(s.line1),
    s.line2 === undefined ? undefined : w.safeText(s.line2),
    55,
    4,
  ).lines;
  for (let i = 0; i < street.length; i += 2) w.segment('N3', street[i], street[i + 1]);
  const city = w.text(s.city, 30);
  const region = w.code(s.region, 2, 2);
  const postal = w.code(s.postalCode, 3, 15);
  const country = w.code(s.country, 2, 3);
  if ([city, region, postal, country].some((v) => v !== undefined)) w.segment('N4', city, region, postal, country);
  if (phone !== undefined || email !== undefined || contactName !== undefined) {
    const comms: Array<string | undefined> = [];
    if (phone !== undefined) comms.push('TE', phone);
    if (email !== undefined) comms.push('EM', email);
    w.segment('PER', 'IC', contactName, ...comms);
  }
}

function messages(w: Writer, label: string, text: string | undefined): void {
  const lines = w.lines(text, 264);
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
  const currency = w.code(order.currency, 3, 3);
  if (currency !== undefined) w.segment('CUR', 'BY', currency);
  const tracking = w.code(po.shipment.trackingNumber, 1, LIMITS[o.version].REF02);
  if (tracking !== undefined) w.segment('REF', 'CN', tracking);
  const routing = w.text([po.shipment.carrier, po.shipment.service].filter((v) => v !== undefined).join(' ') || undefined, 35);
  if (routing !== undefined) w.segment('TD5', undefined, undefined, undefined, 'ZZ', routing);
  messages(w, 'GIFT MESSAGE', order.giftMessage);
  messages(w, 'NOTES', order.notes);
  shipToLoop(w, po, o);

  let allPriced = true;
  let total = 0n;
  let scale = 0;
  po.lines.forEach((line, i) => {
    const where = `lines[${i}]`;
    const price = line.unitPrice === undefined ? undefined : decimalR(line.unitPrice);
    if (price !== undefined && price.replace('.', '').length > 17) {
      throw new DropshipError('EINVALID_ORDER', [`${where}.unitPrice has more than the 17 digits X12 PO104 takes`]);
    }
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
    const description = w.text(line.name, 80);
    if (description !== undefined) w.segment('PID', 'F', undefined, undefined, undefined, description);
    if (line.weight !== undefined) w.segment('PO4', '1', undefined, undefined, undefined, 'G', weightR(line.weight), 'GR');
    for (const [key, value] of Object.entries(line.properties ?? {})) {
      const message = w.text(`${key}: ${value}`, 264);
      if (message !== undefined) w.segment('MSG', message);
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

/** The interchange (ISA/GS ... GE/IEA) around one transaction set per purchase order. */
function interchange(items: readonly BatchItem[], options: X12Options, context: Pick<BatchContext, 'createdAt' | 'controlNumber'>): string {
  const o = options;
  const controlNumber = context.controlNumber ?? 1;
  if (!Number.isInteger(controlNumber) || controlNumber < 1 || controlNumber > 999_999_999) {
    throw new RangeError('the X12 control number must be a whole number from 1 to 999999999');
  }
  const control9 = String(controlNumber).padStart(9, '0');
  const d = o.delimiters;
  const terminator = d.segment + { none: '', lf: '\n', crlf: '\r\n' }[o.lineBreak];
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
    const transaction = new Writer(o, terminator);
    transactionSet(transaction, item.po, o, item.context, items.length === 1 ? control9 : String(i + 1).padStart(4, '0'));
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
  render(po: DropShipOrder, options: X12Options, context: RenderContext): string {
    return interchange([{ po, context }], options, { createdAt: context.createdAt, ...(context.controlNumber !== undefined ? { controlNumber: context.controlNumber } : {}) });
  },
  /** One interchange and one functional group holding one transaction set per purchase order. */
  renderBatch(items: readonly BatchItem[], options: X12Options, context: BatchContext): string {
    return interchange(items, options, context);
  },
};
