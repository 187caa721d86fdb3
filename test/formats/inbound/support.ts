import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DropshipError } from '../../../src/errors';
import { SPECS_DIR } from '../../../testkit/specs';

/** A vendored file of specs/, as text. */
export function spec(file: string): string {
  return readFileSync(path.join(SPECS_DIR, file), 'utf8');
}

/** The problems a read throws (failing the test when it does not throw EINVALID_CONFIRMATION). */
export function problemsOf(read: () => unknown): string[] {
  try {
    read();
  } catch (error) {
    if (!(error instanceof DropshipError)) throw error;
    expect(error.code).toBe('EINVALID_CONFIRMATION');
    expect(error.statusCode).toBe(400);
    expect(error.problems.length).toBeGreaterThan(0);
    return [...error.problems];
  }
  throw new Error('expected the read to throw EINVALID_CONFIRMATION');
}

// ---------------------------------------------------------------------------------------
// X12, written by the tests (independently of the readers)

export interface Delimiters {
  element: string;
  segment: string;
  component: string;
  repetition: string;
}

export const STANDARD: Delimiters = { element: '*', segment: '~', component: '>', repetition: '^' };

export interface Interchange {
  version: '004010' | '005010';
  delimiters?: Delimiters;
  /** What follows each terminator. @defaultValue "\n" */
  lineBreak?: string;
  control?: number;
  /** The functional identifier (GS01): SH for 856, PR for 855. */
  functionalId: string;
  /** Transaction sets: ST01 and the segments between ST and SE, each `[tag, ...elements]`. */
  sets: Array<{ code: string; body: string[][] }>;
}

/** An interchange written by the envelope rules: fixed-width ISA, counted SE/GE/IEA. */
export function writeX12(doc: Interchange): string {
  const d = doc.delimiters ?? STANDARD;
  const br = doc.lineBreak ?? '\n';
  const control = doc.control ?? 1;
  const control9 = String(control).padStart(9, '0');
  const is5010 = doc.version === '005010';
  const seg = (parts: string[]) => parts.join(d.element) + d.segment + br;
  const isa = [
    'ISA', '00', ' '.repeat(10), '00', ' '.repeat(10), 'ZZ', 'SUPPLIER'.padEnd(15), 'ZZ', 'STORE'.padEnd(15), '261206', '1200',
    is5010 ? d.repetition : 'U', is5010 ? '00501' : '00401', control9, '0', 'T', d.component,
  ].join(d.element);
  let out = isa + d.segment + br;
  out += seg(['GS', doc.functionalId, 'SUPPLIER', 'STORE', '20261206', '1200', String(control), 'X', doc.version]);
  doc.sets.forEach((set, i) => {
    const st = String(i + 1).padStart(4, '0');
    out += seg(['ST', set.code, st]);
    for (const s of set.body) out += seg(s);
    out += seg(['SE', String(set.body.length + 2), st]);
  });
  out += seg(['GE', String(doc.sets.length), String(control)]);
  out += seg(['IEA', '1', control9]);
  return out;
}

export interface AsnShipment {
  reference: string;
  orderId: string;
  carrier: string;
  trackingNumbers: string[];
  lines?: Array<{ sku: string; quantity: number }>;
  /** YYYY-MM-DDTHH:MM:SSZ */
  shippedAt?: string;
  /** Put tracking numbers in MAN*CP of one pack level each instead of REF*2I. */
  packs?: boolean;
  skuQualifier?: string;
}

/** The body of an 856 for one shipment of one order: S → O → (P →) I. */
export function asnBody(s: AsnShipment): string[][] {
  const body: string[][] = [['BSN', '00', s.reference, '20261206', '1200']];
  body.push(['HL', '1', '', 'S']);
  body.push(['TD5', '', '2', s.carrier]);
  if (!s.packs) for (const t of s.trackingNumbers) body.push(['REF', '2I', t]);
  if (s.shippedAt !== undefined) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/.exec(s.shippedAt)!;
    body.push(['DTM', '011', `${m[1]}${m[2]}${m[3]}`, `${m[4]}${m[5]}${m[6]}`, 'UT']);
  }
  body.push(['HL', '2', '1', 'O']);
  body.push(['PRF', s.orderId]);
  let hl = 2;
  let parent = '2';
  if (s.packs) {
    for (const t of s.trackingNumbers) {
      hl++;
      body.push(['HL', String(hl), '2', 'P']);
      body.push(['MAN', 'CP', t]);
      parent = String(hl);
    }
  }
  for (const line of s.lines ?? []) {
    hl++;
    body.push(['HL', String(hl), parent, 'I']);
    body.push(['LIN', '', 'VN', `V-${hl}`, s.skuQualifier ?? 'SK', line.sku]);
    body.push(['SN1', '', String(line.quantity), 'EA']);
  }
  body.push(['CTT', String(hl)]);
  return body;
}

// ---------------------------------------------------------------------------------------
// cXML, validated by xmllint against the vendored DTDs

export const FULFILL_DTD = path.join(SPECS_DIR, 'cxml-1.2.063-Fulfill.dtd');
export const CXML_DTD = path.join(SPECS_DIR, 'cxml-1.2.063-cXML.dtd');

/** xmllint's complaints about `docs` against `dtd` (`--dtdvalid`, nothing fetched); empty when valid. */
export function dtdProblems(docs: readonly string[], dtd = FULFILL_DTD): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cxml-inbound-'));
  try {
    const files = docs.map((doc, i) => {
      const file = path.join(dir, `doc-${i}.xml`);
      writeFileSync(file, doc, 'utf8');
      return file;
    });
    const r = spawnSync('xmllint', ['--nonet', '--noout', '--dtdvalid', dtd, ...files], { encoding: 'utf8' });
    if (r.error) throw r.error;
    // --nonet makes the DOCTYPE's own URL a warning; what counts is the exit status and the validity errors.
    const complaints = r.stderr
      .split('\n')
      .filter((l) => l.trim() !== '' && !/failed to load external entity|Attempt to load network entity|<!DOCTYPE|^\s*\^$/.test(l));
    return r.status === 0 ? '' : `xmllint exited ${r.status}:\n${complaints.join('\n')}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function esc(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const HEADER = `  <Header>
    <From><Credential domain="NetworkId"><Identity>SUPPLIER</Identity></Credential></From>
    <To><Credential domain="NetworkId"><Identity>STORE</Identity></Credential></To>
    <Sender><Credential domain="NetworkId"><Identity>SUPPLIER</Identity><SharedSecret>placeholder</SharedSecret></Credential><UserAgent>test</UserAgent></Sender>
  </Header>`;

function cxml(request: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.063/Fulfill.dtd">
<cXML payloadID="test-1@supplier.example" timestamp="2026-12-06T12:00:00Z" version="1.2.063" xml:lang="en-US">
${HEADER}
  <Request>
${request}
  </Request>
</cXML>
`;
}

export interface NoticePortion {
  orderId?: string;
  payloadId?: string;
  items?: Array<{ lineNumber: number; quantity: number; sku?: string }>;
}

/** A ShipNoticeRequest with one ShipControl. */
export function shipNotice(n: {
  shipmentId: string;
  shipmentDate?: string;
  operation?: string;
  carriers: Array<{ domain: string; name: string }>;
  tracking: string[];
  portions: NoticePortion[];
}): string {
  const portions = n.portions
    .map(
      (p) => `      <ShipNoticePortion>
        <OrderReference${p.orderId !== undefined ? ` orderID="${esc(p.orderId)}"` : ''}><DocumentReference payloadID="${esc(p.payloadId ?? 'delivery-1@store.example')}"/></OrderReference>
${(p.items ?? [])
  .map(
    (i) =>
      `        <ShipNoticeItem quantity="${i.quantity}" lineNumber="${i.lineNumber}">${i.sku !== undefined ? `<ItemID><SupplierPartID>${esc(i.sku)}</SupplierPartID></ItemID>` : ''}<UnitOfMeasure>EA</UnitOfMeasure></ShipNoticeItem>`,
  )
  .join('\n')}
      </ShipNoticePortion>`,
    )
    .join('\n');
  return cxml(`    <ShipNoticeRequest>
      <ShipNoticeHeader shipmentID="${esc(n.shipmentId)}" noticeDate="2026-12-06T12:00:00Z"${n.shipmentDate ? ` shipmentDate="${n.shipmentDate}"` : ''}${n.operation ? ` operation="${n.operation}"` : ''}/>
      <ShipControl>
${n.carriers.map((c) => `        <CarrierIdentifier domain="${esc(c.domain)}">${esc(c.name)}</CarrierIdentifier>`).join('\n')}
${n.tracking.map((t) => `        <ShipmentIdentifier>${esc(t)}</ShipmentIdentifier>`).join('\n')}
      </ShipControl>
${portions}
    </ShipNoticeRequest>`);
}

/** A ConfirmationRequest. */
export function confirmationRequest(c: {
  type: string;
  confirmId?: string;
  orderId?: string;
  comments?: string;
  items?: Array<{ lineNumber: number; quantity: number; statuses: Array<{ type: string; quantity: number }> }>;
}): string {
  const items = (c.items ?? [])
    .map(
      (i) => `      <ConfirmationItem quantity="${i.quantity}" lineNumber="${i.lineNumber}">
        <UnitOfMeasure>EA</UnitOfMeasure>
${i.statuses.map((s) => `        <ConfirmationStatus quantity="${s.quantity}" type="${s.type}"><UnitOfMeasure>EA</UnitOfMeasure></ConfirmationStatus>`).join('\n')}
      </ConfirmationItem>`,
    )
    .join('\n');
  return cxml(`    <ConfirmationRequest>
      <ConfirmationHeader type="${c.type}" noticeDate="2026-12-06T12:00:00Z"${c.confirmId !== undefined ? ` confirmID="${esc(c.confirmId)}"` : ''}>${c.comments !== undefined ? `<Comments xml:lang="en-US">${esc(c.comments)}</Comments>` : ''}</ConfirmationHeader>
      <OrderReference${c.orderId !== undefined ? ` orderID="${esc(c.orderId)}"` : ''}><DocumentReference payloadID="delivery-1@store.example"/></OrderReference>
${items}
    </ConfirmationRequest>`);
}
