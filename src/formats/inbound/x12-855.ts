import type { AcknowledgementStatus, ConfirmedLine } from '../../core/confirmation';
import { DropshipError } from '../../errors';
import { checkConfirmation, type ConfirmationFormat, type ReadConfirmation } from './format';
import { at, controlNumberOf, defaultX12Options, element, parseX12Options, readTransactionSets, skuOf, x12Quantity, type X12InboundOptions, type X12TransactionSet } from './x12-envelope';

/**
 * ANSI X12 855 Purchase Order Acknowledgment, 004010 and 005010, read into acknowledgements.
 *
 * - BAK03: our purchase order number, which is our order id. BAK08 (the seller's order
 *   number), or else ST02, is the reference.
 * - BAK02, the answer for the whole order: AC, AD, AE, AK, AP, CA accept it (AC and AE with
 *   changes or exceptions, which the line statuses say); RD, RF, RJ, RO reject it. Any other
 *   code (AH, on hold) is a problem.
 * - PO1 + ACK: per line, the SKU (the product ID whose qualifier comes first in
 *   `skuQualifiers`, from PO106/PO107 on) and each ACK's status (ACK01) and quantity (ACK02,
 *   or PO102 when ACK02 is absent or 0). Accepted: AC, AR, DR, IA, IC, IE, IP, IQ, IS, SP;
 *   backordered: BP, IB; rejected: ID, IR, R1-R8. On-hold codes (IF, IH, IW) are not an
 *   answer yet: the line is left out. A PO1 without ACK takes BAK02's answer.
 * - With `controlNumberRef`, the header REF of that qualifier: the control number of our 850
 *   it answers.
 * - Lines that disagree make one acknowledgement per status, each with its lines, in the
 *   order the statuses first occur; an 855 without PO1 is one acknowledgement of the whole order.
 */

const HEADER: Record<string, AcknowledgementStatus> = {
  AC: 'accepted',
  AD: 'accepted',
  AE: 'accepted',
  AK: 'accepted',
  AP: 'accepted',
  CA: 'accepted',
  RD: 'rejected',
  RF: 'rejected',
  RJ: 'rejected',
  RO: 'rejected',
};

const LINE: Record<string, AcknowledgementStatus | 'hold'> = {
  AC: 'accepted',
  AR: 'accepted',
  DR: 'accepted',
  IA: 'accepted',
  IC: 'accepted',
  IE: 'accepted',
  IP: 'accepted',
  IQ: 'accepted',
  IS: 'accepted',
  SP: 'accepted',
  BP: 'backordered',
  IB: 'backordered',
  ID: 'rejected',
  IR: 'rejected',
  R1: 'rejected',
  R2: 'rejected',
  R3: 'rejected',
  R4: 'rejected',
  R5: 'rejected',
  R6: 'rejected',
  R7: 'rejected',
  R8: 'rejected',
  IF: 'hold',
  IH: 'hold',
  IW: 'hold',
};

function readSet(set: X12TransactionSet, options: X12InboundOptions, problems: string[]): ReadConfirmation[] {
  const where = `transaction set ${set.control}`;
  const bak = set.segments.find((s) => s.tag === 'BAK');
  if (!bak) {
    problems.push(`${where}: has no BAK segment`);
    return [];
  }
  const orderId = element(bak, 3);
  if (orderId === undefined) problems.push(`${where}, ${at(bak)}: has no BAK03 (our purchase order number)`);
  const code = element(bak, 2);
  const header = code === undefined ? undefined : HEADER[code];
  if (header === undefined) {
    problems.push(`${where}, ${at(bak)}: BAK02 ${code === undefined ? 'is empty' : `"${code}" is not an answer read here`} (accepted: ${Object.keys(HEADER).filter((k) => HEADER[k] === 'accepted').join(', ')}; rejected: ${Object.keys(HEADER).filter((k) => HEADER[k] === 'rejected').join(', ')})`);
  }
  if (element(bak, 1) === '01') problems.push(`${where}, ${at(bak)}: BAK01 01 cancels an acknowledgment; nothing of it is read`);
  const reference = element(bak, 8) ?? set.control;

  // Lines: a PO1 and the ACKs after it (up to the next PO1 or the summary).
  const groups = new Map<AcknowledgementStatus, ConfirmedLine[]>();
  let sawLine = false;
  const segments = set.segments;
  for (let i = 0; i < segments.length; i++) {
    const po1 = segments[i];
    if (po1?.tag !== 'PO1') continue;
    sawLine = true;
    const lineWhere = `${where}, ${at(po1)}`;
    const sku = skuOf(po1, 6, options.skuQualifiers);
    if (sku === undefined) problems.push(`${lineWhere}: no product ID with qualifier ${options.skuQualifiers.join(', ')} (our SKU)`);
    const ordered = x12Quantity(element(po1, 2));
    const acks = [];
    for (let j = i + 1; j < segments.length && !['PO1', 'CTT'].includes(segments[j]?.tag ?? ''); j++) if (segments[j]?.tag === 'ACK') acks.push(segments[j]);
    const answers: Array<{ status: AcknowledgementStatus | 'hold' | undefined; quantity: number | undefined; where: string }> =
      acks.length === 0
        ? [{ status: header, quantity: ordered, where: lineWhere }]
        : acks.map((ack) => {
            const ackCode = element(ack, 1);
            const status = ackCode === undefined ? undefined : LINE[ackCode];
            if (status === undefined) problems.push(`${where}, ${at(ack!)}: ACK01 ${ackCode === undefined ? 'is empty' : `"${ackCode}" is not a line status read here`}`);
            const quantity = x12Quantity(element(ack, 2));
            return { status, quantity: quantity === undefined || quantity === 0 ? ordered : quantity, where: `${where}, ${at(ack!)}` };
          });
    for (const answer of answers) {
      if (answer.status === undefined || answer.status === 'hold') continue;
      if (answer.quantity === undefined) {
        problems.push(`${answer.where}: no whole-number quantity (ACK02, or PO102)`);
        continue;
      }
      if (sku === undefined) continue;
      const list = groups.get(answer.status) ?? [];
      list.push({ sku, quantity: answer.quantity });
      groups.set(answer.status, list);
    }
  }
  if (orderId === undefined || header === undefined) return [];
  // Header REFs: those before the first PO1.
  const firstLine = segments.findIndex((s) => s.tag === 'PO1');
  const controlNumber = controlNumberOf(firstLine < 0 ? segments : segments.slice(0, firstLine), options, where, problems);
  const inputs = sawLine ? [...groups].map(([status, lines]) => ({ orderId, status, lines })) : [{ orderId, status: header }];
  const out: ReadConfirmation[] = [];
  for (const input of inputs) {
    const checked = checkConfirmation('acknowledgement', input, `${where} (${input.status})`);
    if (checked.ok) out.push({ confirmation: checked.confirmation, reference, ...(controlNumber !== undefined ? { controlNumber } : {}) });
    else problems.push(...checked.problems);
  }
  return out;
}

export const x12AcknowledgmentFormat: ConfirmationFormat<X12InboundOptions> = {
  id: 'x12-855',
  optionsBlock: 'x12',
  parseOptions: parseX12Options,
  read(text, options) {
    const o = options ?? defaultX12Options();
    const problems: string[] = [];
    const sets = readTransactionSets(text, '855', problems);
    const confirmations = sets.flatMap((set) => readSet(set, o, problems));
    if (problems.length === 0 && sets.length === 0) problems.push('the document holds no 855 transaction set');
    if (problems.length > 0) throw new DropshipError('EINVALID_CONFIRMATION', problems);
    return { confirmations };
  },
};
