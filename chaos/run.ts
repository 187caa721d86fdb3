import { log, seedFrom, sizeFrom, type ScenarioResult, type Size } from './common';
import { loopKills, storeOutage } from './scenarios/loop';
import { clusterFailover } from './scenarios/cluster-failover';
import { memory } from './scenarios/memory';
import { permanentFailures } from './scenarios/permanent-failures';
import { receiverFaults } from './scenarios/receiver-faults';
import { redisRestart } from './scenarios/redis-restart';
import { workerKills } from './scenarios/worker-kills';

/**
 * `npm run chaos [-- --quick] [-- --only NAME[,NAME]]`: runs the fault scenarios against the
 * real pipeline and receivers and prints, as the last line of stdout, one JSON object of
 * figures (like `npm run bench`). Everything else goes to stderr. Exit code 1 when a target
 * was missed. `CHAOS_SEED` repeats a run's random choices; `CHAOS_QUICK=1` is `--quick`.
 */

const SCENARIOS: Record<string, (size: Size, seed: number) => Promise<ScenarioResult>> = {
  'worker-kills': workerKills,
  'redis-restart': redisRestart,
  'receiver-faults': receiverFaults,
  'permanent-failures': permanentFailures,
  memory,
  'loop-kills': loopKills,
  'store-outage': storeOutage,
  'cluster-failover': clusterFailover,
};

function selected(argv: string[]): string[] {
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--quick') continue;
    if (arg === '--only') names.push(...(argv[++i] ?? '').split(','));
    else if (arg.startsWith('--only=')) names.push(...arg.slice('--only='.length).split(','));
    else throw new Error(`unknown argument ${arg} (usage: npm run chaos -- [--quick] [--only ${Object.keys(SCENARIOS).join('|')}])`);
  }
  const wanted = names.map((n) => n.trim()).filter(Boolean);
  for (const n of wanted) if (!(n in SCENARIOS)) throw new Error(`unknown scenario "${n}" (known: ${Object.keys(SCENARIOS).join(', ')})`);
  return wanted.length > 0 ? wanted : Object.keys(SCENARIOS);
}

async function main(): Promise<boolean> {
  const argv = process.argv.slice(2);
  const size = sizeFrom(argv);
  const names = selected(argv);
  const seed = seedFrom();
  log(`chaos: ${size} size, seed ${seed} (CHAOS_SEED=${seed} repeats it), scenarios ${names.join(', ')}`);
  const out: Record<string, unknown> = { size, seed };
  let ok = true;
  for (const name of names) {
    log(`== ${name}`);
    const result = await (SCENARIOS[name] as (size: Size, seed: number) => Promise<ScenarioResult>)(size, seed);
    ok &&= result.ok;
    out[name] = { ok: result.ok, seconds: result.seconds, ...result.figures, missed: result.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`) };
    log(`== ${name}: ${result.ok ? 'every target met' : 'TARGETS MISSED'} in ${result.seconds} s`);
  }
  out.ok = ok;
  process.stdout.write(`${JSON.stringify(out)}\n`);
  return ok;
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (err: unknown) => {
    log(`chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(2);
  },
);
