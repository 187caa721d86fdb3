import type { OrderTimeline, ReasonInWords, ShipmentEvent, TimelineDelivery } from '../ops/console-queries';

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

/** What came back about a shipment: `shipped 2026-… by creamery: UPS 1Z… (3 units, sftp)`. */
export function eventLine(e: ShipmentEvent): string {
  const when = e.at ? ` ${e.at}` : '';
  const how = [e.units !== undefined ? `${e.units} unit${e.units === 1 ? '' : 's'}` : '', e.channel ?? '', e.reference ? `ref ${e.reference}` : ''].filter(Boolean).join(', ');
  switch (e.stage) {
    case 'shipped':
      return `shipped${when} by ${e.by}: ${e.carrier ?? 'carrier unknown'} ${(e.trackingNumbers ?? []).join(' ')}${how ? ` (${how})` : ''}`;
    case 'fulfilled':
      return `fulfilled in the store${when}${e.alreadyFulfilled ? ' (it had them already)' : ''}${e.storeFulfillmentId ? `: ${e.storeFulfillmentId}` : ''}${e.reason ? ` (${e.reason})` : ''}`;
    case 'refused':
      return `refused${when} from ${e.by}: ${e.reason ?? ''}${how ? ` (${how})` : ''}`;
    case 'fulfillment failed':
    case 'fulfillment retrying': {
      const what = `${e.stage}${when} (${e.fulfillmentId ?? 'fulfillment'}${e.attempts ? `, after ${e.attempts} attempt${e.attempts === 1 ? '' : 's'}` : ''})`;
      const replay = e.replayable && e.fulfillmentId ? `; once fixed: dropship replay --fulfillment ${e.fulfillmentId}` : '';
      return `${what}${e.failure ? `: ${reasonLine(e.failure)}` : ''}${replay}`;
    }
    default:
      return `${e.stage}${when} by ${e.by}${e.reason ? `: ${e.reason}` : ''}${how ? ` (${how})` : ''}`;
  }
}

/**
 * An order's timeline as `dropship status ORDER_ID` prints it: each shipment's stage, its
 * deliveries (planned → sent, where and when, tracking), then what came back (acknowledged,
 * rejected or backordered with the supplier's reason, shipped with carrier and tracking,
 * fulfilled in the store, or the store's fulfillment failed with what to do), or why the
 * order is held and what to do. Ids, stages, recipients and reasons, never personal data.
 */
export function formatTimeline(t: OrderTimeline): string {
  const lines: string[] = [];
  if (t.reasons.length > 0) {
    for (const r of t.reasons) lines.push(`${t.stage}: ${reasonLine(r)}`);
  }
  for (const s of t.shipments) {
    lines.push(`shipment ${s.shipmentId}: ${s.stage}`);
    for (const d of s.deliveries) lines.push(`  ${deliveryLine(d)}`);
    for (const e of s.events) lines.push(`  ${eventLine(e)}`);
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
