import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/load';
import type { ConfigSpec, SupplierSpec } from './arbitraries';

/**
 * Generated configurations, written as YAML files and read back through `loadConfig`, so the
 * properties run against configuration exactly as the service loads it. Each distinct spec
 * is written and loaded once per test file (fast-check revisits specs while shrinking).
 */

const WAREHOUSE_ADDRESS = {
  name: 'Prop Larder',
  line1: '1 Depot Road',
  city: 'Portland',
  region: 'OR',
  postalCode: '97204',
  country: 'US',
  phone: '+1 503 555 0101',
};

function supplierFile(s: SupplierSpec): Record<string, unknown> {
  return {
    id: s.id,
    name: `Supplier ${s.id}`,
    skus: s.prefixes.map((p) => `${p}-*`),
    shipFrom: {
      name: `Supplier ${s.id}`,
      line1: '2 Dairy Lane',
      city: 'Websterville',
      region: 'VT',
      postalCode: '05678',
      country: 'US',
      phone: '+1 802 555 0102',
    },
    labels: s.labels,
    fields: s.fields,
    format: s.format,
    formatOptions: s.formatOptions,
    // The outbox transport needs no secrets; nothing is delivered by these tests.
    delivery: { transport: 'outbox', dir: '/tmp/x' },
    retry: { attempts: 3, backoff: '100ms' },
  };
}

function storeFile(spec: ConfigSpec): Record<string, unknown> {
  const s = spec.store;
  return {
    store: { name: 'Prop Larder' },
    ...(s.warehouseId !== undefined ? { warehouse: { id: s.warehouseId, address: WAREHOUSE_ADDRESS } } : {}),
    shipping: {
      methods: s.methods,
      ...(s.defaultMethod !== undefined ? { default: s.defaultMethod } : {}),
      defaultLineWeightGrams: s.defaultLineWeightGrams,
    },
    carriers: {
      ups: { shipperNumber: 'T1E2S3', weightUnit: s.upsWeightUnit },
      fedex: { accountNumber: '123456789', weightUnit: s.fedexWeightUnit },
    },
  };
}

/** Writes `spec` as `store.yaml` and `suppliers/<id>.yaml` under `dir`. */
export function writeConfig(dir: string, spec: ConfigSpec): void {
  mkdirSync(path.join(dir, 'suppliers'), { recursive: true });
  writeFileSync(path.join(dir, 'store.yaml'), stringify(storeFile(spec)));
  for (const s of spec.suppliers) {
    writeFileSync(path.join(dir, 'suppliers', `${s.id}.yaml`), stringify(supplierFile(s)));
  }
}

export class ConfigPool {
  private root: string | undefined;
  private readonly loaded = new Map<string, Config>();

  /** The configuration for `spec`, loaded by `loadConfig` from YAML files. */
  load(spec: ConfigSpec): Config {
    const key = JSON.stringify(spec);
    const cached = this.loaded.get(key);
    if (cached) return cached;
    this.root ??= mkdtempSync(path.join(tmpdir(), 'dropship-properties-'));
    const dir = path.join(this.root, `config-${this.loaded.size}`);
    writeConfig(dir, spec);
    const config = loadConfig(dir);
    this.loaded.set(key, config);
    return config;
  }

  /** Removes every file this pool wrote. */
  dispose(): void {
    if (this.root !== undefined) rmSync(this.root, { recursive: true, force: true });
    this.root = undefined;
    this.loaded.clear();
  }
}
