import type { DataCipher } from '../src/queue/sealing';
import { createDataCipher, generateDataKey } from '../src/queue/sealing';
import { planOrder } from '../src/planning/plan';
import { type BenchOutput, log, median, now, result, round, withPrivateRedis } from './common';
import { benchConfig, DELIVERIES_PER_ORDER, orderEvents } from './orders';
import { describe, PIPELINE_TUNING, pipelineRound } from './pipeline';
import { createRedis } from '../src/queue/redis';

/**
 * `sealing`: what encrypting job data at rest costs. Delivery jobs/s through the real pipeline
 * with AES-256-GCM sealing (as it runs in production) against the same pipeline whose cipher
 * only serialises (the same JSON in and out, no encryption), rounds interleaved on one Redis.
 * Also logs the cost of sealing and opening one order and one delivery, in µs.
 */

const ORDERS = Number(process.env.BENCH_SEALING_ORDERS ?? 1000);
const REPS = Number(process.env.BENCH_SEALING_REPS ?? 4);

/** The bench's baseline only: the same serialisation as sealing, without the cipher. */
const SERIALISE_ONLY: DataCipher = {
  keyId: 'clear',
  seal: (value) => `clr.${JSON.stringify(value)}`,
  open: <T>(token: string) => JSON.parse(token.slice(4)) as T,
};

function microCost(cipher: DataCipher): { order: number; delivery: number } {
  const config = benchConfig();
  const [event] = orderEvents(1, 'M');
  const plan = planOrder(event!.order, config);
  const delivery = plan.status === 'planned' ? plan.deliveries.find((d) => d.kind === 'dropship') : undefined;
  if (!delivery) throw new Error('the bench order plans no purchase order');
  const time = (value: unknown, purpose: 'order' | 'delivery') => {
    const n = 20_000;
    for (let i = 0; i < 2000; i++) cipher.open(cipher.seal(value, purpose), purpose);
    const t0 = now();
    for (let i = 0; i < n; i++) cipher.open(cipher.seal(value, purpose), purpose);
    return ((now() - t0) * 1000) / n;
  };
  return { order: time(event!.order, 'order'), delivery: time(delivery, 'delivery') };
}

export async function sealingBench(): Promise<BenchOutput> {
  const config = benchConfig();
  const aes = createDataCipher(generateDataKey());
  const sealedCost = microCost(aes);
  const clearCost = microCost(SERIALISE_ONLY);
  log(
    `[sealing] seal+open per value: order ${round(sealedCost.order, 1)} µs (serialise only ${round(clearCost.order, 1)} µs), ` +
      `delivery ${round(sealedCost.delivery, 1)} µs (serialise only ${round(clearCost.delivery, 1)} µs)`,
  );
  log(`[sealing] ${ORDERS} orders × ${DELIVERIES_PER_ORDER} deliveries per round, ${REPS} rounds each way, interleaved`);
  return withPrivateRedis('sealing', async (url) => {
    const admin = createRedis(url);
    try {
      await pipelineRound(config, url, 'warm', orderEvents(200, 'W'), { ...PIPELINE_TUNING, cipher: aes });
      await admin.flushall();
      const sealed: number[] = [];
      const clear: number[] = [];
      const cpu: Record<'sealed' | 'clear', number[]> = { sealed: [], clear: [] };
      for (let r = 0; r < REPS; r++) {
        // Alternate which goes first, so a drift in the machine's load favours neither.
        const order = r % 2 === 0 ? (['sealed', 'clear'] as const) : (['clear', 'sealed'] as const);
        for (const which of order) {
          const events = orderEvents(ORDERS, `${which}${r}-`);
          const round_ = await pipelineRound(config, url, `${which}${r}`, events, { ...PIPELINE_TUNING, cipher: which === 'sealed' ? aes : SERIALISE_ONLY });
          await admin.flushall();
          log(`[sealing] round ${r + 1} ${describe(which, round_, ORDERS * DELIVERIES_PER_ORDER)}`);
          (which === 'sealed' ? sealed : clear).push(round_.perSecond);
          cpu[which].push((round_.cpuMs * 1000) / (ORDERS * DELIVERIES_PER_ORDER));
        }
      }
      const out = result(median(sealed), median(clear), 'deliveries/s');
      log(`[sealing] median ${out.value} sealed vs ${out.baseline} unsealed deliveries/s: ratio ${out.ratio} (1 = free)`);
      log(`[sealing] median node CPU per delivery: sealed ${Math.round(median(cpu.sealed))} µs, unsealed ${Math.round(median(cpu.clear))} µs (the steadier signal when the machine is shared)`);
      return { sealing: out };
    } finally {
      await admin.quit();
    }
  });
}
