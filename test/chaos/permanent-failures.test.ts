import type { ScenarioResult } from '../../chaos/common';
import { permanentFailures } from '../../chaos/scenarios/permanent-failures';
import { expectMet, SEED } from './support';

/**
 * Reduced "failures no retry can fix" scenario (chaos/scenarios/permanent-failures.ts): a full
 * disk behind the SFTP server, a revoked PGP key, an expired TLS certificate; each must fail
 * for good with its cause named, stay for replay, and be delivered by `dropship replay` once
 * fixed.
 */

jest.setTimeout(240_000);

let result: ScenarioResult | undefined;

beforeAll(async () => {
  result = await permanentFailures('quick', SEED);
});

/** The SFTP fault's name: a full disk, or its read-only stand-in where mounting is not allowed. */
const sftp = (): string => (String(result?.figures.diskFull).startsWith('read-only') ? 'SFTP read-only drop' : 'SFTP disk full');
const label = (what: string): string => (what === 'SFTP' ? sftp() : what);

describe.each(['revoked PGP key', 'expired TLS certificate', 'SFTP'])('%s', (what) => {
  it('is kept as failed jobs for replay', () => {
    expectMet(result, `${label(what)}: kept as failed jobs for replay`);
  });

  it('fails naming its cause', () => {
    expectMet(result, `${label(what)}: the reason names the cause`);
  });

  it('fails at once instead of being retried', () => {
    expectMet(result, `${label(what)}: failed at once, not retried`);
  });
});

describe('operators', () => {
  it('runs CLI workers with a revoked key, naming it: one supplier does not stop the others', () => {
    expectMet(result, 'CLI workers start with a revoked supplier key, naming it in their log');
  });

  it('never see an SFTP delivery reported done onto a full disk', () => {
    if (sftp() !== 'SFTP disk full') return;
    expectMet(result, 'SFTP disk full: no delivery reported done while the disk was full');
  });

  it('see the failing suppliers in dropship status', () => {
    expectMet(result, 'dropship status names the failing suppliers');
  });

  it('deliver everything with dropship replay once the causes are fixed', () => {
    expectMet(result, 'replay delivered every failed delivery');
    expectMet(result, 'replayed mail is encrypted to the new key');
    expectMet(result, 'nothing failed or duplicated after replay');
    expectMet(result, 'no upload debris on SFTP');
  });
});
