import type { ScenarioResult } from '../../chaos/common';
import { loopKills, storeOutage } from '../../chaos/scenarios/loop';
import { expectMet, figure, SEED } from './support';

/**
 * Reduced "closing the loop" scenarios (chaos/scenarios/loop.ts): suppliers confirm at
 * `POST /suppliers/{id}/shipments` of a `--role api` process and `--role workers` processes
 * tell the Shopify stand-in (every operation checked against the vendored schema), while
 * workers are SIGKILLed, and while the store refuses connections and then answers 503.
 */

jest.setTimeout(300_000);

describe('workers SIGKILLed while they tell the store what shipped', () => {
  let result: ScenarioResult | undefined;
  beforeAll(async () => {
    result = await loopKills('quick', SEED);
  });

  it('killed workers while fulfillments ran', () => {
    expect(figure(result, 'kills')).toBeGreaterThan(0);
    expectMet(result, 'every confirmation accepted');
  });

  it('made every confirmation’s fulfillment exactly once in the store, and fulfilled every line', () => {
    expectMet(result, 'every confirmation fulfilled exactly once');
    expect(figure(result, 'confirmationsMissing')).toBe(0);
    expect(figure(result, 'confirmationsDuplicated')).toBe(0);
    expectMet(result, 'no tracking number in two fulfillments');
    expectMet(result, 'every line of every order fulfilled, none beyond its quantity');
    expectMet(result, 'every operation valid against the Shopify schema');
  });

  it('leaves nothing failed or unfinished, and no worker died by itself', () => {
    expectMet(result, 'nothing failed or left in the queues');
    expectMet(result, 'no worker died by itself');
  });
});

describe('the store failing for a while', () => {
  let result: ScenarioResult | undefined;
  beforeAll(async () => {
    // A shorter outage than the quick size's 20 s keeps the suite short; `npm run chaos` runs a minute.
    result = await storeOutage('quick', SEED, { outageMs: 10_000 });
  });

  it('takes the confirmations while the store is down, and tries the store meanwhile', () => {
    expectMet(result, 'every confirmation accepted while the store was down');
    expectMet(result, 'the store was tried during the outage');
    expectMet(result, 'nothing reached the store while it failed');
  });

  it('delays but never drops: every fulfillment lands once after the store is back', () => {
    expectMet(result, 'every confirmation fulfilled exactly once');
    expect(figure(result, 'confirmationsMissing')).toBe(0);
    expect(figure(result, 'fulfillmentJobsRetried')).toBeGreaterThan(0);
    expectMet(result, 'every line of every order fulfilled, none beyond its quantity');
    expectMet(result, 'nothing failed or left in the queues');
  });
});
