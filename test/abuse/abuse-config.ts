import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/load';
import { CXML_OPTIONS, X12_OPTIONS } from '../formats/po-fixtures';
import { FIXTURE_CONFIG_DIR } from '../support/orders';

/**
 * The configuration the abuse corpus runs against: the test fixture (warehouse → UPS/FedEx,
 * `creamery` CSV with retailer labels, `oliveco` JSON) plus one supplier per remaining
 * format, each with every field a supplier may see on its allow-list, so every hostile
 * string reaches every kind of payload:
 * - `mill`: X12 850 (`MILL-*`), `orchard`: cXML (`ORCH-*`), `sheet`: CSV (`SHEET-*`);
 * - `BOTH-*` is claimed by `mill` and `sheet` on purpose (an ambiguous line holds its order).
 */

export const ALL_SUPPLIER_FIELDS = [
  'order.id',
  'order.placedAt',
  'order.currency',
  'order.giftMessage',
  'order.notes',
  'customer.name',
  'customer.email',
  'customer.phone',
  'shipTo.name',
  'shipTo.company',
  'shipTo.line1',
  'shipTo.line2',
  'shipTo.city',
  'shipTo.region',
  'shipTo.postalCode',
  'shipTo.country',
  'shipTo.phone',
  'lines.sku',
  'lines.name',
  'lines.quantity',
  'lines.unitPrice',
  'lines.weight',
  'lines.properties',
];

/** The cXML options of the format tests, without a shared secret (nothing here is sent for real). */
function cxmlOptions(): Record<string, unknown> {
  const { sharedSecretEnv: _secret, ...sender } = CXML_OPTIONS.sender as Record<string, unknown>;
  return { ...CXML_OPTIONS, sender };
}

function supplier(id: string, skus: string[], format: string, formatOptions: unknown): Record<string, unknown> {
  return {
    id,
    name: `Abuse ${id}`,
    skus,
    shipFrom: { name: `Abuse ${id}`, line1: '5 Mill Road', city: 'Albany', region: 'NY', postalCode: '12207', country: 'US', phone: '+1 518 555 0104' },
    labels: 'supplier',
    fields: ALL_SUPPLIER_FIELDS,
    format,
    formatOptions,
    delivery: { transport: 'outbox', dir: '/tmp/dropship-abuse-unused-outbox' },
    retry: { attempts: 2, backoff: '100ms' },
  };
}

export interface AbuseConfig {
  dir: string;
  config: Config;
  dispose(): void;
}

/** Writes the abuse configuration to a temporary directory and loads it with `loadConfig`. */
export function writeAbuseConfig(): AbuseConfig {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dropship-abuse-config-'));
  cpSync(FIXTURE_CONFIG_DIR, dir, { recursive: true });
  const extra = [
    supplier('mill', ['MILL-*', 'BOTH-*'], 'x12-850', X12_OPTIONS),
    supplier('orchard', ['ORCH-*'], 'cxml', cxmlOptions()),
    supplier('sheet', ['SHEET-*', 'BOTH-*'], 'csv', {}),
  ];
  for (const s of extra) writeFileSync(path.join(dir, 'suppliers', `${String(s.id)}.yaml`), stringify(s));
  return { dir, config: loadConfig(dir), dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * One line per origin and format of the abuse configuration: the warehouse (UPS or FedEx),
 * `creamery` (CSV, retailer labels), `oliveco` (JSON), `mill` (X12), `orchard` (cXML) and
 * `sheet` (CSV). Synthetic products only.
 */
export const EVERY_FORMAT_LINES = [
  { id: 'w', sku: 'LARDER-JAM', name: 'Fig jam', quantity: 1, unitPrice: '8.50', weight: 300 },
  { id: 'c', sku: 'VC-CHEVRE', name: 'Chevre log', quantity: 1, unitPrice: '12.00', weight: 250 },
  { id: 'o', sku: 'OLV-EVOO', name: 'Olive oil', quantity: 1, unitPrice: '24.00' },
  { id: 'm', sku: 'MILL-FLOUR', name: 'Stone-ground flour', quantity: 2, unitPrice: '7.00' },
  { id: 'x', sku: 'ORCH-CIDER', name: 'Dry cider', quantity: 1, unitPrice: '11.00' },
  { id: 's', sku: 'SHEET-SALT', name: 'Sea salt', quantity: 3, unitPrice: '2.25' },
];
