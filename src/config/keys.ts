import { DropshipError } from '../errors';
import { readRecipientKey } from '../transports/pgp';
import type { Config } from './config';

/** A supplier's PGP key as checked at start-up. */
export interface SupplierKeyStatus {
  supplierId: string;
  fingerprint: string;
  expiresAt: string | null;
  daysUntilExpiry: number | null;
}

/** Keys expiring within this many days are flagged by `status` and the metrics. */
export const KEY_EXPIRY_WARNING_DAYS = 30;

/** A supplier whose PGP key cannot be used now (expired, revoked, cannot encrypt). */
export interface UnusableSupplierKey {
  supplierId: string;
  /** File, path, fingerprint and what is wrong. */
  problem: string;
}

/**
 * Checks every supplier's PGP public key: expired, revoked or encryption-incapable keys are
 * named (file, path, fingerprint, problem); the rest report their expiry.
 */
export async function inspectSupplierKeys(config: Config, now: Date = new Date()): Promise<{ keys: SupplierKeyStatus[]; unusable: UnusableSupplierKey[] }> {
  const unusable: UnusableSupplierKey[] = [];
  const statuses: SupplierKeyStatus[] = [];
  for (const s of config.suppliers) {
    if (!s.pgpPublicKey) continue;
    try {
      const key = await readRecipientKey(s.pgpPublicKey, `of supplier ${s.id}`, now);
      statuses.push({
        supplierId: s.id,
        fingerprint: key.fingerprint,
        expiresAt: key.expiresAt ? key.expiresAt.toISOString() : null,
        daysUntilExpiry: key.daysUntilExpiry,
      });
    } catch (err) {
      unusable.push({ supplierId: s.id, problem: `${s.file}: pgp.publicKeyFile: ${err instanceof Error ? err.message : String(err)}` });
    }
  }
  return { keys: statuses, unusable };
}

/** {@link inspectSupplierKeys}, refusing (all named at once) when any key cannot be used: for `verify`. */
export async function checkSupplierKeys(config: Config, now: Date = new Date()): Promise<SupplierKeyStatus[]> {
  const { keys, unusable } = await inspectSupplierKeys(config, now);
  if (unusable.length > 0) throw new DropshipError('ECONFIG', unusable.map((u) => u.problem), 'Some supplier PGP keys cannot be used');
  return keys;
}
