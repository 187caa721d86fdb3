import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Order } from '../../src/core/order';
import type { OrderPlan, PlannedDelivery } from '../../src/planning/plan';
import type { HoldReason } from '../../src/core/split';
import type { OrderReason } from '../../src/errors';
import { xmlSafe } from '../../src/formats/cxml';
import { xpath, xpathNumber } from '../formats/xmllint';
import { orderPayload, TEST_CARDS } from '../support/orders';
import { EVERY_FORMAT_LINES } from './abuse-config';
import { LUHN_VALID_IDENTIFIERS } from './judge';

/**
 * The hostile and broken inputs, as data: one row per input, naming the entry point, the
 * input and the answer it must get. Synthetic people and addresses only; the only card
 * numbers are the public test PANs of `TEST_CARDS`.
 */

type Json = Record<string, unknown>;

/** A body sent exactly as these bytes (not JSON-encoded by the harness). */
export class Raw {
  constructor(readonly bytes: Buffer) {}
}
export const raw = (body: string | Buffer): Raw => new Raw(Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'));

/** The bytes a case sends. */
export function bodyBytes(body: unknown): Buffer {
  return body instanceof Raw ? body.bytes : Buffer.from(JSON.stringify(body), 'utf8');
}

/** A reason an accepted order is not planned: held, or (since #13) waiting or skipped. */
export type HoldCode = HoldReason['code'] | OrderReason['code'];

/** What an accepted order turned into, for per-case checks beyond the generic ones. */
export interface Accepted {
  order: Order;
  plan: OrderPlan;
  deliveries: PlannedDelivery[];
}

export type Expectation =
  | { answer: 'rejected'; status: number; error: string; problem?: RegExp }
  | { answer: 'accepted'; verify?: (a: Accepted) => string[] }
  | { answer: 'held'; reasons: HoldCode[] }
  | { answer: 'ignored' };

// ---------------------------------------------------------------------------------------
// Payload builders

const [VISA, MASTERCARD, AMEX, DISCOVER] = TEST_CARDS as [string, string, string, string];
/**
 * Identifiers that pass the Luhn check: an order number (a marketplace's, or a platform's
 * numeric id), cancelled orders' numbers, and an EAN-13 barcode SKU. Scrubbing never touches
 * identifiers, so these go out unchanged; the card judges know them (`LUHN_VALID_IDENTIFIERS`).
 */
const [LUHN_ORDER_ID, LUHN_CANCEL_ID, LUHN_SHOPIFY_NUMBER, LUHN_WOO_NUMBER, LUHN_CLI_ORDER_ID, EAN13_SKU] = LUHN_VALID_IDENTIFIERS as unknown as [string, string, string, string, string, string];

/** A canonical order with one line for every format (see `EVERY_FORMAT_LINES`). */
export function canonical(id: string, patch: (o: Json) => void = () => {}): Json {
  const o = structuredClone({ ...orderPayload({ id }), lines: EVERY_FORMAT_LINES }) as unknown as Json;
  patch(o);
  return o;
}

const shipTo = (o: Json) => o.shipTo as Json;
/**
 * Keeps only the line of `orchard` (cXML, its own labels): no carrier request is built, so a
 * ship-to name longer than a carrier takes reaches the cXML document instead of holding the order.
 */
const orchardOnly = (o: Json) => (o.lines = (o.lines as Json[]).filter((l) => String(l.sku).startsWith('ORCH-')));
const lines = (o: Json) => o.lines as Json[];
const customer = (o: Json) => o.customer as Json;

/** `text` in every free-text field a supplier, carrier or file can carry (each at most 100 characters). */
export function everywhere(id: string, text: string): Json {
  return canonical(id, (o) => {
    Object.assign(shipTo(o), { name: text, company: text, line1: text, line2: text, city: text });
    customer(o).name = text;
    o.notes = text;
    o.giftMessage = text;
    for (const line of lines(o)) {
      line.name = text;
      line.properties = { Note: text };
    }
  });
}

const fixture = (name: string): Json => JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'sources', name), 'utf8')) as Json;
const SHOPIFY = fixture('shopify-order-create.json');
const WOO = fixture('woocommerce-order-created.json');

/** A Shopify `orders/create` body (the fixture) with one line item per format. */
export function shopify(orderNumber: number, patch: (o: Json) => void = () => {}): Json {
  const o = structuredClone(SHOPIFY);
  o.order_number = orderNumber;
  o.id = 5_800_000_000_000 + orderNumber;
  o.line_items = EVERY_FORMAT_LINES.map((l, i) => ({
    id: 13_600_000_000_000 + i,
    name: l.name,
    title: l.name,
    sku: l.sku,
    quantity: l.quantity,
    current_quantity: l.quantity,
    price: l.unitPrice,
    grams: l.weight ?? 0,
    properties: [],
  }));
  patch(o);
  return o;
}

/** A WooCommerce `order.created` body (the fixture) with one line item per format. */
export function woo(number: number, patch: (o: Json) => void = () => {}): Json {
  const o = structuredClone(WOO);
  o.number = String(number);
  o.id = number;
  o.line_items = EVERY_FORMAT_LINES.map((l, i) => ({ id: 300 + i, name: l.name, sku: l.sku, quantity: l.quantity, price: Number(l.unitPrice), meta_data: [] }));
  patch(o);
  return o;
}

const MB10 = 10 * 1024 * 1024;
const deepArrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const deepObjects = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

/** Inserts raw JSON text as the value of `key` in a canonical order (for values JSON.stringify cannot produce). */
function withRawValue(id: string, key: string, rawValue: string): Raw {
  const json = JSON.stringify(canonical(id, (o) => delete o[key]));
  return raw(json.replace(/^\{/, `{${JSON.stringify(key)}:${rawValue},`));
}

/** Gives the first line (the warehouse's) these properties, written as raw JSON text. */
function withRawProperties(id: string, rawProperties: string): Raw {
  const json = JSON.stringify(canonical(id));
  return raw(json.replace('"unitPrice":"8.50"', `"unitPrice":"8.50","properties":${rawProperties}`));
}

function withRawQuantity(id: string, rawValue: string): Raw {
  const json = JSON.stringify(canonical(id));
  return raw(json.replace('"quantity":1', `"quantity":${rawValue}`));
}

// ---------------------------------------------------------------------------------------
// Per-case checks on accepted orders

function cxmlOf(a: Accepted): string {
  return a.deliveries.find((d) => d.format === 'cxml')?.body ?? '';
}

/** The injected markup stays character data: it reads back as written and adds no element or attribute. */
function xmlReadsBack(text: string, injected: string): (a: Accepted) => string[] {
  return (a) => {
    const doc = cxmlOf(a);
    const problems: string[] = [];
    if (doc === '') return ['no cXML purchase order was rendered'];
    if (xpathNumber(doc, injected) !== 0) problems.push(`the input added markup to the cXML document: ${injected} matched`);
    const name = xpath(doc, 'string(//ShipTo//DeliverTo)');
    const expected = xmlSafe(text.trim());
    if (name !== expected) problems.push(`DeliverTo reads back as ${JSON.stringify(name)}, not ${JSON.stringify(expected)}`);
    return problems;
  };
}

function notPolluted(): string[] {
  const probe = {} as Record<string, unknown>;
  return ['polluted', 'isAdmin', 'contactRestricted'].filter((k) => probe[k] !== undefined).map((k) => `Object.prototype.${k} was set`);
}

// ---------------------------------------------------------------------------------------
// HTTP API

export type Route = '/orders' | '/orders/{id}/cancel' | '/webhooks/shopify' | '/webhooks/woocommerce';

export interface ApiCase {
  name: string;
  route: Route;
  /** For `/orders/{id}/cancel`: the path segment, already percent-encoded as a client sends it. */
  id?: string;
  body: unknown;
  /** Webhook signature: computed over the body (default), left out, or given as-is. */
  signature?: 'valid' | 'missing' | { header: string } | { secret: string };
  /** Extra or overriding headers; `undefined` removes one. */
  headers?: Record<string, string | undefined>;
  remoteAddress?: string;
  expect: Expectation;
}

const rejected = (status: number, error: string, problem?: RegExp): Expectation => ({ answer: 'rejected', status, error, ...(problem ? { problem } : {}) });
const badJson = (problem?: RegExp) => rejected(400, 'EINVALID_JSON', problem);
const badOrder = (problem?: RegExp) => rejected(400, 'EINVALID_ORDER', problem);
const accepted = (verify?: (a: Accepted) => string[]): Expectation => ({ answer: 'accepted', ...(verify ? { verify } : {}) });
const held = (...reasons: HoldCode[]): Expectation => ({ answer: 'held', reasons });

const FORMULAS = ["=cmd|' /C calc'!A0", '+1+1', '-2+3', '@SUM(1+1)*cmd', '\t=1+1', '\r=1+1'];

/** Ids of canonical orders: unique per case, X12-safe and short enough for BEG03. */
let canonicalSeq = 0;
const cid = () => `abuse-api-${String(++canonicalSeq).padStart(3, '0')}`;

function ordersCases(): ApiCase[] {
  const c = (name: string, body: unknown, expect: Expectation, extra: Partial<ApiCase> = {}): ApiCase => ({ name, route: '/orders', body, expect, ...extra });
  const valid = JSON.stringify(canonical('abuse-api-trunc'));
  return [
    // Malformed and truncated JSON
    c('truncated JSON (first 100 bytes)', raw(valid.slice(0, 100)), badJson(/^body: (unexpected end of input|unterminated string starting) at line 1, column \d+$/)),
    c('truncated JSON ending inside a card number', raw(`{"id":"x","notes":"card ${VISA}`), badJson(/unterminated string/)),
    c('JSON with trailing garbage', raw(`${valid}}}`), badJson(/unexpected data after the JSON value/)),
    c('single-quoted JSON', raw("{'id': 'abuse', 'lines': []}"), badJson(/expected a property name/)),
    c('JSON with comments', raw('{/* c */ "id": "x"}'), badJson()),
    c('NaN literal', raw('{"id":"x","lines":[{"quantity":NaN}]}'), badJson(/unexpected character/)),
    c('empty body', raw(''), badJson()),
    c('whitespace-only body', raw('  \r\n\t  '), badJson(/empty/)),
    c('unescaped control character in a string', raw('{"id":"a\u0001b"}'), badJson(/unescaped control character/)),
    c('invalid escape in a string', raw('{"id":"\\x41"}'), badJson(/invalid escape/)),
    // Invalid UTF-8
    c('invalid UTF-8: a lone 0xFF byte', raw(Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xff]), Buffer.from('"}')])), badJson(/not valid UTF-8 \(invalid byte sequence at byte 7\)/)),
    c('invalid UTF-8: overlong "/" (C0 AF)', raw(Buffer.concat([Buffer.from('{"id":"..'), Buffer.from([0xc0, 0xaf]), Buffer.from('etc"}')])), badJson(/not valid UTF-8/)),
    c('invalid UTF-8: an encoded surrogate (ED A0 80)', raw(Buffer.concat([Buffer.from('{"notes":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')])), badJson(/not valid UTF-8/)),
    c('invalid UTF-8: a Latin-1 name', raw(Buffer.from(JSON.stringify(canonical('abuse-latin1', (o) => (shipTo(o).name = 'Zoë Ångström'))), 'latin1')), badJson(/not valid UTF-8/)),
    c('invalid UTF-8: UTF-16LE with a byte order mark', raw(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(valid, 'utf16le')])), badJson(/not valid UTF-8/)),
    c('invalid UTF-8: truncated 4-byte sequence at the end', raw(Buffer.concat([Buffer.from('{"id":"x"} '), Buffer.from([0xf0, 0x9f, 0x98])])), badJson(/not valid UTF-8/)),
    c('invalid UTF-8 next to a card number', raw(Buffer.concat([Buffer.from(`{"notes":"${VISA}`), Buffer.from([0xfe]), Buffer.from('"}')])), badJson(/not valid UTF-8/)),
    // Wrong types, missing fields
    c('top-level array', [], badOrder(/^order: a canonical order must be a JSON object$/)),
    c('top-level string', 'order', badOrder(/must be a JSON object/)),
    c('top-level null', null, badOrder(/must be a JSON object/)),
    c('top-level number', 42, badOrder(/must be a JSON object/)),
    c('empty object', {}, badOrder(/^id: /)),
    c('lines is a string', canonical(cid(), (o) => (o.lines = 'VC-CHEVRE x1')), badOrder(/^lines: /)),
    c('lines is empty', canonical(cid(), (o) => (o.lines = [])), badOrder(/^lines: an order needs at least one line$/)),
    c('lines holds null', canonical(cid(), (o) => (o.lines = [null])), badOrder(/^lines\[0\]: /)),
    c('id is a query object', canonical(cid(), (o) => (o.id = { $gt: '' })), badOrder(/^id: /)),
    c('id is missing', canonical(cid(), (o) => delete o.id), badOrder(/^id: /)),
    c('quantity is a string', canonical(cid(), (o) => (lines(o)[0]!.quantity = '2')), badOrder(/^lines\[0\]\.quantity: /)),
    c('unitPrice is an object', canonical(cid(), (o) => (lines(o)[0]!.unitPrice = { amount: '1' })), badOrder(/^lines\[0\]\.unitPrice: /)),
    c('contactRestricted is "yes"', canonical(cid(), (o) => (customer(o).contactRestricted = 'yes')), badOrder(/^customer\.contactRestricted: /)),
    c('placedAt is not a date-time', canonical(cid(), (o) => (o.placedAt = '2026-13-45T99:99:99Z')), badOrder(/^placedAt: must be an ISO 8601 date-time$/)),
    c('shipTo is an array', canonical(cid(), (o) => (o.shipTo = ['12 Sample Street'])), badOrder(/^shipTo: /)),
    c('shipTo without line1 and city', canonical(cid(), (o) => (o.shipTo = { name: 'Ada Example', country: 'US' })), badOrder(/^shipTo\.line1: /)),
    // Quantities and amounts
    c('quantity 0', canonical(cid(), (o) => (lines(o)[0]!.quantity = 0)), badOrder(/^lines\[0\]\.quantity: must be at least 1$/)),
    c('quantity -1', canonical(cid(), (o) => (lines(o)[0]!.quantity = -1)), badOrder(/^lines\[0\]\.quantity: must be at least 1$/)),
    c('quantity -0', withRawQuantity(cid(), '-0'), badOrder(/^lines\[0\]\.quantity: must be at least 1$/)),
    c('quantity 1.5', canonical(cid(), (o) => (lines(o)[0]!.quantity = 1.5)), badOrder(/^lines\[0\]\.quantity: must be a whole number$/)),
    c('quantity 1e999 (parses as Infinity)', withRawQuantity(cid(), '1e999'), badOrder(/^lines\[0\]\.quantity: /)),
    c('quantity "NaN"', canonical(cid(), (o) => (lines(o)[0]!.quantity = 'NaN')), badOrder(/^lines\[0\]\.quantity: /)),
    c('quantity null', canonical(cid(), (o) => (lines(o)[0]!.quantity = null)), badOrder(/^lines\[0\]\.quantity: /)),
    c('quantity 100001', canonical(cid(), (o) => (lines(o)[0]!.quantity = 100001)), badOrder(/^lines\[0\]\.quantity: must be at most 100000$/)),
    c('quantity 2^53 + 1', withRawQuantity(cid(), '9007199254740993'), badOrder(/^lines\[0\]\.quantity: /)),
    c('quantity is a card number', canonical(cid(), (o) => (lines(o)[0]!.quantity = Number(VISA))), badOrder(/^lines\[0\]\.quantity: /)),
    c('unitPrice "-1.00"', canonical(cid(), (o) => (lines(o)[0]!.unitPrice = '-1.00')), badOrder(/^lines\[0\]\.unitPrice: /)),
    c('unitPrice "1e3"', canonical(cid(), (o) => (lines(o)[0]!.unitPrice = '1e3')), badOrder(/^lines\[0\]\.unitPrice: /)),
    c('unitPrice "Infinity"', canonical(cid(), (o) => (lines(o)[0]!.unitPrice = 'Infinity')), badOrder(/^lines\[0\]\.unitPrice: /)),
    c('unitPrice 1e21', canonical(cid(), (o) => (lines(o)[0]!.unitPrice = 1e21)), badOrder(/^lines\[0\]\.unitPrice: /)),
    c('weight -5', canonical(cid(), (o) => (lines(o)[0]!.weight = -5)), badOrder(/^lines\[0\]\.weight: /)),
    c('fractional float price 0.1 + 0.2 (not exact in six decimals)', canonical(cid(), (o) => (lines(o)[5]!.unitPrice = 0.1 + 0.2)), badOrder(/^lines\[5\]\.unitPrice: /)),
    // Countries
    c('unknown country "XX"', canonical(cid(), (o) => (shipTo(o).country = 'XX')), badOrder(/^shipTo\.country: must be an ISO 3166-1 alpha-2 country code/)),
    c('country given as a name', canonical(cid(), (o) => (shipTo(o).country = 'United States')), badOrder(/^shipTo\.country: /)),
    c('country empty', canonical(cid(), (o) => (shipTo(o).country = '')), badOrder(/^shipTo\.country: /)),
    c('country with a zero-width space', canonical(cid(), (o) => (shipTo(o).country = 'U\u200bS')), badOrder(/^shipTo\.country: /)),
    c('country in fullwidth letters', canonical(cid(), (o) => (shipTo(o).country = 'ＵＳ')), badOrder(/^shipTo\.country: /)),
    c('country in lower case', canonical(cid(), (o) => (shipTo(o).country = 'us')), accepted()),
    // Unicode tricks in names
    c('RTL override in every text field', everywhere(cid(), 'Ada \u202Egpj.exe\u202C Example'), accepted()),
    c('zero-width characters in every text field', everywhere(cid(), 'A\u200Bd\u200Ca\u200D \uFEFFExample\u2060'), accepted()),
    // Held: too long for UPS's 35-character name once composed, and no ASCII spelling for X12 (not cut or dropped).
    c('combining characters (150 on one letter)', everywhere(cid(), `Z${'\u0301\u0308'.repeat(45)}oe`), held('UNSHIPPABLE')),
    c('NUL inside every text field', everywhere(cid(), 'Ada\u0000Example'), accepted()),
    // Held: a lone surrogate becomes U+FFFD, which the ASCII X12 supplier cannot write.
    c('lone surrogates in every text field', everywhere(cid(), 'Ada \uD800 Ex\uDFFFample'), held('UNSHIPPABLE')),
    c('C0/C1 controls, DEL, line and paragraph separators', everywhere(cid(), 'Ada\u0007\u001B[31m\u007F\u0085\u2028\u2029Example'), accepted()),
    // Held: emoji have no ASCII spelling for the X12 supplier.
    c('emoji with ZWJ sequences and flags', everywhere(cid(), 'Ada 👩‍👩‍👧‍👦 🏳️‍🌈 🇺🇸 Example'), held('UNSHIPPABLE')),
    c('ship-to name of control characters only', canonical(cid(), (o) => (shipTo(o).name = '\u0001\u0002\u0003')), held('UNSHIPPABLE')),
    // CSV formula injection
    ...FORMULAS.map((f) => c(`CSV formula ${JSON.stringify(f)} in every text field`, everywhere(cid(), f), accepted())),
    c('CSV formula after a line break inside a name', everywhere(cid(), "Ada\n=cmd|' /C calc'!A0"), accepted()),
    // Held: 41 characters is more than a UPS name or city takes (never cut).
    c('CSV formula with quotes after a line break inside a name', everywhere(cid(), 'Ada\n=HYPERLINK("http://evil.example","x")'), held('UNSHIPPABLE')),
    c('CSV formula with quotes after a line break inside a short name', everywhere(cid(), 'Ada\n=HYPERLINK("http://ev.il")'), accepted()),
    c('CSV formula after a CR inside a name', everywhere(cid(), 'Ada\r@SUM(1+1)'), accepted()),
    c('CSV formula after a CRLF inside a name', everywhere(cid(), "Ada\r\n=cmd|' /C calc'!A0"), accepted()),
    c('CSV formula in a property name and value', canonical(cid(), (o) => (lines(o)[5]!.properties = { '=cmd': "@x", '+y': '-z' })), accepted()),
    c('CSV delimiter and quotes in names', everywhere(cid(), 'Ada, "the" Example;\tx'), accepted()),
    // XML / cXML injection
    ((name) => c('XML element injection in the ship-to name', canonical(cid(), (o) => ((shipTo(o).name = name), orchardOnly(o))), accepted(xmlReadsBack(name, "count(//Extrinsic[@name='evil'])"))))('</DeliverTo><Extrinsic name="evil">x</Extrinsic><DeliverTo>'),
    ((name) => c('XML entity and DOCTYPE injection', canonical(cid(), (o) => ((shipTo(o).name = name), orchardOnly(o))), accepted(xmlReadsBack(name, 'count(//Extrinsic)'))))('&xxe; &amp; &#x26; <!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'),
    ((name) => c('CDATA end and processing instruction', canonical(cid(), (o) => ((shipTo(o).name = name), orchardOnly(o))), accepted(xmlReadsBack(name, 'count(//Extrinsic)'))))(']]><![CDATA[x]]><?xml-stylesheet href="http://evil.example/x"?>'),
    c('XML attribute injection through a property name', canonical(cid(), (o) => (lines(o)[4]!.properties = { 'a" evil="1': '<b>', "x'><y": '&' })), accepted((a) => {
      const doc = cxmlOf(a);
      return [
        ...(xpathNumber(doc, 'count(//@evil)') !== 0 ? ['the property name added an attribute'] : []),
        ...(xpathNumber(doc, 'count(//ItemOut//Extrinsic)') !== 2 ? ['the properties are not exactly two Extrinsic elements'] : []),
        ...(xpath(doc, "string(//ItemOut//Extrinsic[1]/@name)") !== 'a" evil="1' ? ['the property name does not read back'] : []),
      ];
    })),
    // X12 delimiters
    c('X12 delimiters * ~ : ^ > inside every text field', everywhere(cid(), 'Ada*Ex~am:ple^x>y|z'), accepted()),
    c('X12 segment injection in notes', canonical(cid(), (o) => (o.notes = 'ok~N1*ST*EVIL~PO1*9*999*EA*0**SK*FREE~')), accepted((a) => {
      const x12 = a.deliveries.find((d) => d.format === 'x12-850')?.body ?? '';
      return x12.includes('SK*FREE') || /~\s*N1\*ST\*EVIL/.test(x12) ? ['the notes injected X12 segments'] : [];
    })),
    c('X12 delimiter inside a SKU', canonical(cid(), (o) => (lines(o)[3]!.sku = 'MILL-A*B')), held('UNSHIPPABLE')),
    c('X12 segment terminator inside a SKU', canonical(cid(), (o) => (lines(o)[3]!.sku = 'MILL-A~B')), held('UNSHIPPABLE')),
    c('order id too long for X12 BEG03', canonical('abuse-api-X12-order-id-too-long-for-beg03'), held('UNSHIPPABLE')),
    c('a line two suppliers claim', canonical(cid(), (o) => (lines(o)[3]!.sku = 'BOTH-1')), held('AMBIGUOUS_LINE')),
    c('no ship-to address', canonical(cid(), (o) => delete o.shipTo), held('NO_SHIP_TO')),
    // Order ids that become file names
    ...['../../etc/passwd', 'a/b', '..', '.hidden', 'a\\b', '$(rm -rf ~)', '`reboot`', 'x\u0000.csv', '1001;rm -rf /', '%2e%2e%2fetc', 'CON<>:"|?*', '１００１', 'a'.repeat(65), ' ', 'a..b', '1001.', 'x\r\nBcc: spy@evil.example'].map((id) =>
      c(`order id ${JSON.stringify(id.length > 20 ? `${id.slice(0, 20)}…` : id)}`, canonical(cid(), (o) => (o.id = id)), badOrder(/^id: must be 1-64 letters, digits/)),
    ),
    // Single dots inside are fine; ".." (in the list above) is refused at intake, since every
    // transport's file-name check refuses it at delivery, after a label may have been bought.
    c('order id with dots inside ("a.b")', canonical('abuse.api.dots'), accepted()),
    c('order id with surrounding whitespace and a line break', canonical(' abuse-api-trim\n'), accepted((a) => (a.order.id === 'abuse-api-trim' ? [] : [`order id kept as ${JSON.stringify(a.order.id)}`]))),
    c('order id named like a device ("CON")', canonical('CON'), accepted()),
    // Header injection in email fields
    c('email with CRLF and a Bcc header', canonical(cid(), (o) => (customer(o).email = 'ada@example.com\r\nBcc: spy@evil.example')), badOrder(/^customer\.email: must be an email address$/)),
    c('email with LF and a Subject header', canonical(cid(), (o) => (customer(o).email = 'ada@example.com\nSubject: free')), badOrder(/^customer\.email: /)),
    c('email with a display name and angle brackets', canonical(cid(), (o) => (customer(o).email = 'Ada <ada@example.com>, spy@evil.example')), badOrder(/^customer\.email: /)),
    // Held: 36 characters is more than a UPS name or city takes (never cut).
    c('CRLF header lines in every name', everywhere(cid(), 'Ada\r\nBcc: spy@evil.example\r\nSubject: x'), held('UNSHIPPABLE')),
    c('CRLF header lines in every short name', everywhere(cid(), 'Ada\r\nBcc: spy@ev.il\r\nSubject: x'), accepted()),
    // Prototype pollution keys
    c('__proto__ and constructor at the top level', raw(JSON.stringify(canonical(cid())).replace(/^\{/, '{"__proto__":{"polluted":"yes","isAdmin":true},"constructor":{"prototype":{"polluted":"yes"}},')), accepted((a) => [...notPolluted(), ...('polluted' in a.order ? ['the order carries "polluted"'] : [])])),
    c('__proto__ inside customer sets no flag', raw(JSON.stringify(canonical(cid())).replace('"customer":{', '"customer":{"__proto__":{"contactRestricted":true},')), accepted((a) => [...notPolluted(), ...(a.order.customer.contactRestricted ? ['contactRestricted came from __proto__'] : [])])),
    c('__proto__, constructor and toString as property names', withRawProperties(cid(), '{"__proto__":{"polluted":"yes"},"constructor":"c","toString":"t","hasOwnProperty":"h"}'), accepted((a) => {
      const props = a.order.lines.flatMap((l) => Object.keys(l.properties));
      return [...notPolluted(), ...(props.includes('__proto__') ? ['a __proto__ property survived'] : []), ...(props.includes('constructor') ? [] : ['the plain "constructor" property was lost'])];
    })),
    c('shipping method "__proto__"', canonical(cid(), (o) => (o.shippingMethod = '__proto__')), accepted()),
    c('shipping method "constructor"', canonical(cid(), (o) => (o.shippingMethod = 'constructor')), accepted()),
    // Card numbers in odd places
    c('card numbers in notes, gift message, street and properties', canonical(cid(), (o) => {
      o.notes = `Card ${VISA.replace(/(\d{4})/g, '$1 ').trim()} please`;
      o.giftMessage = `Use ${MASTERCARD.replace(/(\d{4})(?=\d)/g, '$1-')} for this`;
      shipTo(o).line2 = `Unit ${AMEX}`;
      lines(o)[5]!.properties = { Note: `pay with ${DISCOVER}`, card_number: VISA, cvv: '123' };
    }), accepted()),
    // Before, ids and SKUs were scrubbed too, so a Luhn-valid order id was refused and an EAN-13 SKU rewritten.
    c('an order id that passes the Luhn check (a marketplace order number)', canonical(cid(), (o) => (o.id = LUHN_ORDER_ID)), accepted((a) => (a.order.id === LUHN_ORDER_ID ? [] : [`the order id became ${JSON.stringify(a.order.id)}`]))),
    c('card number as the currency', canonical(cid(), (o) => (o.currency = VISA)), badOrder(/^currency: /)),
    c('card number in a property name', canonical(cid(), (o) => (lines(o)[5]!.properties = { [`card ${VISA}`]: 'x' })), accepted((a) => (a.order.lines[5]?.properties['card [redacted]'] === 'x' ? [] : ['the property name was not redacted']))),
    c('card number as the phone', canonical(cid(), (o) => Object.assign(shipTo(o), { phone: `(${VISA.slice(0, 4)}) ${VISA.slice(4)}` })), accepted((a) => (a.order.shipTo?.phone === undefined ? [] : ['the card-number phone was kept']))),
    c('card number as the email local part', canonical(cid(), (o) => (customer(o).email = `${VISA}@example.com`)), badOrder(/^customer\.email: /)),
    c('a Luhn-valid EAN-13 barcode as a SKU', canonical(cid(), (o) => (lines(o)[5]!.sku = EAN13_SKU)), accepted((a) => (a.order.lines[5]?.sku === EAN13_SKU ? [] : [`the SKU became ${JSON.stringify(a.order.lines[5]?.sku)}`]))),
    // Held: once the card number is scrubbed, the US postal code is not the 5 or 9 digits UPS requires.
    c('card number in a postal code', canonical(cid(), (o) => (shipTo(o).postalCode = AMEX)), held('UNSHIPPABLE')),
    c('card data in fields the order does not have', canonical(cid(), (o) => Object.assign(o, { card: { number: VISA, cvv: '123', expiry: '12/30' }, payment: { brand: 'visa', last4: '1111', number: VISA } })), accepted()),
    c('card number glued to other digits', canonical(cid(), (o) => (o.notes = `ref 99${VISA}99`)), accepted()),
    c('card number split by NUL characters', everywhere(cid(), `card ${VISA.replace(/(\d{4})(?=\d)/g, '$1\u0000')}`), accepted()),
    c('card number split by zero-width spaces', everywhere(cid(), `card ${VISA.replace(/(\d{4})(?=\d)/g, '$1\u200B')}`), accepted()),
    c('card number in fullwidth digits', everywhere(cid(), `card ${VISA.replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d)))}`), accepted()),
    c('card number split by X12 delimiters', everywhere(cid(), `card ${VISA.replace(/(\d{4})(?=\d)/g, '$1*')}`), accepted()),
    c('card number split by four no-break spaces', everywhere(cid(), `card ${VISA.replace(/(\d{4})(?=\d)/g, '$1\u00A0\u00A0\u00A0\u00A0')}`), accepted()),
    // Sizes and depth
    c('10 MB body (a 10 MB note)', raw(JSON.stringify(canonical(cid(), (o) => (o.notes = 'x'.repeat(MB10))))), rejected(413, 'ETOO_LARGE')),
    c('10 MB of "["', raw('['.repeat(MB10)), rejected(413, 'ETOO_LARGE')),
    c('50k lines', raw(JSON.stringify(canonical(cid(), (o) => (o.lines = Array.from({ length: 50_000 }, (_, i) => ({ id: String(i), sku: 'LARDER-JAM', name: 'Fig jam', quantity: 1, unitPrice: '1' })))))), rejected(413, 'ETOO_LARGE')),
    c('5001 lines (one over the limit)', canonical(cid(), (o) => (o.lines = Array.from({ length: 5001 }, (_, i) => ({ id: String(i), sku: 'LARDER-JAM', name: 'Fig jam', quantity: 1, unitPrice: '1' })))), badOrder(/^lines: at most 5000 lines$/)),
    c('5000 invalid lines (5000 problems listed)', canonical(cid(), (o) => (o.lines = Array.from({ length: 5000 }, (_, i) => ({ id: String(i), sku: 'X', name: 'n', quantity: -1, unitPrice: '1' })))), badOrder(/^lines\[4999\]\.quantity: must be at least 1$/)),
    c('100k nested arrays as the body', raw(deepArrays(100_000)), badOrder(/must be a JSON object/)),
    c('100k nested arrays as the notes', withRawValue(cid(), 'notes', deepArrays(100_000)), badOrder(/^notes: /)),
    c('100k nested objects as a property value', withRawProperties(cid(), `{"Engraving":${deepObjects(100_000)}}`), badOrder(/properties/)),
    c('100k nested arrays, never closed', raw('{"lines":' + '['.repeat(100_000)), badJson(/^body: unexpected end of input at line 1, column 100010$/)),
    c('50k text lines before a syntax error', raw(`{\n${'\n'.repeat(50_000)}"id": "x",,}`), badJson(/^body: expected a property name in double quotes at line 50002, column 11$/)),
    c('900 kB name', canonical(cid(), (o) => (shipTo(o).name = `${VISA} ${'n'.repeat(900_000)}`)), badOrder(/^shipTo\.name: must be at most 200 characters$/)),
    c('a byte order mark before the JSON', raw(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(canonical(cid())))])), accepted()),
    // Content type and caller
    // A browser sends text/plain and form bodies cross-site without a CORS preflight.
    c('JSON sent as text/plain', raw(JSON.stringify(canonical(cid()))), rejected(415, 'EMEDIA_TYPE'), { headers: { 'content-type': 'text/plain' } }),
    c('JSON sent as a form (application/x-www-form-urlencoded)', raw(JSON.stringify(canonical(cid()))), rejected(415, 'EMEDIA_TYPE'), { headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    c('no content type', raw(JSON.stringify(canonical(cid()))), rejected(415, 'EMEDIA_TYPE'), { headers: { 'content-type': undefined } }),
    c('content type with CRLF and a second header', raw(JSON.stringify(canonical(cid()))), rejected(415, 'EMEDIA_TYPE'), { headers: { 'content-type': 'text/html; x=\r\nX-Injected: 1' } }),
    c('UTF-16 declared in the content type', raw(Buffer.from(JSON.stringify(canonical(cid())), 'utf16le')), badJson(), { headers: { 'content-type': 'application/json; charset=utf-16le' } }),
    c('gzip content encoding', raw(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xab, 0xae, 0x05, 0x00, 0x43, 0xbf, 0xa6, 0xa3, 0x02, 0x00, 0x00, 0x00])), badJson(/not valid UTF-8/), { headers: { 'content-encoding': 'gzip' } }),
    c('a client that is not on loopback, without a token', canonical(cid()), rejected(401, 'EUNAUTHORIZED'), { remoteAddress: '203.0.113.9' }),
  ];
}

function shopifyCases(): ApiCase[] {
  let n = 7000;
  const c = (name: string, body: unknown, expect: Expectation, extra: Partial<ApiCase> = {}): ApiCase => ({ name, route: '/webhooks/shopify', body, expect, ...extra });
  const s = (patch: (o: Json) => void = () => {}) => shopify(++n, patch);
  const item = (o: Json, i: number) => (o.line_items as Json[])[i]!;
  return [
    c('no signature', s(), rejected(401, 'EBAD_SIGNATURE'), { signature: 'missing' }),
    c('signature of another body', s(), rejected(401, 'EBAD_SIGNATURE'), { signature: { header: 'Xbj4cIjbeZLwH9lZ5UYjRBVBQBQ2qo0pxLrdtdC5CIk=' } }),
    c('signature with the wrong secret', s(), rejected(401, 'EBAD_SIGNATURE'), { signature: { secret: 'not-the-secret' } }),
    c('signature that is not base64', s(), rejected(401, 'EBAD_SIGNATURE'), { signature: { header: '!!!! not base64 ~~~~' } }),
    c('signature of 10k characters', s(), rejected(401, 'EBAD_SIGNATURE'), { signature: { header: 'A'.repeat(10_000) } }),
    c('signature with CRLF inside', s(), rejected(401, 'EBAD_SIGNATURE'), { signature: { header: 'abc\r\nX-Injected: 1' } }),
    c('valid signature over truncated JSON', raw(JSON.stringify(s()).slice(0, 500)), badJson()),
    c('valid signature over invalid UTF-8', raw(Buffer.concat([Buffer.from('{"order_number":'), Buffer.from([0xc3, 0x28]), Buffer.from('}')])), badJson(/not valid UTF-8/)),
    c('valid signature over a 10 MB body', raw(JSON.stringify(s((o) => (o.note = 'x'.repeat(MB10))))), rejected(413, 'ETOO_LARGE')),
    c('another topic (orders/delete)', s(), { answer: 'ignored' }, { headers: { 'x-shopify-topic': 'orders/delete' } }),
    c('top-level array', [s()], badOrder(/must be a JSON object/)),
    c('line_items is not an array', s((o) => (o.line_items = { 0: 'x' })), badOrder(/^line_items: must be an array$/)),
    c('order_number "../../etc/passwd"', s((o) => (o.order_number = '../../etc/passwd')), badOrder(/^id: /)),
    c('order_number "$(reboot)"', s((o) => (o.order_number = '$(reboot)')), badOrder(/^id: /)),
    c('current_quantity -1', s((o) => (item(o, 0).current_quantity = -1)), badOrder(/^lines\[0\]\.quantity: must be at least 1$/)),
    c('quantity 2.5', s((o) => Object.assign(item(o, 0), { current_quantity: undefined, quantity: 2.5 })), badOrder(/^lines\[0\]\.quantity: must be a whole number$/)),
    c('price "abc"', s((o) => (item(o, 0).price = 'abc')), badOrder(/^lines\[0\]\.unitPrice: /)),
    c('country as a name only (no country_code)', s((o) => Object.assign(o.shipping_address as Json, { country_code: null, country: 'Narnia' })), badOrder(/^shipTo\.country: /)),
    // Since #13 an order with nothing left to ship is taken and skipped, not refused.
    c('every line removed (current_quantity 0)', s((o) => (o.line_items as Json[]).forEach((l) => (l.current_quantity = 0))), held('NOTHING_TO_SHIP')),
    c('hostile names, notes and properties', s((o) => {
      const evil = "=cmd|' /C calc'!A0\n</Name><Extrinsic>x</Extrinsic>*~^>\u202E\u0000";
      // Ship-to values within UPS's limits (30-character city, 3 address lines): longer ones hold the order, never cut.
      const evilShort = "=cmd|' /C'!A0\n</N><E>*~^>\u202E\u0000";
      Object.assign(o.shipping_address as Json, { name: evilShort, first_name: evilShort, address1: evilShort, city: evilShort });
      o.note = evil;
      o.note_attributes = [{ name: 'gift_message', value: evil }, { name: '__proto__', value: 'x' }];
      (o.line_items as Json[]).forEach((l) => Object.assign(l, { name: evil, properties: [{ name: '__proto__', value: 'p' }, { name: 'constructor', value: evil }, { name: '_private', value: 'hidden' }] }));
    }), accepted((a) => [...notPolluted(), ...(a.order.lines.some((l) => '_private' in l.properties) ? ['a private property was kept'] : [])])),
    c('HTML-escaped markup and a card number in entities in titles', s((o) => (o.line_items as Json[]).forEach((l) => (l.name = `Salt &lt;/Name&gt; &amp; ${VISA.replace(/\d/g, (d) => `&#${d.charCodeAt(0)};`)}`))), accepted()),
    c('full card number in payment_details', s((o) => (o.payment_details = { credit_card_number: VISA, credit_card_bin: VISA.slice(0, 6), cvv_result_code: 'M', avs_result_code: 'Y', credit_card_company: 'Visa' })), accepted((a) => (JSON.stringify(a.order.payment) === JSON.stringify({ brand: 'Visa', last4: '1111' }) ? [] : [`payment kept as ${JSON.stringify(a.order.payment)}`]))),
    c('card number as the webhook id', s(), accepted(), { headers: { 'x-shopify-webhook-id': `card-${VISA}` } }),
    c('100k nested arrays in note_attributes', raw(JSON.stringify(s()).replace(/"note_attributes":\[[^\]]*\]/, `"note_attributes":${deepArrays(100_000)}`)), accepted()),
    c('no shipping address (digital order)', s((o) => (o.shipping_address = null)), held('NO_SHIP_TO')),
    c('X12 delimiter in a SKU', s((o) => (item(o, 3).sku = 'MILL-X~Y')), held('UNSHIPPABLE')),
  ];
}

function wooCases(): ApiCase[] {
  let n = 8000;
  const c = (name: string, body: unknown, expect: Expectation, extra: Partial<ApiCase> = {}): ApiCase => ({ name, route: '/webhooks/woocommerce', body, expect, ...extra });
  const w = (patch: (o: Json) => void = () => {}) => woo(++n, patch);
  const item = (o: Json, i: number) => (o.line_items as Json[])[i]!;
  return [
    c('ping (form body webhook_id=N)', raw('webhook_id=12'), { answer: 'ignored' }, { signature: 'missing', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    c('ping-like form body with more fields', raw('webhook_id=12&status=active'), rejected(401, 'EBAD_SIGNATURE'), { signature: 'missing', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    c('no signature', w(), rejected(401, 'EBAD_SIGNATURE'), { signature: 'missing' }),
    c('signature with the wrong secret', w(), rejected(401, 'EBAD_SIGNATURE'), { signature: { secret: 'not-the-secret' } }),
    c('hex signature instead of base64', w(), rejected(401, 'EBAD_SIGNATURE'), { signature: { header: 'a'.repeat(64) } }),
    c('valid signature over truncated JSON', raw(JSON.stringify(w()).slice(0, 300)), badJson()),
    c('valid signature over a 10 MB body', raw(JSON.stringify(w((o) => (o.customer_note = 'x'.repeat(MB10))))), rejected(413, 'ETOO_LARGE')),
    c('another topic (order.deleted)', w(), { answer: 'ignored' }, { headers: { 'x-wc-webhook-topic': 'order.deleted' } }),
    c('number "$(reboot)"', w((o) => (o.number = '$(reboot)')), badOrder(/^id: /)),
    c('number "../x"', w((o) => (o.number = '../x')), badOrder(/^id: /)),
    c('quantity 2.5', w((o) => (item(o, 0).quantity = 2.5)), badOrder(/^lines\[0\]\.quantity: must be a whole number$/)),
    c('quantity -3', w((o) => (item(o, 0).quantity = -3)), badOrder(/^lines\[0\]\.quantity: must be at least 1$/)),
    c('price NaN-ish string', w((o) => (item(o, 0).price = 'NaN')), badOrder(/^lines\[0\]\.unitPrice: /)),
    c('country "ZZ"', w((o) => ((o.shipping as Json).country = 'ZZ')), badOrder(/^shipTo\.country: /)),
    c('date_created without an offset and no GMT date', w((o) => Object.assign(o, { date_created_gmt: null, date_created: '2026-11-20T10:00:00' })), badOrder(/^placedAt: /)),
    c('line_items missing', w((o) => delete o.line_items), rejected(400, 'EINVALID_ORDER')),
    c('hostile meta data: HTML, formulas, __proto__, card in a value', w((o) => {
      (o.line_items as Json[]).forEach((l) => (l.meta_data = [
        { key: 'Engraving', value: 'x', display_key: '=cmd|x', display_value: "<p>=HYPERLINK(\"http://evil.example\")</p>\n<script>alert(1)</script>" },
        { key: '__proto__', value: { polluted: 'yes' } },
        { key: 'constructor', value: 'c' },
        { key: 'Note', value: `pay with ${MASTERCARD}` },
      ]));
      o.meta_data = [{ key: '__proto__', value: 'x' }, { key: 'gift_message', value: '</Comments><Extrinsic name="evil"/>*~' }];
    }), accepted(() => notPolluted())),
    c('all-blank shipping address', w((o) => (o.shipping = { first_name: '', last_name: '', company: '', address_1: '', address_2: '', city: '', state: '', postcode: '', country: 'DK', phone: '' })), held('NO_SHIP_TO')),
  ];
}

/**
 * `POST /orders/{id}/cancel`, and the cancellation topics of the webhooks. The ids cancelled
 * here were never ordered, so no order of the corpus is cancelled under the pipeline checks.
 */
function cancelCases(): ApiCase[] {
  const c = (name: string, id: string, body: unknown, expect: Expectation, extra: Partial<ApiCase> = {}): ApiCase => ({ name, route: '/orders/{id}/cancel', id, body, expect, ...extra });
  const none = raw('');
  return [
    // The router resolves dot segments before routing: "/orders/../cancel" is no route at all.
    c('order id ".." in the path', '..', none, rejected(404, 'Not Found')),
    c('order id "%2E%2E" (percent-encoded dots) in the path', '%2E%2E', none, rejected(404, 'Not Found')),
    ...['..%2F..%2Fetc%2Fpasswd', '%24(reboot)', 'x%00', 'x%0D%0ABcc%3A%20spy', '%EF%BC%91%EF%BC%90', 'a'.repeat(65)].map((id) =>
      c(`order id ${JSON.stringify(decodeURIComponent(id).slice(0, 24))} in the path`, id, none, badOrder(/^order\.id: must be 1-64 letters, digits/)),
    ),
    c('an order id that passes the Luhn check in the path', LUHN_CANCEL_ID, none, accepted()),
    c('a card number as a field name', 'abuse-cancel-1', { [VISA]: 'x' }, badOrder(/^cancellation: unknown field/)),
    c('orderId in the body', 'abuse-cancel-2', { orderId: 'abuse-api-001' }, badOrder(/^orderId: goes in the path, not the body$/)),
    c('body is an array', 'abuse-cancel-3', [], badOrder(/must be a JSON object/)),
    c('reason is a query object', 'abuse-cancel-4', { reason: { $ne: null } }, badOrder(/^reason: must be a string$/)),
    c('__proto__ in the body', 'abuse-cancel-5', raw('{"__proto__":{"polluted":"yes"}}'), badOrder(/^cancellation: unknown field/)),
    c('truncated JSON', 'abuse-cancel-6', raw('{"reason":"cust'), badJson(/unterminated string/)),
    c('10 MB body', 'abuse-cancel-7', { reason: 'x'.repeat(MB10) }, rejected(413, 'ETOO_LARGE')),
    c('a client that is not on loopback, without a token', 'abuse-cancel-8', none, rejected(401, 'EUNAUTHORIZED'), { remoteAddress: '203.0.113.9' }),
    c('reason with CRLF, markup and a card number', 'abuse-cancel-9', { reason: `</Reason>\r\nBcc: x ${VISA}` }, accepted()),
    c('no body', 'abuse-cancel-10', none, accepted()),
    { name: 'Shopify orders/cancelled: order_number "../x"', route: '/webhooks/shopify', body: shopify(7900, (o) => Object.assign(o, { order_number: '../x', cancelled_at: '2026-11-21T10:00:00-05:00' })), headers: { 'x-shopify-topic': 'orders/cancelled' }, expect: badOrder(/^order\.id: /) },
    { name: 'Shopify orders/cancelled: an order_number that passes the Luhn check', route: '/webhooks/shopify', body: shopify(7901, (o) => Object.assign(o, { order_number: LUHN_SHOPIFY_NUMBER, cancelled_at: '2026-11-21T10:00:00-05:00' })), headers: { 'x-shopify-topic': 'orders/cancelled' }, expect: accepted() },
    { name: 'WooCommerce order.updated to cancelled: number "$(reboot)"', route: '/webhooks/woocommerce', body: woo(8900, (o) => Object.assign(o, { status: 'cancelled', number: '$(reboot)' })), headers: { 'x-wc-webhook-topic': 'order.updated' }, expect: badOrder(/^order\.id: /) },
    { name: 'WooCommerce order.updated to cancelled: a number that passes the Luhn check', route: '/webhooks/woocommerce', body: woo(8901, (o) => Object.assign(o, { status: 'cancelled', number: LUHN_WOO_NUMBER })), headers: { 'x-wc-webhook-topic': 'order.updated' }, expect: accepted() },
  ];
}

export function apiCases(): ApiCase[] {
  return [...ordersCases(), ...shopifyCases(), ...wooCases(), ...cancelCases()];
}

// ---------------------------------------------------------------------------------------
// CLI

/** One order inside an `enqueue` batch file. */
export interface BatchItem {
  name: string;
  /** The item's JSON text, spliced into the array as written (keeps `__proto__` keys as keys). */
  json: string;
  expect: Expectation;
}

export interface CliCase {
  name: string;
  command: 'preview' | 'enqueue';
  /** The FILE argument: content written to a scratch file, or an existing path. */
  file: { content: string | Buffer } | { path: string };
  args?: string[];
  expect:
    | { answer: 'rejected'; stderr: RegExp; notInStderr?: string[] }
    | { answer: 'accepted' }
    | { answer: 'held'; reasons: HoldCode[] }
    /** A JSON array of orders in one process: each item is an input with its own expected answer. */
    | { answer: 'batch'; items: BatchItem[] };
}

/**
 * The items of the `enqueue` batch: every input the API must accept or hold that is a JSON
 * document on its own (the CLI detects the source from the shape). One process takes them all.
 */
function batchItems(api: readonly ApiCase[]): BatchItem[] {
  return api.flatMap((c) => {
    if (c.expect.answer !== 'accepted' && c.expect.answer !== 'held') return [];
    if (c.route === '/orders/{id}/cancel') return [];
    // A webhook that cancels an order is judged as a cancellation; enqueue would take its
    // body as an order to ship.
    const topic = c.headers?.['x-shopify-topic'];
    const status = (c.body as { status?: unknown } | undefined)?.status;
    if (topic === 'orders/cancelled' || (c.route === '/webhooks/woocommerce' && status === 'cancelled')) return [];
    const bytes = bodyBytes(c.body);
    if (bytes[0] === 0xef) return []; // a byte order mark is only allowed at the start of a file
    return [{ name: `${c.route} ${c.name}`, json: bytes.toString('utf8'), expect: c.expect }];
  });
}

export function cliCases(api: readonly ApiCase[]): CliCase[] {
  const json = (value: unknown) => ({ content: JSON.stringify(value) });
  const hostile = (id: string) =>
    canonical(id, (o) => {
      // Within UPS's 35-character names (longer ones hold the order, never cut).
      Object.assign(shipTo(o), { name: 'Ada\n=HYPERLINK("http://ev.il")', company: '</DeliverTo><Extrinsic name="e">', line1: '1 Road*~^>:', city: 'Ex\u202Eample\u0000' });
      o.notes = `Card ${VISA.replace(/(\d{4})/g, '$1 ').trim()} ]]> &xxe;`;
      // A lone surrogate on the cXML line: the ASCII X12 supplier would hold the order for it.
      lines(o)[4]!.properties = { Note: 'x \uD800' };
      lines(o)[5]!.properties = { '=cmd': '@x', constructor: 'c' };
    });
  const items = batchItems(api);
  return [
    { name: 'truncated JSON quoting a card number', command: 'preview', file: { content: `{"id":"c1","notes":"${VISA}` }, expect: { answer: 'rejected', stderr: /^dropship: FILE: The body is not valid JSON:\n {2}- body: unterminated string starting at line 1, column 20\n$/ } },
    { name: 'invalid UTF-8 (a Latin-1 file)', command: 'preview', file: { content: Buffer.from(JSON.stringify(canonical('c5', (o) => (shipTo(o).name = 'Zoë Ångström'))), 'latin1') }, expect: { answer: 'rejected', stderr: /^dropship: FILE: The body is not valid JSON:\n {2}- body: is not valid UTF-8 \(invalid byte sequence at byte \d+\)\n$/ } },
    {
      name: '10 MB file: a 10 MB note after a card number, and 50k order lines',
      command: 'preview',
      file: json(canonical('c2', (o) => {
        o.notes = `${VISA} ${'x'.repeat(MB10)}`;
        o.lines = Array.from({ length: 50_000 }, (_, i) => ({ id: String(i), sku: 'LARDER-JAM', name: 'Fig jam', quantity: 1, unitPrice: '1' }));
      })),
      expect: { answer: 'rejected', stderr: /^dropship: The order is invalid:\n {2}- notes: must be at most 5000 characters\n {2}- lines: at most 5000 lines\n$/ },
    },
    { name: 'hostile but valid order (formulas, markup, delimiters, controls, __proto__)', command: 'preview', file: { content: JSON.stringify(hostile('c3')).replace(/^\{/, '{"__proto__":{"polluted":1},') }, expect: { answer: 'accepted' } },
    { name: 'held order (a line two suppliers claim)', command: 'preview', file: json(canonical('c4', (o) => Object.assign(lines(o)[3]!, { sku: 'BOTH-1' }))), expect: { answer: 'held', reasons: ['AMBIGUOUS_LINE'] } },
    { name: 'FILE is /etc/passwd', command: 'preview', file: { path: '/etc/passwd' }, expect: { answer: 'rejected', stderr: /^dropship: FILE: The body is not valid JSON:\n {2}- body: unexpected character at line 1, column 1\n$/, notInStderr: ['root:', '/bin/'] } },
    { name: `a JSON array of ${items.length} hostile orders`, command: 'enqueue', file: { content: `[${items.map((i) => i.json).join(',\n')}]` }, expect: { answer: 'batch', items } },
    { name: 'an order id that passes the Luhn check', command: 'enqueue', file: json(canonical(LUHN_CLI_ORDER_ID)), expect: { answer: 'accepted' } },
  ];
}
