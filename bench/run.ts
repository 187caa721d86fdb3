import { carrierBench } from './carrier';
import { clusterBench } from './cluster';
import type { BenchOutput } from './common';
import { log } from './common';
import { emailBench } from './email';
import { fulfillmentBench } from './fulfillment';
import { httpsBench } from './https';
import { latencyBench } from './latency';
import { pipelineBench } from './pipeline';
import { previewBench } from './preview';
import { sealingBench } from './sealing';
import { sftpBench } from './sftp';

/**
 * `npm run bench [-- --only NAME[,NAME]]`: runs the benchmarks and prints, as the last line
 * of stdout, one JSON object `{ "<name>": { value, baseline, ratio, unit } }` (see
 * docs/benchmarks.md). Everything else goes to stderr.
 */

const BENCHES: Record<string, () => Promise<BenchOutput>> = {
  pipeline: pipelineBench,
  preview: previewBench,
  latency: latencyBench,
  sftp: sftpBench,
  email: emailBench,
  https: httpsBench,
  carrier: carrierBench,
  sealing: sealingBench,
  fulfillment: fulfillmentBench,
  cluster: clusterBench,
};

function selected(argv: string[]): string[] {
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--only') names.push(...(argv[++i] ?? '').split(','));
    else if (arg.startsWith('--only=')) names.push(...arg.slice('--only='.length).split(','));
    else throw new Error(`unknown argument ${arg} (usage: npm run bench -- [--only ${Object.keys(BENCHES).join('|')}])`);
  }
  // A figure names its bench: latency_p99 is an entry of `latency`, pipeline_redis_us of `pipeline`.
  const benchOf = (n: string): string | undefined => (n in BENCHES ? n : Object.keys(BENCHES).find((k) => n.startsWith(`${k}_`)));
  const wanted = names.map((n) => n.trim()).filter(Boolean);
  for (const n of wanted) {
    if (benchOf(n) === undefined) throw new Error(`unknown benchmark "${n}" (known: ${Object.keys(BENCHES).join(', ')})`);
  }
  return wanted.length > 0 ? [...new Set(wanted.map((n) => benchOf(n)!))] : Object.keys(BENCHES);
}

async function main(): Promise<void> {
  const names = selected(process.argv.slice(2));
  const out: BenchOutput = {};
  for (const name of names) {
    const t0 = Date.now();
    log(`== ${name}`);
    Object.assign(out, await BENCHES[name]!());
    log(`== ${name} took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
