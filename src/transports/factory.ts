import type { Config } from '../config/config';
import { DropshipError } from '../errors';
import { OutboxTransport } from './outbox';
import { transportKind } from './registry';
import type { SharedCache, Transport } from './transport';

/** Who a transport is for: a supplier (purchase orders) or a carrier (label requests). */
export interface TransportTarget {
  kind: 'carrier' | 'dropship';
  recipient: string;
}

/** What the running pipeline lends every transport it makes. */
export interface TransportRuntime {
  /** Shared by all worker processes (e.g. carrier OAuth tokens). */
  cache?: SharedCache;
}

/** Makes the transport for a recipient; called once per recipient by the pipeline. */
export type TransportFactory = (target: TransportTarget, runtime?: TransportRuntime) => Transport;

/** Every delivery target the configuration can produce: each supplier, each carrier in use. */
export function deliveryTargets(config: Config): TransportTarget[] {
  const carriers = [...new Set(Object.values(config.store.shipping.methods).map((m) => m.carrier))].sort();
  return [
    ...carriers.map((recipient) => ({ kind: 'carrier' as const, recipient })),
    ...config.suppliers.map((s) => ({ kind: 'dropship' as const, recipient: s.id })),
  ];
}

/** Targets for which no transport kind is registered, each named with the reason. */
export function unavailableTargets(config: Config): string[] {
  return deliveryTargets(config)
    .filter((t) => !transportKind(t.kind === 'carrier' ? t.recipient : supplierOf(config, t.recipient).delivery.transport))
    .map((t) =>
      t.kind === 'carrier'
        ? `carrier ${t.recipient}: no ${t.recipient.toUpperCase()} API client is available in this build`
        : `supplier ${t.recipient}: transport ${supplierOf(config, t.recipient).delivery.transport} is not available`,
    );
}

/**
 * Transports as configured: each supplier's `delivery` through its registered kind, each
 * carrier through the transport kind named after it. Throws at start-up, listing every
 * target that has no transport, rather than failing order by order later.
 */
export function configuredTransports(config: Config, env: NodeJS.ProcessEnv = process.env): TransportFactory {
  const missing = unavailableTargets(config);
  if (missing.length > 0) {
    throw new DropshipError('ECONFIG', missing, 'Some recipients cannot be delivered to (use --dry-run to write payloads to a local outbox instead)');
  }
  return (target, runtime = {}) => createTransport(config, target, env, runtime);
}

/** The configured transport for one target (throws `DropshipError` when it has none). */
export function createTransport(config: Config, target: TransportTarget, env: NodeJS.ProcessEnv = process.env, runtime: TransportRuntime = {}): Transport {
  const shared = runtime.cache ? { cache: runtime.cache } : {};
  if (target.kind === 'carrier') {
    const kind = transportKind(target.recipient);
    if (!kind) throw new DropshipError('ECONFIG', [`carrier ${target.recipient}: no API client is available`]);
    const options = kind.optionsSchema.parse(config.store.carriers[target.recipient as 'ups' | 'fedex']);
    return kind.create(options, { instanceId: target.recipient, configDir: config.dir, env, ...shared });
  }
  const supplier = supplierOf(config, target.recipient);
  const kind = transportKind(supplier.delivery.transport);
  if (!kind) throw new DropshipError('ECONFIG', [`supplier ${supplier.id}: transport ${supplier.delivery.transport} is not available`]);
  return kind.create(supplier.delivery.options, {
    instanceId: supplier.id,
    configDir: config.dir,
    env,
    ...shared,
    ...(supplier.pgpPublicKey ? { pgpPublicKey: supplier.pgpPublicKey } : {}),
  });
}

function supplierOf(config: Config, id: string) {
  const s = config.suppliers.find((x) => x.id === id);
  if (!s) throw new DropshipError('ECONFIG', [`no supplier "${id}" is configured`]);
  return s;
}

/** Dry run: every payload is written under `dir/<recipient>/` instead of being sent. */
export function outboxTransports(dir: string): TransportFactory {
  return (target) => new OutboxTransport({ dir }, { instanceId: target.recipient, configDir: process.cwd() });
}
