import type { ScenarioResult } from '../../chaos/common';
import { receiverFaults } from '../../chaos/scenarios/receiver-faults';
import { expectMet, figure, SEED } from './support';

/**
 * Reduced "a receiver misbehaves" scenario (chaos/scenarios/receiver-faults.ts): sshd down,
 * an SMTP server that hangs, an HTTPS server that answers 5 s late, one at a time, against a
 * fault-free phase at the same order rate.
 */

jest.setTimeout(240_000);

let result: ScenarioResult | undefined;

beforeAll(async () => {
  result = await receiverFaults('quick', SEED);
});

describe.each(['sftp-down', 'smtp-hang', 'https-slow'])('%s', (phase) => {
  it('does not slow the other recipients', () => {
    expectMet(result, `${phase}: the other recipients not slowed`);
  });

  it('delivers everything once the receiver recovers', () => {
    expectMet(result, `${phase}: everything delivered after recovery`);
  });
});

describe('retries', () => {
  it('retries a receiver that is down or hangs, with a growing backoff', () => {
    expectMet(result, 'sftp-down: retried with backoff');
    expectMet(result, 'smtp-hang: retried with backoff');
  });

  it('waits out a slow receiver instead of giving up on it', () => {
    expectMet(result, 'https-slow: the slow receiver still took its deliveries');
  });

  it('loses nothing and leaves no duplicate file', () => {
    expect(figure(result, 'lost')).toBe(0);
    expect(figure(result, 'sftpDuplicateFiles')).toBe(0);
    expect(figure(result, 'sftpLeftoverTempFiles')).toBe(0);
  });
});
