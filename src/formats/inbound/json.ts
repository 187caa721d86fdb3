import { z } from 'zod';
import { AcknowledgementInput, ShipmentConfirmationInput } from '../../core/confirmation';
import { DropshipError } from '../../errors';
import { checkConfirmation, type ConfirmationFormat, MAX_CONFIRMATION_DOCUMENT_CHARS, type ReadConfirmation } from './format';

/**
 * A JSON file of confirmations: `{ "shipments": [...], "acknowledgements": [...] }`, each
 * item exactly as `POST /suppliers/{id}/shipments` and `/acknowledgements` take it
 * (schemas/confirmation.v1.schema.json, generated from these shapes by `npm run schemas`).
 * Either list may be absent; at least one confirmation. The reference of each is its place
 * in the file (`shipments[0]`).
 */

export const ConfirmationDocument = z
  .object({
    shipments: z.array(ShipmentConfirmationInput).max(10_000).optional(),
    acknowledgements: z.array(AcknowledgementInput).max(10_000).optional(),
  })
  .strict();
export type ConfirmationDocument = z.infer<typeof ConfirmationDocument>;

const Envelope = z
  .object({
    shipments: z.array(z.unknown(), { error: 'must be an array' }).max(10_000, 'at most 10000 shipments').optional(),
    acknowledgements: z.array(z.unknown(), { error: 'must be an array' }).max(10_000, 'at most 10000 acknowledgements').optional(),
  })
  .strict();

export const jsonConfirmationFormat: ConfirmationFormat = {
  id: 'json',
  read(text) {
    if (text.length > MAX_CONFIRMATION_DOCUMENT_CHARS) {
      throw new DropshipError('EINVALID_CONFIRMATION', [`the file is ${text.length} characters; at most ${MAX_CONFIRMATION_DOCUMENT_CHARS} are read`]);
    }
    let body: unknown;
    try {
      body = JSON.parse(text.replace(/^\uFEFF/, ''));
    } catch {
      // The parser's message quotes the text: say only that it is not JSON.
      throw new DropshipError('EINVALID_CONFIRMATION', ['the file is not valid JSON']);
    }
    const envelope = Envelope.safeParse(body);
    if (!envelope.success) {
      throw new DropshipError(
        'EINVALID_CONFIRMATION',
        envelope.error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : `the document must be an object with "shipments" and/or "acknowledgements" (${i.message})`)),
      );
    }
    const problems: string[] = [];
    const confirmations: ReadConfirmation[] = [];
    for (const [list, kind] of [['shipments', 'shipment'], ['acknowledgements', 'acknowledgement']] as const) {
      (envelope.data[list] ?? []).forEach((item, i) => {
        const where = `${list}[${i}]`;
        const checked = checkConfirmation(kind, item, where);
        if (checked.ok) confirmations.push({ confirmation: checked.confirmation, reference: where });
        else problems.push(...checked.problems);
      });
    }
    if (problems.length === 0 && confirmations.length === 0) problems.push('the document holds no shipment and no acknowledgement');
    if (problems.length > 0) throw new DropshipError('EINVALID_CONFIRMATION', problems);
    return { confirmations };
  },
};
