import type { ScenarioResult } from '../../chaos/common';
import { workerKills } from '../../chaos/scenarios/worker-kills';
import { expectMet, figure, SEED } from './support';

/**
 * Reduced "workers killed" scenario (chaos/scenarios/worker-kills.ts): 150 orders through three
 * `dropship start --role workers` processes to the real sshd, SMTP and HTTPS receivers, while
 * random worker processes are SIGKILLed and replaced.
 */

jest.setTimeout(240_000);

let result: ScenarioResult | undefined;

beforeAll(async () => {
  result = await workerKills('quick', SEED);
});

describe('workers SIGKILLed while orders flow', () => {
  it('actually killed workers mid-flow', () => {
    expect(figure(result, 'kills')).toBeGreaterThan(0);
  });

  it('loses no delivery', () => {
    expectMet(result, '0 deliveries lost');
    expect(figure(result, 'lost')).toBe(0);
    expect(figure(result, 'failedJobs')).toBe(0);
  });

  it('leaves no duplicate, partial or wrong file on the SFTP server', () => {
    expect(figure(result, 'sftpDuplicateFiles')).toBe(0);
    expectMet(result, 'no upload debris on SFTP');
  });

  it('never buys a label twice where the carrier can answer, and flags for an operator any it could not', () => {
    expectMet(result, '0 labels bought twice');
    expectMet(result, 'every label bought twice flagged for an operator');
    expect(figure(result, 'carrierLabelsBoughtTwice')).toBe(0);
  });

  it('no worker process dies by itself, and nothing is left in the queues', () => {
    expectMet(result, 'no worker died by itself');
    expectMet(result, 'nothing left in the queues');
  });
});
