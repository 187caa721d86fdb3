import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type BenchOutput, log, median, result, round, withTimeout } from './common';
import { perUnit, startWindow, usecPerUnit } from './redis-stats';
import { timed, type DeliveryRound } from './transport-harness';

/**
 * The baseline of the transport and carrier benchmarks: what a user would write instead of the
 * pipeline, a bare BullMQ worker that makes the same transfer inside its job. One job per order
 * (its payload as the job's data, unsealed), added with `addBulk`; the worker has the
 * concurrency of the pipeline's delivery worker for that recipient; the same Redis (a fresh
 * prefix per round), the same receiver, in the same run. Plain ioredis connections, none of the
 * pipeline's tuning, so the pipeline's tuning does not speed up its own yardstick.
 *
 * Timed from the first job added to the last one completed, like the pipeline's rounds (from
 * the first order submitted to the last delivery completed); the worker is started and ready
 * before the clock starts, as the pipeline's is.
 */
export async function bareWorkerRound<T>(
  url: string,
  prefix: string,
  items: readonly T[],
  concurrency: number,
  transfer: (item: T) => Promise<void>,
  unit = 'delivery',
): Promise<DeliveryRound> {
  const queueConn = new Redis(url, { maxRetriesPerRequest: null });
  const workerConn = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue('bare-transfer', { connection: queueConn, prefix });
  let completed = 0;
  let failure: string | undefined;
  let wake: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (wake = resolve));
  const worker = new Worker<T>(
    'bare-transfer',
    async (job) => {
      await transfer(job.data);
      return { ok: true };
    },
    { connection: workerConn, prefix, concurrency, autorun: false },
  );
  worker.on('error', () => undefined);
  worker.on('completed', () => {
    if (++completed === items.length) wake();
  });
  worker.on('failed', (job, error) => {
    failure ??= `${job?.id}: ${error.message}`;
    wake();
  });
  void worker.run();
  await worker.waitUntilReady();
  try {
    const endWindow = await startWindow(queueConn);
    const n = items.length;
    const round = await timed(n, async () => {
      await queue.addBulk(items.map((data) => ({ name: 'transfer', data, opts: { removeOnComplete: { age: 3600 }, removeOnFail: false } })));
      await withTimeout(`bare worker round (${n} ${unit}s)`, done, 100_000);
    });
    if (failure !== undefined) throw new Error(`a bare worker job failed: ${failure}`);
    const redis = await endWindow();
    return { ...round, redis: `redis CPU ${Math.round((redis.cpuSeconds * 1e6) / n)} µs/${unit}, ${(redis.totalCalls / n).toFixed(1)} commands/${unit} (${perUnit(redis, n, 14)}; time in Redis: ${usecPerUnit(redis, n)})` };
  } finally {
    await worker.close();
    await queue.close();
    await Promise.all([queueConn.quit(), workerConn.quit()]);
  }
}

/** One at a time through `fn`, in call order: a connection lent to one job at a time. */
export function serialised(): <R>(fn: () => Promise<R>) => Promise<R> {
  let tail: Promise<unknown> = Promise.resolve();
  return <R>(fn: () => Promise<R>): Promise<R> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

/** The three sides of a transport benchmark's rounds, and what they come to. */
export class Sides {
  private readonly pipe: DeliveryRound[] = [];
  private readonly bare: DeliveryRound[] = [];
  private readonly loop: DeliveryRound[] = [];

  constructor(
    private readonly name: string,
    /** One of what is counted ("delivery"), and their rate's unit ("deliveries/s"). */
    private readonly unit: string,
    private readonly rateUnit: string,
    private readonly count: number,
  ) {}

  add(pipeline: DeliveryRound, bareWorker: DeliveryRound, bareLoop: DeliveryRound): void {
    this.pipe.push(pipeline);
    this.bare.push(bareWorker);
    this.loop.push(bareLoop);
  }

  /**
   * `{ name: pipeline vs bare worker, name_vs_loop: pipeline vs bare loop }`, with the node CPU
   * per delivery of each side on stderr: on a shared machine it is steadier than the rates.
   */
  results(target: number, bareWhat: string, loopWhat: string): BenchOutput {
    const rate = (rs: DeliveryRound[]) => median(rs.map((r) => r.perSecond));
    const cpuUs = (rs: DeliveryRound[]) => median(rs.map((r) => (r.cpuMs * 1000) / this.count));
    const unitsPerS = this.rateUnit;
    const out = result(rate(this.pipe), rate(this.bare), unitsPerS);
    const vsLoop = result(rate(this.pipe), rate(this.loop), unitsPerS);
    const [p, b, l] = [cpuUs(this.pipe), cpuUs(this.bare), cpuUs(this.loop)];
    log(`[${this.name}] median ${out.value} vs ${bareWhat} ${out.baseline} ${unitsPerS}: ratio ${out.ratio} (target ≥ ${target})`);
    log(`[${this.name}] for reference, vs ${loopWhat} ${vsLoop.baseline} ${unitsPerS}: ratio ${vsLoop.ratio}`);
    log(
      `[${this.name}] median node CPU per ${this.unit} (this process, receiver included): pipeline ${Math.round(p)} µs, bare worker ${Math.round(b)} µs, bare loop ${Math.round(l)} µs; ` +
        `bare worker / pipeline = ${round(b / p, 2)} (the rate ratio if both were bound by this process's CPU)`,
    );
    return { [this.name]: out, [`${this.name}_vs_loop`]: vsLoop };
  }
}

/**
 * Runs a round's three sides, the pipeline last on even rounds and first on odd ones, so
 * neither side always runs after the other on a machine whose load drifts.
 */
export async function interleaved(
  r: number,
  pipeline: () => Promise<DeliveryRound>,
  bareWorker: () => Promise<DeliveryRound>,
  bareLoop: () => Promise<DeliveryRound>,
): Promise<[DeliveryRound, DeliveryRound, DeliveryRound]> {
  if (r % 2 === 1) {
    const p = await pipeline();
    const b = await bareWorker();
    return [p, b, await bareLoop()];
  }
  const l = await bareLoop();
  const b = await bareWorker();
  return [await pipeline(), b, l];
}
