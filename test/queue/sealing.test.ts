import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DropshipError } from '../../src/errors';
import { createDataCipher, createDerivedCipher, dataCipherFromEnv, generateDataKey, openJob, parseDataKey, sealDelivery, sealJob, withoutDataKey } from '../../src/queue/sealing';

const ADDRESS = { name: 'Ada Example', line1: '12 Sample Street', postalCode: '97205' };

function problems(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof DropshipError) return `${err.code}: ${err.problems.join('; ')}`;
    throw err;
  }
  throw new Error('expected a DropshipError');
}

describe('sealing job data (AES-256-GCM)', () => {
  const cipher = createDataCipher(generateDataKey());

  it('round-trips a value, and the token carries no clear text', () => {
    const token = cipher.seal(ADDRESS, 'order');
    expect(token).toMatch(new RegExp(`^dsk1\\.${cipher.keyId}\\.[A-Za-z0-9+/=]+$`));
    for (const clear of Object.values(ADDRESS)) {
      expect(token).not.toContain(clear);
      expect(Buffer.from(token.split('.')[2]!, 'base64').toString('latin1')).not.toContain(clear);
    }
    expect(cipher.open(token, 'order')).toEqual(ADDRESS);
  });

  it('uses a fresh IV for every value: the same value never seals to the same token', () => {
    const tokens = new Set(Array.from({ length: 50 }, () => cipher.seal(ADDRESS, 'order')));
    expect(tokens.size).toBe(50);
  });

  it('refuses altered data and data sealed for another purpose', () => {
    const token = cipher.seal(ADDRESS, 'delivery');
    const raw = Buffer.from(token.split('.')[2]!, 'base64');
    raw[raw.length - 1] = raw[raw.length - 1]! ^ 1;
    const altered = `${token.split('.').slice(0, 2).join('.')}.${raw.toString('base64')}`;
    expect(problems(() => cipher.open(altered, 'delivery'))).toMatch(/^ESEALED: .*does not authenticate/);
    expect(problems(() => cipher.open(token, 'order'))).toMatch(/^ESEALED: .*as order data/);
    expect(problems(() => cipher.open('{"name":"Ada"}', 'order'))).toMatch(/^ESEALED: .*not a sealed value/);
  });

  it('opens values sealed with a retired key during rotation, and names a key it does not hold', () => {
    const oldKey = generateDataKey();
    const old = createDataCipher(oldKey);
    const token = old.seal(ADDRESS, 'order');
    const rotated = createDataCipher(generateDataKey(), [oldKey]);
    expect(rotated.keyId).not.toBe(old.keyId);
    expect(rotated.open(token, 'order')).toEqual(ADDRESS);
    expect(rotated.seal(ADDRESS, 'order').split('.')[1]).toBe(rotated.keyId);
    const stranger = createDataCipher(generateDataKey());
    expect(problems(() => stranger.open(token, 'order'))).toContain(`sealed with key ${old.keyId}, which this process does not hold`);
  });

  it('keeps ids in clear and the whole value sealed; jobs queued before sealing open as they are', () => {
    const delivery = {
      deliveryId: '1001+creamery+po',
      orderId: '1001',
      shipmentId: '1001-s2',
      recipient: 'creamery',
      kind: 'dropship',
      transport: 'sftp',
      format: 'csv',
      filename: '1001-creamery.csv',
      contentType: 'text/csv',
      fields: ['shipTo.line1'],
      body: 'order_id,name\r\n1001,Ada Example\r\n',
    };
    const sealed = sealDelivery(cipher, delivery);
    expect(Object.keys(sealed).sort()).toEqual(['deliveryId', 'fields', 'filename', 'format', 'kind', 'orderId', 'recipient', 'sealed', 'shipmentId', 'transport']);
    expect(JSON.stringify(sealed)).not.toContain('Ada Example');
    expect(openJob(cipher, sealed, 'delivery')).toEqual(delivery);
    expect(openJob(cipher, delivery, 'delivery')).toBe(delivery);
    expect(openJob(cipher, sealJob(cipher, { order: ADDRESS }, { orderId: '1' }, 'order'), 'order')).toEqual({ order: ADDRESS });
  });

  it('takes the key as base64 or hex, and refuses anything else', () => {
    const key = generateDataKey();
    expect(parseDataKey(key, 'k')).toEqual(Buffer.from(key, 'base64'));
    expect(parseDataKey(Buffer.from(key, 'base64').toString('hex'), 'k')).toEqual(Buffer.from(key, 'base64'));
    for (const bad of ['', 'short', Buffer.alloc(16).toString('base64'), 'x'.repeat(64)]) {
      expect(problems(() => parseDataKey(bad, 'DROPSHIP_DATA_KEY'))).toMatch(/^ECONFIG: DROPSHIP_DATA_KEY: must be a 256-bit key/);
    }
  });

  it('a cipher derived from a secret opens only under the same secret and scope', () => {
    const token = createDerivedCipher('client-secret', 'oauth:ups:abc').seal(ADDRESS, 'oauth-token');
    expect(token).toMatch(/^dsk1\.[0-9a-f]{8}\.[A-Za-z0-9+/=]+$/);
    expect(token).not.toContain(ADDRESS.name);
    expect(createDerivedCipher('client-secret', 'oauth:ups:abc').open(token, 'oauth-token')).toEqual(ADDRESS);
    expect(problems(() => createDerivedCipher('other-secret', 'oauth:ups:abc').open(token, 'oauth-token'))).toMatch(/^ESEALED: /);
    expect(problems(() => createDerivedCipher('client-secret', 'oauth:ups:xyz').open(token, 'oauth-token'))).toMatch(/^ESEALED: /);
    expect(problems(() => createDerivedCipher('client-secret', 'oauth:ups:abc').open(token, 'order'))).toMatch(/^ESEALED: /);
  });

  it('a process without the key says so instead of sealing or opening', () => {
    const none = withoutDataKey();
    expect(problems(() => none.seal(ADDRESS, 'order'))).toMatch(/holds no data key/);
    expect(problems(() => none.open('dsk1.x.y', 'order'))).toMatch(/holds no data key/);
  });
});

describe('the data key from the environment', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'dropship-key-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses to run without a key rather than keep clear data in Redis', () => {
    expect(problems(() => dataCipherFromEnv({}))).toMatch(/^ECONFIG: DROPSHIP_DATA_KEY is not set: .*dropship keygen/);
  });

  it('reads DROPSHIP_DATA_KEY or DROPSHIP_DATA_KEY_FILE (not both), with retired keys in DROPSHIP_DATA_KEY_PREVIOUS', () => {
    const key = generateDataKey();
    const file = path.join(dir, 'key');
    writeFileSync(file, `${key}\n`);
    const fromEnv = dataCipherFromEnv({ DROPSHIP_DATA_KEY: key });
    const fromFile = dataCipherFromEnv({ DROPSHIP_DATA_KEY_FILE: file });
    expect(fromFile.keyId).toBe(fromEnv.keyId);
    expect(fromFile.open(fromEnv.seal(ADDRESS, 'order'), 'order')).toEqual(ADDRESS);
    expect(problems(() => dataCipherFromEnv({ DROPSHIP_DATA_KEY: key, DROPSHIP_DATA_KEY_FILE: file }))).toMatch(/not both/);
    expect(problems(() => dataCipherFromEnv({ DROPSHIP_DATA_KEY_FILE: path.join(dir, 'missing') }))).toMatch(/cannot read .*missing \(ENOENT\)/);
    const rotated = dataCipherFromEnv({ DROPSHIP_DATA_KEY: generateDataKey(), DROPSHIP_DATA_KEY_PREVIOUS: ` ${key} ` });
    expect(rotated.open(fromEnv.seal(ADDRESS, 'order'), 'order')).toEqual(ADDRESS);
    expect(problems(() => dataCipherFromEnv({ DROPSHIP_DATA_KEY: key, DROPSHIP_DATA_KEY_PREVIOUS: 'nope' }))).toMatch(/DROPSHIP_DATA_KEY_PREVIOUS\[0\]: must be a 256-bit key/);
  });

  it('creates a local key readable by its owner only, and keeps it across restarts', () => {
    const file = path.join(dir, 'data.key');
    const first = dataCipherFromEnv({}, { localKeyFile: file });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = dataCipherFromEnv({}, { localKeyFile: file });
    expect(again.keyId).toBe(first.keyId);
    expect(again.open(first.seal(ADDRESS, 'order'), 'order')).toEqual(ADDRESS);
    expect(readFileSync(file, 'utf8').trim()).toHaveLength(44);
    // An explicit key wins over the local one.
    const key = generateDataKey();
    expect(dataCipherFromEnv({ DROPSHIP_DATA_KEY: key }, { localKeyFile: file }).keyId).toBe(createDataCipher(key).keyId);
  });
});
