import { csvFormat } from './csv';
import type { PurchaseOrderFormat } from './format';
import { jsonFormat } from './json';

const FORMATS = new Map<string, PurchaseOrderFormat>();

/** Adds a purchase-order format to the registry (one file per format calls this). */
export function registerFormat<O>(format: PurchaseOrderFormat<O>): void {
  FORMATS.set(format.id, format as PurchaseOrderFormat);
}

export function formatById(id: string): PurchaseOrderFormat | undefined {
  return FORMATS.get(id);
}

export function formatIds(): string[] {
  return [...FORMATS.keys()].sort();
}

registerFormat(jsonFormat);
registerFormat(csvFormat);
