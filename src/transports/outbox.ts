import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { DeliveryPayload, DeliveryReceipt, LabelVoid, Transport, TransportContext, TransportKind } from './transport';
import { DeliveryError } from './transport';

const OutboxOptions = z
  .object({
    /** Directory the payloads are written under, one folder per recipient. */
    dir: z.string().min(1),
  })
  .strict();
export type OutboxOptions = z.infer<typeof OutboxOptions>;

/**
 * The dry-run transport: writes each payload to `<dir>/<recipient>/<filename>` instead of
 * sending it (like nodemailer's JSON transport). Writes are atomic (temp file + rename),
 * so a retry overwrites rather than duplicates. Used by `dropship start --dry-run`.
 */
export class OutboxTransport implements Transport {
  readonly kind = 'outbox';
  readonly instanceId: string;
  private readonly dir: string;

  constructor(options: OutboxOptions, context: Pick<TransportContext, 'instanceId' | 'configDir'>) {
    this.instanceId = context.instanceId;
    this.dir = path.resolve(context.configDir, options.dir);
  }

  async deliver(payload: DeliveryPayload): Promise<DeliveryReceipt> {
    return { location: await this.write(payload.recipient, payload.filename, payload.body, payload.deliveryId) };
  }

  /** A carrier label void, written as `<carrier>/<label delivery id>.void.json`. */
  async voidLabel(label: LabelVoid): Promise<DeliveryReceipt> {
    const body = `${JSON.stringify({ void: { carrier: label.recipient, trackingNumber: label.trackingNumber, shipmentId: label.shipmentId } })}\n`;
    return { location: await this.write(label.recipient, `${label.labelDeliveryId}.void.json`, body, label.deliveryId) };
  }

  private async write(recipient: string, filename: string, body: string, deliveryId: string): Promise<string> {
    if (/[/\\]/.test(filename) || filename.startsWith('.')) {
      throw DeliveryError.permanent('EPAYLOAD', `file name for delivery ${deliveryId} is not a plain name`);
    }
    const folder = path.join(this.dir, recipient);
    const target = path.join(folder, filename);
    const temp = path.join(folder, `.${filename}.${process.pid}.part`);
    try {
      await mkdir(folder, { recursive: true });
      await writeFile(temp, body, { mode: 0o600 });
      await rename(temp, target);
    } catch (err) {
      throw DeliveryError.retryable('EREMOTE', `cannot write to the outbox (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    return target;
  }

  async verify(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  async close(): Promise<void> {}
}

export const outboxTransport: TransportKind<OutboxOptions> = {
  kind: 'outbox',
  optionsSchema: OutboxOptions,
  create: (options, context) => new OutboxTransport(options, context),
};
