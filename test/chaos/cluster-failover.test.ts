import type { ScenarioResult } from '../../chaos/common';
import { clusterFailover } from '../../chaos/scenarios/cluster-failover';
import { expectMet, figure, SEED } from './support';

/**
 * Reduced "cluster failover" scenario (chaos/scenarios/cluster-failover.ts): orders posted to
 * `dropship start --role api` on a local Redis Cluster with 6 partitions while a primary is
 * SIGKILLed and its replica promoted.
 */

jest.setTimeout(300_000);

let result: ScenarioResult | undefined;

beforeAll(async () => {
  result = await clusterFailover('quick', SEED);
});

describe('a Redis Cluster primary killed mid-run', () => {
  it('fails over to its replica', () => {
    expectMet(result, 'the primary failed over');
  });

  it('loses no accepted order and delivers none twice', () => {
    expectMet(result, 'every order accepted in the end');
    expectMet(result, '0 accepted orders lost');
    expect(figure(result, 'lost')).toBe(0);
    expectMet(result, '0 duplicate deliveries a receiver cannot drop');
    expectMet(result, 'every extra carrier label flagged for an operator');
  });

  it('still serves every partition', () => {
    expectMet(result, 'every partition still served');
    expect(figure(result, 'partitionsServedAfter')).toBe(6);
  });

  it('no process dies by itself', () => {
    expectMet(result, 'no process died by itself');
  });
});
