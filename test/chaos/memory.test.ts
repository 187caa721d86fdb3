import type { ScenarioResult } from '../../chaos/common';
import { memory } from '../../chaos/scenarios/memory';
import { expectMet, figure, SEED } from './support';

/**
 * Reduced "memory" scenario (chaos/scenarios/memory.ts): worker heap (after a full GC) and
 * Redis memory before and after a run of orders, and completed jobs leaving Redis on the
 * schedule `retention.completedJobs` sets.
 */

jest.setTimeout(240_000);

let result: ScenarioResult | undefined;

beforeAll(async () => {
  result = await memory('quick', SEED);
});

describe('memory over a run of orders', () => {
  it('delivers every order', () => {
    expectMet(result, 'every delivery landed');
    expect(figure(result, 'lost')).toBe(0);
  });

  it('keeps the worker heap where it was', () => {
    expectMet(result, 'worker heap back near where it started');
  });

  it('removes completed jobs on schedule while orders flow', () => {
    expectMet(result, 'completed jobs removed on schedule while orders flow');
  });

  it('removes completed jobs on schedule once orders stop', () => {
    expectMet(result, 'completed jobs removed on schedule once orders stop');
  });
});
