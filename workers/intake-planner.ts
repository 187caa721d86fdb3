import type { Config } from '../src/config/config';
import { orderFingerprint } from '../src/core/changes';
import type { Order } from '../src/core/order';
import { fulfilOf, whatShips } from '../src/core/readiness';
import { splitOrder } from '../src/core/split';
import { formatById } from '../src/formats';
import { planOrder } from '../src/planning/plan';
import type { IntakePlanner, PlannedAtIntake } from '../src/queue/intake';
import type { RedisClient } from '../src/queue/redis';
import type { DataCipher } from '../src/queue/sealing';
import { DeliveryQueues } from './delivery-queues';

/** Suppliers whose documents carry a control number per order (a batch takes its own when cut). */
export function numberedSuppliers(config: Config): ReadonlySet<string> {
  return new Set(config.suppliers.filter((s) => s.batch === undefined && formatById(s.format)?.needsControlNumber === true).map((s) => s.id));
}

/** The suppliers of `numbered` the order sends a purchase order to (none without a split when nothing is numbered). */
export function numberedSuppliersOf(order: Order, config: Config, numbered: ReadonlySet<string>): string[] {
  if (numbered.size === 0) return [];
  const split = splitOrder(order, config);
  return [...new Set((split.shipments ?? []).filter((s) => s.origin.kind === 'supplier').map((s) => s.origin.id))].filter((id) => numbered.has(id));
}

/**
 * Plans orders in the intake's process, so an order that simply ships needs no order job:
 * the pure core decides, and the deliveries are added right after the order is recorded as
 * planned. Only a new order that is ready to ship and plans cleanly is taken; anything else
 * (waiting, skipped, held, a supplier numbering its documents, which takes a counter from
 * Redis) is left to the order worker, which decides it exactly as before.
 */
export function createIntakePlanner(deps: { connection: RedisClient; config: Config; cipher: DataCipher }): IntakePlanner {
  const { config, cipher } = deps;
  const numbered = numberedSuppliers(config);
  const fulfil = fulfilOf(config.store);
  const queues = new DeliveryQueues(deps.connection, config, cipher);
  return {
    plan(order: Order, acceptedAt: string): PlannedAtIntake | undefined {
      const ships = whatShips(order, fulfil);
      // A supplier numbering its documents takes a counter from Redis: the order worker's.
      if (ships.status !== 'ready' || numberedSuppliersOf(ships.order, config, numbered).length > 0) return undefined;
      const plan = planOrder(order, config, { now: acceptedAt, deferLabelledBodies: true });
      if (plan.status !== 'planned') return undefined;
      return {
        manifest: JSON.stringify(plan.manifest),
        fingerprint: cipher.seal(orderFingerprint(ships.order), 'order-fingerprint'),
        queue: (prefix) => queues.add(prefix, plan.deliveries),
      };
    },
    close: () => queues.close(),
  };
}
