import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { AcknowledgementStatus, ConfirmedLine } from '../../core/confirmation';
import { DropshipError } from '../../errors';
import { checkConfirmation, type ConfirmationFormat, MAX_CONFIRMATION_DOCUMENT_CHARS, type ReadConfirmation } from './format';

/**
 * cXML from a supplier, as `POST /suppliers/{id}/cxml` receives it: a `ShipNoticeRequest`
 * (shipments) or a `ConfirmationRequest` (acknowledgements), cXML 1.2.063 (Fulfill.dtd).
 *
 * Parsed with fast-xml-parser, which checks the document is well-formed XML and never
 * resolves external entities; a DOCTYPE with an internal subset (where entities are
 * declared) is refused before parsing, so no entity of the sender's is expanded. The DTD is
 * not validated at read time: the one maintained validator that runs in Node without system
 * packages (xmllint-wasm) is asynchronous and runs in a worker, while reading is pure and
 * synchronous. The reader checks what it reads instead (the elements and attributes below,
 * each a problem when missing or wrong), and the tests validate every document they read
 * against the vendored DTD with xmllint.
 *
 * ShipNoticeRequest: one shipment per `ShipNoticePortion`.
 * - `ShipNoticeHeader@shipmentID`: the reference; `@shipmentDate`: `shippedAt`;
 *   `@operation="delete"` is refused (it withdraws a notice).
 * - `ShipControl/CarrierIdentifier`: the carrier, the one of domain "companyName", else
 *   "SCAC", else the first (the store's carrier name is found from either later, with
 *   `normaliseCarrier`).
 * - `ShipControl/ShipmentIdentifier`: the tracking numbers (of every ShipControl).
 * - `ShipNoticePortion/OrderReference@orderID`: our order id (our OrderRequest's orderID).
 * - `ShipNoticeItem@quantity` and `ItemID/SupplierPartID` (our SKU, as our OrderRequest's
 *   ItemOut carried it): the lines. A portion without items covers every line left.
 *
 * ConfirmationRequest: acknowledgements of `OrderReference@orderID`.
 * - `ConfirmationHeader@type`: accept → accepted, reject → rejected, backordered →
 *   backordered; detail, allDetail and except take each `ConfirmationItem`'s
 *   `ConfirmationStatus@type` (accept, backordered, reject; detail and allDetail read as
 *   accepted). `@confirmID` (or `@invoiceID`) is the reference; a rejection's header
 *   `Comments` is its reason.
 * - A ConfirmationItem names its line by `lineNumber` only (ItemIn is a substitute's), and
 *   confirmations name lines by SKU: when every status covers its whole line and all agree,
 *   the answer covers the whole order (no lines); statuses that differ by line, or part of a
 *   line, are a problem the supplier is told to send by line on another channel.
 */

export const CXML_VERSION = '1.2.063';
const CXML_DTD_URL = `http://xml.cxml.org/schemas/cXML/${CXML_VERSION}/cXML.dtd`;

const ARRAYS = new Set(['ShipControl', 'CarrierIdentifier', 'ShipmentIdentifier', 'ShipNoticePortion', 'ShipNoticeItem', 'ConfirmationItem', 'ConfirmationStatus', 'Comments']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  htmlEntities: true,
  trimValues: true,
  isArray: (name) => ARRAYS.has(name),
});

type Node = Record<string, unknown>;

function obj(value: unknown): Node | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Node) : typeof value === 'string' ? { '#text': value } : undefined;
}
function list(value: unknown): Node[] {
  return (Array.isArray(value) ? value : value === undefined ? [] : [value]).flatMap((v) => (obj(v) ? [obj(v) as Node] : []));
}
function attr(node: Node | undefined, name: string): string | undefined {
  const v = node?.[`@_${name}`];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}
function text(node: Node | undefined): string | undefined {
  const v = node?.['#text'];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

function quantity(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+(\.0*)?$/.test(value) ? Number(value) : undefined;
}

function chooseCarrier(ids: Node[]): string | undefined {
  const named = ids.flatMap((id) => (text(id) === undefined ? [] : [{ domain: attr(id, 'domain')?.toLowerCase(), name: text(id) as string }]));
  return (named.find((c) => c.domain === 'companyname') ?? named.find((c) => c.domain === 'scac') ?? named[0])?.name;
}

function shipNotice(request: Node, problems: string[]): ReadConfirmation[] {
  const header = obj(request.ShipNoticeHeader);
  if (!header) {
    problems.push('ShipNoticeRequest: has no ShipNoticeHeader');
    return [];
  }
  const reference = attr(header, 'shipmentID');
  if (attr(header, 'operation') === 'delete') {
    problems.push('ShipNoticeHeader: operation "delete" withdraws a ship notice; it is not a shipment');
    return [];
  }
  const shippedAt = attr(header, 'shipmentDate');
  const controls = list(request.ShipControl);
  const carrier = chooseCarrier(controls.flatMap((c) => list(c.CarrierIdentifier)));
  const tracking = [...new Set(controls.flatMap((c) => list(c.ShipmentIdentifier).flatMap((s) => (text(s) === undefined ? [] : [text(s) as string]))))];
  if (carrier === undefined) problems.push('ShipNoticeRequest: no ShipControl/CarrierIdentifier names the carrier');
  if (tracking.length === 0) problems.push('ShipNoticeRequest: no ShipControl/ShipmentIdentifier (tracking number)');
  const portions = list(request.ShipNoticePortion);
  if (portions.length === 0) problems.push('ShipNoticeRequest: has no ShipNoticePortion (which order shipped)');
  const out: ReadConfirmation[] = [];
  portions.forEach((portion, p) => {
    const where = `ShipNoticePortion ${p + 1}`;
    const orderId = attr(obj(portion.OrderReference), 'orderID');
    if (orderId === undefined) problems.push(`${where}: OrderReference has no orderID (our order id)`);
    const lines: ConfirmedLine[] = [];
    list(portion.ShipNoticeItem).forEach((item, i) => {
      const itemWhere = `${where}, ShipNoticeItem ${i + 1}${attr(item, 'lineNumber') !== undefined ? ` (lineNumber ${attr(item, 'lineNumber')})` : ''}`;
      const sku = text(obj(obj(item.ItemID)?.SupplierPartID));
      if (sku === undefined) problems.push(`${itemWhere}: has no ItemID/SupplierPartID (our SKU); lines are matched by SKU`);
      const q = quantity(attr(item, 'quantity'));
      if (q === undefined) problems.push(`${itemWhere}: quantity must be a whole number`);
      if (sku !== undefined && q !== undefined) lines.push({ sku, quantity: q });
    });
    if (orderId === undefined || carrier === undefined || tracking.length === 0) return;
    const checked = checkConfirmation(
      'shipment',
      { orderId, carrier, trackingNumbers: tracking, ...(lines.length > 0 ? { lines } : {}), ...(shippedAt !== undefined ? { shippedAt } : {}) },
      where,
    );
    if (checked.ok) out.push({ confirmation: checked.confirmation, ...(reference !== undefined ? { reference } : {}) });
    else problems.push(...checked.problems);
  });
  return out;
}

const HEADER_TYPES: Record<string, AcknowledgementStatus | 'items'> = {
  accept: 'accepted',
  reject: 'rejected',
  backordered: 'backordered',
  detail: 'items',
  allDetail: 'items',
  except: 'items',
};
const ITEM_TYPES: Record<string, AcknowledgementStatus> = { accept: 'accepted', detail: 'accepted', allDetail: 'accepted', backordered: 'backordered', reject: 'rejected' };

function confirmation(request: Node, problems: string[]): ReadConfirmation[] {
  const header = obj(request.ConfirmationHeader);
  if (!header) {
    problems.push('ConfirmationRequest: has no ConfirmationHeader');
    return [];
  }
  const type = attr(header, 'type');
  const headerStatus = type === undefined ? undefined : HEADER_TYPES[type];
  if (headerStatus === undefined) problems.push(`ConfirmationHeader: type ${type === undefined ? 'is missing' : `"${type}" is not read here`} (accept, reject, backordered, detail, allDetail, except)`);
  const orderId = attr(obj(request.OrderReference), 'orderID');
  if (orderId === undefined) problems.push('ConfirmationRequest: OrderReference has no orderID (our order id)');
  const reference = attr(header, 'confirmID') ?? attr(header, 'invoiceID');
  const reason = list(header.Comments)
    .map((c) => text(c))
    .filter((c): c is string => c !== undefined)
    .join(' ');

  // The statuses the items give, and whether each covers its whole line.
  const statuses = new Set<AcknowledgementStatus>();
  let partial = false;
  list(request.ConfirmationItem).forEach((item, i) => {
    const where = `ConfirmationItem ${i + 1}${attr(item, 'lineNumber') !== undefined ? ` (lineNumber ${attr(item, 'lineNumber')})` : ''}`;
    const ordered = quantity(attr(item, 'quantity'));
    for (const status of list(item.ConfirmationStatus)) {
      const t = attr(status, 'type');
      const s = t === undefined ? undefined : ITEM_TYPES[t];
      if (s === undefined) {
        problems.push(`${where}: ConfirmationStatus type ${t === undefined ? 'is missing' : `"${t}" is not read here`} (accept, backordered, reject, detail, allDetail)`);
        continue;
      }
      statuses.add(s);
      const q = quantity(attr(status, 'quantity'));
      if (q === undefined || ordered === undefined || q !== ordered) partial = true;
    }
  });
  if (orderId === undefined || headerStatus === undefined) return [];
  let status: AcknowledgementStatus;
  if (headerStatus !== 'items' && statuses.size === 0) status = headerStatus;
  else if (statuses.size === 1 && !partial && (headerStatus === 'items' || statuses.has(headerStatus))) status = [...statuses][0] as AcknowledgementStatus;
  else if (statuses.size === 0) {
    problems.push(`ConfirmationHeader: type "${type}" needs ConfirmationItem elements, and there are none`);
    return [];
  } else {
    problems.push(
      'ConfirmationRequest: its items answer differently by line or for part of a line, and cXML names a line only by lineNumber while confirmations name lines by SKU; send one ConfirmationRequest per answer for the whole order, or the answer by SKU through the API',
    );
    return [];
  }
  const checked = checkConfirmation('acknowledgement', { orderId, status, ...(status !== 'accepted' && reason !== '' ? { reason } : {}) }, 'ConfirmationRequest');
  if (!checked.ok) {
    problems.push(...checked.problems);
    return [];
  }
  return [{ confirmation: checked.confirmation, ...(reference !== undefined ? { reference } : {}) }];
}

export const cxmlConfirmationFormat: ConfirmationFormat = {
  id: 'cxml',
  read(raw) {
    if (raw.length > MAX_CONFIRMATION_DOCUMENT_CHARS) {
      throw new DropshipError('EINVALID_CONFIRMATION', [`the document is ${raw.length} characters; at most ${MAX_CONFIRMATION_DOCUMENT_CHARS} are read`]);
    }
    const xml = raw.replace(/^\uFEFF/, '');
    // No entity of the sender's is ever declared, expanded or fetched (XXE, billion laughs).
    if (/<!DOCTYPE[^>]*\[/i.test(xml) || /<!ENTITY/i.test(xml)) {
      throw new DropshipError('EINVALID_CONFIRMATION', ['the document declares entities (a DOCTYPE internal subset or <!ENTITY>): refused']);
    }
    const valid = XMLValidator.validate(xml);
    if (valid !== true) throw new DropshipError('EINVALID_CONFIRMATION', [`the document is not well-formed XML (line ${valid.err.line}, column ${valid.err.col}: ${valid.err.code})`]);
    let doc: Node;
    try {
      doc = parser.parse(xml) as Node;
    } catch {
      throw new DropshipError('EINVALID_CONFIRMATION', ['the document could not be parsed as XML']);
    }
    const root = obj(doc.cXML);
    if (!root) throw new DropshipError('EINVALID_CONFIRMATION', ['the document is not cXML: its root element must be <cXML>']);
    const request = obj(root.Request);
    const problems: string[] = [];
    let confirmations: ReadConfirmation[] = [];
    if (!request) problems.push('cXML: has no Request (a ShipNoticeRequest or ConfirmationRequest)');
    else if (obj(request.ShipNoticeRequest)) confirmations = shipNotice(obj(request.ShipNoticeRequest) as Node, problems);
    else if (obj(request.ConfirmationRequest)) confirmations = confirmation(obj(request.ConfirmationRequest) as Node, problems);
    else problems.push('Request: holds neither a ShipNoticeRequest nor a ConfirmationRequest');
    if (problems.length > 0) throw new DropshipError('EINVALID_CONFIRMATION', problems);
    return { confirmations };
  },
};

function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The Status codes `POST /suppliers/{id}/cxml` answers with. */
export const CXML_STATUS = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  409: 'Conflict',
  500: 'Internal Server Error',
} as const;

/**
 * The cXML answer to a supplier's request: `<Response><Status code="200" text="OK"/></Response>`,
 * or a 400/409 Status whose content says why (the problems, never a value of the document).
 * Pure: the caller gives the payloadID (unique, `<id>@<domain>`) and the timestamp.
 */
export function cxmlResponse(code: keyof typeof CXML_STATUS, context: { payloadId: string; timestamp: string; lang?: string }, detail?: string): string {
  const status = detail === undefined || detail === '' ? `<Status code="${code}" text="${CXML_STATUS[code]}"/>` : `<Status code="${code}" text="${CXML_STATUS[code]}">${escapeXml(detail)}</Status>`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<!DOCTYPE cXML SYSTEM "${CXML_DTD_URL}">`,
    `<cXML payloadID="${escapeXml(context.payloadId)}" timestamp="${escapeXml(context.timestamp)}" version="${CXML_VERSION}" xml:lang="${escapeXml(context.lang ?? 'en-US')}">`,
    '  <Response>',
    `    ${status}`,
    '  </Response>',
    '</cXML>',
    '',
  ].join('\n');
}
