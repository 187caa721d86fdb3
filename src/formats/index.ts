import { csvFormat } from './csv';
import { cxmlFormat } from './cxml';
import type { PurchaseOrderFormat } from './format';
import { jsonFormat } from './json';
import { x12Format } from './x12-850';

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
registerFormat(cxmlFormat);
registerFormat(x12Format);
