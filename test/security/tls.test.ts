import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as openpgp from 'openpgp';
import { SMTPServer } from 'smtp-server';
import { loadConfig } from '../../src/config/load';
import { createLocalCa, type LocalCa } from '../../testkit/receivers/https';
import { startSshd } from '../../testkit/receivers/sshd';
import { DropshipError } from '../../src/errors';
import { emailTransport } from '../../src/transports/email';
import { fedexTransport } from '../../src/carriers/fedex/client';
import { httpsTransport } from '../../src/transports/https';
import { sftpTransport } from '../../src/transports/sftp';
import { DeliveryError, type DeliveryPayload, type Transport, type TransportKind } from '../../src/transports/transport';
import { upsTransport } from '../../src/carriers/ups/client';
import { FIXTURE_CONFIG_DIR } from '../support/orders';
import { makePayload } from '../transports/contract';

/**
 * Issue #7, security: "TLS verification is never turned off by default anywhere; SFTP host
 * keys are always pinned". First the source: every setting that could weaken TLS or SSH
 * verification is found, and each one found must be on the list below with the reason it is
 * safe (and the code around it must still show that reason), so a new unsafe use fails here.
 * Then every client against real servers: a self-signed certificate, or one for another host
 * name, is refused with an error naming the cause, before anything is sent.
 *
 * Covered elsewhere and not repeated here: certificates from an untrusted CA (with and without
 * `caFile`) for HTTPS, email and the carriers, SMTP without STARTTLS, a client certificate the
 * server refuses (test/transports/*.test.ts, test/carriers/clients.test.ts); an SFTP server
 * whose host key differs from the pin, and an unpinned SFTP supplier as an option error
 * (test/transports/sftp.test.ts); expired certificates (test/chaos/).
 */

jest.setTimeout(30_000);

const ROOT = path.join(__dirname, '..', '..');

// ---------------------------------------------------------------------------------------
// The source

/** A kind of setting that can weaken verification; every match must be justified. */
interface Rule {
  id: string;
  pattern: RegExp;
  why: string;
}

const RULES: Rule[] = [
  { id: 'reject-unauthorized', pattern: /rejectUnauthorized\s*:(?!\s*true\b)/, why: 'certificate verification must be literally on' },
  { id: 'node-tls-env', pattern: /NODE_TLS_REJECT_UNAUTHORIZED/, why: 'turns certificate verification off for the whole process' },
  { id: 'check-server-identity', pattern: /checkServerIdentity/, why: 'replaces the host name check' },
  { id: 'servername', pattern: /\bservername\s*:/, why: 'changes the name the certificate is checked against' },
  { id: 'insecure', pattern: /insecure/i, why: 'an insecure mode (allowInsecureAuth, insecureHTTPParser, --insecure)' },
  { id: 'strict-ssl', pattern: /strictSSL/, why: 'request-style switch for certificate verification' },
  { id: 'smtp-plaintext', pattern: /\bignoreTLS\b|\bopportunisticTLS\b|\bsecure\s*:\s*false\b|\brequireTLS\s*:\s*false\b/, why: 'mail that may travel unencrypted' },
  { id: 'tls-version', pattern: /\b(minVersion|maxVersion)\s*:(?!\s*['"]TLSv1\.[23]['"])|secureProtocol|secureOptions|\bciphers\s*:|SSLv[23]|['"]TLSv1(\.[01])?['"]/, why: 'old protocol versions or weak ciphers' },
  { id: 'tls-options', pattern: /\btls\s*:\s*\{|\bconnect\s*:\s*\{/, why: 'TLS options of a client, which must keep verification on' },
  { id: 'tls-client', pattern: /\bnew (Pool|Agent|Client)\(|buildConnector\(|createTransport\(\s*\{|\btls\.connect\(|https\.(request|get)\(|\.connect\(\{/, why: 'a TLS or SSH client is made here' },
  { id: 'ssh-host-key', pattern: /hostVerifier|hostHash/, why: 'decides whether an SSH server host key is accepted' },
  { id: 'ssh-algorithms', pattern: /\balgorithms\s*:/, why: 'SSH key exchange, host key or cipher choices' },
];

/** A use a rule finds that is safe, and why; `context` must match the code around it (±12 lines). */
interface Allowed {
  file: string;
  rule: string;
  line: string;
  reason: string;
  context: RegExp[];
}

const ALLOWED: Allowed[] = [
  {
    file: 'src/transports/https.ts',
    rule: 'tls-client',
    line: 'buildConnector({ ...tls',
    reason: 'the HTTPS delivery connector: certificates verified, TLS 1.2+, a caFile only adds a trusted CA',
    context: [/rejectUnauthorized: true,/, /minVersion: 'TLSv1\.2'/],
  },
  {
    file: 'src/transports/https.ts',
    rule: 'tls-client',
    line: 'new Pool(this.url.origin, {',
    reason: 'the HTTPS delivery pool connects only through that verifying connector',
    context: [/^\s+connect,$/m, /const connector = buildConnector\(\{ \.\.\.tls/],
  },
  {
    file: 'src/carriers/api-client.ts',
    rule: 'tls-client',
    line: 'new Pool(origin, {',
    reason: 'the UPS and FedEx API pool (OAuth and API calls): certificates verified, TLS 1.2+',
    context: [/connect: \{ minVersion: 'TLSv1\.2', rejectUnauthorized: true,/],
  },
  {
    file: 'src/carriers/api-client.ts',
    rule: 'tls-options',
    line: "connect: { minVersion: 'TLSv1.2', rejectUnauthorized: true,",
    reason: 'the same pool: verification on, a caFile only adds a trusted CA',
    context: [],
  },
  {
    file: 'src/carriers/api-client.ts',
    rule: 'tls-options',
    line: 'connect(origin: string, tls: { ca?: string }, timeoutMs: number): Dispatcher;',
    reason: 'the type of the extra CA handed to the carrier pool, not a TLS setting',
    context: [/verifying certificates/],
  },
  {
    file: 'src/stores/http-client.ts',
    rule: 'tls-client',
    line: 'new Pool(origin, {',
    reason: 'the store platforms\' pool (Shopify, WooCommerce): certificates verified, TLS 1.2+',
    context: [/connect: \{ minVersion: 'TLSv1\.2', rejectUnauthorized: true,/],
  },
  {
    file: 'src/stores/http-client.ts',
    rule: 'tls-options',
    line: "connect: { minVersion: 'TLSv1.2', rejectUnauthorized: true,",
    reason: 'the same pool: verification on, a caFile only adds a trusted CA',
    context: [],
  },
  {
    file: 'src/stores/http-client.ts',
    rule: 'tls-options',
    line: 'connect(origin: string, tls: { ca?: string }, timeoutMs: number): Dispatcher;',
    reason: 'the type of the extra CA handed to the store pool, not a TLS setting',
    context: [/verifying certificates/],
  },
  {
    file: 'src/transports/email.ts',
    rule: 'tls-client',
    line: 'nodemailer.createTransport({',
    reason: 'SMTP: implicit TLS or required STARTTLS (the option schema refuses neither), certificates verified, TLS 1.2+',
    context: [/secure: smtp\.secure === true,/, /requireTLS: smtp\.requireTLS === true,/, /rejectUnauthorized: true,/, /minVersion: 'TLSv1\.2'/],
  },
  {
    file: 'src/transports/email.ts',
    rule: 'tls-options',
    line: 'tls: {',
    reason: 'the same SMTP transport: verification on, a caFile only adds a trusted CA',
    context: [/rejectUnauthorized: true,/],
  },
  {
    file: 'src/transports/sftp/connection.ts',
    rule: 'tls-client',
    line: 'await client.connect({',
    reason: 'the SFTP connection: the host key is checked against the pins by hostVerifier',
    context: [/hostVerifier: \(key: Buffer\): boolean =>/],
  },
  {
    file: 'src/transports/sftp/connection.ts',
    rule: 'ssh-host-key',
    line: 'hostVerifier: (key: Buffer): boolean => {',
    reason: "accepts only a key whose SHA256 fingerprint is one of the supplier's pinned hostKey values",
    context: [/this\.hostKeyRejected = !this\.settings\.pins\.includes\(offered\);/, /return !this\.hostKeyRejected;/],
  },
  {
    file: 'demo/inbox.ts',
    rule: 'tls-client',
    line: 'await client.connect({',
    reason: 'the demo reads the SFTP drop back with the host key pinned',
    context: [/hostVerifier: \(key: Buffer\) => sshFingerprint\(key\) === sshd\.hostKey\.fingerprint,/],
  },
  {
    file: 'demo/inbox.ts',
    rule: 'ssh-host-key',
    line: 'hostVerifier: (key: Buffer) => sshFingerprint(key) === sshd.hostKey.fingerprint,',
    reason: "accepts only the local sshd's own host key",
    context: [],
  },
  {
    file: 'testkit/receivers/https.ts',
    rule: 'reject-unauthorized',
    line: 'rejectUnauthorized: options.requireClientCert === true,',
    reason: 'server side of the local test receiver: whether it demands a client certificate (mutual TLS), not a check of a server',
    context: [/requestCert: options\.requireClientCert === true,/, /createServer\(/],
  },
  {
    file: 'testkit/receivers/https.ts',
    rule: 'tls-version',
    line: '...(options.clientCertLikeNginx === true ? { requestCert: true, secureOptions: constants.SSL_OP_NO_TICKET } : {}),',
    reason: 'server side of the local test receiver acting as nginx: no session tickets, so every connection\'s client certificate is judged afresh (stricter, not weaker)',
    context: [/createServer\(/],
  },
  {
    file: 'testkit/receivers/smtp.ts',
    rule: 'insecure',
    line: 'allowInsecureAuth: false,',
    reason: 'the local SMTP receiver refuses AUTH before STARTTLS (the safe value)',
    context: [],
  },
];

interface Finding {
  file: string;
  lineNumber: number;
  rule: string;
  text: string;
  lines: string[];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(ts|js|mjs|cjs)$/.test(entry.name) ? [full] : [];
  });
}

/** Every line of `text` (a file at `file`) that one of the rules matches. */
function scan(file: string, text: string): Finding[] {
  const lines = text.split('\n');
  const findings: Finding[] = [];
  for (const [i, line] of lines.entries()) {
    for (const rule of RULES) if (rule.pattern.test(line)) findings.push({ file, lineNumber: i + 1, rule: rule.id, text: line.trim(), lines });
  }
  return findings;
}

/** Why a finding is not safe, or undefined when an allow-list entry covers it. */
function unjustified(finding: Finding): string | undefined {
  const entry = ALLOWED.find((a) => a.file === finding.file && a.rule === finding.rule && finding.text.includes(a.line));
  const where = `${finding.file}:${finding.lineNumber} [${finding.rule}: ${RULES.find((r) => r.id === finding.rule)?.why}] ${finding.text}`;
  if (entry === undefined) return `${where}: not on the allow-list`;
  const around = finding.lines.slice(Math.max(0, finding.lineNumber - 13), finding.lineNumber + 12).join('\n');
  const missing = entry.context.filter((re) => !re.test(around));
  return missing.length === 0 ? undefined : `${where}: allowed because "${entry.reason}", but the code around it no longer shows ${missing.join(', ')}`;
}

describe('the source never turns TLS or SSH verification off', () => {
  const findings = ['src', 'workers', 'demo', 'testkit'].flatMap((dir) =>
    sourceFiles(path.join(ROOT, dir)).flatMap((full) => scan(path.relative(ROOT, full).split(path.sep).join('/'), readFileSync(full, 'utf8'))),
  );

  it('every setting that could weaken verification is on the allow-list, for a reason the code still shows', () => {
    expect(findings.map(unjustified).filter((problem) => problem !== undefined)).toEqual([]);
  });

  it('the allow-list has no entry for code that is gone', () => {
    const stale = ALLOWED.filter((a) => !findings.some((f) => f.file === a.file && f.rule === a.rule && f.text.includes(a.line)));
    expect(stale).toEqual([]);
  });

  it('finds each kind of weakening it looks for', () => {
    const unsafe: Array<[string, string]> = [
      ['reject-unauthorized', 'const agent = new Agent({ connect: { rejectUnauthorized: false } });'],
      ['reject-unauthorized', 'tls: { rejectUnauthorized: process.env.STRICT === "1" },'],
      ['node-tls-env', "process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';"],
      ['check-server-identity', 'checkServerIdentity: () => undefined,'],
      ['servername', "servername: 'api.example',"],
      ['insecure', 'const dispatcher = new Pool(origin, { insecureHTTPParser: true });'],
      ['strict-ssl', 'strictSSL: false,'],
      ['smtp-plaintext', 'ignoreTLS: true,'],
      ['smtp-plaintext', 'opportunisticTLS: true,'],
      ['smtp-plaintext', 'secure: false,'],
      ['smtp-plaintext', 'requireTLS: false,'],
      ['tls-version', "minVersion: 'TLSv1',"],
      ['tls-version', "ciphers: 'DEFAULT@SECLEVEL=0',"],
      ['tls-options', "tls: { ca },"],
      ['tls-client', 'const res = https.request(url, { agent });'],
      ['tls-client', 'const transport = nodemailer.createTransport({ host });'],
      ['ssh-host-key', 'hostVerifier: () => true,'],
      ['ssh-algorithms', "algorithms: { serverHostKey: ['ssh-rsa'] },"],
    ];
    for (const [rule, line] of unsafe) {
      expect([line, scan('src/new.ts', line).map((f) => f.rule)]).toEqual([line, expect.arrayContaining([rule])]);
      expect(scan('src/new.ts', line).map(unjustified).filter(Boolean).length).toBeGreaterThan(0);
    }
    for (const safe of ['rejectUnauthorized: true,', "minVersion: 'TLSv1.2' as const,", 'requireTLS: true,', 'secure: true,']) {
      expect([safe, scan('src/new.ts', safe)]).toEqual([safe, []]);
    }
    // An allowed line whose surroundings changed is no longer allowed.
    const sftp = readFileSync(path.join(ROOT, 'src/transports/sftp/connection.ts'), 'utf8').replace('return !this.hostKeyRejected;', 'return true;');
    expect(scan('src/transports/sftp/connection.ts', sftp).map(unjustified).filter(Boolean)).toEqual([expect.stringContaining('no longer shows')]);
  });
});

// ---------------------------------------------------------------------------------------
// The clients, against real servers

const run = promisify(execFile);

/** A key and certificate made with the openssl CLI. */
interface Cert {
  key: string;
  cert: string;
}

/** A self-signed certificate for localhost and 127.0.0.1: right name, issued by nobody trusted. */
async function selfSigned(dir: string): Promise<Cert> {
  const key = path.join(dir, 'self.key');
  const cert = path.join(dir, 'self.crt');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-addext', 'extendedKeyUsage=serverAuth',
  ]);
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

/** A certificate from `ca` (which the client trusts) for another host: trusted issuer, wrong name. */
async function otherHost(ca: LocalCa): Promise<Cert> {
  const key = path.join(ca.dir, 'other.key');
  const csr = path.join(ca.dir, 'other.csr');
  const cert = path.join(ca.dir, 'other.crt');
  const ext = path.join(ca.dir, 'other.ext');
  writeFileSync(ext, 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:orders.other.example\n');
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=orders.other.example']);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.caFile, '-CAkey', path.join(ca.dir, 'ca.key'), '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

/** An HTTPS server that answers every request 200 (an OAuth token, for the carriers), counting them. */
interface TlsServer {
  url: string;
  port: number;
  requests: string[];
  server: Server;
}

async function httpsServer(cert: Cert): Promise<TlsServer> {
  const requests: string[] = [];
  const server = createServer(cert, (req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: 'token-from-test-server', token_type: 'Bearer', expires_in: 3600, accepted: true }));
    });
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `https://127.0.0.1:${port}`, port, requests, server };
}

/** An SMTP server with STARTTLS (or implicit TLS), keeping how many messages it took. */
async function smtpServer(cert: Cert, implicitTls: boolean): Promise<{ port: number; messages: () => number; stop: () => Promise<void> }> {
  let messages = 0;
  const server = new SMTPServer({
    ...cert,
    secure: implicitTls,
    authOptional: true,
    logger: false,
    onData: (stream, _session, callback) => {
      stream.resume();
      stream.on('end', () => {
        messages += 1;
        callback();
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { port, messages: () => messages, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function refusal(promise: Promise<unknown>): Promise<DeliveryError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

let dir: string;
let ca: LocalCa;
let certs: { good: Cert; selfSigned: Cert; otherHost: Cert };
let pgp: { supplierPublic: string; storeKeyFile: string };
const stops: Array<() => Promise<void>> = [];
const open: Transport[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'dropship-tls-'));
  ca = await createLocalCa('dropship TLS test CA');
  const [good, self, other, supplier, store] = await Promise.all([
    ca.issue('localhost'),
    selfSigned(dir),
    otherHost(ca),
    openpgp.generateKey({ userIDs: [{ name: 'Supplier', email: 'orders@supplier.example' }], format: 'armored' }),
    openpgp.generateKey({ userIDs: [{ name: 'Store', email: 'po@store.example' }], format: 'armored' }),
  ]);
  certs = { good: { key: good.key, cert: good.cert }, selfSigned: self, otherHost: other };
  writeFileSync(path.join(dir, 'store.asc'), store.privateKey);
  pgp = { supplierPublic: supplier.publicKey, storeKeyFile: path.join(dir, 'store.asc') };
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

afterAll(async () => {
  await Promise.allSettled(stops.map((stop) => stop()));
  ca?.remove();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function serve(cert: Cert): Promise<TlsServer> {
  const s = await httpsServer(cert);
  stops.push(async () => {
    s.server.closeAllConnections();
    await new Promise<void>((resolve) => s.server.close(() => resolve()));
  });
  return s;
}

function make<O>(kind: TransportKind<O>, options: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, pgpPublicKey?: string): Transport {
  const transport = kind.create(kind.optionsSchema.parse(options), { instanceId: 'tls-test', configDir: dir, env, ...(pgpPublicKey ? { pgpPublicKey } : {}) });
  open.push(transport);
  return transport;
}

const SELF_SIGNED = /DEPTH_ZERO_SELF_SIGNED_CERT|self[- ]signed certificate/;
const WRONG_NAME = /ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames/;

describe('HTTPS delivery refuses a server it cannot verify', () => {
  const https = (url: string, caFile?: string) => make(httpsTransport, { url: `${url}/po`, ...(caFile ? { caFile } : {}), auth: { bearerTokenEnv: 'TOKEN' }, timeout: '5s' }, { TOKEN: 'tls-test-token' });

  it('delivers to a server whose certificate it can verify (the control)', async () => {
    const server = await serve(certs.good);
    await expect(https(server.url, ca.caFile).deliver(makePayload('tls-ok'))).resolves.toMatchObject({ location: expect.stringContaining('200') });
    expect(server.requests).toEqual(['POST /po']);
  });

  it('refuses a self-signed certificate when no caFile is given, sending nothing', async () => {
    const server = await serve(certs.selfSigned);
    const error = await refusal(https(server.url).deliver(makePayload('tls-self')));
    expect(error).toMatchObject({ code: 'ETLS', permanent: true, message: expect.stringMatching(SELF_SIGNED) });
    expect(error.message).toContain('the server certificate is not trusted');
    expect(server.requests).toEqual([]);
  });

  it('refuses a certificate for another host name, even from the CA it trusts', async () => {
    const server = await serve(certs.otherHost);
    const error = await refusal(https(server.url, ca.caFile).deliver(makePayload('tls-name')));
    expect(error).toMatchObject({ code: 'ETLS', permanent: true, message: expect.stringMatching(WRONG_NAME) });
    expect(server.requests).toEqual([]);
  });
});

describe.each([
  ['STARTTLS', false],
  ['implicit TLS', true],
] as const)('email over %s refuses a server it cannot verify', (_mode, implicitTls) => {
  const email = (port: number, caFile?: string) =>
    make(
      emailTransport,
      {
        to: 'orders@supplier.example',
        from: 'Store <po@store.example>',
        smtp: { host: '127.0.0.1', port, ...(implicitTls ? { secure: true } : { requireTLS: true }), ...(caFile ? { caFile } : {}), timeout: '5s' },
      },
      { STORE_PGP_KEY_FILE: pgp.storeKeyFile },
      pgp.supplierPublic,
    );
  const start = async (cert: Cert) => {
    const s = await smtpServer(cert, implicitTls);
    stops.push(s.stop);
    return s;
  };

  it('sends to a server whose certificate it can verify (the control)', async () => {
    const server = await start(certs.good);
    await email(server.port, ca.caFile).deliver(makePayload('mail-ok'));
    expect(server.messages()).toBe(1);
  });

  it('refuses a self-signed certificate when no caFile is given, sending nothing', async () => {
    const server = await start(certs.selfSigned);
    const error = await refusal(email(server.port).deliver(makePayload('mail-self')));
    expect(error).toMatchObject({ code: 'ETLS', permanent: true, message: expect.stringMatching(SELF_SIGNED) });
    expect(error.message).toContain('gave no verified TLS connection');
    expect(server.messages()).toBe(0);
  });

  it('refuses a certificate for another host name, even from the CA it trusts', async () => {
    const server = await start(certs.otherHost);
    const error = await refusal(email(server.port, ca.caFile).deliver(makePayload('mail-name')));
    expect(error).toMatchObject({ code: 'ETLS', permanent: true, message: expect.stringMatching(WRONG_NAME) });
    expect(server.messages()).toBe(0);
  });
});

describe.each([
  ['UPS', upsTransport, { shipperNumber: 'A1B2C3' }, 'ups-ship'],
  ['FedEx', fedexTransport, { accountNumber: '740561073' }, 'fedex-ship'],
] as const)('the %s API client (OAuth and API calls) refuses a server it cannot verify', (_name, kind, account, format) => {
  const client = (url: string, caFile?: string) =>
    make(kind as TransportKind, { ...account, baseUrl: url, ...(caFile ? { caFile } : {}), clientIdEnv: 'ID', clientSecretEnv: 'SECRET', timeout: '5s' }, { ID: 'tls-test-id', SECRET: 'tls-test-secret' });
  const shipment = (): DeliveryPayload => ({ ...makePayload('carrier'), recipient: 'tls-test', kind: 'carrier', format, contentType: 'application/json', body: '{}' });

  it('refuses a self-signed certificate for the token request when no caFile is given', async () => {
    const server = await serve(certs.selfSigned);
    const c = client(server.url);
    for (const attempt of [c.verify(), c.deliver(shipment())]) {
      const error = await refusal(attempt);
      expect(error).toMatchObject({ code: 'ETLS', permanent: true, message: expect.stringMatching(SELF_SIGNED) });
    }
    expect(server.requests).toEqual([]);
  });

  it('refuses a certificate for another host name, even from the CA it trusts', async () => {
    const server = await serve(certs.otherHost);
    const error = await refusal(client(server.url, ca.caFile).verify());
    expect(error).toMatchObject({ code: 'ETLS', permanent: true, message: expect.stringMatching(WRONG_NAME) });
    expect(server.requests).toEqual([]);
  });

  it('checks the API call too: after a verified token request, a server that changes to a wrong certificate is refused', async () => {
    const server = await serve(certs.good);
    const c = client(server.url, ca.caFile);
    await c.verify();
    expect(server.requests).toHaveLength(1);
    server.server.setSecureContext(certs.otherHost);
    server.server.closeAllConnections();
    const error = await refusal(c.deliver(shipment()));
    expect(error).toMatchObject({ code: 'ETLS', permanent: true, message: expect.stringMatching(WRONG_NAME) });
    // The shipment call itself was refused (the token was still good): its path is named.
    expect(error.message).toMatch(/\/ship/);
    expect(server.requests).toHaveLength(1);
  });
});

describe('SFTP keeps the host key pinned', () => {
  it('on every connection: a server that comes back with another host key is refused, naming both keys', async () => {
    const sshd = await startSshd();
    try {
      const { transport: _kind, ...options } = sshd.deliveryOptions('.');
      const transport = make(sftpTransport, { ...options, timeout: '10s' });
      await transport.deliver(makePayload('before-restart'));
      const pinned = sshd.hostKey.fingerprint;
      // The server is replaced by one with another host key (a rebuilt machine, or someone else).
      const replacement = await sshd.makeKeyPair('replacement_host_key');
      writeFileSync(sshd.hostKey.privateKeyFile, readFileSync(replacement.privateKeyFile));
      writeFileSync(`${sshd.hostKey.privateKeyFile}.pub`, readFileSync(`${replacement.privateKeyFile}.pub`));
      await sshd.restart();
      const error = await refusal(transport.deliver(makePayload('after-restart')));
      expect(error).toMatchObject({ code: 'EHOSTKEY', permanent: true });
      expect(error.message).toContain(`expected ${pinned}, offered ${replacement.fingerprint}`);
      expect(readdirSync(sshd.root).filter((f) => f.includes('after-restart'))).toEqual([]);
    } finally {
      await sshd.stop();
    }
  });
});

describe('insecure transfers are configuration errors, naming the file and the path', () => {
  it('refuses an unpinned SFTP supplier, unencrypted mail, plain http and a plain-http carrier API at once', () => {
    const config = mkdtempSync(path.join(os.tmpdir(), 'dropship-tls-config-'));
    try {
      cpSync(FIXTURE_CONFIG_DIR, config, { recursive: true });
      const supplier = (id: string, skus: string, delivery: string, extra = '') =>
        `id: ${id}\nname: ${id}\nskus: ["${skus}"]\nshipFrom: { name: X, line1: 1 Road, city: Town, country: US, phone: "+1 555 0100" }\nlabels: supplier\nformat: csv\nfields: [order.id, lines.sku]\ndelivery: ${delivery}\n${extra}`;
      writeFileSync(path.join(config, 'suppliers', 'unpinned.yaml'), supplier('unpinned', 'UP-*', '{ transport: sftp, host: sftp.example, username: u, privateKeyFile: k, remoteDir: in }'));
      writeFileSync(path.join(config, 'suppliers', 'plainmail.yaml'), supplier('plainmail', 'PM-*', '{ transport: email, to: a@b.example, from: c@d.example, smtp: { host: smtp.example, port: 25 } }', 'pgp: { publicKeyFile: k.asc }\n'));
      writeFileSync(path.join(config, 'suppliers', 'plainhttp.yaml'), supplier('plainhttp', 'PH-*', '{ transport: https, url: "http://po.example/in", auth: { bearerTokenEnv: T } }'));
      writeFileSync(path.join(config, 'store.yaml'), readFileSync(path.join(config, 'store.yaml'), 'utf8').replace('ups: { shipperNumber: "T1E2S3" }', 'ups: { shipperNumber: "T1E2S3", baseUrl: "http://ups.example" }'));
      let problems: readonly string[] = [];
      try {
        loadConfig(config);
      } catch (err) {
        expect(err).toBeInstanceOf(DropshipError);
        problems = (err as DropshipError).problems;
      }
      expect(problems).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^suppliers\/unpinned\.yaml: delivery\.hostKey: hostKey is required: pin the server key/),
          expect.stringMatching(/^suppliers\/plainmail\.yaml: delivery\.smtp\.secure: mail must travel encrypted/),
          expect.stringMatching(/^suppliers\/plainhttp\.yaml: delivery\.url: url must start with https:\/\//),
          expect.stringMatching(/^store\.yaml: carriers\.ups\.baseUrl: must start with https:\/\//),
        ]),
      );
    } finally {
      rmSync(config, { recursive: true, force: true });
    }
  });
});
