import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CATALOGUE } from '../../src/errors';
import type { PipelineHarness } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { type ConsoleServer, fixedConfig, noDefaultMethodConfig, PASSWORD, PERSONAL, seedOrders, serveConsole, startHarness, trackingNumberOf, USER } from '../console/support';
import { launchChromium, onlyOrigin, screenshotPath } from './support/browser';

/**
 * The operator console as an operator uses it, in Debian's Chromium (headless, driven by
 * playwright-core): a real redis-server; the real pipeline planned and sent order 1001 and
 * held order 1002 (its shipping method, pigeon-post, maps to no carrier); the operator then
 * added the method to the configuration and restarted the workers. Signed in, they find order
 * 1001, read its timeline, open the held list, replay 1002 and see it planned. Assertions
 * are on the text a person reads; each page is written to .ci/out/screenshots/.
 */

let redis: TestRedis | undefined;
let harness: PipelineHarness | undefined;
let server: ConsoleServer | undefined;
let browser: Browser | undefined;
let context: BrowserContext | undefined;
let refused: string[] = [];
let origin = '';

beforeAll(async () => {
  browser = await launchChromium();
  redis = await TestRedis.start();
  // The day's work, by workers running the configuration without pigeon-post…
  const before = await startHarness(noDefaultMethodConfig(), redis.url, 'e2e-console');
  try {
    await seedOrders(before);
  } finally {
    await before.stop();
  }
  // …then the fix: the method added, the workers restarted with it.
  harness = await startHarness(fixedConfig(), redis.url, 'e2e-console');
  server = await serveConsole(harness, fixedConfig());
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const address = server.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the API is not on a TCP port');
  origin = `http://127.0.0.1:${address.port}`;
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, httpCredentials: { username: USER, password: PASSWORD } });
  context.setDefaultTimeout(8_000);
  refused = await onlyOrigin(context, origin);
}, 60_000);

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close();
  await server?.close();
  await harness?.stop();
  await redis?.stop();
});

/** What a person reads on the page, spaces collapsed. */
const visible = async (page: Page) => (await page.locator('body').innerText()).replace(/\s+/g, ' ');

async function noPersonalData(page: Page): Promise<void> {
  const html = await page.content();
  const text = await visible(page);
  for (const value of PERSONAL) expect([page.url(), value, html.includes(value) || text.includes(value)]).toEqual([page.url(), value, false]);
}

describe('the operator console in Chromium', () => {
  it('signs in, finds an order, reads its timeline, opens the held list, replays the held order and sees it planned', async () => {
    if (!context) throw new Error('no browser context');
    const page = await context.newPage();

    // Find an order.
    const res = await page.goto(`${origin}/console`);
    expect(res?.status()).toBe(200);
    expect(await visible(page)).toContain('Find an order Order id Find');
    // The stylesheet applies under the CSP (no inline style, nothing from elsewhere).
    expect(await page.locator('header').evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor)).toBe('rgb(29, 35, 48)');
    await page.getByLabel('Order id').fill('9999');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByText('No order 9999 is known.').waitFor();
    await page.getByLabel('Order id').fill('1001');
    await page.screenshot({ path: screenshotPath('console-search.png'), fullPage: true });
    await page.getByRole('button', { name: 'Find' }).click();
    await page.waitForURL(`${origin}/console/orders/1001`);

    // Its timeline: each shipment, who got what, how, when, and the tracking numbers.
    const order = await visible(page);
    expect(order).toContain('Order 1001 Stage: planned');
    expect(order).toMatch(new RegExp(`Shipment 1001\\+creamery .*ups \\(carrier\\) recording ups-ship sent \\S+ ${trackingNumberOf('1001+creamery+carrier')}`));
    expect(order).toMatch(/creamery \(supplier\) recording csv sent \S+ — lines\.name, lines\.quantity, lines\.sku, order\.id, shipTo\.city/);
    expect(order).toMatch(/Shipment 1001\+oliveco .*oliveco \(supplier\) recording json sent/);
    expect(order).toMatch(/Disclosures When To Transport Format Fields Payload sha256 \S+ \w+ recording/);
    await page.screenshot({ path: screenshotPath('console-order.png'), fullPage: true });
    await noPersonalData(page);

    // The held list: order 1002 with its reason and what to do.
    await page.getByRole('link', { name: 'Held and failed' }).click();
    await page.waitForURL(`${origin}/console/held`);
    const held = await visible(page);
    expect(held).toContain('Orders held or failed (1) Order 1002');
    expect(held).toContain(CATALOGUE.UNKNOWN_SHIPPING_METHOD.message);
    expect(held).toContain(`What to do: ${CATALOGUE.UNKNOWN_SHIPPING_METHOD.action}`);
    expect(held).toContain('Failed deliveries No delivery has failed.');
    await page.screenshot({ path: screenshotPath('console-held.png'), fullPage: true });
    await noPersonalData(page);

    // Replay it, after the confirmation.
    await page.getByRole('link', { name: 'Replay…' }).click();
    await page.waitForURL(`${origin}/console/replay?order=1002`);
    const confirm = await visible(page);
    expect(confirm).toContain('Replay order 1002?');
    expect(confirm).toContain('Why it is not through');
    await page.screenshot({ path: screenshotPath('console-replay-confirm.png'), fullPage: true });
    await page.getByRole('button', { name: 'Replay order 1002' }).click();
    await page.getByRole('heading', { name: 'Replayed' }).waitFor();
    expect(await visible(page)).toContain('Order 1002 is queued again to be planned.');
    await page.screenshot({ path: screenshotPath('console-replay-result.png'), fullPage: true });

    // The workers plan it with the fixed configuration: its page shows it planned, then sent.
    await page.getByRole('link', { name: 'Back to order 1002' }).click();
    await page.waitForURL(`${origin}/console/orders/1002`);
    const deadline = Date.now() + 15_000;
    while (!/Stage: planned[\s\S]*ups \(carrier\) recording ups-ship sent/.test(await visible(page)) && Date.now() < deadline) {
      await page.waitForTimeout(200);
      await page.reload();
    }
    const replayed = await visible(page);
    expect(replayed).toContain('Order 1002 Stage: planned');
    expect(replayed).not.toContain('Why it is held');
    expect(replayed).toMatch(new RegExp(`ups \\(carrier\\) recording ups-ship sent \\S+ ${trackingNumberOf('1002+warehouse+carrier')}`));
    await page.screenshot({ path: screenshotPath('console-order-replayed.png'), fullPage: true });

    // Nothing held any more.
    await page.getByRole('link', { name: 'Held and failed' }).click();
    expect(await visible(page)).toContain('Orders held or failed (0) No order is held.');

    // Suppliers and carriers.
    await page.getByRole('link', { name: 'Suppliers and carriers' }).click();
    await page.waitForURL(`${origin}/console/suppliers`);
    const suppliers = await visible(page);
    expect(suppliers).toMatch(/creamery \(supplier\) outbox \d{4}-\S+ 0 0 — not configured/);
    expect(suppliers).toContain('Labels possibly bought twice None');
    await page.screenshot({ path: screenshotPath('console-suppliers.png'), fullPage: true });
    await noPersonalData(page);

    // The browser asked nothing of anyone else.
    expect(refused).toEqual([]);
  }, 60_000);
});
