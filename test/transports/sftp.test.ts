import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { sftpTransport, type SftpOptions } from '../../src/transports/sftp';
import { sshFingerprint } from '../../src/transports/sftp/connection';
import { DeliveryError, type DeliveryPayload, type Transport, type TransportContext } from '../../src/transports/transport';
import { freePort } from '../../src/queue/embedded-redis';
import { startSshd, type SshKeyPair, type LocalSshd } from '../../testkit/receivers/sshd';
import { expectNoSecrets, makePayload, transportContract } from './contract';

jest.setTimeout(20_000);

let sshd: LocalSshd;
let wrongKey: SshKeyPair;
let protectedKey: SshKeyPair;
const PASSPHRASE = 'correct horse battery staple';

beforeAll(async () => {
  sshd = await startSshd();
  [wrongKey, protectedKey] = await Promise.all([sshd.makeKeyPair('wrong_key'), sshd.makeKeyPair('protected_key', PASSPHRASE)]);
  sshd.authorize(protectedKey);
  mkdirSync(join(sshd.root, 'inbound'));
});

afterAll(async () => {
  await sshd?.stop();
});

const baseOptions = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  host: sshd.host,
  port: sshd.port,
  username: sshd.username,
  privateKeyFile: sshd.clientKey.privateKeyFile,
  hostKey: sshd.hostKey.fingerprint,
  remoteDir: 'inbound',
  keepaliveInterval: '2s',
  timeout: '8s',
  ...overrides,
});

const context = (overrides: Partial<TransportContext> = {}): TransportContext => ({
  instanceId: 'vermont-creamery',
  configDir: '/nonexistent-config-dir',
  env: {},
  ...overrides,
});

const open: Transport[] = [];
function create(options: Record<string, unknown>, ctx: TransportContext = context()): Transport {
  const transport = sftpTransport.create(sftpTransport.optionsSchema.parse(options), ctx);
  open.push(transport);
  return transport;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

const inbound = (name: string): string => join(sshd.root, 'inbound', name);
const partFiles = (): string[] => readdirSync(join(sshd.root, 'inbound')).filter((f) => f.endsWith('.part'));
const logins = (): number => (sshd.log().match(/Accepted publickey/g) ?? []).length;

async function rejection(promise: Promise<unknown>): Promise<DeliveryError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

transportContract('sftp', () => ({
  kind: sftpTransport,
  options: () => baseOptions(),
  context: () => context(),
  received: async (payload) => {
    const file = inbound(payload.filename);
    return existsSync(file) ? [readFileSync(file, 'utf8')] : [];
  },
  breakReceiver: async () => {
    sshd.kill();
    return () => sshd.restart();
  },
  permanentFailure: { options: () => baseOptions({ remoteDir: 'no/such/dir' }), code: 'EREJECTED' },
  unreachableOptions: async () => baseOptions({ port: await freePort() }),
  secrets: () => [sshd.clientKey.privateKey, protectedKey.privateKey, PASSPHRASE],
}));

describe('sftp options', () => {
  const parse = (options: Record<string, unknown>) => sftpTransport.optionsSchema.safeParse(options);
  const messages = (options: Record<string, unknown>): string => JSON.stringify(parse(options).error?.issues ?? []);

  it('applies defaults and converts durations to milliseconds', () => {
    const parsed = sftpTransport.optionsSchema.parse({
      host: 'sftp.example', username: 'store', privateKeyFile: 'k', remoteDir: '/in',
      hostKey: 'SHA256:7haRkxyH/gRkNGGDK9J9S48MD090pAl9JD0lqyzlvsY',
    }) as SftpOptions;
    expect(parsed).toMatchObject({ port: 22, keepaliveInterval: 10_000, timeout: 60_000, poolSize: 1 });
  });

  it('accepts the design example, filename template included', () => {
    expect(parse({
      host: 'sftp.vermontcreamery.example', port: 22, username: 'store', privateKeyFile: '/run/secrets/vc_sftp_key',
      hostKey: 'SHA256:7haRkxyH/gRkNGGDK9J9S48MD090pAl9JD0lqyzlvsY', remoteDir: '/inbound/orders',
      filename: '{orderId}-{supplierId}.csv',
    }).success).toBe(true);
  });

  it('refuses an unpinned server (privacy promise 4)', () => {
    expect(messages(baseOptions({ hostKey: undefined }))).toContain('hostKey is required');
    expect(messages(baseOptions({ hostKey: 'MD5:aa:bb' }))).toContain('ssh-keygen -lf');
  });

  it('wants exactly one key source, and env var names rather than values', () => {
    expect(messages(baseOptions({ privateKeyFile: undefined }))).toContain('exactly one of privateKeyFile');
    expect(messages(baseOptions({ privateKeyEnv: 'SFTP_KEY' }))).toContain('exactly one of privateKeyFile');
    expect(messages(baseOptions({ privateKeyFile: undefined, privateKeyEnv: '-----BEGIN OPENSSH' }))).toContain('NAME of an environment variable');
  });

  it('takes fileMode as an octal string, 0640 by default', () => {
    expect((sftpTransport.optionsSchema.parse(baseOptions()) as SftpOptions).fileMode).toBe(0o640);
    expect((sftpTransport.optionsSchema.parse(baseOptions({ fileMode: '0600' })) as SftpOptions).fileMode).toBe(0o600);
    expect((sftpTransport.optionsSchema.parse(baseOptions({ fileMode: '644' })) as SftpOptions).fileMode).toBe(0o644);
  });

  it.each([
    [640, 'fileMode must be an octal mode in quotes, such as "0640" (unquoted, YAML reads 0640 as the decimal number 640)'],
    ['rw-r-----', 'fileMode must be an octal mode such as "0640" (three octal digits, with an optional leading 0)'],
    ['0890', 'fileMode must be an octal mode such as "0640" (three octal digits, with an optional leading 0)'],
    ['4640', 'fileMode must be an octal mode such as "0640" (three octal digits, with an optional leading 0)'],
    ['0666', 'fileMode must not let others write the file (the last digit must be 0, 4 or 5)'],
  ])('refuses fileMode %j', (mode, message) => {
    expect(parse(baseOptions({ fileMode: mode })).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([`fileMode: ${message}`]);
  });

  it('refuses a filename template with a directory in it', () => {
    expect(messages(baseOptions({ filename: '../{orderId}.csv' }))).toContain('plain file name');
  });

  it('refuses an unusable private key at creation without quoting it', () => {
    const create = () =>
      sftpTransport.create(
        sftpTransport.optionsSchema.parse(baseOptions({ privateKeyFile: undefined, privateKeyEnv: 'K', passphraseEnv: 'P' })),
        context({ env: { K: protectedKey.privateKey, P: 'wrong passphrase' } }),
      );
    expect(create).toThrow(DeliveryError);
    try {
      create();
    } catch (error) {
      expect((error as DeliveryError).code).toBe('ECONFIG');
      expectNoSecrets(error as Error, [protectedKey.privateKey, 'wrong passphrase']);
    }
  });
});

describe('sftp delivery against OpenSSH', () => {
  it('uploads atomically, leaves no part file, and reuses one connection', async () => {
    const transport = create(baseOptions());
    const before = logins();
    const payloads = [makePayload('a'), makePayload('b'), makePayload('c')];
    for (const payload of payloads) {
      const receipt = await transport.deliver(payload);
      expect(receipt.location).toBe(`sftp://${sshd.host}:${sshd.port}/inbound/${payload.filename}`);
      expect(readFileSync(inbound(payload.filename))).toEqual(Buffer.from(payload.body, 'utf8'));
    }
    expect(partFiles()).toEqual([]);
    expect(logins() - before).toBe(1);
  });

  it('overwrites the file when a delivery is retried', async () => {
    const transport = create(baseOptions());
    const payload = makePayload('again');
    writeFileSync(inbound(payload.filename), 'stale');
    await transport.deliver(payload);
    await transport.deliver(payload);
    expect(readFileSync(inbound(payload.filename), 'utf8')).toBe(payload.body);
  });

  it('creates files 0640, not ssh2\'s 0666, unless fileMode says otherwise', async () => {
    const payload = makePayload('mode');
    await create(baseOptions()).deliver(payload);
    expect((statSync(inbound(payload.filename)).mode & 0o7777).toString(8)).toBe('640');
    const strict = makePayload('mode-0600');
    await create(baseOptions({ fileMode: '0600' })).deliver(strict);
    expect((statSync(inbound(strict.filename)).mode & 0o7777).toString(8)).toBe('600');
  });

  it('logs in with a passphrase-protected key held in the environment', async () => {
    const transport = create(
      baseOptions({ privateKeyFile: undefined, privateKeyEnv: 'VC_SFTP_KEY', passphraseEnv: 'VC_SFTP_PASSPHRASE' }),
      context({ env: { VC_SFTP_KEY: protectedKey.privateKey, VC_SFTP_PASSPHRASE: PASSPHRASE } }),
    );
    const payload = makePayload('env-key');
    await transport.deliver(payload);
    expect(readFileSync(inbound(payload.filename), 'utf8')).toBe(payload.body);
  });

  it('resolves a relative privateKeyFile against the config directory', async () => {
    const transport = create(baseOptions({ privateKeyFile: 'client_key' }), context({ configDir: join(sshd.root, '..') }));
    await expect(transport.verify()).resolves.toBeUndefined();
  });

  it('encrypts to the supplier key when one is configured (armored, .pgp)', async () => {
    const { privateKey, publicKey } = await openpgp.generateKey({
      type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Vermont Creamery', email: 'orders@vc.example' }], format: 'armored',
    });
    const transport = create(baseOptions(), context({ pgpPublicKey: publicKey }));
    const payload = makePayload('pgp');
    const receipt = await transport.deliver(payload);
    expect(receipt.location.endsWith(`${payload.filename}.pgp`)).toBe(true);
    expect(existsSync(inbound(payload.filename))).toBe(false);
    const armored = readFileSync(inbound(`${payload.filename}.pgp`), 'utf8');
    expect(armored.startsWith('-----BEGIN PGP MESSAGE-----')).toBe(true);
    expect(armored).not.toContain('Crème');
    const { data } = await openpgp.decrypt({
      message: await openpgp.readMessage({ armoredMessage: armored }),
      decryptionKeys: await openpgp.readPrivateKey({ armoredKey: privateKey }),
      format: 'binary',
    });
    expect(Buffer.from(data)).toEqual(Buffer.from(payload.body, 'utf8'));
  });

  it('refuses a server whose host key does not match the pin, naming both fingerprints', async () => {
    const transport = create(baseOptions({ hostKey: wrongKey.fingerprint }));
    const error = await rejection(transport.deliver(makePayload('hostkey')));
    expect(error).toMatchObject({ code: 'EHOSTKEY', permanent: true });
    expect(error.message).toContain(wrongKey.fingerprint);
    expect(error.message).toContain(sshd.hostKey.fingerprint);
  });

  it('computes fingerprints the way ssh-keygen prints them', () => {
    const blob = Buffer.from(sshd.hostKey.publicKey.split(' ')[1] ?? '', 'base64');
    expect(sshFingerprint(blob)).toBe(sshd.hostKey.fingerprint);
  });

  it('reports a refused client key as a permanent EAUTH without quoting the key', async () => {
    const transport = create(baseOptions({ privateKeyFile: wrongKey.privateKeyFile }));
    const error = await rejection(transport.deliver(makePayload('auth')));
    expect(error).toMatchObject({ code: 'EAUTH', permanent: true });
    expectNoSecrets(error, [wrongKey.privateKey]);
  });

  it('reports a missing remote directory as permanent, naming it', async () => {
    const transport = create(baseOptions({ remoteDir: '/srv/missing/orders' }));
    const error = await rejection(transport.deliver(makePayload('nodir')));
    expect(error).toMatchObject({ code: 'EREJECTED', permanent: true });
    expect(error.message).toContain('/srv/missing/orders');
    await expect(transport.verify()).rejects.toMatchObject({ code: 'EREJECTED' });
  });

  it('reports permission denied as permanent, naming the directory', async () => {
    const transport = create(baseOptions({ port: sshd.readOnlyPort }));
    const payload = makePayload('denied');
    const error = await rejection(transport.deliver(payload));
    expect(error).toMatchObject({ code: 'EREJECTED', permanent: true });
    expect(error.message).toContain('permission denied');
    expect(error.message).toContain('inbound');
    expect(existsSync(inbound(payload.filename))).toBe(false);
  });

  describe('a part file left by an interrupted upload, on a server that forbids overwriting it', () => {
    // The unprivileged port's sessions run as nobody: a leftover part file owned by root and
    // 0444 cannot be opened for writing, as ProFTPD's `AllowOverwrite off` refuses it.
    const folder = (name: string, mode: number): string => {
      const dir = join(sshd.root, name);
      mkdirSync(dir);
      chmodSync(dir, mode);
      return dir;
    };
    const leave = (dir: string, payload: DeliveryPayload): string => {
      const part = join(dir, `.${payload.filename}.${payload.deliveryId.replace(/[^A-Za-z0-9_-]/g, '_')}.part`);
      writeFileSync(part, 'half an upl');
      chmodSync(part, 0o444);
      return part;
    };

    it('is removed and the upload made again, so the retry delivers instead of failing on "permission denied"', async () => {
      const dir = folder('no-overwrite', 0o777);
      const payload = makePayload('leftover');
      const part = leave(dir, payload);
      await create(baseOptions({ port: sshd.unprivilegedPort, remoteDir: 'no-overwrite' })).deliver(payload);
      expect(readFileSync(join(dir, payload.filename), 'utf8')).toBe(payload.body);
      expect(existsSync(part)).toBe(false);
      expect(readdirSync(dir).filter((f) => f.endsWith('.part'))).toEqual([]);
      expect((statSync(join(dir, payload.filename)).mode & 0o7777).toString(8)).toBe('640');
    });

    it('is written around under a fresh part name when it cannot be removed either (a sticky folder)', async () => {
      const dir = folder('no-overwrite-sticky', 0o1777);
      const payload = makePayload('stuck');
      const part = leave(dir, payload);
      await create(baseOptions({ port: sshd.unprivilegedPort, remoteDir: 'no-overwrite-sticky' })).deliver(payload);
      expect(readFileSync(join(dir, payload.filename), 'utf8')).toBe(payload.body);
      // Only the leftover remains, untouched; the supplier's file is whole.
      expect(readdirSync(dir).filter((f) => f.endsWith('.part'))).toEqual([part.slice(dir.length + 1)]);
      expect(readFileSync(part, 'utf8')).toBe('half an upl');
    });

    it('still reports a folder this login may not write to as permission denied', async () => {
      folder('closed', 0o755);
      const error = await rejection(create(baseOptions({ port: sshd.unprivilegedPort, remoteDir: 'closed' })).deliver(makePayload('closed')));
      expect(error).toMatchObject({ code: 'EREJECTED', permanent: true });
      expect(error.message).toContain('permission denied writing to closed');
    });
  });

  it('refuses a payload filename that is not a plain name', async () => {
    const transport = create(baseOptions());
    for (const filename of ['../escape.csv', 'a/b.csv', '.hidden', '']) {
      const error = await rejection(transport.deliver(makePayload('bad', { filename })));
      expect(error).toMatchObject({ code: 'EPAYLOAD', permanent: true });
    }
  });

  it('delivers every file exactly once when the server is killed mid-run and restarted', async () => {
    const transport = create(baseOptions({ poolSize: 2 }));
    const big = 'x'.repeat(256 * 1024);
    const payloads: DeliveryPayload[] = Array.from({ length: 16 }, (_, i) => {
      const p = makePayload(`crash${i}`);
      return { ...p, body: `${p.body}${big}\r\n` };
    });
    let attempts = 0;
    let retryable = 0;
    // What the queue worker does: retry retryable failures with a short backoff.
    const deliverWithRetry = async (payload: DeliveryPayload): Promise<void> => {
      for (;;) {
        attempts += 1;
        try {
          await transport.deliver(payload);
          return;
        } catch (error) {
          if (!(error instanceof DeliveryError) || error.permanent) throw error;
          retryable += 1;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    const crash = (async () => {
      while (readdirSync(join(sshd.root, 'inbound')).filter((f) => f.includes('-crash') && !f.startsWith('.')).length < 4) {
        await new Promise((r) => setTimeout(r, 5));
      }
      sshd.kill();
      await new Promise((r) => setTimeout(r, 400));
      await sshd.restart();
    })();
    const queue = [...payloads];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) await deliverWithRetry(next);
    };
    await Promise.all([worker(), worker(), crash]);

    expect(retryable).toBeGreaterThan(0);
    expect(attempts).toBe(payloads.length + retryable);
    const delivered = readdirSync(join(sshd.root, 'inbound')).filter((f) => f.includes('-crash') && !f.startsWith('.')).sort();
    expect(delivered).toEqual(payloads.map((p) => p.filename).sort());
    for (const payload of payloads) expect(readFileSync(inbound(payload.filename), 'utf8')).toBe(payload.body);
    expect(partFiles()).toEqual([]);
  });
});
