import type { ConfirmedLine } from '../../core/confirmation';
import { DropshipError } from '../../errors';
import { checkConfirmation, type ConfirmationFormat, type ReadConfirmation } from './format';
import { at, controlNumberOf, defaultX12Options, element, parseX12Options, readTransactionSets, skuOf, x12DateTime, x12Quantity, type X12InboundOptions, type X12Segment, type X12TransactionSet } from './x12-envelope';

/**
 * ANSI X12 856 Ship Notice/Manifest (ASN), 004010 and 005010, read into shipment
 * confirmations: one per order level (HL03 "O") of each transaction set.
 *
 * - BSN02: the supplier's shipment id (the reference). BSN01 "01" (a cancelled notice) is refused.
 * - HL: the hierarchy, shipment (S) → order (O) → tare/pack (T, P) → item (I); a level
 *   belongs to the order above it. A notice without order levels is one order (its PRF at
 *   the shipment level).
 * - PRF01 (order level): our purchase order number, which is our order id (BEG03 of our 850).
 * - TD5: the carrier, TD503 (SCAC, with TD502 "2") or else TD505 (routing, free text).
 * - Tracking numbers: REF*2I (tracking number) and REF*CN (carrier's reference, a PRO
 *   number) at the shipment or order level, MAN*CP (carrier-assigned package id) in the
 *   order's packs; SSCC-18 labels (MAN*GM) only when the notice has none of those.
 * - LIN: the SKU, the product ID whose qualifier comes first in `skuQualifiers` (SK, BP, VP
 *   by default); SN102: the quantity shipped. An order level without items covers every line.
 * - DTM*011 (shipped) at the shipment or order level: `shippedAt` (UTC unless DTM04 names a zone).
 * - With `controlNumberRef`, the REF of that qualifier (order, else shipment level): the
 *   control number of our 850 it answers.
 */

interface Level {
  id: string;
  parent: string | undefined;
  code: string;
  segments: X12Segment[];
  hl: X12Segment;
}

function levels(set: X12TransactionSet, problems: string[], where: string): { header: X12Segment[]; levels: Level[] } {
  const header: X12Segment[] = [];
  const out: Level[] = [];
  const ids = new Set<string>();
  let current: Level | undefined;
  for (const segment of set.segments) {
    if (segment.tag === 'HL') {
      const id = element(segment, 1);
      const code = element(segment, 3);
      if (id === undefined || code === undefined) {
        problems.push(`${where}, ${at(segment)}: HL01 (id) and HL03 (level code) are required`);
        current = undefined;
        continue;
      }
      const parent = element(segment, 2);
      if (parent !== undefined && !ids.has(parent)) problems.push(`${where}, ${at(segment)}: HL02 names a parent level that does not come before it`);
      if (ids.has(id)) problems.push(`${where}, ${at(segment)}: HL01 repeats an earlier level's id`);
      ids.add(id);
      current = { id, parent, code, segments: [], hl: segment };
      out.push(current);
    } else if (segment.tag === 'CTT') {
      current = undefined;
    } else if (current) {
      current.segments.push(segment);
    } else {
      header.push(segment);
    }
  }
  return { header, levels: out };
}

function values(segments: readonly X12Segment[], tag: string, qualifiers: readonly string[]): string[] {
  return segments.filter((s) => s.tag === tag && qualifiers.includes(element(s, 1) ?? '')).flatMap((s) => (element(s, 2) === undefined ? [] : [element(s, 2) as string]));
}

function shippedAt(segments: readonly X12Segment[]): string | undefined {
  const dtm = segments.find((s) => s.tag === 'DTM' && element(s, 1) === '011');
  return dtm ? x12DateTime(element(dtm, 2), element(dtm, 3), element(dtm, 4)) : undefined;
}

function carrierOf(segments: readonly X12Segment[]): string | undefined {
  for (const td5 of segments.filter((s) => s.tag === 'TD5')) {
    const code = element(td5, 3);
    if (code !== undefined) return code;
    const routing = element(td5, 5);
    if (routing !== undefined) return routing;
  }
  return undefined;
}

function readSet(set: X12TransactionSet, options: X12InboundOptions, problems: string[]): ReadConfirmation[] {
  const where = `transaction set ${set.control}`;
  const bsn = set.segments.find((s) => s.tag === 'BSN');
  if (!bsn) {
    problems.push(`${where}: has no BSN segment`);
    return [];
  }
  if (element(bsn, 1) === '01') {
    problems.push(`${where}, ${at(bsn)}: BSN01 01 cancels a ship notice; a cancellation is not a shipment`);
    return [];
  }
  const reference = element(bsn, 2);
  const { header, levels: all } = levels(set, problems, where);
  const byId = new Map(all.map((l) => [l.id, l]));
  const ancestors = (level: Level): Level[] => {
    const chain: Level[] = [];
    const seen = new Set<string>();
    for (let p = level.parent; p !== undefined && !seen.has(p); p = byId.get(p)?.parent) {
      seen.add(p);
      const found = byId.get(p);
      if (found) chain.push(found);
    }
    return chain;
  };
  const shipmentLevels = all.filter((l) => l.code === 'S');
  let orders = all.filter((l) => l.code === 'O');
  // Without order levels, the shipment level carries the order (PRF) itself.
  if (orders.length === 0) orders = shipmentLevels;
  if (orders.length === 0) {
    problems.push(`${where}: has no order (HL03 O) or shipment (HL03 S) level`);
    return [];
  }
  const anyCarrierTracking = set.segments.some((s) => (s.tag === 'REF' && ['2I', 'CN'].includes(element(s, 1) ?? '')) || (s.tag === 'MAN' && element(s, 1) === 'CP'));
  const out: ReadConfirmation[] = [];
  for (const order of orders) {
    const orderWhere = `${where}, ${at(order.hl)} (order level)`;
    const above = ancestors(order);
    const below = all.filter((l) => l !== order && ancestors(l).includes(order));
    const context = [...header, ...above.flatMap((l) => l.segments), ...order.segments];
    const prf = [...order.segments, ...above.flatMap((l) => l.segments)].find((s) => s.tag === 'PRF');
    const orderId = element(prf, 1);
    if (orderId === undefined) {
      problems.push(`${orderWhere}: has no PRF01 (our purchase order number)`);
      continue;
    }
    const carrier = carrierOf([...order.segments, ...above.flatMap((l) => l.segments), ...header]);
    const packSegments = below.filter((l) => l.code !== 'I').flatMap((l) => l.segments);
    let tracking = [...values(context, 'REF', ['2I', 'CN']), ...values(packSegments, 'MAN', ['CP'])];
    if (!anyCarrierTracking) tracking = values([...context, ...packSegments], 'MAN', ['GM']);
    const lines: ConfirmedLine[] = [];
    for (const item of below.filter((l) => l.code === 'I')) {
      const itemWhere = `${where}, ${at(item.hl)} (item level)`;
      const lin = item.segments.find((s) => s.tag === 'LIN');
      const sn1 = item.segments.find((s) => s.tag === 'SN1');
      const sku = lin ? skuOf(lin, 2, options.skuQualifiers) : undefined;
      if (sku === undefined) problems.push(`${itemWhere}: no LIN product ID with qualifier ${options.skuQualifiers.join(', ')} (our SKU)`);
      const quantity = x12Quantity(element(sn1, 2));
      if (quantity === undefined) problems.push(`${itemWhere}: SN102 (quantity shipped) must be a whole number`);
      if (sku !== undefined && quantity !== undefined) lines.push({ sku, quantity });
    }
    const shipped = shippedAt([...order.segments, ...above.flatMap((l) => l.segments), ...header]);
    const input = {
      orderId,
      carrier: carrier ?? '',
      trackingNumbers: [...new Set(tracking)],
      ...(lines.length > 0 ? { lines } : {}),
      ...(shipped !== undefined ? { shippedAt: shipped } : {}),
    };
    if (carrier === undefined) problems.push(`${orderWhere}: no TD5 names the carrier (TD503 SCAC or TD505 routing)`);
    if (tracking.length === 0) problems.push(`${orderWhere}: no tracking number (REF*2I, REF*CN, MAN*CP or MAN*GM)`);
    if (carrier === undefined || tracking.length === 0) continue;
    const checked = checkConfirmation('shipment', input, orderWhere);
    if (!checked.ok) {
      problems.push(...checked.problems);
      continue;
    }
    const controlNumber = controlNumberOf([...order.segments, ...above.flatMap((l) => l.segments), ...header], options, orderWhere, problems);
    out.push({ confirmation: checked.confirmation, ...(reference !== undefined ? { reference } : {}), ...(controlNumber !== undefined ? { controlNumber } : {}) });
  }
  return out;
}

export const x12ShipNoticeFormat: ConfirmationFormat<X12InboundOptions> = {
  id: 'x12-856',
  optionsBlock: 'x12',
  parseOptions: parseX12Options,
  read(text, options) {
    const o = options ?? defaultX12Options();
    const problems: string[] = [];
    const sets = readTransactionSets(text, '856', problems);
    const confirmations = sets.flatMap((set) => readSet(set, o, problems));
    if (problems.length === 0 && confirmations.length === 0) problems.push('the document holds no 856 transaction set');
    if (problems.length > 0) throw new DropshipError('EINVALID_CONFIRMATION', problems);
    return { confirmations };
  },
};
