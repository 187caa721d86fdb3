import type { ScenarioResult } from '../../chaos/common';
import { redisRestart } from '../../chaos/scenarios/redis-restart';
import { expectMet, figure, SEED } from './support';

/**
 * Reduced "Redis restarted" scenario (chaos/scenarios/redis-restart.ts): orders posted to
 * `dropship start --role api` while the private redis-server (AOF, everysec) is SIGKILLed and
 * started again.
 */

jest.setTimeout(240_000);

let result: ScenarioResult | undefined;

beforeAll(async () => {
  result = await redisRestart('quick', SEED);
});

describe('Redis killed and restarted mid-run', () => {
  it('answers 503 while Redis is away, never 202', () => {
    expect(figure(result, 'postsWhileDown')).toBeGreaterThan(0);
    expect(figure(result, 'acceptedWhileDown')).toBe(0);
    expectMet(result, '503 while Redis was away');
    expectMet(result, '/readyz 503 while Redis was away');
  });

  it('accepts again by itself once Redis is back', () => {
    expectMet(result, 'the API recovered by itself');
    expect(figure(result, 'accepted')).toBe(figure(result, 'orders'));
  });

  it('loses no accepted order', () => {
    expectMet(result, '0 accepted orders lost');
    expect(figure(result, 'lost')).toBe(0);
    expect(figure(result, 'sftpDuplicateFiles')).toBe(0);
  });

  it('no process dies by itself', () => {
    expectMet(result, 'no process died by itself');
  });
});
