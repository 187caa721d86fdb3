import { DeliveryError } from '../../errors';
import { isObject } from '../http-client';

/**
 * Proactive pacing against Shopify's GraphQL cost limit (a leaky bucket per app and store).
 *
 * Every Admin GraphQL answer carries `extensions.cost`: the operation's `requestedQueryCost`
 * and the bucket as Shopify left it, `throttleStatus { maximumAvailable, currentlyAvailable,
 * restoreRate }`. Before an operation runs, Shopify wants room in the bucket for its requested
 * cost (refunding what it did not use afterwards); without it, the answer is `THROTTLED`.
 *
 * The pacer keeps a copy of the bucket: the last answer's figure, less what the requests still
 * in flight took, refilled at `restoreRate` as time passes. Before each request it waits until
 * the copy holds the request's expected cost (the requested cost Shopify last reported for that
 * operation, else the client's own estimate), then takes it out, so concurrent requests of the
 * process queue up behind each other instead of all finding the same points. Each answer puts
 * Shopify's figure back in, and wakes the waiting requests (a refund may let them go sooner).
 * A wait longer than `maxWaitMs` is not waited here: it is thrown as `ERATE_LIMITED` with that
 * wait, and the fulfillment job waits in BullMQ's delayed set instead (without using an
 * attempt), leaving the worker free.
 *
 * The copy lives in the process, in the client of one shop: the pipeline's other processes
 * spend the same bucket unseen until the next answer shows it; a `THROTTLED` answer is still
 * handled after the fact.
 */

/** Time as the pacer sees it; tests hand in a virtual clock. */
export interface PacerClock {
  now(): number;
  /** Resolves after `ms` (rejects when `signal` aborts). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: PacerClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        return;
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/** What an answer's `extensions.cost.throttleStatus` said, and when. */
export interface BucketState {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
  /** When it was read (the pacer's clock). */
  at: number;
}

/** The longest a request waits in the process for the bucket before it is handed back to the queue. @defaultValue 15 s */
export const DEFAULT_MAX_PACING_WAIT_MS = 15_000;

const finite = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

/** `extensions.cost` of an answer, read: the requested cost and the bucket, when present and sane. */
export function readCost(cost: unknown): { requested?: number; bucket?: Omit<BucketState, 'at'> } {
  if (!isObject(cost)) return {};
  const requested = finite(cost.requestedQueryCost);
  const status = isObject(cost.throttleStatus) ? cost.throttleStatus : undefined;
  const maximumAvailable = finite(status?.maximumAvailable);
  const currentlyAvailable = finite(status?.currentlyAvailable);
  const restoreRate = finite(status?.restoreRate);
  const bucket =
    maximumAvailable !== undefined && currentlyAvailable !== undefined && restoreRate !== undefined && maximumAvailable > 0 && restoreRate > 0
      ? { maximumAvailable, currentlyAvailable: Math.max(0, Math.min(currentlyAvailable, maximumAvailable)), restoreRate }
      : undefined;
  return { ...(requested !== undefined && requested >= 0 ? { requested } : {}), ...(bucket ? { bucket } : {}) };
}

/** A request let through: in flight until its answer (or failure) is taken in. */
export interface PacingTicket {
  /** How long the request waited for the bucket. */
  readonly waitedMs: number;
  /** The request is over without an answer that says how the bucket stands: its points are given back. */
  release(): void;
}

export class CostPacer {
  /** The copy of the bucket; `level` may go below 0 (points taken by requests admitted ahead). */
  private bucket: { maximumAvailable: number; restoreRate: number; level: number; at: number } | undefined;
  /** Requested cost Shopify last reported, per operation name. */
  private readonly costs = new Map<string, number>();
  /** No request before this time (a 429's Retry-After). */
  private holdUntil = 0;
  /** Requests sent and not answered yet, with the points each took. */
  private readonly flights = new Map<PacingTicket, number>();
  /** Wakes the waiting requests when the bucket may have changed (an answer, a request over). */
  private wake = new AbortController();

  constructor(
    private readonly clock: PacerClock = realClock,
    private readonly maxWaitMs: number = DEFAULT_MAX_PACING_WAIT_MS,
  ) {}

  /** The cost expected of `operation`: what Shopify last said it requested, else `estimate`. */
  expectedCost(operation: string, estimate: number): number {
    return this.costs.get(operation) ?? estimate;
  }

  /** Refills the copy to now. */
  private refill(): void {
    const b = this.bucket;
    if (b === undefined) return;
    const now = this.clock.now();
    b.level = Math.min(b.maximumAvailable, b.level + (b.restoreRate * Math.max(0, now - b.at)) / 1000);
    b.at = now;
  }

  private inFlight(): number {
    let points = 0;
    for (const need of this.flights.values()) points += need;
    return points;
  }

  /**
   * Waits until the bucket should hold `operation`'s expected cost, then takes it out and lets
   * the request go. The wait is cut short when an answer comes in.
   * @throws DeliveryError `ERATE_LIMITED` (with the wait) when the bucket needs longer than `maxWaitMs` to hold it even once the requests in flight are answered: nothing is sent
   */
  async beforeRequest(operation: string, estimate: number, signal?: AbortSignal): Promise<PacingTicket> {
    const cost = this.expectedCost(operation, estimate);
    const started = this.clock.now();
    for (;;) {
      this.refill();
      const b = this.bucket;
      const held = Math.max(0, this.holdUntil - this.clock.now());
      // Never more than the bucket holds: Shopify refuses such a query outright, not by throttling.
      const need = b === undefined ? 0 : Math.min(cost, b.maximumAvailable);
      const restoreMs = (level: number) => (b === undefined || level >= need ? 0 : Math.ceil(((need - level) / b.restoreRate) * 1000));
      const wait = Math.max(held, restoreMs(b?.level ?? 0));
      // As it will be once the requests in flight are answered (they may cost less than they took).
      const atBest = Math.max(held, restoreMs(b === undefined ? 0 : Math.min(b.maximumAvailable, b.level + this.inFlight())));
      if (atBest > this.maxWaitMs) {
        throw DeliveryError.retryAfter('ERATE_LIMITED', `Shopify's cost limit: the bucket needs ${atBest} ms to hold the next request; not sent`, atBest);
      }
      if (wait === 0) return this.admit(need, this.clock.now() - started);
      const wake = this.wake.signal;
      try {
        await this.clock.sleep(wait, signal === undefined ? wake : AbortSignal.any([wake, signal]));
      } catch (error) {
        if (signal?.aborted) throw error;
        // Woken: look again.
      }
    }
  }

  private admit(need: number, waitedMs: number): PacingTicket {
    if (this.bucket !== undefined) this.bucket.level -= need;
    const ticket: PacingTicket = {
      waitedMs,
      release: () => {
        // Over already (answered, or released before).
        if (!this.flights.delete(ticket)) return;
        // Most likely not charged (an error answer): the points go back.
        this.refill();
        if (this.bucket !== undefined) this.bucket.level = Math.min(this.bucket.maximumAvailable, this.bucket.level + need);
        this.notify();
      },
    };
    this.flights.set(ticket, need);
    return ticket;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = new AbortController();
    wake.abort();
  }

  /**
   * Takes in an answer's `extensions.cost` (a success or a `THROTTLED` answer) for the request
   * of `ticket`: the bucket as Shopify left it, less what the other requests in flight took,
   * replaces the copy. An answer without it gives the request's points back.
   */
  afterAnswer(operation: string, cost: unknown, ticket?: PacingTicket): void {
    const { requested, bucket } = readCost(cost);
    if (requested !== undefined) this.costs.set(operation, requested);
    if (bucket === undefined) {
      if (ticket !== undefined) ticket.release();
      return;
    }
    if (ticket !== undefined) this.flights.delete(ticket);
    this.bucket = { maximumAvailable: bucket.maximumAvailable, restoreRate: bucket.restoreRate, level: bucket.currentlyAvailable - this.inFlight(), at: this.clock.now() };
    this.notify();
  }

  /** No request for `ms` (a 429 with Retry-After): every request of the process waits it out. */
  hold(ms: number): void {
    this.holdUntil = Math.max(this.holdUntil, this.clock.now() + ms);
  }

  /** The copy of the bucket now (for tests and logs): what it should hold, refilled, less what is in flight. */
  state(): BucketState | undefined {
    this.refill();
    const b = this.bucket;
    return b === undefined ? undefined : { maximumAvailable: b.maximumAvailable, currentlyAvailable: b.level, restoreRate: b.restoreRate, at: b.at };
  }
}
