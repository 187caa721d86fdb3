import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { formatById } from '../../src/formats';
import { CONTEXT, CXML_OPTIONS, VIEWS, X12_OPTIONS, copy } from './po-fixtures';
import { checkEnvelope, loadNodeX12, parseWithNodeX12, readX12 } from './x12-reader';
import { cxmlProblems, removeScratch } from './xmllint';

/**
 * Golden files: a fixed view and context in, the exact document out, for every format and
 * its main option sets. A change to any byte of any document shows up here for review.
 * `UPDATE_GOLDEN=1 npx jest test/formats/golden` rewrites the files.
 */

const GOLDEN_DIR = path.join(__dirname, '..', 'fixtures', 'formats');

const GOLDEN_CASES: ReadonlyArray<{ view: string; format: string; variant: string; options: Record<string, unknown> }> = [
  { view: 'full', format: 'json', variant: 'pretty', options: { pretty: true } },
  { view: 'withheld', format: 'json', variant: 'compact', options: {} },
  { view: 'full', format: 'csv', variant: 'default', options: {} },
  { view: 'withheld', format: 'csv', variant: 'default', options: {} },
  {
    view: 'full',
    format: 'csv',
    variant: 'layout',
    options: {
      delimiter: ';',
      lineEnding: 'lf',
      quote: 'always',
      dateFormat: 'MM/dd/yyyy',
      columns: ['order.id', 'placed_at', { field: 'lines.sku', header: 'Item' }, { field: 'lines.quantity', header: 'Qty' }, 'shipTo.name', 'shipTo.phone', 'notes'],
    },
  },
  { view: 'withheld', format: 'csv', variant: 'layout', options: { columns: ['order_id', 'sku', 'quantity', 'unit_price', 'customer_email', 'ship_to_city'], dateFormat: 'yyyy-MM-dd' } },
  { view: 'full', format: 'cxml', variant: 'default', options: CXML_OPTIONS },
  { view: 'withheld', format: 'cxml', variant: 'test-mode', options: { ...CXML_OPTIONS, deploymentMode: 'test', lang: 'en-US' } },
  // X12 writes every value faithfully or not at all: `full` (an emoji, a 51-character city)
  // cannot be written, so the X12 cases use `x12-full` (transliterated) and, for the basic
  // character set (no "<", "%" or "@"), `withheld`.
  { view: 'x12-full', format: 'x12-850', variant: '5010-extended', options: X12_OPTIONS },
  { view: 'withheld', format: 'x12-850', variant: '5010-extended', options: X12_OPTIONS },
  { view: 'withheld', format: 'x12-850', variant: '4010-basic', options: { ...X12_OPTIONS, version: '004010', groupVersionCode: '004010VICS', charset: 'basic', lineBreak: 'crlf' } },
  {
    view: 'x12-full',
    format: 'x12-850',
    variant: '5010-utf8-pipes',
    options: { ...X12_OPTIONS, charset: 'utf8', delimiters: { element: '|', segment: '\n', component: ':', repetition: '!' }, lineBreak: 'none' },
  },
];

/** Renders one golden case. */
function renderCase(c: (typeof GOLDEN_CASES)[number]): { body: string; file: string } {
  const format = formatById(c.format);
  if (!format) throw new Error(`format ${c.format} is not registered`);
  const view = VIEWS[c.view];
  if (!view) throw new Error(`no view ${c.view}`);
  const body = format.render(copy(view), format.optionsSchema.parse(copy(c.options)), CONTEXT);
  return { body, file: path.join(GOLDEN_DIR, `${c.view}.${c.format}.${c.variant}.golden.${format.fileExtension}`) };
}

describe('golden purchase orders', () => {
  it.each(GOLDEN_CASES.map((c) => [`${c.format} ${c.variant} (${c.view})`, c] as const))('%s renders byte for byte as its golden file', (_name, c) => {
    const { body, file } = renderCase(c);
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(GOLDEN_DIR, { recursive: true });
      writeFileSync(file, body, 'utf8');
    }
    if (!existsSync(file)) throw new Error(`${file} is missing: run UPDATE_GOLDEN=1 npx jest test/formats/golden and review it`);
    expect(body).toBe(readFileSync(file, 'utf8'));
  });

  it.each(GOLDEN_CASES.map((c) => [`${c.format} ${c.variant} (${c.view})`, c] as const))('%s renders identically every time', (_name, c) => {
    const first = renderCase(c).body;
    for (let i = 0; i < 3; i++) expect(renderCase(c).body).toBe(first);
  });

  it('every golden document is valid for its format: JSON Schema, cXML DTD, X12 envelope (and node-x12 when installed)', () => {
    const bodies = (format: string) => GOLDEN_CASES.filter((c) => c.format === format).map((c) => renderCase(c).body);
    const ajv = new Ajv2020({ strict: true });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'schemas', 'purchase-order.v1.schema.json'), 'utf8')) as object);
    for (const body of bodies('json')) expect(validate(JSON.parse(body))).toBe(true);
    expect(cxmlProblems(bodies('cxml'))).toBe('');
    const nodeX12 = loadNodeX12();
    for (const body of bodies('x12-850')) {
      checkEnvelope(readX12(body));
      if (nodeX12) expect(parseWithNodeX12(nodeX12, body).segments).toHaveLength(readX12(body).segments.length);
    }
  });
});

afterAll(removeScratch);
