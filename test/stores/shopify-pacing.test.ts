import { DeliveryError } from '../../src/errors';
import { CostPacer, readCost, type PacerClock, type PacingTicket } from '../../src/stores/shopify/pacing';

/**
 * The Shopify client's cost pacing on its own, on a clock the test moves by hand: requests
 * wait for the points they need, take them, queue up behind each other, are let go early by an
 * answer's refund, and a wait too long for the process is handed back without sending.
 */

/** Time moves only when the test says; a sleep ends when its time comes, or when it is woken. */
class ManualClock implements PacerClock {
  t = 1_800_000_000_000;
  private timers: Array<{ at: number; resolve: () => void }> = [];
  now = (): number => this.t;
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(new Error('woken'));
        return;
      }
      const timer = { at: this.t + ms, resolve };
      this.timers.push(timer);
      signal?.addEventListener(
        'abort',
        () => {
          this.timers = this.timers.filter((x) => x !== timer);
          reject(new Error('woken'));
        },
        { once: true },
      );
    });
  }
  async advance(ms: number): Promise<void> {
    this.t += ms;
    const due = this.timers.filter((x) => x.at <= this.t);
    this.timers = this.timers.filter((x) => x.at > this.t);
    for (const x of due) x.resolve();
    await settle();
  }
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A promise's outcome so far. */
function watch<T>(promise: Promise<T>): { done: () => boolean; value: () => T | undefined; error: () => unknown } {
  let done = false;
  let value: T | undefined;
  let error: unknown;
  promise.then(
    (v) => {
      done = true;
      value = v;
    },
    (e: unknown) => {
      done = true;
      error = e;
    },
  );
  return { done: () => done, value: () => value, error: () => error };
}

/** An answer's `extensions.cost`. */
const cost = (requested: number, maximumAvailable: number, currentlyAvailable: number, restoreRate: number, actual: number | null = requested) => ({
  requestedQueryCost: requested,
  actualQueryCost: actual,
  throttleStatus: { maximumAvailable, currentlyAvailable, restoreRate },
});

const OP = 'DropshipFulfillmentState';

describe('Shopify cost pacing', () => {
  it('lets the first request go unknowing, then takes each request\'s points and queues the next behind them', async () => {
    const clock = new ManualClock();
    const pacer = new CostPacer(clock);
    const first = await pacer.beforeRequest(OP, 859);
    expect(first.waitedMs).toBe(0);
    pacer.afterAnswer(OP, cost(859, 1000, 1000, 100), first);
    expect(pacer.state()).toMatchObject({ currentlyAvailable: 1000 });

    // Two at once: the first takes 859 of the 1000; the second waits for 718 more at 100 a second.
    const a = await pacer.beforeRequest(OP, 859);
    const b = watch(pacer.beforeRequest(OP, 859));
    await settle();
    expect(a.waitedMs).toBe(0);
    expect(pacer.state()!.currentlyAvailable).toBe(141);
    expect(b.done()).toBe(false);
    await clock.advance(7179);
    expect(b.done()).toBe(false);
    await clock.advance(1);
    expect(b.done()).toBe(true);
    expect(b.value()!.waitedMs).toBe(7180);
    expect(pacer.state()!.currentlyAvailable).toBe(0);
  });

  it('lets a waiting request go as soon as an answer shows the points refunded', async () => {
    const clock = new ManualClock();
    // At 40 a second the second request would wait 17.95 s, over the 15 s held in the process;
    // but the first, in flight, may cost less than it took: the second waits for its answer.
    const pacer = new CostPacer(clock, 15_000);
    pacer.afterAnswer(OP, cost(859, 1000, 1000, 40));
    const a = await pacer.beforeRequest(OP, 859);
    const b = watch(pacer.beforeRequest(OP, 859));
    await settle();
    expect(b.done()).toBe(false);
    // The first's answer: it cost 20 actually; Shopify refunded the rest.
    pacer.afterAnswer(OP, cost(859, 1000, 980, 40, 20), a);
    await settle();
    expect(b.done()).toBe(true);
    expect(b.error()).toBeUndefined();
    expect(b.value()!.waitedMs).toBe(0);
    expect(pacer.state()!.currentlyAvailable).toBe(980 - 859);
  });

  it('gives a failed request\'s points back', async () => {
    const clock = new ManualClock();
    const pacer = new CostPacer(clock);
    pacer.afterAnswer(OP, cost(859, 1000, 1000, 100));
    const a = await pacer.beforeRequest(OP, 859);
    const b = watch(pacer.beforeRequest(OP, 859));
    await settle();
    expect(b.done()).toBe(false);
    a.release();
    a.release();
    await settle();
    expect(b.done()).toBe(true);
    expect(pacer.state()!.currentlyAvailable).toBe(141);
  });

  it('hands back a wait longer than it holds requests, taking nothing', async () => {
    const clock = new ManualClock();
    const pacer = new CostPacer(clock, 15_000);
    pacer.afterAnswer(OP, cost(859, 1000, 0, 10));
    const error = await pacer.beforeRequest(OP, 500).then(
      () => undefined,
      (e: unknown) => e,
    );
    // Shopify's figure for the operation (859), not the estimate, at 10 a second.
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error).toMatchObject({ code: 'ERATE_LIMITED', permanent: false, retryAfterMs: 85_900 });
    expect(pacer.state()!.currentlyAvailable).toBe(0);
  });

  it('holds every request for a 429\'s Retry-After', async () => {
    const clock = new ManualClock();
    const pacer = new CostPacer(clock);
    pacer.hold(3000);
    const a = watch(pacer.beforeRequest(OP, 859));
    await clock.advance(2999);
    expect(a.done()).toBe(false);
    await clock.advance(1);
    expect((a.value() as PacingTicket).waitedMs).toBe(3000);
  });

  it('reads only sane figures from an answer', () => {
    expect(readCost(cost(12, 2000, 1988, 100))).toEqual({ requested: 12, bucket: { maximumAvailable: 2000, currentlyAvailable: 1988, restoreRate: 100 } });
    expect(readCost({ requestedQueryCost: 'x', throttleStatus: { maximumAvailable: 2000, currentlyAvailable: 5, restoreRate: 0 } })).toEqual({});
    expect(readCost({ throttleStatus: { maximumAvailable: 1000, currentlyAvailable: 5000, restoreRate: 50 } })).toEqual({ bucket: { maximumAvailable: 1000, currentlyAvailable: 1000, restoreRate: 50 } });
    expect(readCost(null)).toEqual({});
  });
});
