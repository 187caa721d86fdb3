import type { Config } from '../src/config/config';
import { Pipeline } from '../src/app/pipeline';
import type { TransportTarget } from '../src/transports/factory';
import { RecordingTransport } from '../src/transports/recording';
import type { DeliveryPayload, DeliveryReceipt } from '../src/transports/transport';
import type { StorePlatform } from '../src/stores/store';
import { createDataCipher, type DataCipher, generateDataKey } from '../src/queue/sealing';

/** A RecordingTransport that also tells the benchmark about each delivery as it lands. */
class ObservedRecorder extends RecordingTransport {
  constructor(
    instanceId: string,
    private readonly onDelivered: (payload: DeliveryPayload) => void,
  ) {
    super(instanceId);
  }

  override async deliver(payload: DeliveryPayload): Promise<DeliveryReceipt> {
    const receipt = await super.deliver(payload);
    this.onDelivered(payload);
    return receipt;
  }
}

export interface PipelineTuning {
  orderConcurrency?: number;
  deliveryConcurrency?: number;
  /** The data cipher (default: AES-256-GCM under a generated key, as in production). */
  cipher?: DataCipher;
  /** The store platform told what shipped (the `fulfillment` bench); none by default. */
  store?: StorePlatform;
  /** `QUEUE_PARTITIONS` (the `cluster` bench). @defaultValue 1 */
  partitions?: number;
}

/** The real pipeline, every recipient a recorder. */
export class BenchPipeline {
  private constructor(
    readonly pipeline: Pipeline,
    private readonly recorders: RecordingTransport[],
    readonly targets: TransportTarget[],
  ) {}

  static async start(
    config: Config,
    redisUrl: string,
    prefix: string,
    tuning: PipelineTuning,
    onDelivered: (payload: DeliveryPayload) => void,
  ): Promise<BenchPipeline> {
    const recorders: RecordingTransport[] = [];
    const targets: TransportTarget[] = [];
    const pipeline = await Pipeline.start({
      config,
      redisUrl,
      prefix,
      ...tuning,
      cipher: tuning.cipher ?? createDataCipher(generateDataKey()),
      // Returned synchronously on purpose: RecordingTransport has a `then` method, so it
      // must never be returned from an async function or awaited.
      transports: (target) => {
        const r = new ObservedRecorder(target.recipient, onDelivered);
        recorders.push(r);
        targets.push(target);
        return r;
      },
    });
    return new BenchPipeline(pipeline, recorders, targets);
  }

  delivered(): number {
    return this.recorders.reduce((n, r) => n + r.delivered.length, 0);
  }


  async stop(): Promise<void> {
    await this.pipeline.stop();
  }
}
