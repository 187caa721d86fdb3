/** Public entry points for embedding the pipeline in another Node process. */
export { loadConfig } from './config/load';
export type { Config, SupplierConfig, StoreConfig } from './config/config';
export { createOrderProducer, type OrderProducer } from './app/producer';
export { Pipeline, type PipelineOptions } from './app/pipeline';
/** A Redis Cluster's address for `redisUrl`, from its seed nodes (`host:port,host:port`). */
export { clusterUrl } from './queue/redis';
export { previewOrder, type PreviewResult } from './planning/preview';
export { buildApi } from './api/server';
export { CATALOGUE, DeliveryError, DropshipError, type ErrorCode, readFailure } from './errors';
export type { Transport, TransportKind, DeliveryPayload } from './transports/transport';
export { registerTransportKind } from './transports/registry';
export { registerFormat } from './formats';
export type { Order, OrderEvent } from './core/order';
