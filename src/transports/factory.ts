import type { Config } from '../config/config';
import { DropshipError } from '../errors';
import { OutboxTransport } from './outbox';
import { transportKind } from './registry';
import type { Transport } from './transport';

/** Who a transport is for: a supplier (purchase orders) or a carrier (label requests). */
export interface TransportTarget {
  kind: 'carrier' | 'dropship';
  recipient: string;
}

/** Makes the transport for a recipient; called once per recipient by the pipeline. */
export type TransportFactory = (target: TransportTarget) => Transport;

/** Every delivery target the configuration can produce: each supplier, each carrier in use. */
export function deliveryTargets(config: Config): TransportTarget[] {
  const carriers = [...new Set(Object.values(config.store.shipping.methods).map((m) => m.carrier))].sort();
  return [
    ...carriers.map((recipient) => ({ kind: 'carrier' as const, recipient })),
    ...config.suppliers.map((s) => ({ kind: 'dropship' as const, recipient: s.id })),
  ];
}

/**
 * Transports as configured: each supplier's `delivery` through its registered kind, each
 * carrier through the transport kind named after it. Throws at start-up, listing every
 * target that has no transport, rather than failing order by order later.
 */
export function configuredTransports(config: Config, env: NodeJS.ProcessEnv = process.env): TransportFactory {
  const missing = deliveryTargets(config)
    .filter((t) => !transportKind(t.kind === 'carrier' ? t.recipient : supplierOf(config, t.recipient).delivery.transport))
    .map((t) => (t.kind === 'carrier' ? `carrier ${t.recipient}: no ${t.recipient.toUpperCase()} API client is available in this build` : `supplier ${t.recipient}: transport not available`));
  if (missing.length > 0) {
    throw new DropshipError('ECONFIG', missing, 'Some recipients cannot be delivered to (use --dry-run to write payloads to a local outbox instead)');
  }
  return (target) => {
    if (target.kind === 'carrier') {
      const kind = transportKind(target.recipient)!;
      const options = kind.optionsSchema.parse(config.store.carriers[target.recipient as 'ups' | 'fedex']);
      return kind.create(options, { instanceId: target.recipient, configDir: config.dir, env });
    }
    const supplier = supplierOf(config, target.recipient);
    return transportKind(supplier.delivery.transport)!.create(supplier.delivery.options, {
      instanceId: supplier.id,
      configDir: config.dir,
      env,
      ...(supplier.pgpPublicKey ? { pgpPublicKey: supplier.pgpPublicKey } : {}),
    });
  };
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
