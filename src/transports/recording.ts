import type { DeliveryPayload, DeliveryReceipt, LabelVoid, Transport } from './transport';
import { DeliveryError } from './transport';

/**
 * A scripted outcome for the next delivery: thrown as-is, or delivered after a delay (ms) or
 * once a promise settles (a gate a test opens).
 */
export type RecordingScript = DeliveryError | { delayMs: number } | { until: Promise<unknown> };

/**
 * Keeps every payload in memory instead of sending it. For tests and benchmarks: it can be
 * scripted to fail, fail permanently, ask for a retry later, or be slow.
 */
export class RecordingTransport implements Transport {
  readonly kind = 'recording';
  readonly delivered: DeliveryPayload[] = [];
  readonly attempts: string[] = [];
  /** Labels voided, in order. */
  readonly voided: LabelVoid[] = [];
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

  private async play(): Promise<void> {
    const next = this.script.shift();
    if (next instanceof DeliveryError) throw next;
    if (next && 'until' in next) await next.until.catch(() => undefined);
    else if (next) await new Promise((r) => setTimeout(r, next.delayMs));
  }

  async deliver(payload: DeliveryPayload): Promise<DeliveryReceipt> {
    this.attempts.push(payload.deliveryId);
    await this.play();
    this.delivered.push(payload);
    const response = this.respond?.(payload);
    return { location: `recording:${this.instanceId}/${payload.filename}`, ...(response ? { response } : {}) };
  }

  /** Records the void; scripted outcomes apply as to deliveries. */
  async voidLabel(label: LabelVoid): Promise<DeliveryReceipt> {
    this.attempts.push(label.deliveryId);
    await this.play();
    this.voided.push(label);
    return { location: `recording:${this.instanceId}/void/${label.trackingNumber}` };
  }

  async verify(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }
}
