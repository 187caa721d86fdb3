/**
 * The console's pages as Eta templates. `<%= %>` escapes (Eta's `autoEscape`); raw output
 * (`<%~ %>`) is used only for the layout's body, which is itself a rendered template. URLs
 * carry ids through `it.url(...)`, which percent-encodes them. Kept in a module rather than
 * in files so the build output needs nothing copied beside it.
 */

export const LAYOUT = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title><%= it.title %> · dropship console</title>
<link rel="stylesheet" href="<%= it.base %>/style.css">
</head>
<body>
<header>
  <a class="brand" href="<%= it.base %>">dropship console</a>
  <nav>
    <a href="<%= it.base %>">Find an order</a>
    <a href="<%= it.base %>/held">Held and failed</a>
    <a href="<%= it.base %>/suppliers">Suppliers and carriers</a>
    <a href="<%= it.boardPath %>">Queues</a>
  </nav>
</header>
<main>
<%~ it.body %>
</main>
<footer><% if (it.unmasked) { %>Personal data is shown: this process runs with DASHBOARD_UNMASK.<% } else { %>No personal data is shown (names, addresses, emails and phones stay sealed).<% } %></footer>
</body>
</html>
`;

const REASONS = `<% for (const r of it.reasons) { %>
<div class="reason">
  <p><strong><%= r.message %></strong><% if (r.code) { %> <span class="code"><%= r.code %></span><% } %></p>
  <% if (r.detail) { %><p class="detail"><%= r.detail %></p><% } %>
  <% if (r.action) { %><p class="action">What to do: <%= r.action %></p><% } %>
</div>
<% } %>`;

export const SEARCH = `<% layout('@layout', it) %>
<h1>Find an order</h1>
<form method="get" action="<%= it.base %>" class="search">
  <label for="order">Order id</label>
  <input id="order" name="order" value="<%= it.query %>" autocomplete="off" required>
  <button type="submit">Find</button>
</form>
<% if (it.notFound) { %>
<p class="notice">No order <strong><%= it.query %></strong> is known. Order ids are matched exactly (as the store sent them); orders older than the retention are forgotten.</p>
<% } %>
`;

export const ORDER = `<% layout('@layout', it) %>
<h1>Order <%= it.t.orderId %></h1>
<p class="stage stage-<%= it.t.stage.replace(/[^a-z]/g, '-') %>">Stage: <strong><%= it.t.stage %></strong><% if (it.t.at) { %> since <time><%= it.t.at %></time><% } %><% if (it.t.receivedAt) { %> · received <time><%= it.t.receivedAt %></time><% } %></p>
<% if (it.t.reasons.length > 0) { %>
<section class="reasons">
<h2><%= it.t.stage === 'held' ? 'Why it is held' : 'Why it failed' %></h2>
<%~ include('@reasons', { reasons: it.t.reasons }) %>
<% if (it.t.replayable && it.canReplay) { %><p><a class="button" href="<%= it.base %>/replay?order=<%= it.url(it.t.orderId) %>">Replay this order…</a></p><% } %>
</section>
<% } %>
<% if (it.t.cancelled) { %><p class="notice">Cancelled<% if (it.t.cancelled.at) { %> at <time><%= it.t.cancelled.at %></time><% } %><% if (it.t.cancelled.reason) { %>: <%= it.t.cancelled.reason %><% } %>.</p><% } %>
<% if (it.customer) { %>
<section class="unmasked">
<h2>Customer (unmasked)</h2>
<dl><% for (const [k, v] of it.customer) { %><dt><%= k %></dt><dd><%= v %></dd><% } %></dl>
</section>
<% } %>
<h2>Shipments</h2>
<% if (it.t.shipments.length === 0) { %><p>No shipments planned yet.</p><% } %>
<% for (const s of it.t.shipments) { %>
<section class="shipment">
<h3>Shipment <%= s.shipmentId %> <span class="stage-<%= s.stage.replace(/[^a-z]/g, '-') %>">(<%= s.stage %>)</span></h3>
<table>
<thead><tr><th>Recipient</th><th>Transport</th><th>Format</th><th>Stage</th><th>When</th><th>Tracking</th><th>Fields disclosed</th></tr></thead>
<tbody>
<% for (const d of s.deliveries) { %>
<tr>
  <td><%= d.recipient %> <span class="muted">(<%= d.kind === 'carrier' ? 'carrier' : 'supplier' %>)</span></td>
  <td><%= d.transport ?? '—' %></td>
  <td><%= d.format ?? '—' %></td>
  <td class="stage-<%= d.stage.replace(/[^a-z]/g, '-') %>"><%= d.stage %><% if (d.skipped) { %> (<%= d.skipped %>)<% } %><% if (d.attempts > 1) { %> <span class="muted">after <%= d.attempts %> attempts</span><% } %></td>
  <td><% if (d.at) { %><time><%= d.at %></time><% } else { %>—<% } %></td>
  <td><%= d.trackingNumber ?? '—' %></td>
  <td class="fields"><%= d.fields.length > 0 ? d.fields.join(', ') : '—' %></td>
</tr>
<% if (d.reason) { %>
<tr class="reason-row"><td colspan="7">
<%~ include('@reasons', { reasons: [d.reason] }) %>
<% if (d.replayable && it.canReplay) { %><p><a class="button" href="<%= it.base %>/replay?delivery=<%= it.url(d.deliveryId) %>">Replay this delivery…</a></p><% } %>
</td></tr>
<% } %>
<% } %>
</tbody>
</table>
<% if (s.events.length > 0) { %>
<ol class="events">
<% for (const e of s.events) { %>
<% if (e.fulfillmentId) { %>
<li class="stage-<%= e.stage.replace(/[^a-z]/g, '-') %>"><strong><%= e.stage === 'fulfillment failed' ? 'the store was not told: fulfillment failed' : 'the store is not told yet: fulfillment being retried' %></strong><% if (e.at) { %> <time><%= e.at %></time><% } %> <span class="muted"><%= e.fulfillmentId %><% if (e.attempts) { %>, after <%= e.attempts %> attempt<%= e.attempts === 1 ? '' : 's' %><% } %></span><% if (e.trackingNumbers) { %> <%= e.trackingNumbers.join(' ') %><% } %>
<% if (e.failure) { %><%~ include('@reasons', { reasons: [e.failure] }) %><% } %>
<% if (e.replayable && it.canReplay) { %><p><a class="button" href="<%= it.base %>/replay?fulfillment=<%= it.url(e.fulfillmentId) %>">Replay this fulfillment…</a></p><% } %></li>
<% } else { %>
<li class="stage-<%= e.stage %>"><strong><%= e.stage === 'fulfilled' ? 'fulfilled in the store' : e.stage %></strong><% if (e.at) { %> <time><%= e.at %></time><% } %> <span class="muted">by <%= e.by %><% if (e.channel) { %> via <%= e.channel %><% } %><% if (e.reference) { %>, ref <%= e.reference %><% } %></span><% if (e.carrier) { %>: <%= e.carrier %><% } %><% if (e.trackingNumbers) { %> <%= e.trackingNumbers.join(' ') %><% } %><% if (e.units !== undefined) { %> (<%= e.units %> units)<% } %><% if (e.storeFulfillmentId) { %> <span class="muted"><%= e.storeFulfillmentId %></span><% } %><% if (e.alreadyFulfilled) { %> <span class="muted">(the store had them already)</span><% } %><% if (e.reason) { %><br><%= e.reason %><% } %></li>
<% } %>
<% } %>
</ol>
<% } %>
</section>
<% } %>
<h2>Disclosures</h2>
<% if (it.t.disclosures.length === 0) { %><p>Nothing about this order has been sent to anyone yet.</p><% } else { %>
<table>
<thead><tr><th>When</th><th>To</th><th>Transport</th><th>Format</th><th>Fields</th><th>Payload sha256</th></tr></thead>
<tbody>
<% for (const d of it.t.disclosures) { %>
<tr><td><time><%= d.deliveredAt %></time></td><td><%= d.recipient %></td><td><%= d.transport %></td><td><%= d.format %><% if (d.batchId) { %> (batch <%= d.batchId %>)<% } %></td><td class="fields"><%= d.fields.join(', ') %></td><td class="hash"><%= d.sha256.slice(0, 16) %>…</td></tr>
<% } %>
</tbody>
</table>
<% } %>
`;

export const HELD = `<% layout('@layout', it) %>
<h1>Held and failed</h1>
<h2>Orders held or failed (<%= it.h.heldTotal %>)</h2>
<% if (it.h.held.length === 0) { %><p>No order is held.</p><% } %>
<% for (const e of it.h.held) { %>
<section class="held">
<h3><a href="<%= it.base %>/orders/<%= it.url(e.orderId) %>">Order <%= e.orderId %></a><% if (e.what === 'cancellation') { %> (its cancellation)<% } %></h3>
<p class="muted"><% if (e.failedAt) { %>Since <time><%= e.failedAt %></time><% } %></p>
<%~ include('@reasons', { reasons: e.reasons }) %>
<% if (it.canReplay && e.what === 'order') { %><p><a class="button" href="<%= it.base %>/replay?order=<%= it.url(e.orderId) %>">Replay…</a></p><% } %>
</section>
<% } %>
<% if (it.h.heldTotal > it.h.pageSize) { %>
<p class="pages">Page <%= it.h.page %> of <%= Math.ceil(it.h.heldTotal / it.h.pageSize) %>.
<% if (it.h.page > 1) { %><a href="<%= it.base %>/held?page=<%= it.h.page - 1 %>">Newer</a><% } %>
<% if (it.h.page * it.h.pageSize < it.h.heldTotal) { %><a href="<%= it.base %>/held?page=<%= it.h.page + 1 %>">Older</a><% } %></p>
<% } %>
<h2>Orders waiting for the store (<%= it.h.waiting.length %>)</h2>
<% if (it.h.waiting.length === 0) { %><p>No order is waiting.</p><% } %>
<% for (const e of it.h.waiting) { %>
<section class="held">
<h3><a href="<%= it.base %>/orders/<%= it.url(e.orderId) %>">Order <%= e.orderId %></a></h3>
<p class="muted">Waiting since <time><%= e.since %></time></p>
<%~ include('@reasons', { reasons: e.reasons }) %>
</section>
<% } %>
<h2>Failed deliveries</h2>
<% if (it.h.failedDeliveries.length === 0) { %><p>No delivery has failed.</p><% } %>
<% for (const d of it.h.failedDeliveries) { %>
<section class="held">
<h3><%= d.recipient %>: <a href="<%= it.base %>/orders/<%= it.url(d.orderId) %>">order <%= d.orderId %></a> <span class="muted"><%= d.deliveryId %></span></h3>
<p class="muted"><% if (d.failedAt) { %>Failed <time><%= d.failedAt %></time><% } %> after <%= d.attempts %> attempt<%= d.attempts === 1 ? '' : 's' %></p>
<%~ include('@reasons', { reasons: [d.reason] }) %>
<% if (it.canReplay) { %><p><a class="button" href="<%= it.base %>/replay?delivery=<%= it.url(d.deliveryId) %>">Replay…</a></p><% } %>
</section>
<% } %>
<% for (const q of it.h.failedTotals) { if (q.total > it.h.pageSize) { %><p class="muted"><%= q.queue %>: the newest <%= it.h.pageSize %> of <%= q.total %> failed deliveries are shown.</p><% } } %>
<h2>Failed fulfillments (<%= it.h.failedFulfillmentsTotal %>)</h2>
<% if (it.h.failedFulfillments.length === 0) { %><p>No fulfillment has failed.</p><% } %>
<% for (const f of it.h.failedFulfillments) { %>
<section class="held">
<h3>The store: <a href="<%= it.base %>/orders/<%= it.url(f.orderId) %>">order <%= f.orderId %></a>, shipment <%= f.shipmentId %> <span class="muted"><%= f.fulfillmentId %></span></h3>
<p class="muted"><% if (f.failedAt) { %>Failed <time><%= f.failedAt %></time><% } %> after <%= f.attempts %> attempt<%= f.attempts === 1 ? '' : 's' %></p>
<%~ include('@reasons', { reasons: [f.reason] }) %>
<% if (it.canReplay) { %><p><a class="button" href="<%= it.base %>/replay?fulfillment=<%= it.url(f.fulfillmentId) %>">Replay…</a></p><% } %>
</section>
<% } %>
<% if (it.h.failedFulfillmentsTotal > it.h.failedFulfillments.length) { %><p class="muted">The newest <%= it.h.failedFulfillments.length %> of <%= it.h.failedFulfillmentsTotal %> failed fulfillments are shown (dropship replay --fulfillments replays them all).</p><% } %>
`;

export const SUPPLIERS = `<% layout('@layout', it) %>
<h1>Suppliers and carriers</h1>
<table>
<thead><tr><th>Recipient</th><th>Transport</th><th>Last delivery</th><th>Failed</th><th>Pending</th><th>PGP key</th><th>Confirmations</th></tr></thead>
<tbody>
<% for (const r of it.recipients) { %>
<tr>
  <td><%= r.recipient %> <span class="muted">(<%= r.kind === 'carrier' ? 'carrier' : 'supplier' %>)</span></td>
  <td><%= r.transport %></td>
  <td><% if (r.lastDeliveryAt) { %><time><%= r.lastDeliveryAt %></time><% } else { %>none yet<% } %></td>
  <td class="<%= r.failures > 0 ? 'bad' : '' %>"><%= r.failures %></td>
  <td><%= r.pending %></td>
  <td><% if (r.keyProblem) { %><span class="bad">unusable: <%= r.keyProblem %></span><% } else if (r.key) { %><% if (r.key.expiresAt) { %>expires <time><%= r.key.expiresAt %></time> (<span class="<%= r.key.daysUntilExpiry !== null && r.key.daysUntilExpiry <= it.warnDays ? 'bad' : '' %>"><%= r.key.daysUntilExpiry %> days</span>)<% } else { %>never expires<% } %><% } else { %>—<% } %></td>
  <td><% if (!r.confirmations) { %><span class="muted"><%= r.kind === 'carrier' ? '—' : 'not configured' %></span><% } else { const c = r.confirmations; %><%= c.awaiting %> awaiting<% if (c.oldestSentAt) { %>, oldest sent <time><%= c.oldestSentAt %></time><% } %><% if (c.overdue > 0) { %><br><span class="bad"><%= c.overdue %> overdue (over <%= Math.round(c.expectWithinMs / 3600000) %> h): <% for (const o of c.overdueOrders) { %><a href="<%= it.base %>/orders/<%= it.url(o) %>"><%= o %></a> <% } %></span><% } %><% for (const [what, orders, total] of [['rejected', c.rejected, c.rejectedTotal], ['backordered', c.backordered, c.backorderedTotal]]) { if (orders.length > 0) { %><br><span class="bad"><%= what %>: <% for (const o of orders) { %><a href="<%= it.base %>/orders/<%= it.url(o) %>"><%= o %></a> <% } %><% if (total > orders.length) { %>and <%= total - orders.length %> more<% } %></span><% } } %><% const handled = it.handledCommand(c); if (handled) { %><br><span class="muted">once handled: <code><%= handled %></code></span><% } %><% if (c.failedFilesTotal > 0) { %><br><span class="bad"><%= c.failedFilesTotal %> confirmation file<%= c.failedFilesTotal === 1 ? '' : 's' %> not taken; latest: <%= c.failedFiles[0].file %> (<%= c.failedFiles[0].kind === 'unreadable' ? 'unreadable, in failed/' : 'left for the next run' %>): <%= c.failedFiles[0].problems.slice(0, 2).join('; ') %></span><% } %><% } %></td>
</tr>
<% } %>
</tbody>
</table>
<h2>Labels possibly bought twice</h2>
<% if (it.labels.length === 0) { %><p>None: every label was bought with an answer.</p><% } else { %>
<p>An attempt to buy these labels ended without an answer, and the carrier could not be asked about it before the label was bought again; it may have sold a second one. Check the carrier account around the time of the lost attempt and void the extra label, then acknowledge it (dropship labels --ack).</p>
<table>
<thead><tr><th>Order</th><th>Shipment</th><th>Carrier</th><th>Lost attempt</th><th>Bought</th><th>Why the carrier was not asked</th></tr></thead>
<tbody>
<% for (const l of it.labels) { %>
<tr><td><a href="<%= it.base %>/orders/<%= it.url(l.orderId) %>"><%= l.orderId %></a></td><td><%= l.shipmentId %></td><td><%= l.carrier %></td><td><time><%= l.lostAttemptAt %></time></td><td><time><%= l.at %></time></td><td><%= l.reason ?? '' %></td></tr>
<% } %>
</tbody>
</table>
<% } %>
`;

export const CONFIRM = `<% layout('@layout', it) %>
<h1>Replay <%= it.what %> <%= it.id %>?</h1>
<% if (it.reasons.length > 0) { %><h2>Why it is not through</h2><%~ include('@reasons', { reasons: it.reasons }) %><% } %>
<p><%= it.explain %></p>
<form method="post" action="<%= it.base %>/replay">
  <input type="hidden" name="<%= it.field %>" value="<%= it.id %>">
  <button type="submit">Replay <%= it.what %> <%= it.id %></button>
  <a href="<%= it.back %>">Cancel</a>
</form>
`;

export const RESULT = `<% layout('@layout', it) %>
<h1><%= it.heading %></h1>
<p class="<%= it.ok ? 'notice' : 'bad' %>"><%= it.message %></p>
<p><a href="<%= it.back %>">Back to order <%= it.orderId %></a> · <a href="<%= it.base %>/held">Held and failed</a></p>
`;

export const MESSAGE = `<% layout('@layout', it) %>
<h1><%= it.heading %></h1>
<p class="bad"><%= it.message %></p>
`;

export const TEMPLATES: Record<string, string> = {
  '@layout': LAYOUT,
  '@reasons': REASONS,
  '@search': SEARCH,
  '@order': ORDER,
  '@held': HELD,
  '@suppliers': SUPPLIERS,
  '@confirm': CONFIRM,
  '@result': RESULT,
  '@message': MESSAGE,
};

/** The console's one stylesheet, served by the plugin (style-src 'self'; no inline style). */
export const STYLE = `:root { color-scheme: light; --fg: #1d2330; --muted: #5d6678; --line: #d9dee8; --bad: #a4161a; --ok: #1b6e3a; --accent: #24528f; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #f6f7f9; }
header { display: flex; gap: 2rem; align-items: baseline; padding: .8rem 1.5rem; background: #1d2330; }
header a { color: #e8ecf3; text-decoration: none; }
header .brand { font-weight: 700; }
header nav { display: flex; gap: 1.2rem; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem 1.5rem 2rem; }
footer { max-width: 1200px; margin: 0 auto; padding: 0 1.5rem 2rem; color: var(--muted); font-size: .85rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 1.6rem; } h3 { font-size: 1rem; margin: .2rem 0; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f6; font-weight: 600; }
.fields { font-family: ui-monospace, monospace; font-size: .8rem; }
.hash, .code { font-family: ui-monospace, monospace; font-size: .8rem; color: var(--muted); }
.muted { color: var(--muted); }
.bad, .stage-failed, .stage-held, span.stage-fulfillment-failed, li.stage-fulfillment-failed > strong, .stage-rejected, .stage-backordered { color: var(--bad); }
.stage-sent, .stage-planned { color: var(--ok); }
.reason { border-left: 3px solid var(--bad); padding: .1rem .8rem; margin: .4rem 0; background: #fff; }
.reason p { margin: .3rem 0; }
.action { color: var(--accent); }
.held, .shipment, .unmasked { background: #fff; border: 1px solid var(--line); padding: .6rem 1rem; margin: .6rem 0; }
.notice { background: #fff8e1; border: 1px solid #f0d98c; padding: .6rem 1rem; }
.search { display: flex; gap: .6rem; align-items: center; }
input { font: inherit; padding: .35rem .5rem; min-width: 18rem; }
button, .button { font: inherit; padding: .35rem .9rem; background: var(--accent); color: #fff; border: 0; border-radius: 4px; text-decoration: none; cursor: pointer; display: inline-block; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dt { color: var(--muted); }
`;
