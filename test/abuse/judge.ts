import path from 'node:path';
import { cardLikeNumbers, containsAnyOf } from '../support/card-scan';
import { TEST_CARDS } from '../support/orders';
import { cxmlProblems } from '../formats/xmllint';
import { followsStandardOrder, readX12, type X12Document } from '../formats/x12-reader';

/**
 * Independent judges for what the entry points answer and what the pipeline renders. Each
 * returns a list of problems (empty when all is well), so one case can report everything
 * wrong with it at once.
 */

// ---------------------------------------------------------------------------------------
// Card data, as a person reading the text would see it

/**
 * Text as a receiver reads it: compatibility forms folded (fullwidth and mathematical
 * digits are digits), invisible format characters (zero-width space, RTL override) gone,
 * control characters and runs of whitespace read as one space.
 */
export function asRead(text: string): string {
  return text
    .normalize('NFKC')
    .replace(/\p{Cf}/gu, '')
    .replace(/[\p{Cc}\s]+/gu, ' ');
}

/**
 * The identifiers in the corpus that pass the Luhn check (order numbers, an EAN-13 SKU). They
 * are no card data: scrubbing never touches identifiers, so they go out unchanged, and the
 * card judges skip exactly these values and nothing else. None is a test PAN.
 */
export const LUHN_VALID_IDENTIFIERS = ['7334567890123409', '7334567890123417', '7334567890123425', '7334567890123433', '7334567890123441', '4006381333924'] as const;

/** Card-like numbers in any of `values`, each read on its own (no digits joined across values). */
export function cardProblems(values: readonly string[], where: string): string[] {
  const problems: string[] = [];
  for (const value of values) {
    // Hex digests (the disclosure ledger's sha256) hold long digit runs by chance: no card there.
    let read = asRead(value).replace(/\b[0-9a-f]{32,}\b/gi, '#');
    for (const id of LUHN_VALID_IDENTIFIERS) read = read.split(id).join('#');
    // The store platform's own ids of orders and lines (Shopify's are 13-14 digits, some of
    // them Luhn-valid by chance), kept for fulfillments: identifiers, read wherever they are named.
    read = read.replace(/(store(?:Line|Order)?Id\\*"\s*:\s*\\*")[^"\\]*/g, '$1#');
    const found = cardLikeNumbers(read);
    if (found.length > 0 || containsAnyOf(read, TEST_CARDS)) {
      const at = Math.max(0, read.indexOf(found[0] ?? '') - 60);
      problems.push(`${where} carries a card-like number (${JSON.stringify(found[0] ?? 'a test PAN')}) in …${JSON.stringify(read.slice(at, at + 160))}…`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
// Answers to clients: no internals, no card data

const STACK_FRAME = /\n\s+at\s|\bat (?:Object|Module|async|new)\b|\(\S+:\d+:\d+\)/;
const INTERNAL_PATH = /\/work\/|node_modules|[\w-]+\.ts\b|\/src\/|\/tmp\/|\\src\\/;

/**
 * Problems with a response body or error message: a stack trace, an internal path, card
 * data. `operatorPaths` are paths the caller named itself (a CLI's FILE argument), which an
 * error message should name.
 */
export function answerProblems(answer: string, where: string, operatorPaths: readonly string[] = []): string[] {
  const text = operatorPaths.reduce((t, p) => t.split(p).join('FILE'), answer);
  const problems: string[] = [];
  if (STACK_FRAME.test(text)) problems.push(`${where} shows a stack trace: ${JSON.stringify(text.slice(0, 300))}`);
  const internal = INTERNAL_PATH.exec(text);
  if (internal) problems.push(`${where} names an internal path (${JSON.stringify(internal[0])}): ${JSON.stringify(text.slice(0, 300))}`);
  problems.push(...cardProblems([text], where));
  return problems;
}

// ---------------------------------------------------------------------------------------
// File names

/** A payload file name must stay inside its recipient's folder: no separators, no traversal, no NUL or control characters. */
export function filenameProblems(name: string, where: string): string[] {
  const problems: string[] = [];
  const folder = path.resolve('/srv/outbox/recipient');
  if (name === '' || name === '.' || name === '..') problems.push(`${where}: file name ${JSON.stringify(name)} is not a file name`);
  if (/[/\\]/.test(name)) problems.push(`${where}: file name ${JSON.stringify(name)} has a path separator`);
  if (name.split(/[/\\]/).includes('..')) problems.push(`${where}: file name ${JSON.stringify(name)} has a ".." segment`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) problems.push(`${where}: file name ${JSON.stringify(name)} has NUL or a control character`);
  if (path.dirname(path.resolve(folder, name)) !== folder) problems.push(`${where}: file name ${JSON.stringify(name)} leaves its folder`);
  return problems;
}

// ---------------------------------------------------------------------------------------
// CSV

/**
 * Splits CSV as a spreadsheet program reads it: RFC 4180 quoting, and a record ends at CRLF,
 * LF or CR outside quotes (Excel and LibreOffice all take a bare LF or CR as a row break).
 */
export function parseCsv(body: string, delimiter = ','): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let atCellStart = true;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (quoted) {
      if (c === '"' && body[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
      continue;
    }
    if (c === '"' && atCellStart) {
      quoted = true;
      atCellStart = false;
    } else if (c === delimiter) {
      row.push(cell);
      cell = '';
      atCellStart = true;
    } else if (c === '\r' || c === '\n') {
      if (c === '\r' && body[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      atCellStart = true;
    } else {
      cell += c;
      atCellStart = false;
    }
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** OWASP "CSV Injection": a cell a spreadsheet would evaluate. */
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvProblems(body: string, where: string, expect: { rows?: number; orderId?: string; delimiter?: string } = {}): string[] {
  const problems: string[] = [];
  const rows = parseCsv(body, expect.delimiter ?? ',');
  const header = rows[0] ?? [];
  const data = rows.slice(1);
  if (expect.rows !== undefined && data.length !== expect.rows) {
    problems.push(`${where}: a spreadsheet reads ${data.length} data rows, but the purchase order has ${expect.rows} lines`);
  }
  data.forEach((row, r) => {
    if (row.length !== header.length) problems.push(`${where}: row ${r + 1} has ${row.length} cells, the header ${header.length}`);
    if (expect.orderId !== undefined && header[0] === 'order_id' && row[0] !== expect.orderId) {
      problems.push(`${where}: row ${r + 1} starts with ${JSON.stringify((row[0] ?? '').slice(0, 60))}, not the order id`);
    }
  });
  for (const [r, row] of rows.entries()) {
    for (const cell of row) {
      if (FORMULA_START.test(cell)) problems.push(`${where}: row ${r} has a cell a spreadsheet evaluates: ${JSON.stringify(cell.slice(0, 80))}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
// X12

const X12_TAG = /^[A-Z][A-Z0-9]{1,2}$/;

export function x12Problems(body: string, where: string, expect: { lines?: number } = {}): string[] {
  let doc: X12Document;
  try {
    doc = readX12(body);
  } catch (err) {
    return [`${where}: not a readable X12 interchange (${(err as Error).message})`];
  }
  const problems: string[] = [];
  const tags = doc.segments.map((s) => s.tag);
  const bad = tags.filter((t) => !X12_TAG.test(t));
  if (bad.length > 0) problems.push(`${where}: segments with impossible tags (a value carried a delimiter): ${JSON.stringify(bad.slice(0, 3))}`);
  if (tags.slice(0, 3).join() !== 'ISA,GS,ST' || tags.slice(-3).join() !== 'SE,GE,IEA') problems.push(`${where}: envelope is ${tags.slice(0, 3).join()}…${tags.slice(-3).join()}`);
  const st = tags.indexOf('ST');
  const se = tags.indexOf('SE');
  if (Number(doc.segments[se]?.elements[0]) !== se - st + 1) problems.push(`${where}: SE01 does not count the segments ST..SE`);
  if (!followsStandardOrder(doc)) problems.push(`${where}: segments out of the 850's order: ${tags.join(' ')}`);
  const special = [doc.component, ...(doc.isa11 !== 'U' ? [doc.isa11] : [])];
  for (const segment of doc.segments.slice(1)) {
    for (const value of segment.elements) {
      if (special.some((c) => value.includes(c))) problems.push(`${where}: ${segment.tag} value carries a delimiter: ${JSON.stringify(value.slice(0, 80))}`);
      // eslint-disable-next-line no-control-regex
      if (/[\x00-\x1f\x7f]/.test(value)) problems.push(`${where}: ${segment.tag} value carries a control character: ${JSON.stringify(value.slice(0, 80))}`);
    }
  }
  const po1 = tags.filter((t) => t === 'PO1').length;
  if (expect.lines !== undefined && po1 !== expect.lines) problems.push(`${where}: ${po1} PO1 segments for ${expect.lines} lines`);
  return problems;
}

export function x12Values(body: string): string[] {
  try {
    return readX12(body).segments.flatMap((s) => s.elements);
  } catch {
    return [body];
  }
}

// ---------------------------------------------------------------------------------------
// cXML

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(Number(ref.slice(1)));
    return XML_ENTITIES[ref] ?? whole;
  });
}

/** Character data and attribute values of a document, decoded. */
export function xmlValues(body: string): string[] {
  const values: string[] = [];
  for (const m of body.matchAll(/="([^"]*)"/g)) values.push(decodeXml(m[1] ?? ''));
  for (const text of body.split(/<[^>]*>/)) if (text.trim() !== '') values.push(decodeXml(text));
  return values;
}

/** xmllint's verdict per document: the same document is rendered by planning, preview and the workers. */
const xmllintVerdicts = new Map<string, string>();

/**
 * Validates many documents in one xmllint run (two processes instead of two per document).
 * When the run finds a problem, nothing is recorded, and each document is judged on its own
 * when its case asks, so the problem is reported against the input that caused it.
 */
export function validateXmlAhead(docs: readonly string[]): void {
  const unseen = [...new Set(docs)].filter((d) => !xmllintVerdicts.has(d));
  if (unseen.length === 0 || cxmlProblems(unseen) !== '') return;
  for (const d of unseen) xmllintVerdicts.set(d, '');
}

/** Well-formed and valid against the cXML 1.2.063 DTD, by xmllint. */
export function xmlProblems(body: string, where: string): string[] {
  let complaints = xmllintVerdicts.get(body);
  if (complaints === undefined) {
    complaints = cxmlProblems([body]);
    xmllintVerdicts.set(body, complaints);
  }
  return complaints === '' ? [] : [`${where}: xmllint refuses the document:\n${complaints.slice(0, 1500)}`];
}

// ---------------------------------------------------------------------------------------
// JSON

function jsonStrings(value: unknown, out: string[]): void {
  if (typeof value === 'string') out.push(value);
  else if (typeof value === 'number') out.push(String(value));
  else if (Array.isArray(value)) for (const v of value) jsonStrings(v, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      jsonStrings(v, out);
    }
  }
}

export function jsonValues(body: string): string[] {
  try {
    const out: string[] = [];
    jsonStrings(JSON.parse(body), out);
    return out;
  } catch {
    return [body];
  }
}

// ---------------------------------------------------------------------------------------
// One rendered payload

export interface RenderedPayload {
  format: string;
  body: string;
  recipient: string;
  deliveryId?: string;
  filename?: string;
}

/** Everything that must hold for any payload the pipeline renders, whatever the input. */
export function payloadProblems(d: RenderedPayload, expect: { lines?: number; orderId?: string; delimiter?: string } = {}): string[] {
  const where = `${d.format} payload for ${d.recipient}${d.deliveryId ? ` (${d.deliveryId})` : ''}`;
  const problems: string[] = [];
  if (d.filename !== undefined) problems.push(...filenameProblems(d.filename, where));
  let values: string[];
  switch (d.format) {
    case 'csv':
      problems.push(...csvProblems(d.body, where, { ...expect, ...(expect.lines !== undefined ? { rows: expect.lines } : {}) }));
      values = parseCsv(d.body, expect.delimiter).flat();
      break;
    case 'x12-850':
      problems.push(...x12Problems(d.body, where, expect.lines !== undefined ? { lines: expect.lines } : {}));
      values = x12Values(d.body);
      break;
    case 'cxml':
      problems.push(...xmlProblems(d.body, where));
      values = xmlValues(d.body);
      break;
    default:
      // json, ups-ship, fedex-ship
      try {
        JSON.parse(d.body);
      } catch {
        problems.push(`${where}: not valid JSON`);
      }
      values = jsonValues(d.body);
  }
  problems.push(...cardProblems(values, where));
  return problems;
}
