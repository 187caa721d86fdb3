import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { RedisClient as Redis } from '../../src/queue/redis';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { buildApi } from '../../src/api/server';
import { createRedis } from '../../src/queue/redis';
import { orderPayload } from '../support/orders';
import { TestRedis } from '../support/redis';
import { artifactPath, launchChromium, onlyOrigin } from './support/browser';
import { type Counted, type SeededQueues, seedQueues } from './support/seed';

/**
 * The queue dashboard as an operator uses it: a real redis-server holding the pipeline's
 * queues with a day's worth of jobs, the API serving the dashboard on a real port, and
 * Debian's Chromium, headless, driven by playwright-core. Screenshots go to .ci/out/artifacts/.
 */

const USER = 'ops';
const PASSWORD = 'correct horse battery';
const PREFIX = 'e2e';
const BASE = '/admin/queues';

/** What the fixture orders carry that the dashboard must never show (it masks job data). */
const fixture = orderPayload();
const PERSONAL = [fixture.customer?.name, fixture.customer?.email, fixture.customer?.phone, fixture.shipTo?.line1, fixture.shipTo?.company, fixture.billTo?.line1].filter(
  (s): s is string => typeof s === 'string' && s.length > 0,
);

let redis: TestRedis | undefined;
let connection: Redis | undefined;
let seeded: SeededQueues | undefined;
let browser: Browser | undefined;
const apps: FastifyInstance[] = [];
const contexts: BrowserContext[] = [];
/** Per page, the requests it tried to send anywhere but the dashboard's origin (all refused). */
const outside = new Map<Page, string[]>();
let origin = '';
let readOnlyOrigin = '';

function queues(): SeededQueues {
  if (!seeded) throw new Error('the queues were not seeded');
  return seeded;
}

function queueNamed(name: string): Queue {
  const q = queues().queues.find((x) => x.name === name);
  if (!q) throw new Error(`no queue ${name}`);
  return q;
}

/** The API with the dashboard, listening on 127.0.0.1 and a port the OS picks. */
async function serve(readOnly: boolean): Promise<string> {
  const app = buildApi({ ready: async () => undefined, dashboard: { queues: queues().queues, auth: { user: USER, password: PASSWORD }, readOnly } });
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the API is not on a TCP port');
  return `http://127.0.0.1:${address.port}`;
}

/** A fresh browser context (no cookies, no cached credentials) that reaches only `at`. */
async function newPage(at: string, credentials?: { username: string; password: string }): Promise<Page> {
  if (!browser) throw new Error('Chromium did not start');
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, ...(credentials ? { httpCredentials: credentials } : {}) });
  contexts.push(context);
  context.setDefaultTimeout(8_000);
  const refused = await onlyOrigin(context, at);
  const page = await context.newPage();
  outside.set(page, refused);
  return page;
}

const signedIn = (at: string) => newPage(at, { username: USER, password: PASSWORD });

/** Bodies of the dashboard API responses the page receives (what reached the browser). */
function recordApiBodies(page: Page): Array<Promise<string>> {
  const bodies: Array<Promise<string>> = [];
  page.on('response', (res: Response) => {
    if (res.url().includes(`${BASE}/api/`)) bodies.push(res.text().catch(() => ''));
  });
  return bodies;
}

/** No piece of personal data anywhere in the page (rendered DOM and its text) or in what it fetched. */
async function expectNoPersonalData(page: Page, received: Array<Promise<string>>): Promise<void> {
  expect(PERSONAL).toHaveLength(6);
  const apiBodies = await Promise.all(received);
  expect(apiBodies.some((b) => b.includes('"jobs"'))).toBe(true);
  const html = await page.content();
  const text = await page.locator('body').innerText();
  for (const value of PERSONAL) {
    expect([value, html.includes(value)]).toEqual([value, false]);
    expect([value, text.includes(value)]).toEqual([value, false]);
    expect([value, apiBodies.some((b) => b.includes(value))]).toEqual([value, false]);
  }
}

const STATUSES: Counted[] = ['waiting', 'active', 'delayed', 'completed', 'failed'];
const total = (c: Record<Counted, number>) => STATUSES.reduce((n, s) => n + c[s], 0);
const capitalised = (s: string) => s[0]!.toUpperCase() + s.slice(1);

beforeAll(async () => {
  // The browser first: without Chromium the suite fails at once, saying how to install it.
  browser = await launchChromium();
  redis = await TestRedis.start();
  connection = createRedis(redis.url);
  seeded = await seedQueues(redis.url, PREFIX, connection);
  origin = await serve(false);
  readOnlyOrigin = await serve(true);
}, 30_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  for (const app of apps) await app.close();
  for (const q of seeded?.queues ?? []) await q.close();
  connection?.disconnect();
  await redis?.stop();
});

describe('the queue dashboard in Chromium', () => {
  it('answers 401 to a browser without credentials or with wrong ones, and shows nothing', async () => {
    // Headless, nobody answers the sign-in prompt: Chromium receives the 401 and then gives up
    // on the page (net::ERR_INVALID_AUTH_CREDENTIALS), where a person would see a password dialog.
    const visit = async (page: Page, path: string) => {
      const [res, navigation] = await Promise.all([
        page.waitForResponse((r) => r.url() === `${origin}${path}`),
        page.goto(`${origin}${path}`).then(
          () => 'shown',
          (err: Error) => err.message,
        ),
      ]);
      return { status: res.status(), challenge: res.headers()['www-authenticate'], navigation, body: await res.text() };
    };
    const anonymous = await newPage(origin);
    for (const path of [BASE, `${BASE}/api/queues`, `${BASE}/queue/po-creamery?status=failed`]) {
      const seen = await visit(anonymous, path);
      expect([path, seen.status]).toEqual([path, 401]);
      expect(seen.challenge).toMatch(/^Basic realm="dropship dashboard"/);
      expect(seen.navigation).toContain('ERR_INVALID_AUTH_CREDENTIALS');
      expect(seen.body).not.toContain('po-creamery');
    }
    expect(await anonymous.content()).not.toContain('po-creamery');

    const wrong = await newPage(origin, { username: USER, password: 'not the password' });
    const seen = await visit(wrong, BASE);
    // Playwright answers the challenge once; refused, Chromium shows the 401 body (no board).
    expect(seen.status).toBe(401);
    expect(seen.navigation).toBe('shown');
    expect(await wrong.locator('body').innerText()).toContain('Unauthorized');
    expect(await wrong.content()).not.toContain('po-creamery');
  });

  it('after signing in, lists every queue of the pipeline with its job counts', async () => {
    const page = await signedIn(origin);
    const res = await page.goto(`${origin}${BASE}`);
    expect(res?.status()).toBe(200);
    const counts = queues().counts;
    const names = Object.keys(counts);

    // The sidebar names every queue.
    const sidebar = page.locator('#bull-board-sidebar nav');
    for (const name of names) await sidebar.getByRole('link', { name, exact: true }).waitFor();
    expect((await sidebar.getByRole('link').allInnerTexts()).sort()).toEqual([...names].sort());

    // The status tabs count every queue's jobs together.
    for (const status of STATUSES) {
      const sum = names.reduce((n, name) => n + counts[name]![status], 0);
      const tab = page.locator('main').getByRole('link', { name: new RegExp(`^${status}( \\d+)?$`, 'i') }).first();
      expect([status, (await tab.innerText()).replace(/\s+/g, ' ').trim()]).toEqual([status, sum > 0 ? `${status.toUpperCase()} ${sum}` : status.toUpperCase()]);
    }

    // One card per queue: its total, and per state (the breakdown pops up over the card's bar).
    for (const name of names) {
      const card = page.locator('main li').filter({ has: page.getByRole('link', { name, exact: true }) });
      const n = total(counts[name]!);
      await card.getByText(n === 1 ? '1 Job' : `${n} Jobs`, { exact: true }).waitFor();
      if (counts[name]!.failed > 0) await card.getByRole('link', { name: `Failed ${counts[name]!.failed}` }).waitFor();
      if (n === 0) continue;
      await card.getByRole('button', { name: `${n} Jobs` }).hover();
      // The pop-up is rendered outside <main>, after the app's root.
      const popup = page.locator('body > :not(#root)');
      const shown: Record<string, number> = {};
      for (const status of STATUSES.filter((s) => counts[name]![s] > 0)) {
        const link = popup.locator(`a[href="${BASE}/queue/${name}?status=${status}"]`);
        expect((await link.innerText()).replace(/\s+/g, ' ').trim()).toMatch(new RegExp(`^${capitalised(status)} \\d+$`));
        shown[status] = Number((await link.innerText()).replace(/\D+/g, ''));
      }
      expect([name, shown]).toEqual([name, Object.fromEntries(STATUSES.filter((s) => counts[name]![s] > 0).map((s) => [s, counts[name]![s]]))]);
      await page.mouse.move(0, 0);
    }
    await page.screenshot({ path: artifactPath('dashboard-overview.png'), animations: 'disabled' });

    // The Content-Security-Policy keeps the browser from asking anyone else (bull-board's
    // page would fetch a font from Google).
    expect(outside.get(page)).toEqual([]);
  });

  it("opens the supplier's rejected purchase order and shows its data masked", async () => {
    const { rejected } = queues();
    const page = await signedIn(origin);
    const apiBodies = recordApiBodies(page);
    await page.goto(`${origin}${BASE}`);

    // Overview → the failed count of po-creamery → the failed job → its own page.
    await page.locator('main li').filter({ has: page.getByRole('link', { name: 'po-creamery', exact: true }) }).getByRole('link', { name: /^Failed 1$/ }).click();
    await page.waitForURL(`${origin}${BASE}/queue/po-creamery?status=failed`);
    await page.getByRole('link', { name: rejected.deliveryId, exact: true }).click();
    await page.waitForURL(`${origin}${BASE}/queue/po-creamery/${encodeURIComponent(rejected.deliveryId)}?status=failed`);

    // Why it failed, then what it carries: ids, recipient and field names, never the address.
    await page.getByRole('tab', { name: 'Error', selected: true }).waitFor();
    await page.getByRole('tabpanel').getByText('The receiver refused the payload (EREJECTED). creamery answered HTTP 400', { exact: false }).waitFor();
    await page.getByRole('tab', { name: 'Data' }).click();
    const data = page.getByRole('tabpanel', { name: 'Data' });
    await data.getByText(`"${rejected.deliveryId}"`).first().waitFor();
    await page.getByRole('tab', { name: 'Data', selected: true }).waitFor();
    const shown = await data.innerText();
    expect(shown).toContain('"creamery"');
    expect(shown).toContain('"shipTo.line1"'); // the names of the disclosed fields
    // The payload (and the view its label completes) is ciphertext, as it is in Redis.
    expect(shown).toMatch(/sealed:\s*"dsk1\.[0-9a-f]{8}\./);
    expect(shown).toContain('AES-256-GCM ciphertext; set DASHBOARD_UNMASK=true');
    expect(shown).not.toMatch(/awaitsLabel|body:/);
    await page.screenshot({ path: artifactPath('dashboard-failed-job.png'), animations: 'disabled' });
    await expectNoPersonalData(page, apiBodies);

    // An order job (the whole order: customer, ship-to) shows as its id and ciphertext.
    await page.goto(`${origin}${BASE}/queue/orders?status=waiting`);
    await page.getByRole('link', { name: 'order+8003', exact: true }).waitFor();
    await page.getByRole('tab', { name: 'Data' }).click();
    await page.getByRole('tabpanel', { name: 'Data' }).getByText('AES-256-GCM ciphertext', { exact: false }).waitFor();
    await expectNoPersonalData(page, apiBodies);
  });

  it('shows the rejected purchase order read-only: its reason in words, no stack trace, no button the server refuses', async () => {
    // The board offered clean, remove and edit buttons that the server then refused with 403:
    // every queue is read-only now, and replay is the operator console's one action.
    const { rejected } = queues();
    const queue = queueNamed('po-creamery');
    const page = await signedIn(origin);
    await page.goto(`${origin}${BASE}/queue/po-creamery/${encodeURIComponent(rejected.deliveryId)}?status=failed`);
    await page.getByRole('tab', { name: 'Error', selected: true }).waitFor();
    const error = await page.getByRole('tabpanel').innerText();
    expect(error).toContain('The receiver refused the payload (EREJECTED). creamery answered HTTP 400 (unknown SKU)');
    expect(error).toContain("What to do: Read the receiver's answer in the detail");
    expect(error).not.toMatch(/\bat .*\.(ts|js):\d+/);
    const main = page.locator('main');
    expect(await main.locator('button:has(svg.lucide-refresh-cw), button:has(svg.lucide-trash-2), button:has(svg.lucide-pencil), button:has(svg.lucide-copy)').count()).toBe(0);
    expect(await main.getByRole('button', { name: /Retry all|Clean all|Promote all|Add job|Empty|Obliterate|Pause/ }).count()).toBe(0);
    await page.screenshot({ path: artifactPath('dashboard-failed-job-read-only.png'), animations: 'disabled' });
    await page.goto(`${origin}${BASE}/queue/po-creamery?status=failed`);
    await page.getByRole('link', { name: rejected.deliveryId, exact: true }).waitFor();
    expect(await main.getByRole('button', { name: /Retry all|Clean all/ }).count()).toBe(0);
    expect(await (await queue.getJob(rejected.deliveryId))?.getState()).toBe('failed');
  });

  it('in read-only mode shows no retry action and refuses one sent from the page', async () => {
    const { rejectedToo } = queues();
    const queue = queueNamed('po-oliveco');
    const page = await signedIn(readOnlyOrigin);
    await page.goto(`${readOnlyOrigin}${BASE}/queue/po-oliveco?status=failed`);
    await page.getByRole('link', { name: rejectedToo.deliveryId, exact: true }).waitFor();
    await page.getByRole('tab', { name: 'Error', selected: true }).waitFor();

    const main = page.locator('main');
    expect(await main.getByRole('button', { name: /Retry all|Clean all/ }).count()).toBe(0);
    expect(await main.locator('button:has(svg.lucide-refresh-cw), button:has(svg.lucide-trash-2), button:has(svg.lucide-pencil)').count()).toBe(0);
    await page.getByRole('link', { name: rejectedToo.deliveryId, exact: true }).click();
    await page.waitForURL(`${readOnlyOrigin}${BASE}/queue/po-oliveco/${encodeURIComponent(rejectedToo.deliveryId)}?status=failed`);
    await page.getByRole('tab', { name: 'Error', selected: true }).waitFor();
    expect(await main.locator('button:has(svg.lucide-refresh-cw)').count()).toBe(0);
    await page.screenshot({ path: artifactPath('dashboard-read-only.png'), animations: 'disabled' });

    // The button is gone, and the request it would send is refused too: sent from the page
    // itself (same origin, so not the CSRF check), the board refuses it as read-only.
    const refusal = await page.evaluate(async (url) => {
      const res = await fetch(url, { method: 'PUT' });
      return { status: res.status, body: await res.text() };
    }, `${BASE}/api/queues/po-oliveco/${encodeURIComponent(rejectedToo.deliveryId)}/retry`);
    expect([403, 405]).toContain(refusal.status);
    expect(refusal.body).not.toContain('ECSRF');
    expect(await (await queue.getJob(rejectedToo.deliveryId))?.getState()).toBe('failed');
  });
});
