import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { stringify } from 'yaml';
import type { Config } from '../../src/config/config';
import { buildPgpMimeMessage, readRecipientKey } from '../../src/transports/pgp';
import { FIXTURE_CONFIG_DIR } from '../support/orders';

/**
 * Hostile and broken configuration files, each written over a copy of the test fixture
 * configuration and loaded with `loadConfig`. Expected: a `DropshipError` whose problems
 * name the file and the path inside it, or a configuration that loads and stays safe.
 */

export interface ConfigCase {
  name: string;
  /** Files written over a copy of the fixture configuration; `null` removes one; a function is called when the case runs. */
  files: Record<string, string | Buffer | null | (() => string)>;
  expect:
    | { answer: 'rejected'; problem: RegExp }
    | { answer: 'accepted'; verify?: (config: Config) => string[] | Promise<string[]> };
}

/** A PGP key pair for the email supplier cases, generated once per run (read when a case runs). */
export interface TestKeys {
  publicKey: string;
  privateKey: string;
}

const STORE = readFileSync(path.join(FIXTURE_CONFIG_DIR, 'store.yaml'), 'utf8');
const CREAMERY = readFileSync(path.join(FIXTURE_CONFIG_DIR, 'suppliers', 'creamery.yaml'), 'utf8');

/** A supplier file (as YAML) with `patch` applied to a valid outbox supplier. */
function supplier(patch: Record<string, unknown> = {}): string {
  return stringify({
    id: 'bad',
    name: 'Bad Supplier',
    skus: ['BAD-*'],
    shipFrom: { name: 'Bad', line1: '1 Road', city: 'Town', country: 'US', phone: '+1 555 0100' },
    fields: ['order.id', 'lines.sku', 'lines.quantity'],
    format: 'csv',
    delivery: { transport: 'outbox', dir: '/tmp/dropship-abuse-unused-outbox' },
    ...patch,
  });
}

const sftp = (patch: Record<string, unknown>) => ({
  transport: 'sftp',
  host: 'sftp.supplier.example',
  port: 22,
  username: 'store',
  privateKeyEnv: 'ABUSE_SFTP_KEY',
  hostKey: 'SHA256:7haRkxyH/gRkNGGDK9J9S48MD090pAl9JD0lqyzlvsY',
  remoteDir: '/inbound',
  ...patch,
});

const email = (patch: Record<string, unknown>) => ({
  transport: 'email',
  to: 'orders@supplier.example',
  from: 'Test Larder <store@larder.example>',
  smtp: { host: 'smtp.supplier.example', port: 587, requireTLS: true },
  ...patch,
});

/** An alias chain that expands to 9^10 nodes ("billion laughs"). */
function aliasBomb(): string {
  const rows = ['a0: &a0 [x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i <= 10; i++) rows.push(`a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(', ')}]`);
  return `${STORE}\nbomb:\n${rows.map((r) => `  ${r}`).join('\n')}\n`;
}

/** Headers of an RFC 5322 message, unfolded. */
function headerLines(message: string): string[] {
  const head = message.split('\r\n\r\n', 1)[0] ?? '';
  return head.replace(/\r\n[ \t]/g, ' ').split('\r\n');
}

export function configCases(keys: TestKeys): ConfigCase[] {
  const rejected = (problem: RegExp) => ({ answer: 'rejected' as const, problem });
  const c = (name: string, files: ConfigCase['files'], expect: ConfigCase['expect']): ConfigCase => ({ name, files, expect });
  return [
    // Malformed, truncated, empty, binary
    c('store.yaml: unclosed flow mapping', { 'store.yaml': 'store: { name: [Larder\nshipping: {\n' }, rejected(/^store\.yaml: line \d+, column \d+: YAML: /)),
    c('store.yaml: truncated in the middle of a line', { 'store.yaml': STORE.slice(0, Math.floor(STORE.length * 0.55)) }, rejected(/^store\.yaml: /)),
    c('supplier file truncated mid-way', { 'suppliers/creamery.yaml': CREAMERY.slice(0, Math.floor(CREAMERY.length / 2)) }, rejected(/^suppliers\/creamery\.yaml: /)),
    c('store.yaml: empty', { 'store.yaml': '' }, rejected(/^store\.yaml: \(top level\): /)),
    c('store.yaml: binary bytes', { 'store.yaml': Buffer.from([0x00, 0x01, 0x02, 0xff, 0xfe, 0x1b, 0x5b, 0x33, 0x31, 0x6d]) }, rejected(/^store\.yaml: /)),
    c('store.yaml: duplicate keys', { 'store.yaml': `${STORE}store: { name: Other }\n` }, rejected(/^store\.yaml: line \d+, column \d+: YAML: Map keys must be unique/)),
    c('store.yaml missing', { 'store.yaml': null }, rejected(/^store\.yaml: cannot be read \(ENOENT\)$/)),
    // Invalid UTF-8
    c('supplier file in Latin-1 (invalid UTF-8 in a SKU pattern)', { 'suppliers/creamery.yaml': Buffer.from(CREAMERY.replace('"VC-*"', '"CAFÉ-*"'), 'latin1') }, rejected(/^suppliers\/creamery\.yaml: .*UTF-8/)),
    c('store.yaml with a lone 0xFF byte in the store name', { 'store.yaml': Buffer.concat([Buffer.from('store: { name: "Test '), Buffer.from([0xff]), Buffer.from(`" }\n${STORE.split('\n').slice(1).join('\n')}`)]) }, rejected(/^store\.yaml: .*UTF-8/)),
    // Resource exhaustion
    c('store.yaml: YAML alias bomb', { 'store.yaml': aliasBomb() }, rejected(/^store\.yaml: .*alias/i)),
    c('store.yaml: 50k nested flow sequences', { 'store.yaml': `${STORE}deep: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n` }, rejected(/^store\.yaml: /)),
    c('store.yaml: 10 MB of comments', { 'store.yaml': `${STORE}# ${'x'.repeat(10 * 1024 * 1024)}\n` }, { answer: 'accepted' }),
    c('supplier: 50k SKU patterns', { 'suppliers/bad.yaml': supplier({ skus: Array.from({ length: 50_000 }, (_, i) => `BAD${i}-*`) }) }, { answer: 'accepted' }),
    // Wrong types and missing fields
    c('store.yaml: store is a string', { 'store.yaml': STORE.replace('store: { name: Test Larder }', 'store: Test Larder') }, rejected(/^store\.yaml: store: /)),
    c('supplier: skus is a string', { 'suppliers/bad.yaml': supplier({ skus: 'BAD-*' }) }, rejected(/^suppliers\/bad\.yaml: skus: /)),
    c('supplier: fields is a map', { 'suppliers/bad.yaml': supplier({ fields: { 'order.id': true } }) }, rejected(/^suppliers\/bad\.yaml: fields: /)),
    c('supplier: retry.attempts is "ten"', { 'suppliers/bad.yaml': supplier({ retry: { attempts: 'ten' } }) }, rejected(/^suppliers\/bad\.yaml: retry\.attempts: /)),
    c('supplier: retry.attempts is -1', { 'suppliers/bad.yaml': supplier({ retry: { attempts: -1 } }) }, rejected(/^suppliers\/bad\.yaml: retry\.attempts: /)),
    c('supplier: retry.attempts is 0.5', { 'suppliers/bad.yaml': supplier({ retry: { attempts: 0.5 } }) }, rejected(/^suppliers\/bad\.yaml: retry\.attempts: /)),
    c('supplier: retry.backoff is ".inf"', { 'suppliers/bad.yaml': supplier({ retry: { backoff: Infinity } }) }, rejected(/^suppliers\/bad\.yaml: retry\.backoff: /)),
    c('store.yaml: defaultLineWeightGrams is -0.5', { 'store.yaml': STORE.replace('defaultLineWeightGrams: 400', 'defaultLineWeightGrams: -0.5') }, rejected(/^store\.yaml: shipping\.defaultLineWeightGrams: /)),
    c('supplier without an id', { 'suppliers/bad.yaml': supplier({ id: undefined }) }, rejected(/^suppliers\/bad\.yaml: id: /)),
    c('supplier without delivery', { 'suppliers/bad.yaml': supplier({ delivery: undefined }) }, rejected(/^suppliers\/bad\.yaml: delivery: /)),
    c('supplier file named "..yaml"', { 'suppliers/..yaml': supplier() }, rejected(/^suppliers\/\.\.yaml: id: /)),
    // Prototype pollution keys
    c('store.yaml: a top-level __proto__ key', { 'store.yaml': `__proto__: { polluted: yes }\n${STORE}` }, rejected(/^store\.yaml: .*__proto__/)),
    c('store.yaml: shipping.default "toString" (an Object.prototype member)', { 'store.yaml': STORE.replace('default: standard', 'default: toString') }, rejected(/^store\.yaml: shipping\.default: "toString" is not one of shipping\.methods$/)),
    c('store.yaml: a shipping method named __proto__', { 'store.yaml': STORE.replace('default: standard', 'default: __proto__').replace('    express:', '    __proto__: { carrier: ups, service: "03" }\n    express:') }, rejected(/^store\.yaml: shipping\.(methods|default).*__proto__/)),
    c('supplier: formatOptions.__proto__ (a delimiter hidden in the prototype)', { 'suppliers/bad.yaml': `${supplier()}formatOptions: { __proto__: { delimiter: ";" } }\n` }, rejected(/^suppliers\/bad\.yaml: formatOptions.*__proto__/)),
    c('supplier: constructor and prototype keys', { 'suppliers/bad.yaml': `${supplier()}constructor: { prototype: { polluted: yes } }\n` }, rejected(/^suppliers\/bad\.yaml: .*constructor/)),
    // Unknown countries, Unicode tricks
    c('supplier: shipFrom.country "XX"', { 'suppliers/bad.yaml': supplier({ shipFrom: { name: 'Bad', line1: '1 Road', city: 'Town', country: 'XX', phone: '+1 555 0100' } }) }, rejected(/^suppliers\/bad\.yaml: shipFrom\.country: /)),
    c('supplier: id with an RTL override', { 'suppliers/bad.yaml': supplier({ id: 'b\u202Ead' }) }, rejected(/^suppliers\/bad\.yaml: id: must be lower-case letters, digits and "-"$/)),
    c('supplier: id with a zero-width space', { 'suppliers/bad.yaml': supplier({ id: 'ba\u200Bd' }) }, rejected(/^suppliers\/bad\.yaml: id: /)),
    // File names
    ...['../{orderId}.csv', '{orderId}/../../x.csv', '/etc/{orderId}', '..', '{orderId}\\x.csv'].map((filename) =>
      c(`supplier: filename ${JSON.stringify(filename)}`, { 'suppliers/bad.yaml': supplier({ delivery: { transport: 'outbox', dir: '/tmp/x', filename } }) }, rejected(/^suppliers\/bad\.yaml: delivery\.filename: must be a plain file name/)),
    ),
    c('supplier: filename with NUL', { 'suppliers/bad.yaml': supplier({ delivery: { transport: 'outbox', dir: '/tmp/x', filename: '{orderId}\u0000.csv' } }) }, rejected(/^suppliers\/bad\.yaml: delivery\.filename: /)),
    c('supplier: filename with CR LF', { 'suppliers/bad.yaml': supplier({ delivery: { transport: 'outbox', dir: '/tmp/x', filename: '{orderId}\r\n.csv' } }) }, rejected(/^suppliers\/bad\.yaml: delivery\.filename: /)),
    c('supplier: unknown placeholder ${orderId}', { 'suppliers/bad.yaml': supplier({ delivery: { transport: 'outbox', dir: '/tmp/x', filename: '{orderId}-{$(id)}.csv' } }) }, rejected(/^suppliers\/bad\.yaml: delivery\.filename: unknown placeholder/)),
    c('sftp supplier: remoteDir with NUL', { 'suppliers/bad.yaml': supplier({ delivery: sftp({ remoteDir: '/inbound\u0000/../etc' }) }) }, rejected(/^suppliers\/bad\.yaml: delivery\.remoteDir: /)),
    c('https supplier: http:// URL', { 'suppliers/bad.yaml': supplier({ delivery: { transport: 'https', url: 'http://orders.supplier.example/po', auth: { hmacSecretEnv: 'ABUSE_HMAC' } } }) }, rejected(/^suppliers\/bad\.yaml: delivery\.url: /)),
    // Header injection in email fields
    c('email supplier: from with CRLF and a Bcc header', { 'keys/bad.asc': () => keys.publicKey, 'suppliers/bad.yaml': supplier({ delivery: email({ from: 'Larder\r\nBcc: spy@evil.example <store@larder.example>' }), pgp: { publicKeyFile: 'keys/bad.asc' } }) }, rejected(/^suppliers\/bad\.yaml: delivery\.from: /)),
    c('email supplier: to with LF and a second address', { 'keys/bad.asc': () => keys.publicKey, 'suppliers/bad.yaml': supplier({ delivery: email({ to: 'orders@supplier.example\nBcc: spy@evil.example' }), pgp: { publicKeyFile: 'keys/bad.asc' } }) }, rejected(/^suppliers\/bad\.yaml: delivery\.to/)),
    c('email supplier: subject with CRLF and a Bcc header', { 'keys/bad.asc': () => keys.publicKey, 'suppliers/bad.yaml': supplier({ delivery: email({ subject: 'PO {orderId}\r\nBcc: spy@evil.example\r\nX-Evil: 1' }), pgp: { publicKeyFile: 'keys/bad.asc' } }) }, {
      answer: 'accepted',
      verify: async (config) => {
        // Whether refused at load or folded when sent, the subject must not add a header.
        const s = config.suppliers.find((x) => x.id === 'bad');
        const o = s?.delivery.options as { from: string; to: string | string[]; subject: string } | undefined;
        if (!o) return ['the email supplier did not load'];
        const message = await buildPgpMimeMessage(
          { from: o.from, to: [o.to].flat().join(', '), subject: o.subject.replace('{orderId}', 'abuse-1'), text: 'x', attachment: { filename: 'abuse-1-bad.csv', contentType: 'text/csv', content: 'x' }, messageId: 'abuse-1@larder.example' },
          await readRecipientKey(keys.publicKey, 'supplier bad'),
          'supplier bad',
          await openpgp.readPrivateKey({ armoredKey: keys.privateKey }),
        );
        const headers = headerLines(message.raw.toString('utf8'));
        return headers.filter((h) => /^(Bcc|X-Evil):/i.test(h)).map((h) => `the subject injected a header: ${h}`);
      },
    }),
    // Format options that would break documents
    c('csv supplier: the quote character as delimiter', { 'suppliers/bad.yaml': supplier({ formatOptions: { delimiter: '"' } }) }, rejected(/^suppliers\/bad\.yaml: formatOptions\.delimiter: /)),
    c('csv supplier: a line break as delimiter', { 'suppliers/bad.yaml': supplier({ formatOptions: { delimiter: '\n' } }) }, rejected(/^suppliers\/bad\.yaml: formatOptions\.delimiter: /)),
    c('x12 supplier: a letter as element delimiter', { 'suppliers/bad.yaml': supplier({ format: 'x12-850', formatOptions: { sender: { qualifier: 'ZZ', id: 'LARDER' }, receiver: { qualifier: 'ZZ', id: 'BAD' }, delimiters: { element: 'A' } } }) }, rejected(/^suppliers\/bad\.yaml: formatOptions\.delimiters\.element: /)),
    c('x12 supplier: element and segment delimiters the same', { 'suppliers/bad.yaml': supplier({ format: 'x12-850', formatOptions: { sender: { qualifier: 'ZZ', id: 'LARDER' }, receiver: { qualifier: 'ZZ', id: 'BAD' }, delimiters: { element: '~', segment: '~' } } }) }, rejected(/^suppliers\/bad\.yaml: formatOptions\.delimiters: delimiters must be different characters$/)),
    c('x12 supplier: a delimiter inside the sender id', { 'suppliers/bad.yaml': supplier({ format: 'x12-850', formatOptions: { sender: { qualifier: 'ZZ', id: 'LAR*DER' }, receiver: { qualifier: 'ZZ', id: 'BAD' } } }) }, rejected(/^suppliers\/bad\.yaml: formatOptions\.sender\.id: must not contain a delimiter character$/)),
    // Privacy policy
    c('allow-list naming billing and payment fields', { 'suppliers/bad.yaml': supplier({ fields: ['order.id', 'lines.sku', 'lines.quantity', 'billTo.line1', 'payment.last4'] }) }, rejected(/^suppliers\/bad\.yaml: fields\[3\]: "billTo\.line1" may never be sent to a supplier/)),
    // Tags that other YAML loaders execute
    c('YAML !!js/function tag (other loaders execute it)', { 'store.yaml': STORE.replace('store: { name: Test Larder }', 'store: { name: !!js/function "function () { globalThis.pwned = 1 }" }') }, {
      answer: 'accepted',
      verify: (config) => [
        ...(typeof config.store.name === 'string' ? [] : ['the store name is not plain text']),
        ...((globalThis as Record<string, unknown>).pwned === undefined ? [] : ['the tag ran code']),
      ],
    }),
  ];
}
