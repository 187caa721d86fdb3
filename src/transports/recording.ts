import type { DeliveryPayload, DeliveryReceipt, Transport } from './transport';
import { DeliveryError } from './transport';

/** A scripted outcome for the next delivery: thrown as-is, or waited for (ms) then delivered. */
export type RecordingScript = DeliveryError | { delayMs: number };

/**
 * Keeps every payload in memory instead of sending it. For tests and benchmarks: it can be
 * scripted to fail, fail permanently, ask for a retry later, or be slow.
 */
export class RecordingTransport implements Transport {
  readonly kind = 'recording';
  readonly delivered: DeliveryPayload[] = [];
  readonly attempts: string[] = [];
  private readonly script: RecordingScript[] = [];
  closed = false;

  /** What the receiver answers (e.g. a carrier's tracking number); nothing by default. */
  respond?: (payload: DeliveryPayload) => Record<string, string>;

  constructor(readonly instanceId: string) {}

  /** Queue outcomes for the next deliveries, in order. */
  then(...outcomes: RecordingScript[]): this {
    this.script.push(...outcomes);
    return this;
  }

  async deliver(payload: DeliveryPayload): Promise<DeliveryReceipt> {
    this.attempts.push(payload.deliveryId);
    const next = this.script.shift();
    if (next instanceof DeliveryError) throw next;
    if (next) await new Promise((r) => setTimeout(r, next.delayMs));
    this.delivered.push(payload);
    const response = this.respond?.(payload);
    return { location: `recording:${this.instanceId}/${payload.filename}`, ...(response ? { response } : {}) };
  }

  async verify(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }
}
