import type { ScenarioResult } from '../../chaos/common';

/** The seed every chaos test uses: `CHAOS_SEED`, else a fixed one (so a failure can be rerun). */
export const SEED = Number(process.env.CHAOS_SEED) > 0 ? Number(process.env.CHAOS_SEED) : 20261125;

/**
 * Asserts that the scenario met one of its targets; on failure the message carries what was
 * measured. Fails too when the scenario did not report that target at all.
 */
export function expectMet(result: ScenarioResult | undefined, name: string): void {
  const found = result?.checks.find((c) => c.name === name);
  if (found === undefined) throw new Error(`the scenario reported no check "${name}" (it reported: ${result?.checks.map((c) => c.name).join('; ') ?? 'nothing'})`);
  expect(`${name}: ${found.ok ? 'met' : `missed (${found.detail})`}`).toBe(`${name}: met`);
}

/** A figure of a scenario's result, as a number. */
export function figure(result: ScenarioResult | undefined, name: string): number {
  const value = result?.figures[name];
  if (typeof value !== 'number') throw new Error(`the scenario reported no number "${name}"`);
  return value;
}
