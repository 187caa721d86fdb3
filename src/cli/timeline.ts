import type { OrderTimeline, ReasonInWords, TimelineDelivery } from '../ops/console-queries';

/** A reason in one line: the catalogue's message and code, this case, and what to do. */
export function reasonLine(r: ReasonInWords): string {
  return [`${r.message}${r.code ? ` (${r.code})` : ''}`, r.detail, r.action ? `what to do: ${r.action}` : undefined].filter(Boolean).join('; ');
}

/** Where one delivery went and where it stands: `planned → sent 2026-… via sftp (csv), tracking 1Z…`. */
function deliveryLine(d: TimelineDelivery): string {
  const how = d.transport ? ` via ${d.transport}${d.format ? ` (${d.format})` : ''}` : d.format ? ` (${d.format})` : '';
  const stage = d.stage === 'planned' ? 'planned' : `planned → ${d.stage}`;
  const parts = [`${d.recipient} (${d.kind === 'carrier' ? 'carrier' : 'supplier'}): ${stage}${d.at && d.stage !== 'planned' ? ` ${d.at}` : ''}${how}`];
  if (d.attempts > 1) parts.push(`after ${d.attempts} attempts`);
  if (d.trackingNumber) parts.push(`tracking ${d.trackingNumber}`);
  if (d.skipped) parts.push(`skipped: ${d.skipped}`);
  if (d.reason) parts.push(reasonLine(d.reason));
  return parts.join(', ');
}

/**
 * An order's timeline as `dropship status ORDER_ID` prints it: each shipment and its deliveries'
 * stages (planned → sent, where and when, tracking), or why the order is held and what to do.
 * Only the stages that are recorded today; ids, stages, recipients and reasons, never personal data.
 */
export function formatTimeline(t: OrderTimeline): string {
  const lines: string[] = [];
  if (t.reasons.length > 0) {
    for (const r of t.reasons) lines.push(`${t.stage}: ${reasonLine(r)}`);
  }
  for (const s of t.shipments) {
    lines.push(`shipment ${s.shipmentId}`);
    for (const d of s.deliveries) lines.push(`  ${deliveryLine(d)}`);
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
