import { DelayedError, type Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { WorkerSupervisor } from '../../src/queue/worker-supervisor';
import { TestRedis } from '../support/redis';

/**
 * The worker supervisor against a real Redis. A worker whose fetch loop hangs (as BullMQ's can
 * after a Redis Cluster failover: it runs, holds its connections and never takes another job)
 * is simulated by making its next fetch a promise that never settles.
 */

let server: TestRedis;
let redis: Redis;
let n = 0;
const opened: Array<{ close(): Promise<void> }> = [];
beforeAll(async () => {
  server = await TestRedis.start();
  redis = server.client();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.close().catch(() => undefined)));
});
afterAll(async () => {
  await redis.quit();
  await server.stop();
});

const MINUTE = 60_000;
const connection = () => ({ host: '127.0.0.1', port: server.server.port });

/** A queue of its own, and a supervisor over its workers, each made by `make`. */
function setUp(processor: (worker: string, job: Job, token?: string) => Promise<void>, concurrency = 1) {
  const name = `supervised-${++n}`;
  const queue = new Queue(name, { connection: connection() });
  opened.push(queue);
  const workers: Worker[] = [];
  const replaced: Array<{ name: string; waiting: number }> = [];
  const processedBy: string[] = [];
  let made = 0;
  const supervisor = new WorkerSupervisor(redis, workers, {
    start: (w) => void w.run(),
    onReplaced: (w, _idleMs, waiting) => replaced.push({ name: w.name, waiting }),
  });
  const make = () => {
    const label = `worker ${++made}`;
    const w = new Worker(
      name,
      async (job, token) => {
        processedBy.push(label);
        await processor(label, job, token);
      },
      { connection: connection(), autorun: false, concurrency },
    );
    opened.push({ close: () => w.close(true) });
    return w;
  };
  return { queue, workers, replaced, processedBy, supervisor, make };
}

/** Makes the worker's next fetches hang forever, as a fetch loop parked on a dead connection does. */
function hangFetches(w: Worker): void {
  (w as unknown as { _getNextJob: () => Promise<never> })._getNextJob = () => new Promise<never>(() => undefined);
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

it('replaces a worker that takes no job while jobs wait, and the new one runs them', async () => {
  const { queue, workers, replaced, processedBy, supervisor, make } = setUp(async () => undefined);
  const stuck = supervisor.add(make);
  hangFetches(stuck);
  void stuck.run();
  await queue.addBulk([1, 2, 3].map((i) => ({ name: 'job', data: { i } })));
  await new Promise((r) => setTimeout(r, 200));
  expect(processedBy).toEqual([]);

  // Within the grace period nothing happens; past it, the worker is replaced in its slot.
  expect(await supervisor.check(Date.now() + 30_000)).toEqual([]);
  expect(await supervisor.check(Date.now() + MINUTE)).toEqual([stuck]);
  expect(replaced).toEqual([{ name: queue.name, waiting: 3 }]);
  expect(workers).toHaveLength(1);
  expect(workers[0]).not.toBe(stuck);
  await until('the waiting jobs to run', async () => (await queue.getCompletedCount()) === 3);
  expect(processedBy).toEqual(['worker 2', 'worker 2', 'worker 2']);
  await until('the stuck worker to be closed', () => stuck.closing !== undefined);
});

it('leaves alone a worker whose queue has nothing waiting, however long it has been idle', async () => {
  const { workers, supervisor, make } = setUp(async () => undefined);
  const idle = supervisor.add(make);
  void idle.run();
  await idle.waitUntilReady();
  expect(await supervisor.check(Date.now() + 10 * MINUTE)).toEqual([]);
  expect(workers).toEqual([idle]);
});

it('leaves alone a worker busy with a job while others wait', async () => {
  let release = () => undefined as void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const { queue, workers, supervisor, make, processedBy } = setUp(() => held);
  const busy = supervisor.add(make);
  void busy.run();
  await queue.addBulk([1, 2].map((i) => ({ name: 'job', data: { i } })));
  await until('the first job to start', () => processedBy.length === 1);
  expect(await supervisor.check(Date.now() + 10 * MINUTE)).toEqual([]);
  expect(workers).toEqual([busy]);
  release();
  await until('both jobs to run', async () => (await queue.getCompletedCount()) === 2);
});

it('leaves alone the workers of a paused queue', async () => {
  const { queue, workers, supervisor, make } = setUp(async () => undefined);
  const w = supervisor.add(make);
  hangFetches(w);
  void w.run();
  await queue.pause();
  await queue.add('job', {});
  expect(await supervisor.check(Date.now() + 10 * MINUTE)).toEqual([]);
  expect(workers).toEqual([w]);
});

it('counts a job its worker moved to the delayed set as no longer held', async () => {
  // The first job puts itself off (as a fulfillment does for the store's throttle: no event
  // tells of it), then the worker's fetches hang.
  const { queue, workers, supervisor, make, processedBy } = setUp(async (label, job, token) => {
    if (label !== 'worker 1') return;
    hangFetches(workers[0]!);
    await job.moveToDelayed(Date.now() + 10 * MINUTE, token);
    throw new DelayedError();
  });
  const w = supervisor.add(make);
  void w.run();
  await queue.add('put off', {});
  await until('the first job to be delayed', async () => (await queue.getDelayedCount()) === 1);
  await queue.add('waits', {});
  expect(await supervisor.check(Date.now() + MINUTE)).toEqual([w]);
  await until('the waiting job to run on the new worker', async () => (await queue.getCompletedCount()) === 1);
  expect(processedBy).toEqual(['worker 1', 'worker 2']);
});

it('never replaces a worker closing (the process stopping), nor anything once stopped', async () => {
  const { queue, workers, supervisor, make } = setUp(async () => undefined);
  const stuck = supervisor.add(make);
  hangFetches(stuck);
  void stuck.run();
  await queue.add('job', {});
  // The worker is closed while the check reads its queue.
  const checking = supervisor.check(Date.now() + MINUTE);
  void stuck.close(true);
  expect(await checking).toEqual([]);
  expect(workers).toEqual([stuck]);

  const other = setUp(async () => undefined);
  const w = other.supervisor.add(other.make);
  hangFetches(w);
  void w.run();
  await other.queue.add('job', {});
  other.supervisor.stop();
  expect(await other.supervisor.check(Date.now() + MINUTE)).toEqual([]);
  expect(other.workers).toEqual([w]);
});
