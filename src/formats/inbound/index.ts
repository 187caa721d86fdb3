import { csvConfirmationFormat } from './csv';
import { cxmlConfirmationFormat } from './cxml';
import type { ConfirmationFormat } from './format';
import { jsonConfirmationFormat } from './json';
import { x12AcknowledgmentFormat } from './x12-855';
import { x12ShipNoticeFormat } from './x12-856';

/** The inbound formats, by the id configuration names (`confirmations.sftp.format`). */
const FORMATS = new Map<string, ConfirmationFormat>();

/** Adds an inbound format to the registry (one file per format). */
export function registerConfirmationFormat<O>(format: ConfirmationFormat<O>): void {
  FORMATS.set(format.id, format as ConfirmationFormat);
}

export function confirmationFormatById(id: string): ConfirmationFormat | undefined {
  return FORMATS.get(id);
}

export function confirmationFormatIds(): string[] {
  return [...FORMATS.keys()].sort();
}

registerConfirmationFormat(csvConfirmationFormat);
registerConfirmationFormat(jsonConfirmationFormat);
registerConfirmationFormat(x12ShipNoticeFormat);
registerConfirmationFormat(x12AcknowledgmentFormat);
registerConfirmationFormat(cxmlConfirmationFormat);
