import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { cardLikeNumbers } from '../support/card-scan';
import { waitFor } from '../support/wait';

/**
 * `npm run demo` as a user runs it: the real pipeline against local receivers, checked by
 * what it prints, and by what it leaves behind (nothing).
 */

jest.setTimeout(90_000);

const ROOT = path.resolve(__dirname, '..', '..');

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts the demo with `env` added to this environment; stdout and stderr are collected together. */
function startDemo(command: string, args: string[], env: Record<string, string>): Run {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', DEMO_ORDERS: '3', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

/** The section of the report about one recipient: its header line up to the next one. */
function section(output: string, recipient: string): string {
  const start = output.indexOf(`\n  ${recipient}: `);
  if (start < 0) throw new Error(`no section for ${recipient} in:\n${output}`);
  const rest = output.slice(start + 1);
  const next = rest.slice(1).search(/\n {2}[a-z-]+: |\n\n/);
  return next < 0 ? rest : rest.slice(0, next + 1);
}

const portOf = (output: string, pattern: RegExp): number => Number(pattern.exec(output)?.[1]);

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** Everything the demo started is gone: its temp dirs, and nothing listens on its servers' ports. */
async function expectCleanedUp(output: string): Promise<void> {
  const dir = /Stopped\. Removed (\S+) /.exec(output)?.[1];
  expect(dir).toMatch(/dropship-demo-/);
  expect(existsSync(dir as string)).toBe(false);
  const sftpDrop = /Payloads {3}(\S+) \(SFTP drop\)/.exec(output)?.[1];
  if (sftpDrop !== undefined) expect(existsSync(sftpDrop)).toBe(false);
  const ports = [
    portOf(output, /redis-server on redis:\/\/127\.0\.0\.1:(\d+)/),
    portOf(output, /OpenSSH sshd on 127\.0\.0\.1:(\d+)/),
    portOf(output, /SMTP server on 127\.0\.0\.1:(\d+)/),
    portOf(output, /HTTPS server on https:\/\/127\.0\.0\.1:(\d+)/),
    portOf(output, /api {11}http:\/\/127\.0\.0\.1:(\d+)/),
  ].filter((p) => p > 0);
  expect(ports.length).toBeGreaterThanOrEqual(4);
  for (const port of ports) expect(await refused(port)).toBe(true);
}

describe('npm run demo', () => {
  it('sends the example and generated orders to every local receiver and shows what each got, decrypted and verified', async () => {
    const run = startDemo('npm', ['run', '--silent', 'demo'], { DEMO_EXIT_AFTER_DELIVERY: '1' });
    const code = await run.exited;
    const output = run.output();
    expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining('Every delivery landed and every check passed.') });

    // The three examples, each an order of its own, and three generated orders.
    expect(output).toMatch(/canonical-order\.json +POST \/orders +202 order 1001: 6 deliveries/);
    expect(output).toMatch(/shopify-orders-create\.json +POST \/webhooks\/shopify +202 order 1002: 3 deliveries/);
    expect(output).not.toContain('a duplicate');
    expect(output).toMatch(/woocommerce-order-created\.json +POST \/webhooks\/woocommerce +202 order 727: 1 delivery/);
    expect(output).toMatch(/3 generated orders +POST \/orders +202: D1001 … D1003/);
    const [, landed, total] = /\] (\d+)\/(\d+) deliveries landed/.exec(output) ?? [];
    expect(landed).toBe(total);

    const sftp = section(output, 'vermont-creamery');
    expect(sftp).toMatch(/SFTP to OpenSSH sshd 127\.0\.0\.1:\d+, host key SHA256:\S+ pinned/);
    expect(sftp).toMatch(/✓ \d+ files in inbound\/orders\/, read back over SFTP/);
    expect(sftp).toContain('✓ 0 partial uploads left behind');
    expect(sftp).toContain('1001,Ada Example,12 Sample Street,Apt 4,Portland,OR,97205,US,VC-CHEVRE,Chèvre log,1,ups,03,1Z');

    const email = section(output, 'alpine-chocolatier');
    const [, messages, overTls] = /✓ (\d+) messages, (\d+) of them sent over STARTTLS/.exec(email) ?? [];
    expect(Number(messages)).toBeGreaterThan(0);
    expect(overTls).toBe(messages);
    expect(email).toContain(`✓ ${messages} decrypted with the supplier's private key`);
    expect(email).toContain(`✓ ${messages} signatures verified against the store's key`);
    expect(email).toContain('"Purchase order 1001", attachment 1001-alpine-chocolatier.json');
    expect(email).toContain('"giftMessage":"Happy birthday, Sam!"');

    const https = section(output, 'olive-grove');
    const [, requests] = /✓ (\d+) requests accepted/.exec(https) ?? [];
    expect(https).toContain(`✓ ${requests} Standard Webhooks signatures verified`);
    expect(https).toContain(`✓ ${requests} distinct Idempotency-Keys`);
    expect(https).toContain('Idempotency-Key 1001+olive-grove+po');
    expect(https).toContain('"lines": [{"sku":"OLV-EVOO","quantity":1}]');

    expect(section(output, 'ups')).toMatch(/✓ \d+ shipments created\n {4}✓ 1 OAuth token issued/);
    expect(section(output, 'fedex')).toMatch(/✓ \d+ shipments created\n {4}✓ 1 OAuth token issued/);
    expect(output).not.toContain('✗');

    // The loop closes: the creamery's CSV on its SFTP server and the olive grove's POST are
    // taken, and the Shopify store is told of every shipment of its order, once.
    expect(output).toMatch(/vermont-creamery +POST \/suppliers\/vermont-creamery\/acknowledgements 202/);
    expect(output).toMatch(/olive-grove +POST \/suppliers\/olive-grove\/shipments +202/);
    expect(output).toContain('✓ picked up and moved to outbound/confirmations/processed/');
    expect(output).toContain('✓ Shopify order 5800000000001 is fulfilled: 3 fulfillments, nothing left, every request valid against the Admin schema');
    expect(output).toMatch(/shipment 1002\+vermont-creamery: fulfilled\n(?: {4}.*\n)*? {4}shipped \S+ by vermont-creamery: UPS 1Z999AA10123456784 \(3 units, sftp, ref shipments-1002\.csv#row 3\)/);
    expect(output).toMatch(/shipment 1002\+warehouse: fulfilled/);
    // The EDI supplier got its X12 850 over SFTP and answered with an X12 856 in its folder.
    expect(section(output, 'hudson-charcuterie')).toMatch(/BEG\*00\*DS\*D1002\*\*/);
    expect(output).toContain('✓ picked up and moved to edi/outbound/processed/');
    expect(output).toMatch(/shipment D1002\+hudson-charcuterie: shipped\n(?: {4}.*\n)*? {4}shipped \S+ by hudson-charcuterie: UPS 1Z999AA10123456799 \(\d+ units?, sftp, ref asn-D1002\.edi#ASN7\)/);
    expect(output).toMatch(/shipment 1001\+olive-grove: shipped\n(?: {4}.*\n)*? {4}shipped \S+ by olive-grove: FedEx 794644790138 \(1 unit, api\)/);

    // The ledger names what each recipient was told; billing and card data reached no one.
    expect(output).toMatch(/1001\+vermont-creamery\+po +sftp +lines\.name/);
    expect(output).toContain('✓ no billing or payment field went to anyone');
    expect(cardLikeNumbers(output)).toEqual([]);
    expect(output).toMatch(/Dashboard {2}http:\/\/127\.0\.0\.1:\d+\/admin\/queues {3}user: any name, password \(DASHBOARD_TOKEN\): \S{20,}/);
    expect(output).toMatch(/Console {4}http:\/\/127\.0\.0\.1:\d+\/console {3}orders, held orders, suppliers, replay \(the same credentials\)/);

    await expectCleanedUp(output);
  });

  it('keeps the API and the dashboard up until Ctrl-C, delivers what arrives meanwhile, then removes everything', async () => {
    const run = startDemo(process.execPath, ['--import', 'tsx', 'demo/run.ts'], { DEMO_ORDERS: '0' });
    try {
      await waitFor('the demo to wait for Ctrl-C', () => run.output().includes('Press Ctrl-C to stop'), 60_000);
      const output = run.output();
      const base = /API {8}(http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] as string;
      const token = /password \(DASHBOARD_TOKEN\): (\S+)/.exec(output)?.[1] as string;

      const dashboard = await fetch(`${base}/admin/queues`, { headers: { authorization: `Basic ${Buffer.from(`demo:${token}`).toString('base64')}` } });
      expect(dashboard.status).toBe(200);
      expect((await fetch(`${base}/admin/queues`)).status).toBe(401);
      expect(await (await fetch(`${base}/metrics`)).text()).toContain('dropship_jobs_completed_total');

      const order = JSON.parse(readFileSync(path.join(ROOT, 'examples', 'orders', 'canonical-order.json'), 'utf8')) as { id: string };
      order.id = '9001';
      const posted = await fetch(`${base}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(order) });
      expect(posted.status).toBe(202);
      await waitFor('order 9001 to land everywhere', () => (run.output().match(/landed: 9001\+/g) ?? []).length === 6, 30_000);
      expect(run.output()).toMatch(/landed: 9001\+vermont-creamery\+po → sftp:\/\/127\.0\.0\.1:\d+\/inbound\/orders\/9001-vermont-creamery\.csv/);
      // The console follows it too, behind the same credentials.
      const consolePage = await fetch(`${base}/console/orders/9001`, { headers: { authorization: `Basic ${Buffer.from(`demo:${token}`).toString('base64')}` } });
      expect(consolePage.status).toBe(200);
      expect(await consolePage.text()).toMatch(/vermont-creamery <span class="muted">\(supplier\)<\/span><\/td>\s*<td>sftp<\/td>\s*<td>csv<\/td>\s*<td class="stage-sent">sent/);
      expect((await fetch(`${base}/console/orders/9001`)).status).toBe(401);

      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      expect(run.output()).toContain('Ctrl-C: stopping');
      await expectCleanedUp(run.output());
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });

  it('says so and uses the outbox for the SFTP supplier when OpenSSH sshd is not installed', async () => {
    const run = startDemo('npm', ['run', '--silent', 'demo'], { DEMO_EXIT_AFTER_DELIVERY: '1', DEMO_ORDERS: '1', SSHD_PATH: '/nonexistent/sshd' });
    const code = await run.exited;
    const output = run.output();
    expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining('Every delivery landed and every check passed.') });
    expect(output).toContain('sftp          (none: OpenSSH sshd was not found');
    expect(output).toMatch(/vermont-creamery +csv +via outbox \(its receiver is missing: OpenSSH sshd was not found/);
    const sftp = section(output, 'vermont-creamery');
    expect(sftp).toMatch(/outbox \S+\/outbox\/vermont-creamery/);
    expect(sftp).toContain('1001,Ada Example,12 Sample Street');
    await expectCleanedUp(output);
  });
});
