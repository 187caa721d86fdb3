import { AcknowledgementInput, type Confirmation, ShipmentConfirmationInput } from '../../core/confirmation';

/**
 * An inbound format: a document a supplier sends back about purchase orders we sent it
 * (a CSV or JSON file, an X12 856 ship notice or 855 acknowledgment, a cXML
 * `ShipNoticeRequest` or `ConfirmationRequest`), read into confirmations. One plug-in per
 * format, beside the outbound ones; pure: text in, data out.
 */

/** One confirmation read from a document, with the supplier's reference for it. */
export interface ReadConfirmation {
  confirmation: Confirmation;
  /**
   * The supplier's own id of what it confirms (an ASN's BSN02, an 855's BAK08 or ST02, a cXML
   * `shipmentID` or `confirmID`, a CSV row number): shown in the timeline, never trusted as ours.
   */
  reference?: string;
  /**
   * Where the document names the interchange control number of our 850 that it answers, that
   * number: a confirmation naming another than the one sent is refused.
   */
  controlNumber?: number;
}

/** What a document held. */
export interface ReadDocument {
  confirmations: ReadConfirmation[];
}

/** Reads one kind of supplier document. */
export interface ConfirmationFormat<O = unknown> {
  /** The name configuration uses (`confirmations.sftp.format`). */
  readonly id: 'csv' | 'json' | 'x12-856' | 'x12-855' | 'cxml';
  /**
   * The block of a supplier's `confirmations` that holds this format's options (`csv`, `x12`,
   * shared by both X12 readers); absent when the format takes none.
   */
  readonly optionsBlock?: 'csv' | 'x12';
  /**
   * Checks this format's options from the supplier's `confirmations` block (CSV columns),
   * returning every problem at once; absent when the format takes none.
   */
  parseOptions?(raw: unknown): { ok: true; options: O } | { ok: false; problems: string[] };
  /**
   * Reads a whole document. A document that cannot be read as a whole throws a
   * `DropshipError('EINVALID_CONFIRMATION', problems)` naming every problem (segment,
   * row, element) and never quoting personal data; nothing of it is applied.
   */
  read(text: string, options: O): ReadDocument;
}

/** The largest document an inbound format reads (characters): a bigger one is refused whole. */
export const MAX_CONFIRMATION_DOCUMENT_CHARS = 10 * 1024 * 1024;

/**
 * Checks what a format read against the confirmation shapes, as the API checks a body: the
 * confirmation (tracking numbers without spaces or dashes, a reason cut and redacted) or
 * the problems, each prefixed with `where` and naming the field, never quoting its value.
 */
export function checkConfirmation(kind: Confirmation['kind'], input: unknown, where: string): { ok: true; confirmation: Confirmation } | { ok: false; problems: string[] } {
  const parsed = kind === 'shipment' ? ShipmentConfirmationInput.safeParse(input) : AcknowledgementInput.safeParse(input);
  if (parsed.success) return { ok: true, confirmation: { kind, ...parsed.data } as Confirmation };
  return { ok: false, problems: parsed.error.issues.map((issue) => `${where}: ${issue.path.length > 0 ? `${issue.path.join('.')} ` : ''}${issue.message}`) };
}
