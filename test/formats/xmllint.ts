import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CXML_DTD_URL } from '../../src/formats/cxml';
import { SPECS_DIR } from '../../testkit/specs';

/**
 * libxml2's `xmllint` as the independent judge of the cXML documents: DTD validation
 * against the saved cXML 1.2.063 DTD, and XPath to read values back. A catalog maps the
 * DTD's public system id to the saved file, so nothing is fetched (`--nonet`) and a
 * document declaring any other DTD fails `--valid`.
 */

export const CXML_DTD = path.join(SPECS_DIR, 'cxml-1.2.063-cXML.dtd');

const dir = mkdtempSync(path.join(tmpdir(), 'cxml-'));
const catalog = path.join(dir, 'catalog.xml');
writeFileSync(
  catalog,
  `<?xml version="1.0"?>\n<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">\n  <system systemId="${CXML_DTD_URL}" uri="file://${CXML_DTD}"/>\n</catalog>\n`,
);
let counter = 0;

function xmllint(args: string[]): { status: number | null; stdout: string; stderr: string } {
  if (!existsSync(CXML_DTD)) throw new Error(`${CXML_DTD} is missing: the cXML tests need the vendored DTD in specs/`);
  const r = spawnSync('xmllint', ['--nonet', ...args], { encoding: 'utf8', env: { ...process.env, XML_CATALOG_FILES: catalog }, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function save(doc: string): string {
  counter += 1;
  const file = path.join(dir, `doc-${counter}.xml`);
  writeFileSync(file, doc, 'utf8');
  return file;
}

/**
 * Validates documents in one xmllint run, both against the saved DTD (`--dtdvalid`) and
 * against the DTD their DOCTYPE names (`--valid`, resolved by the catalog). Returns
 * xmllint's complaints, empty when every document is valid.
 */
export function cxmlProblems(docs: readonly string[]): string {
  if (docs.length === 0) return '';
  const files = docs.map(save);
  const problems: string[] = [];
  for (const mode of [['--dtdvalid', CXML_DTD], ['--valid']]) {
    const r = xmllint(['--noout', ...mode, ...files]);
    if (r.status !== 0 || r.stderr !== '') problems.push(`xmllint ${mode[0]} exited ${r.status}:\n${r.stderr}`);
  }
  for (const f of files) rmSync(f);
  return problems.join('\n');
}

/** The string value of an XPath expression over `doc`. */
export function xpath(doc: string, expression: string): string {
  const file = save(doc);
  const r = xmllint(['--xpath', `string(${expression})`, file]);
  rmSync(file);
  // xmllint ends its output with a line break; an empty result is reported on stderr.
  if (r.status !== 0 && !/XPath set is empty/.test(r.stderr)) throw new Error(`xmllint --xpath failed: ${r.stderr}`);
  return r.stdout.replace(/\n$/, '');
}

/** A number-valued XPath expression (e.g. `count(//ItemOut)`). */
export function xpathNumber(doc: string, expression: string): number {
  const file = save(doc);
  const r = xmllint(['--xpath', expression, file]);
  rmSync(file);
  return Number(r.stdout.trim());
}

export function removeScratch(): void {
  rmSync(dir, { recursive: true, force: true });
}
