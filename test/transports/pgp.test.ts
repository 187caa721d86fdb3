import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { encryptArmored, loadStoreSigningKey, readRecipientKey } from '../../src/transports/pgp';
import { DeliveryError } from '../../src/transports/transport';
import { expectNoSecrets } from './contract';

const DAY = 86_400_000;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dropship-pgp-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function problem(promise: Promise<unknown>): Promise<DeliveryError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  expect((error as DeliveryError).code).toBe('ECONFIG');
  expect((error as DeliveryError).permanent).toBe(true);
  return error as DeliveryError;
}

describe('supplier public keys', () => {
  it('reads a valid key and reports its fingerprint and days until expiry', async () => {
    const { publicKey } = await openpgp.generateKey({ userIDs: [{ email: 'orders@vc.example' }], keyExpirationTime: 30 * 86_400, format: 'armored' });
    const key = await readRecipientKey(publicKey, 'config/keys/vc.asc');
    expect(key.fingerprint).toMatch(/^[0-9A-F]{40}$/);
    expect(key.userIds).toEqual(['<orders@vc.example>']);
    expect(key.daysUntilExpiry).toBe(29);
    expect(key.expiresAt?.getTime()).toBeGreaterThan(Date.now() + 29 * DAY);
  });

  it('reports a key that never expires as such', async () => {
    const { publicKey } = await openpgp.generateKey({ userIDs: [{ email: 'o@vc.example' }], format: 'armored' });
    expect(await readRecipientKey(publicKey, 'vc')).toMatchObject({ expiresAt: null, daysUntilExpiry: null });
  });

  it('refuses an expired key, naming the file and the date', async () => {
    const { publicKey } = await openpgp.generateKey({
      userIDs: [{ email: 'o@vc.example' }], date: new Date(Date.now() - 10 * DAY), keyExpirationTime: 86_400, format: 'armored',
    });
    const error = await problem(readRecipientKey(publicKey, 'config/keys/vc.asc'));
    expect(error.message).toMatch(/^PGP key config\/keys\/vc\.asc \([0-9A-F]{40}\): expired on \d{4}-\d{2}-\d{2}$/);
  });

  it('refuses a revoked key', async () => {
    const { privateKey } = await openpgp.generateKey({ userIDs: [{ email: 'o@vc.example' }], format: 'object' });
    const { publicKey } = await openpgp.revokeKey({ key: privateKey, format: 'armored' });
    expect((await problem(readRecipientKey(publicKey, 'vc'))).message).toContain('has been revoked');
  });

  it('refuses a key that cannot encrypt', async () => {
    const { privateKey } = await openpgp.generateKey({ userIDs: [{ email: 'o@vc.example' }], subkeys: [{ sign: true }], format: 'object' });
    const publicKey = privateKey.toPublic().armor();
    expect((await problem(readRecipientKey(publicKey, 'vc'))).message).toContain('no valid encryption-capable subkey');
  });

  it('refuses a private key and text that is no key, without quoting it', async () => {
    const { privateKey } = await openpgp.generateKey({ userIDs: [{ email: 'o@vc.example' }], format: 'armored' });
    const error = await problem(readRecipientKey(privateKey, 'vc'));
    expect(error.message).toContain('is a private key');
    expectNoSecrets(error, [privateKey.slice(40, 200)]);
    expect((await problem(readRecipientKey('hello', 'vc'))).message).toContain('not an OpenPGP public key');
  });

  it('encrypts to the key so that only its private half reads the content', async () => {
    const { privateKey, publicKey } = await openpgp.generateKey({ userIDs: [{ email: 'o@vc.example' }], format: 'object' });
    const armored = await encryptArmored('sku,qty\r\nVC-1,2\r\n', await readRecipientKey(publicKey.armor(), 'vc'), 'vc', { filename: 'po.csv' });
    expect(armored).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    const { data, filename } = await openpgp.decrypt({
      message: await openpgp.readMessage({ armoredMessage: armored }), decryptionKeys: privateKey, format: 'binary',
    });
    // Binary literal data: the CRLF line ends come back byte for byte.
    expect(Buffer.from(data).toString('utf8')).toBe('sku,qty\r\nVC-1,2\r\n');
    expect(filename).toBe('po.csv');
  });

  it('refuses a key from the moment it expires, though it was checked and used just before', async () => {
    const { publicKey } = await openpgp.generateKey({ userIDs: [{ email: 'o@vc.example' }], keyExpirationTime: 3, format: 'armored' });
    const key = await readRecipientKey(publicKey, 'vc');
    expect(key.expiresAt).not.toBeNull();
    // Used while valid: the check stands, but not past the key's expiry.
    await expect(encryptArmored('a', key, 'vc')).resolves.toMatch(/^-----BEGIN PGP MESSAGE-----/);
    await expect(encryptArmored('b', key, 'vc')).resolves.toMatch(/^-----BEGIN PGP MESSAGE-----/);
    while (Date.now() <= key.expiresAt!.getTime()) await new Promise((r) => setTimeout(r, 100));
    const error = await problem(encryptArmored('c', key, 'vc'));
    expect(error.message).toMatch(/^PGP key vc \([0-9A-F]{40}\): expired on \d{4}-\d{2}-\d{2}$/);
  });
});

describe('store signing key', () => {
  const passphrase = 'store-passphrase-19';
  let file: string;

  beforeAll(async () => {
    const { privateKey } = await openpgp.generateKey({ userIDs: [{ email: 'po@store.example' }], passphrase, format: 'armored' });
    file = join(dir, 'store.asc');
    writeFileSync(file, privateKey);
  });

  it('is unlocked once per process and reused', async () => {
    const env = { STORE_PGP_KEY_FILE: file, STORE_PGP_PASSPHRASE: passphrase };
    const first = await loadStoreSigningKey(env);
    expect(first.isDecrypted()).toBe(true);
    expect(await loadStoreSigningKey({ ...env })).toBe(first);
  });

  it('names what is wrong without repeating the passphrase', async () => {
    const wrong = await problem(loadStoreSigningKey({ STORE_PGP_KEY_FILE: file, STORE_PGP_PASSPHRASE: 'nope-nope-nope' }));
    expect(wrong.message).toContain('STORE_PGP_PASSPHRASE does not unlock');
    expectNoSecrets(wrong, ['nope-nope-nope', passphrase]);
    expect((await problem(loadStoreSigningKey({ STORE_PGP_KEY_FILE: file }))).message).toContain('set STORE_PGP_PASSPHRASE');
    expect((await problem(loadStoreSigningKey({}))).message).toContain('STORE_PGP_KEY_FILE is not set');
    expect((await problem(loadStoreSigningKey({ STORE_PGP_KEY_FILE: join(dir, 'missing.asc') }))).message).toContain('cannot be read (ENOENT)');
  });
});
