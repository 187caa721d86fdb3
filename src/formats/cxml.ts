import { z } from 'zod';
import { DropshipError } from '../errors';
import type { DropShipOrder, PurchaseOrderFormat, RenderContext } from './format';

/**
 * cXML 1.2.063 `OrderRequest`: the purchase order Ariba-style procurement networks and
 * many suppliers' order-entry systems accept. Every document is valid against the
 * 1.2.063 DTD (the test suite checks each one with `xmllint --dtdvalid`).
 *
 * Where the DTD demands data the view withholds, the document says so instead of
 * inventing it: a withheld unit price is `0` with an XML comment, and the required
 * `BillTo` is the store's own accounts-payable address from `formatOptions`, never the
 * customer's billing address (privacy promise 2).
 */

export const CXML_VERSION = '1.2.063';
/** System identifier of the DTD the documents declare and are valid against. */
export const CXML_DTD_URL = `http://xml.cxml.org/schemas/cXML/${CXML_VERSION}/cXML.dtd`;

const nonEmpty = z.string().trim().min(1, 'must not be empty');
const nmtoken = (what: string) => z.string().regex(/^[A-Za-z0-9._:-]+$/, `must be ${what} (letters, digits, ".", "-", "_", ":")`);

const Credential = z
  .object({
    /** Credential domain, e.g. `NetworkId`, `DUNS`, or one agreed with the supplier. */
    domain: nonEmpty,
    /** The identity within that domain, e.g. an Ariba Network id. */
    identity: nonEmpty,
  })
  .strict();

const StoreAddress = z
  .object({
    /** Addressee, e.g. "Test Larder Accounts Payable". */
    name: nonEmpty,
    line1: nonEmpty,
    line2: nonEmpty.optional(),
    city: nonEmpty,
    region: nonEmpty.optional(),
    postalCode: nonEmpty.optional(),
    /** ISO 3166-1 alpha-2 code. */
    country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code such as "US"'),
    email: nonEmpty.optional(),
    phone: nonEmpty.optional(),
    /** `addressID` the supplier knows this address by, if any. */
    addressId: nonEmpty.optional(),
  })
  .strict();

const CxmlOptions = z
  .object({
    /**
     * Domain part of every `payloadID` (`<delivery id>@<payloadIdDomain>`): a host name the
     * store controls, so ids are globally unique.
     */
    payloadIdDomain: z
      .string()
      .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, 'must be a host name such as "orders.example.com"'),
    /** The buying organisation (the store): `Header/From/Credential`. Required. */
    from: Credential,
    /** The supplier: `Header/To/Credential`. Required. */
    to: Credential,
    /** Who sends the document (usually the store): `Header/Sender`. */
    sender: Credential.extend({
      /** `Sender/UserAgent`. @defaultValue "dropship-pipeline" */
      userAgent: nonEmpty.default('dropship-pipeline'),
      /**
       * Name of the environment variable that holds the shared secret (never the secret
       * itself: secrets stay out of config files). `render` is pure and never reads it: the
       * delivery step reads the variable and calls {@link insertSharedSecret} just before
       * sending, so the secret is never in a queued job, a preview or a disclosure record.
       * @defaultValue unset (no `SharedSecret` is sent)
       */
      sharedSecretEnv: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
        .optional(),
    }).strict(),
    /**
     * The store's own accounts-payable address, sent as `OrderRequestHeader/BillTo` (which
     * the DTD requires). The customer's billing address never leaves (privacy promise 2).
     */
    billTo: StoreAddress,
    /** `Request/@deploymentMode`. @defaultValue "production" */
    deploymentMode: z.enum(['production', 'test']).default('production'),
    /** `xml:lang` of the document, names and descriptions. @defaultValue "en" */
    lang: nmtoken('a language code such as "en" or "en-US"').default('en'),
    /**
     * ISO 4217 currency for `Money` elements when the allow-list withholds
     * `order.currency` (the DTD requires one on every amount). @defaultValue "USD"
     */
    currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as "USD"').default('USD'),
    /** `ItemDetail/UnitOfMeasure` (UN/CEFACT code). @defaultValue "EA" */
    unitOfMeasure: nmtoken('a UN/CEFACT unit code such as "EA"').default('EA'),
    /**
     * `ItemDetail/Classification`, required by the DTD once per item; the view has no
     * classification, so one fixed value is sent. @defaultValue `{ domain: "custom", value: "0" }`
     */
    itemClassification: z
      .object({ domain: nonEmpty, value: z.string().default('0') })
      .strict()
      .default({ domain: 'custom', value: '0' }),
  })
  .strict();
export type CxmlOptions = z.infer<typeof CxmlOptions>;

// ---------------------------------------------------------------------------------------
// XML text

/**
 * Characters XML 1.0 does not allow (C0 controls other than tab, LF and CR; U+FFFE/U+FFFF;
 * unpaired surrogates: with the `u` flag a surrogate range only matches an unpaired one),
 * plus DEL and the C1 controls, which it discourages: all removed.
 */
const NOT_XML = /(?![\t\n\r])\p{Cc}|[\uFFFE\uFFFF\uD800-\uDFFF]/gu;

/** `value` with characters XML cannot carry removed: what a receiver will read back. */
export function xmlSafe(value: string): string {
  return value.replace(NOT_XML, '');
}

function escapeText(value: string): string {
  return xmlSafe(value).replace(/[&<>\r]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#13;'));
}

function escapeAttribute(value: string): string {
  const refs: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' };
  return xmlSafe(value).replace(/[&<>"\t\n\r]/g, (c) => refs[c] ?? c);
}

interface XmlElement {
  name: string;
  attrs?: Record<string, string | undefined>;
  /** Character content (escaped on output); an element has text or children, not both. */
  text?: string;
  children?: XmlNode[];
}
/** A fixed explanatory comment; never built from order data. */
interface XmlComment {
  comment: string;
}
type XmlNode = XmlElement | XmlComment;

const el = (name: string, attrs: XmlElement['attrs'], content?: string | Array<XmlNode | undefined>): XmlElement =>
  typeof content === 'string'
    ? { name, ...(attrs ? { attrs } : {}), text: content }
    : { name, ...(attrs ? { attrs } : {}), children: (content ?? []).filter((c): c is XmlNode => c !== undefined) };

function serialise(node: XmlNode, depth: number, out: string[]): void {
  const indent = '  '.repeat(depth);
  if ('comment' in node) {
    out.push(`${indent}<!-- ${node.comment} -->`);
    return;
  }
  const attrs = Object.entries(node.attrs ?? {})
    .filter((a): a is [string, string] => a[1] !== undefined)
    .map(([k, v]) => ` ${k}="${escapeAttribute(v)}"`)
    .join('');
  if (node.text !== undefined) {
    out.push(`${indent}<${node.name}${attrs}>${escapeText(node.text)}</${node.name}>`);
  } else if (!node.children || node.children.length === 0) {
    out.push(`${indent}<${node.name}${attrs}/>`);
  } else {
    out.push(`${indent}<${node.name}${attrs}>`);
    for (const child of node.children) serialise(child, depth + 1, out);
    out.push(`${indent}</${node.name}>`);
  }
}

// ---------------------------------------------------------------------------------------
// Money

const SCALE = 6;

function toMicros(amount: string): bigint | undefined {
  const m = /^(\d+)(?:\.(\d{1,6}))?$/.exec(amount);
  if (!m) return undefined;
  return BigInt(m[1] ?? '0') * 10n ** BigInt(SCALE) + BigInt((m[2] ?? '').padEnd(SCALE, '0'));
}

function fromMicros(micros: bigint, decimals: number): string {
  const digits = micros.toString().padStart(SCALE + 1, '0');
  const whole = digits.slice(0, -SCALE);
  const fraction = digits.slice(-SCALE).slice(0, decimals);
  return decimals > 0 ? `${whole}.${fraction}` : whole;
}

/**
 * Σ unit price × quantity, exact (decimal strings, never floats), written with as many
 * decimals as the most precise price and at least two. Undefined when any line's price
 * or quantity is withheld: a partial sum would be a wrong total.
 */
export function orderTotal(lines: DropShipOrder['lines']): string | undefined {
  let total = 0n;
  let decimals = 2;
  for (const line of lines) {
    const price = line.unitPrice === undefined ? undefined : toMicros(line.unitPrice);
    if (price === undefined || line.quantity === undefined) return undefined;
    total += price * BigInt(line.quantity);
    decimals = Math.max(decimals, line.unitPrice?.split('.')[1]?.length ?? 0);
  }
  return fromMicros(total, decimals);
}

// ---------------------------------------------------------------------------------------
// The document

/** `+<country code> rest` split for `TelephoneNumber`; anything else stays whole in `Number`. */
function phone(number: string, isoCountry: string): XmlElement {
  const m = /^\+(\d{1,3})[\s.-]+(\S.*)$/.exec(number);
  return el('Phone', { name: 'default' }, [
    el('TelephoneNumber', undefined, [
      el('CountryCode', { isoCountryCode: isoCountry }, m?.[1] ?? ''),
      el('AreaOrCityCode', undefined, ''),
      el('Number', undefined, m?.[2] ?? number),
    ]),
  ]);
}

interface PostalParts {
  deliverTo?: string;
  line1?: string;
  line2?: string;
  city?: string;
  region?: string;
  postalCode?: string;
  country?: string;
}

/** `PostalAddress`, which the DTD allows only with a country: undefined without one. */
function postalAddress(p: PostalParts): XmlElement | undefined {
  if (p.country === undefined) return undefined;
  const streets = [p.line1, p.line2].filter((s): s is string => s !== undefined);
  return el('PostalAddress', { name: 'default' }, [
    p.deliverTo !== undefined ? el('DeliverTo', undefined, p.deliverTo) : undefined,
    ...(streets.length > 0 ? streets : ['']).map((s) => el('Street', undefined, s)),
    el('City', undefined, p.city ?? ''),
    p.region !== undefined ? el('State', undefined, p.region) : undefined,
    p.postalCode !== undefined ? el('PostalCode', undefined, p.postalCode) : undefined,
    el('Country', { isoCountryCode: p.country }, p.country),
  ]);
}

function shipTo(po: DropShipOrder, o: CxmlOptions): XmlElement {
  const s = po.shipTo;
  const phoneNumber = s.phone ?? po.customer.phone;
  const shipment = po.shipment;
  return el('ShipTo', undefined, [
    el('Address', undefined, [
      el('Name', { 'xml:lang': o.lang }, s.company ?? s.name ?? ''),
      // Object.assign, not `{ ...s, deliverTo }`: see cancellationView in format.ts.
      postalAddress(Object.assign({}, s, { deliverTo: s.name })),
      po.customer.email !== undefined ? el('Email', { name: 'default' }, po.customer.email) : undefined,
      phoneNumber !== undefined ? phone(phoneNumber, s.country ?? o.billTo.country) : undefined,
    ]),
    shipment.carrier !== undefined ? el('CarrierIdentifier', { domain: 'companyName' }, shipment.carrier) : undefined,
    shipment.service !== undefined
      ? el('TransportInformation', undefined, [
          el('ShippingInstructions', undefined, [el('Description', { 'xml:lang': o.lang }, shipment.service)]),
        ])
      : undefined,
  ]);
}

function billTo(o: CxmlOptions): XmlElement {
  const b = o.billTo;
  return el('BillTo', undefined, [
    el('Address', { addressID: b.addressId }, [
      el('Name', { 'xml:lang': o.lang }, b.name),
      postalAddress(b),
      b.email !== undefined ? el('Email', { name: 'default' }, b.email) : undefined,
      b.phone !== undefined ? phone(b.phone, b.country) : undefined,
    ]),
  ]);
}

/** The end customer by name, when the allow-list names `customer.name`. */
function contact(po: DropShipOrder, o: CxmlOptions): XmlElement | undefined {
  const c = po.customer;
  if (c.name === undefined) return undefined;
  return el('Contact', { role: 'endUser' }, [
    el('Name', { 'xml:lang': o.lang }, c.name),
    c.email !== undefined ? el('Email', { name: 'default' }, c.email) : undefined,
    c.phone !== undefined ? phone(c.phone, po.shipTo.country ?? o.billTo.country) : undefined,
  ]);
}

const WITHHELD_PRICE = 'unit price withheld: 0 is a placeholder the DTD requires, not a price';
const WITHHELD_TOTAL = 'total withheld (not every unit price is disclosed): 0 is a placeholder the DTD requires';

function money(currency: string, amount: string | undefined, note: string): XmlNode[] {
  return amount === undefined ? [{ comment: note }, el('Money', { currency }, '0')] : [el('Money', { currency }, amount)];
}

function itemOut(line: DropShipOrder['lines'][number], index: number, currency: string, o: CxmlOptions): XmlElement {
  const properties = Object.entries(line.properties ?? {});
  const hasDetail = line.name !== undefined || line.unitPrice !== undefined || line.weight !== undefined || properties.length > 0;
  return el('ItemOut', { quantity: line.quantity === undefined ? '' : String(line.quantity), lineNumber: String(index + 1) }, [
    el('ItemID', undefined, [el('SupplierPartID', undefined, line.sku ?? '')]),
    hasDetail
      ? el('ItemDetail', undefined, [
          el('UnitPrice', undefined, money(currency, line.unitPrice, WITHHELD_PRICE)),
          el('Description', { 'xml:lang': o.lang }, line.name ?? ''),
          el('UnitOfMeasure', undefined, o.unitOfMeasure),
          el('Classification', { domain: o.itemClassification.domain }, o.itemClassification.value),
          line.weight !== undefined
            ? el('Dimension', { quantity: String(line.weight), type: 'unitGrossWeight' }, [el('UnitOfMeasure', undefined, 'GRM')])
            : undefined,
          ...properties.map(([name, value]) => el('Extrinsic', { name }, value)),
        ])
      : undefined,
  ]);
}

/**
 * `payloadID` for a delivery: its id, percent-encoded where it has characters other than
 * letters, digits and `. _ + -` (so the encoding is one-to-one and `@` appears once), at
 * the store's domain. The same on every retry, different for every delivery.
 */
export function payloadId(deliveryId: string, domain: string): string {
  const local = Array.from(deliveryId, (ch) =>
    /^[A-Za-z0-9._+-]$/.test(ch)
      ? ch
      : Array.from(new TextEncoder().encode(ch), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  ).join('');
  return `${local}@${domain}`;
}

function document(po: DropShipOrder, o: CxmlOptions, context: RenderContext): XmlElement {
  if (po.lines.length === 0) throw new Error('a cXML OrderRequest needs at least one line');
  const currency = po.order.currency ?? o.currency;
  const shipment = po.shipment;
  const cancels = context.purpose === 'cancellation' ? (context.cancels ?? context.deliveryId) : undefined;
  const extrinsics: Array<[string, string | undefined]> = [
    ['shipmentId', shipment.id],
    ['trackingNumber', shipment.trackingNumber],
    ['shippingLabel', shipment.label],
  ];
  return el('cXML', { payloadID: payloadId(context.deliveryId, o.payloadIdDomain), timestamp: context.createdAt, version: CXML_VERSION, 'xml:lang': o.lang }, [
    el('Header', undefined, [
      el('From', undefined, [el('Credential', { domain: o.from.domain }, [el('Identity', undefined, o.from.identity)])]),
      el('To', undefined, [el('Credential', { domain: o.to.domain }, [el('Identity', undefined, o.to.identity)])]),
      el('Sender', undefined, [
        el('Credential', { domain: o.sender.domain }, [el('Identity', undefined, o.sender.identity)]),
        el('UserAgent', undefined, o.sender.userAgent),
      ]),
    ]),
    el('Request', { deploymentMode: o.deploymentMode }, [
      el('OrderRequest', undefined, [
        el('OrderRequestHeader', { orderID: po.order.id ?? context.deliveryId, orderDate: po.order.placedAt ?? context.createdAt, type: cancels ? 'delete' : 'new' }, [
          el('Total', undefined, money(currency, orderTotal(po.lines), WITHHELD_TOTAL)),
          // A cancellation (type="delete") names the order it deletes, not where it was going.
          cancels ? undefined : shipTo(po, o),
          billTo(o),
          contact(po, o),
          po.order.giftMessage !== undefined ? el('Comments', { 'xml:lang': o.lang, type: 'giftMessage' }, po.order.giftMessage) : undefined,
          po.order.notes !== undefined ? el('Comments', { 'xml:lang': o.lang, type: 'notes' }, po.order.notes) : undefined,
          cancels ? el('DocumentReference', { payloadID: payloadId(cancels, o.payloadIdDomain) }) : undefined,
          ...extrinsics.map(([name, value]) => (value !== undefined ? el('Extrinsic', { name }, value) : undefined)),
        ]),
        ...po.lines.map((line, i) => itemOut(line, i, currency, o)),
      ]),
    ]),
  ]);
}

/**
 * Adds `<SharedSecret>` to the `Sender` credential of a rendered document. For the
 * delivery step, at send time, with the value of the variable `sender.sharedSecretEnv`
 * names; the result is still DTD-valid. Throws when the document has no sender identity or
 * already carries a secret.
 */
export function insertSharedSecret(body: string, secret: string): string {
  // Order data is escaped, so these tags only ever occur as the document's own markup.
  const sender = body.indexOf('<Sender>');
  const identityEnd = sender < 0 ? -1 : body.indexOf('</Identity>', sender);
  if (identityEnd < 0) throw new Error('not a cXML document with a Sender credential');
  if (body.includes('<SharedSecret>')) throw new Error('the document already carries a shared secret');
  const at = identityEnd + '</Identity>'.length;
  const lineStart = body.lastIndexOf('\n', identityEnd) + 1;
  const indent = /^\s*/.exec(body.slice(lineStart))?.[0] ?? '';
  return `${body.slice(0, at)}\n${indent}<SharedSecret>${escapeText(secret)}</SharedSecret>${body.slice(at)}`;
}

export const cxmlFormat: PurchaseOrderFormat<CxmlOptions> = {
  id: 'cxml',
  fileExtension: 'xml',
  contentType: 'application/xml; charset=utf-8',
  optionsSchema: CxmlOptions,
  requiredFields: ['order.id', 'lines.sku', 'lines.quantity'],
  render(po: DropShipOrder, options: CxmlOptions, context: RenderContext): string {
    const out = ['<?xml version="1.0" encoding="UTF-8"?>', `<!DOCTYPE cXML SYSTEM "${CXML_DTD_URL}">`];
    serialise(document(po, options, context), 0, out);
    return out.join('\n') + '\n';
  },
  beforeSend(body: string, options: CxmlOptions, env: NodeJS.ProcessEnv): string {
    const name = options.sender.sharedSecretEnv;
    if (!name) return body;
    const secret = env[name];
    if (!secret) throw new DropshipError('ECONFIG', [`environment variable ${name} (formatOptions.sender.sharedSecretEnv) is not set`]);
    return insertSharedSecret(body, secret);
  },
  sendSecrets(options: CxmlOptions, env: NodeJS.ProcessEnv): string[] {
    const name = options.sender.sharedSecretEnv;
    const secret = name ? env[name] : undefined;
    return secret ? [secret, escapeText(secret)] : [];
  },
};
