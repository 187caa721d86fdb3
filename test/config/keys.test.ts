import * as openpgp from 'openpgp';
import { checkSupplierKeys } from '../../src/config/keys';
import type { Config, SupplierConfig } from '../../src/config/config';
import { DropshipError } from '../../src/errors';
import { fixtureConfig } from '../support/orders';

async function publicKey(options: { keyExpirationTime?: number } = {}): Promise<string> {
  const { publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name: 'Supplier Test', email: 'po@supplier.example' }],
    format: 'armored',
    ...options,
  });
  return publicKey;
}

function withKeys(keys: Record<string, string>): Config {
  const base = fixtureConfig();
  return {
    ...base,
    suppliers: base.suppliers.map((s): SupplierConfig => (keys[s.id] ? { ...s, pgpPublicKey: keys[s.id] } : s)),
  };
}

describe('supplier PGP keys at start-up', () => {
  it('reports each key with the days until it expires', async () => {
    const tenDays = await publicKey({ keyExpirationTime: 10 * 86_400 });
    const never = await publicKey();
    const statuses = await checkSupplierKeys(withKeys({ creamery: tenDays, oliveco: never }));
    expect(statuses.map((s) => [s.supplierId, s.daysUntilExpiry])).toEqual([
      ['creamery', 9],
      ['oliveco', null],
    ]);
    expect(statuses[0]?.fingerprint).toMatch(/^[0-9A-F]{40}$/);
  });

  it('refuses expired and revoked keys, naming file, path and problem for each at once', async () => {
    const expiring = await publicKey({ keyExpirationTime: 60 });
    const { publicKey: revokedKey, revocationCertificate } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'r@supplier.example' }], format: 'armored' });
    const { publicKey: revoked } = await openpgp.revokeKey({
      key: await openpgp.readKey({ armoredKey: revokedKey }),
      revocationCertificate,
      format: 'armored',
    });
    const later = new Date(Date.now() + 3_600_000);
    let error: unknown;
    try {
      await checkSupplierKeys(withKeys({ creamery: expiring, oliveco: revoked }), later);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DropshipError);
    const problems = (error as DropshipError).problems;
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^suppliers\/creamery\.yaml: pgp\.publicKeyFile: PGP key of supplier creamery \([0-9A-F]{40}\): expired on \d{4}-\d\d-\d\d/);
    expect(problems[1]).toMatch(/^suppliers\/oliveco\.yaml: pgp\.publicKeyFile: PGP key of supplier oliveco \([0-9A-F]{40}\): has been revoked/);
  });

  it('accepts the key shipped with the example configuration', async () => {
    const { loadConfig } = await import('../../src/config/load');
    const statuses = await checkSupplierKeys(loadConfig(`${__dirname}/../../config`));
    expect(statuses.map((s) => s.supplierId)).toEqual(['alpine-chocolatier']);
  });
});
