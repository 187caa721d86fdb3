import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { DeliveryPayload, DeliveryReceipt, Transport, TransportContext, TransportKind } from './transport';
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
    if (/[/\\]/.test(payload.filename) || payload.filename.startsWith('.')) {
      throw DeliveryError.permanent('EPAYLOAD', `file name for delivery ${payload.deliveryId} is not a plain name`);
    }
    const folder = path.join(this.dir, payload.recipient);
    const target = path.join(folder, payload.filename);
    const temp = path.join(folder, `.${payload.filename}.${process.pid}.part`);
    try {
      await mkdir(folder, { recursive: true });
      await writeFile(temp, payload.body, { mode: 0o600 });
      await rename(temp, target);
    } catch (err) {
      throw DeliveryError.retryable('EREMOTE', `cannot write to the outbox (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    return { location: target };
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
