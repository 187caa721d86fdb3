import type { ScenarioResult } from '../../chaos/common';
import { loopKills, storeOutage } from '../../chaos/scenarios/loop';
import { expectMet, figure, SEED } from './support';

/**
 * Reduced "closing the loop" scenarios (chaos/scenarios/loop.ts): suppliers confirm at
 * `POST /suppliers/{id}/shipments` of a `--role api` process, or (the SFTP supplier) in CSV
 * files dropped into its folder on the real sshd and picked up by the workers, and
 * `--role workers` processes tell the Shopify stand-in (every operation checked against the
 * vendored schema), while workers are SIGKILLed (some in the middle of a pickup run), and
 * while the store refuses connections and then answers 503.
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

  it('killed workers in the middle of pickup runs of the SFTP supplier’s confirmation files', () => {
    expectMet(result, 'workers were killed in pickup runs');
    expect(figure(result, 'killsMidPickup')).toBeGreaterThan(0);
  });

  it('picked up every confirmation file exactly once: each in processed/ once, the unreadable one in failed/ with its reason', () => {
    expectMet(result, 'every confirmation file dropped was picked up (none left in the folder)');
    expectMet(result, 'every file in processed/ exactly once, -1 only for a name sent twice, no reason file');
    expectMet(result, 'the unreadable file in failed/ with its reason file, and nothing else there');
    expect(figure(result, 'pickupFilesLeft')).toBe(0);
    expect(figure(result, 'pickupFilesInProcessed')).toBe(figure(result, 'pickupFilesDropped') - 1);
    expect(figure(result, 'pickupFilesInFailed')).toBe(1);
  });

  it('recorded every shipment once in its order’s loop, with the quantities its file gives, and no line beyond its quantity', () => {
    expectMet(result, 'every shipment confirmed recorded once in its order’s loop');
    expectMet(result, 'each file’s shipments recorded with its quantities, over sftp');
    expectMet(result, 'every line of every order shipped in full in the loop records, none beyond');
    expect(figure(result, 'loopLinesOver')).toBe(0);
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
