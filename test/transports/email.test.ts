import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import * as openpgp from 'openpgp';
import { emailTransport } from '../../src/transports/email';
import { DeliveryError, type DeliveryPayload, type Transport, type TransportContext } from '../../src/transports/transport';
import { freePort } from '../../src/queue/embedded-redis';
import { startSmtpReceiver, type ReceivedMail, type SmtpReceiver } from '../../testkit/receivers/smtp';
import { expectNoSecrets, makePayload, transportContract } from './contract';

jest.setTimeout(20_000);

const STORE_PASSPHRASE = 'store key passphrase 8c1f';
const SMTP_PASSWORD = 'smtp-password-4e7a';

let smtp: SmtpReceiver;
let noTls: SmtpReceiver;
let authSmtp: SmtpReceiver;
let smtps: SmtpReceiver;
let dir: string;
let supplier: { publicKey: string; privateKey: openpgp.PrivateKey };
let store: { publicKey: openpgp.PublicKey; privateKeyArmored: string };
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  [smtp, noTls, authSmtp, smtps] = await Promise.all([
    startSmtpReceiver(),
    startSmtpReceiver({ noStartTls: true }),
    startSmtpReceiver({ credentials: { user: 'store', password: SMTP_PASSWORD } }),
    startSmtpReceiver({ implicitTls: true }),
  ]);
  const [supplierKeys, storeKeys] = await Promise.all([
    openpgp.generateKey({ userIDs: [{ name: 'Vermont Creamery Orders', email: 'orders@vc.example' }], format: 'armored' }),
    openpgp.generateKey({ userIDs: [{ name: 'Store', email: 'po@store.example' }], passphrase: STORE_PASSPHRASE, format: 'armored' }),
  ]);
  supplier = { publicKey: supplierKeys.publicKey, privateKey: await openpgp.readPrivateKey({ armoredKey: supplierKeys.privateKey }) };
  store = { publicKey: await openpgp.readKey({ armoredKey: storeKeys.publicKey }), privateKeyArmored: storeKeys.privateKey };
  dir = mkdtempSync(join(tmpdir(), 'dropship-email-'));
  writeFileSync(join(dir, 'store.asc'), storeKeys.privateKey);
  env = {
    STORE_PGP_KEY_FILE: join(dir, 'store.asc'),
    STORE_PGP_PASSPHRASE: STORE_PASSPHRASE,
    SMTP_USER: 'store',
    SMTP_PASSWORD,
  };
});

afterAll(async () => {
  await Promise.all([smtp?.stop(), noTls?.stop(), authSmtp?.stop(), smtps?.stop()]);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const baseOptions = (smtpOverrides: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  to: 'orders@vc.example',
  from: 'Store Purchasing <po@store.example>',
  smtp: { host: smtp.host, port: smtp.port, requireTLS: true, caFile: smtp.ca.caFile, timeout: '5s', ...smtpOverrides },
  ...overrides,
});

const context = (overrides: Partial<TransportContext> = {}): TransportContext => ({
  instanceId: 'vermont-creamery',
  configDir: dir,
  env,
  pgpPublicKey: supplier.publicKey,
  ...overrides,
});

const open: Transport[] = [];
function create(options: Record<string, unknown>, ctx: TransportContext = context()): Transport {
  const transport = emailTransport.create(emailTransport.optionsSchema.parse(options), ctx);
  open.push(transport);
  return transport;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function rejection(promise: Promise<unknown>): Promise<DeliveryError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

/** One received message taken apart: outer MIME, the decrypted and verified inner entity. */
interface OpenedMail {
  outer: ParsedMail;
  inner: ParsedMail;
  innerRaw: string;
  signatureVerified: boolean;
}

const opened = new WeakMap<ReceivedMail, Promise<OpenedMail>>();
function openMail(mail: ReceivedMail): Promise<OpenedMail> {
  let result = opened.get(mail);
  if (result === undefined) {
    result = (async () => {
      const outer = await simpleParser(mail.raw);
      const encrypted = outer.attachments.find((a) => a.contentType === 'application/octet-stream');
      if (encrypted === undefined) throw new Error('no encrypted part');
      const decrypted = await openpgp.decrypt({
        message: await openpgp.readMessage({ armoredMessage: encrypted.content.toString('utf8') }),
        decryptionKeys: supplier.privateKey,
        verificationKeys: store.publicKey,
        expectSigned: true,
        format: 'binary',
      });
      const innerRaw = Buffer.from(decrypted.data).toString('utf8');
      const signature = decrypted.signatures[0];
      const signatureVerified = signature === undefined ? false : await signature.verified;
      return { outer, inner: await simpleParser(Buffer.from(decrypted.data)), innerRaw, signatureVerified };
    })();
    opened.set(mail, result);
  }
  return result;
}

async function attachmentsFor(server: SmtpReceiver, payload: DeliveryPayload): Promise<string[]> {
  const found: string[] = [];
  for (const mail of server.messages) {
    const { inner } = await openMail(mail);
    for (const attachment of inner.attachments) {
      if (attachment.filename === payload.filename) found.push(attachment.content.toString('utf8'));
    }
  }
  return found;
}

transportContract('email', () => ({
  kind: emailTransport,
  options: () => baseOptions(),
  context: () => context(),
  received: (payload) => attachmentsFor(smtp, payload),
  breakReceiver: async () => {
    smtp.rejectNextRecipient(451, 'Mailbox temporarily unavailable');
    return async () => undefined;
  },
  permanentFailure: {
    options: () => baseOptions({ host: noTls.host, port: noTls.port, caFile: noTls.ca.caFile }),
    code: 'ETLS',
  },
  unreachableOptions: async () => baseOptions({ port: await freePort() }),
  secrets: () => [STORE_PASSPHRASE, SMTP_PASSWORD, store.privateKeyArmored],
}));

describe('email options', () => {
  const messages = (options: Record<string, unknown>): string =>
    JSON.stringify(emailTransport.optionsSchema.safeParse(options).error?.issues ?? []);

  it('refuses unencrypted SMTP (privacy promise 4)', () => {
    expect(messages(baseOptions({ requireTLS: undefined }))).toContain('mail must travel encrypted');
    expect(messages(baseOptions({ requireTLS: false, secure: false }))).toContain('mail must travel encrypted');
    expect(messages(baseOptions({ secure: true }))).toContain('not both');
  });

  it('defaults the subject and port, and allows only order placeholders in the subject', () => {
    const parsed = emailTransport.optionsSchema.parse(baseOptions({ port: undefined }));
    expect(parsed.subject).toBe('Purchase order {orderId}');
    expect(parsed.smtp.port).toBeUndefined();
    expect(messages(baseOptions({}, { subject: 'Order for {customerName}' }))).toContain('placeholders');
  });

  it('wants addresses and env var names', () => {
    expect(messages(baseOptions({}, { to: 'not an address' }))).toContain('to must be one e-mail address');
    expect(messages(baseOptions({ userEnv: 'SMTP_USER' }))).toContain('go together');
    expect(messages(baseOptions({ userEnv: 'user@x', passwordEnv: 'P' }))).toContain('NAME of an environment variable');
  });

  it('declares that it needs the supplier PGP key and refuses to start without one', () => {
    expect(emailTransport.requiresPgp).toBe(true);
    const options = emailTransport.optionsSchema.parse(baseOptions());
    expect(() => emailTransport.create(options, context({ pgpPublicKey: undefined }))).toThrow(/pgp\.publicKeyFile/);
    expect(() => emailTransport.create(options, context({ env: {} }))).toThrow(/STORE_PGP_KEY_FILE/);
  });
});

describe('email delivery against an SMTP server', () => {
  it('sends RFC 3156 PGP/MIME over STARTTLS, encrypted to the supplier and signed by the store', async () => {
    smtp.reset();
    const transport = create(baseOptions());
    const payload = makePayload('pgpmime');
    const receipt = await transport.deliver(payload);

    expect(smtp.messages).toHaveLength(1);
    const mail = smtp.messages[0] as ReceivedMail;
    expect(mail.secure).toBe(true);
    expect(mail.to).toEqual(['orders@vc.example']);
    expect(mail.from).toBe('po@store.example');

    const { outer, inner, innerRaw, signatureVerified } = await openMail(mail);
    const contentType = outer.headers.get('content-type') as { value: string; params: Record<string, string> };
    expect(contentType.value).toBe('multipart/encrypted');
    expect(contentType.params.protocol).toBe('application/pgp-encrypted');
    expect(outer.subject).toBe(`Purchase order ${payload.orderId}`);
    expect(outer.messageId).toBe(receipt.location);
    expect(outer.attachments.map((a) => a.contentType)).toEqual(['application/pgp-encrypted', 'application/octet-stream']);
    expect(outer.attachments[0]?.content.toString('utf8').trim()).toBe('Version: 1');
    expect(outer.html).toBe(false);
    // Nothing of the order travels in the clear.
    const rawText = mail.raw.toString('utf8');
    for (const fragment of ['Crème', 'BUTTER-42', payload.filename]) expect(rawText).not.toContain(fragment);

    expect(signatureVerified).toBe(true);
    expect(inner.html).toBe(false);
    expect(inner.text?.trim()).toBe(`Purchase order ${payload.orderId} is attached as ${payload.filename}.`);
    expect(inner.attachments).toHaveLength(1);
    const attachment = inner.attachments[0];
    expect(attachment?.filename).toBe(payload.filename);
    expect(attachment?.contentType).toBe('text/csv');
    expect(attachment?.content.equals(Buffer.from(payload.body, 'utf8'))).toBe(true);
    // No tracking: no HTML, no images, no links (privacy promise 5).
    expect(innerRaw).not.toMatch(/text\/html|<img|https?:\/\//i);
  });

  it('keeps one Message-ID per delivery, so a retried delivery can be recognised', async () => {
    const transport = create(baseOptions());
    const payload = makePayload('msgid');
    const first = await transport.deliver(payload);
    const second = await transport.deliver(payload);
    expect(second.location).toBe(first.location);
    expect(first.location).toMatch(/^<dlv-msgid-.*@store\.example>$/);
  });

  it('pools SMTP connections across deliveries', async () => {
    const before = smtp.connections();
    const transport = create(baseOptions({ maxConnections: 1 }));
    for (let i = 0; i < 4; i += 1) await transport.deliver(makePayload(`pool${i}`));
    expect(smtp.connections() - before).toBe(1);
  });

  it('resolves caFile against the config directory', async () => {
    const transport = create(baseOptions({ caFile: basename(smtp.ca.caFile) }), context({ configDir: dirname(smtp.ca.caFile) }));
    await expect(transport.verify()).resolves.toBeUndefined();
  });

  it('speaks implicit TLS when configured with secure: true', async () => {
    const transport = create(baseOptions({ host: smtps.host, port: smtps.port, caFile: smtps.ca.caFile, requireTLS: undefined, secure: true }));
    const payload = makePayload('smtps');
    await transport.deliver(payload);
    expect(smtps.messages.map((m) => m.secure)).toEqual([true]);
    expect(await attachmentsFor(smtps, payload)).toEqual([payload.body]);
  });

  it('refuses a server that does not offer STARTTLS, sending nothing', async () => {
    const transport = create(baseOptions({ host: noTls.host, port: noTls.port }));
    const error = await rejection(transport.deliver(makePayload('notls')));
    expect(error).toMatchObject({ code: 'ETLS', permanent: true });
    expect(noTls.messages).toHaveLength(0);
    await expect(transport.verify()).rejects.toMatchObject({ code: 'ETLS' });
  });

  it('refuses a certificate from a CA it was not told to trust', async () => {
    for (const caFile of [noTls.ca.caFile, undefined]) {
      const before = smtp.messages.length;
      const transport = create(baseOptions({ caFile }));
      const error = await rejection(transport.deliver(makePayload('wrongca')));
      expect(error).toMatchObject({ code: 'ETLS', permanent: true });
      expect(error.message).toMatch(/certificate/i);
      expect(smtp.messages.length).toBe(before);
    }
  });

  it('logs in with credentials from the environment; a refused login is a permanent EAUTH', async () => {
    const smtpOptions = { host: authSmtp.host, port: authSmtp.port, caFile: authSmtp.ca.caFile, userEnv: 'SMTP_USER', passwordEnv: 'SMTP_PASSWORD' };
    const payload = makePayload('auth');
    await create(baseOptions(smtpOptions)).deliver(payload);
    expect(await attachmentsFor(authSmtp, payload)).toEqual([payload.body]);

    const wrong = create(baseOptions(smtpOptions), context({ env: { ...env, SMTP_PASSWORD: 'not-the-password' } }));
    const error = await rejection(wrong.deliver(makePayload('auth-wrong')));
    expect(error).toMatchObject({ code: 'EAUTH', permanent: true });
    expectNoSecrets(error, ['not-the-password', SMTP_PASSWORD]);
  });

  it('treats a 5xx refusal as permanent and a 4xx one as retryable', async () => {
    const transport = create(baseOptions());
    smtp.rejectNextRecipient(550, 'No such mailbox');
    const permanent = await rejection(transport.deliver(makePayload('550')));
    expect(permanent).toMatchObject({ code: 'EREJECTED', permanent: true });
    expect(permanent.message).toContain('550');
    smtp.rejectNextRecipient(452, 'Mailbox full');
    const retryable = await rejection(transport.deliver(makePayload('452')));
    expect(retryable).toMatchObject({ code: 'EREMOTE', permanent: false });
  });

  it('refuses an expired supplier key with a clear message', async () => {
    const day = 86_400_000;
    const { publicKey } = await openpgp.generateKey({
      userIDs: [{ email: 'old@vc.example' }], date: new Date(Date.now() - 3 * day), keyExpirationTime: 86_400, format: 'armored',
    });
    const transport = create(baseOptions(), context({ pgpPublicKey: publicKey }));
    const error = await rejection(transport.deliver(makePayload('expired')));
    expect(error).toMatchObject({ code: 'ECONFIG', permanent: true });
    expect(error.message).toMatch(/expired on \d{4}-\d{2}-\d{2}/);
  });

  it('refuses a wrong store key passphrase without repeating it', async () => {
    const transport = create(baseOptions(), context({ env: { ...env, STORE_PGP_PASSPHRASE: 'wrong-passphrase-91' } }));
    const error = await rejection(transport.deliver(makePayload('storekey')));
    expect(error).toMatchObject({ code: 'ECONFIG', permanent: true });
    expect(error.message).toContain('STORE_PGP_PASSPHRASE');
    expectNoSecrets(error, ['wrong-passphrase-91', STORE_PASSPHRASE]);
  });
});
