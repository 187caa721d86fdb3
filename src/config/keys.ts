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

/**
 * Checks every supplier's PGP public key: expired, revoked or encryption-incapable keys stop
 * start-up, all named at once (file, path, fingerprint, problem). Returns each key's expiry.
 */
export async function checkSupplierKeys(config: Config, now: Date = new Date()): Promise<SupplierKeyStatus[]> {
  const problems: string[] = [];
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
      problems.push(`${s.file}: pgp.publicKeyFile: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (problems.length > 0) throw new DropshipError('ECONFIG', problems, 'Some supplier PGP keys cannot be used');
  return statuses;
}
