import type { Worker } from 'bullmq';
import type { RedisClient } from './redis';

/** How often workers are checked, and how long one may leave jobs waiting without starting any. */
export interface SupervisionTimings {
  /** @defaultValue 15 s */
  checkEveryMs: number;
  /**
   * A worker with nothing in hand that has started no job for this long while its queue had
   * jobs waiting is taken for stuck. Longer than BullMQ's own pause after a connection error
   * (`runRetryDelay`, 15 s), so a worker still recovering by itself is left alone.
   * @defaultValue 45 s
   */
  stuckAfterMs: number;
}

const DEFAULT_SUPERVISION: SupervisionTimings = { checkEveryMs: 15_000, stuckAfterMs: 45_000 };

interface Slot {
  make: () => Worker;
  worker: Worker;
  /** Jobs this worker started and was not seen to finish (a job it moved to the delayed set is not: its lock tells). */
  inHand: Set<string>;
  /** The last time the worker started a job, or its queue was seen with nothing waiting. */
  progressAt: number;
}

/**
 * Replaces a worker that stopped taking jobs. After a Redis Cluster failover, BullMQ's fetch
 * loop can stay parked on a promise that never settles: the worker still runs and holds its
 * connections, but never takes another job, and its queue's jobs wait forever (see BullMQ
 * issues #3088 and #3185, where its maintainers advise closing such a worker and creating a
 * new one). Every `checkEveryMs` each worker's queue is read (waiting and prioritized jobs,
 * whether it is paused or rate limited); a worker holding no job (no lock of its jobs left) that
 * started nothing for `stuckAfterMs` while jobs waited is closed (without waiting for it) and
 * a new one made in its place, from the same factory, in the same slot of `workers`.
 */
export class WorkerSupervisor {
  private readonly slots: Slot[] = [];
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private stopped = false;

  constructor(
    private readonly redis: RedisClient,
    /** The process's workers: a replacement takes its predecessor's place in this array. */
    private readonly workers: Worker[],
    private readonly options: {
      /** Attaches listeners (logs, metrics) to a new worker and starts it. */
      start: (worker: Worker) => void;
      /** Told of each worker replaced. */
      onReplaced?: (worker: Worker, idleMs: number, waiting: number) => void;
      timings?: SupervisionTimings;
    },
  ) {}

  /** Makes a worker with `make`, adds it to `workers` and watches it; `start` is left to the caller for the first one. */
  add(make: () => Worker): Worker {
    const worker = make();
    const slot: Slot = { make, worker, inHand: new Set(), progressAt: Date.now() };
    this.watch(slot);
    this.slots.push(slot);
    this.workers.push(worker);
    return worker;
  }

  /** Starts the checks. */
  start(): void {
    const every = (this.options.timings ?? DEFAULT_SUPERVISION).checkEveryMs;
    this.timer = setInterval(() => void this.check().catch(() => undefined), every);
    this.timer.unref();
  }

  /** Stops the checks; none replaces a worker from then on. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round of checks (the timer runs it; tests call it with a later `now`). Resolves to the workers replaced. */
  async check(now = Date.now()): Promise<Worker[]> {
    if (this.checking || this.stopped) return [];
    this.checking = true;
    try {
      const replaced: Worker[] = [];
      const { stuckAfterMs } = this.options.timings ?? DEFAULT_SUPERVISION;
      for (const slot of this.slots) {
        const w = slot.worker;
        if (w.closing || !w.isRunning() || w.isPaused()) {
          slot.progressAt = now;
          continue;
        }
        const waiting = await this.waiting(w);
        if (waiting === undefined) continue;
        if (waiting === 0) {
          slot.progressAt = now;
          continue;
        }
        const idleMs = now - slot.progressAt;
        if (idleMs <= stuckAfterMs || (await this.holding(slot)) !== 0) continue;
        // Looked at again after the reads: a worker closed meanwhile, or a supervisor stopped
        // meanwhile, replaces nothing (a new worker would outlive the stop).
        if (this.stopped || slot.worker !== w || w.closing) continue;
        this.replace(slot, now);
        this.options.onReplaced?.(w, idleMs, waiting);
        replaced.push(w);
      }
      return replaced;
    } finally {
      this.checking = false;
    }
  }

  /**
   * Jobs ready to run in a worker's queue: 0 when the queue is paused or rate limited (its
   * workers wait by design); undefined when Redis did not answer.
   */
  private async waiting(w: Worker): Promise<number | undefined> {
    try {
      const rows = ((await this.redis.pipeline().llen(w.toKey('wait')).zcard(w.toKey('prioritized')).hexists(w.toKey('meta'), 'paused').pttl(w.toKey('limiter')).exec()) ?? []) as Array<
        [Error | null, number]
      >;
      const [ready, prioritized, paused, limitedMs] = rows.map(([error, value]) => {
        if (error) throw error;
        return Number(value);
      });
      if (paused === 1 || (limitedMs ?? 0) > 0) return 0;
      return (ready ?? 0) + (prioritized ?? 0);
    } catch {
      return undefined;
    }
  }

  /**
   * How many of the jobs the worker started it still holds: a job ended without an event (moved
   * to the delayed set by its processor) has no lock left and is forgotten. Undefined when Redis
   * did not answer.
   */
  private async holding(slot: Slot): Promise<number | undefined> {
    if (slot.inHand.size === 0) return 0;
    const w = slot.worker;
    const ids = [...slot.inHand];
    try {
      const rows = (await this.redis.pipeline(ids.map((id) => ['exists', `${w.toKey(id)}:lock`])).exec()) ?? [];
      ids.forEach((id, i) => {
        const [error, held] = rows[i] ?? [null, 1];
        if (!error && Number(held) === 0) slot.inHand.delete(id);
      });
      return slot.inHand.size;
    } catch {
      return undefined;
    }
  }

  private replace(slot: Slot, now: number): void {
    const old = slot.worker;
    const fresh = slot.make();
    slot.worker = fresh;
    slot.inHand = new Set();
    slot.progressAt = now;
    this.watch(slot);
    const at = this.workers.indexOf(old);
    if (at >= 0) this.workers[at] = fresh;
    else this.workers.push(fresh);
    this.options.start(fresh);
    // Not waited for: its fetch loop may never return. It holds no job (checked).
    void old.close(true).catch(() => undefined);
  }

  private watch(slot: Slot): void {
    const w = slot.worker;
    w.on('active', (job) => {
      if (slot.worker !== w) return;
      if (job.id !== undefined) slot.inHand.add(job.id);
      slot.progressAt = Date.now();
    });
    const done = (job: { id?: string } | undefined) => {
      if (slot.worker !== w) return;
      if (job?.id !== undefined) slot.inHand.delete(job.id);
      slot.progressAt = Date.now();
    };
    w.on('completed', done);
    w.on('failed', done);
  }
}
