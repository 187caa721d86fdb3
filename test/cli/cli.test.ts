import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, symlinkSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, shutDownOrphanedServer } from '../../src/queue/embedded-redis';
import { FIXTURE_CONFIG_DIR, orderPayload, TEST_CARDS } from '../support/orders';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(ROOT, 'src', 'cli', 'dropship.ts');

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dropship-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function dropship(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(TSX, [CLI, ...args], { cwd: tmp, encoding: 'utf8', env: { ...process.env, REDIS_URL: '', ...env }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, content: string): string {
  const p = path.join(tmp, name);
  writeFileSync(p, content);
  return p;
}

describe('dropship preview', () => {
  it('prints what every recipient would receive, as one JSON object', () => {
    const r = dropship(['preview', file('order.json', JSON.stringify(orderPayload())), '--config', FIXTURE_CONFIG_DIR]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.orderId).toBe('1001');
    expect(out.deliveries.map((d: { recipient: string; kind: string; transport: string; format: string }) => [d.recipient, d.kind, d.transport, d.format])).toEqual([
      ['ups', 'carrier', 'https', 'ups-ship'],
      ['ups', 'carrier', 'https', 'ups-ship'],
      ['creamery', 'dropship', 'outbox', 'csv'],
      ['oliveco', 'dropship', 'outbox', 'json'],
    ]);
    const csv = out.deliveries[2];
    expect(csv.fields).toEqual([...csv.fields].sort());
    expect(csv.body).toMatch(/^order_id,ship_to_name,/);
  });

  it('detects a Shopify webhook body and scrubs it', () => {
    const shopify = readFileSync(path.join(__dirname, '..', 'fixtures', 'sources', 'shopify-order-create.json'), 'utf8');
    const r = dropship(['preview', file('shopify.json', shopify), '--config', FIXTURE_CONFIG_DIR]);
    expect(r.status).toBe(0);
    for (const card of TEST_CARDS) expect(r.stdout.replace(/[ -]/g, '')).not.toContain(card);
  });

  it('reads a Shopify order saved from the Admin API, { "order": { ... } }, as the order inside', () => {
    const shopify = JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'sources', 'shopify-order-create.json'), 'utf8')) as unknown;
    const bare = dropship(['preview', file('bare.json', JSON.stringify(shopify)), '--config', FIXTURE_CONFIG_DIR]);
    const wrapped = dropship(['preview', file('wrapped.json', JSON.stringify({ order: shopify })), '--config', FIXTURE_CONFIG_DIR]);
    expect([wrapped.status, wrapped.stderr]).toEqual([0, '']);
    expect(JSON.parse(wrapped.stdout)).toEqual(JSON.parse(bare.stdout));
  });

  it('exits 2 naming what is wrong: unreadable file, bad JSON, invalid order, bad config', () => {
    const missing = dropship(['preview', 'nope.json', '--config', FIXTURE_CONFIG_DIR]);
    expect([missing.status, missing.stderr]).toEqual([2, 'dropship: cannot read nope.json (ENOENT)\n']);

    const badJson = dropship(['preview', file('bad.json', `{"notes": "${TEST_CARDS[0]}"`), '--config', FIXTURE_CONFIG_DIR]);
    expect(badJson.status).toBe(2);
    expect(badJson.stderr).toMatch(/^dropship: .*bad\.json: The body is not valid JSON/);
    expect(badJson.stderr).not.toContain(TEST_CARDS[0]);

    const invalid = dropship(['preview', file('invalid.json', JSON.stringify({ ...orderPayload(), currency: 'usd!', lines: [] })), '--config', FIXTURE_CONFIG_DIR]);
    expect(invalid.status).toBe(2);
    expect(invalid.stderr).toContain('currency: ');
    expect(invalid.stderr).toContain('lines: an order needs at least one line');
    expect(invalid.stdout).toBe('');

    const badConfig = dropship(['preview', file('ok.json', JSON.stringify(orderPayload())), '--config', path.join(tmp, 'no-such-config')]);
    expect(badConfig.status).toBe(2);
    expect(badConfig.stderr).toContain('is not a directory');
  });

  it('reports a held order on stderr and still prints the JSON, exit 0', () => {
    const r = dropship(['preview', file('noaddr.json', JSON.stringify({ ...orderPayload(), shipTo: undefined })), '--config', FIXTURE_CONFIG_DIR]);
    expect(r.status).toBe(0);
    // #13: `status` and `reasons` beside deliveries; `held` is kept for scripts that read it.
    const reasons = [{ code: 'NO_SHIP_TO', message: 'the order has no shipping address' }];
    expect(JSON.parse(r.stdout)).toEqual({ orderId: '1001', status: 'held', reasons, deliveries: [], held: reasons });
    expect(r.stderr).toBe('dropship: order 1001 would be held: NO_SHIP_TO the order has no shipping address\n');
  });

  it('prints a waiting and a skipped order with their reasons, exit 0', () => {
    const fixture = (name: string) => readFileSync(path.join(__dirname, '..', 'fixtures', 'sources', name), 'utf8');
    const waiting = dropship(['preview', file('pending.json', fixture('shopify-order-pending.json')), '--config', FIXTURE_CONFIG_DIR]);
    expect([waiting.status, JSON.parse(waiting.stdout)]).toEqual([
      0,
      { orderId: '1003', status: 'waiting', reasons: [{ code: 'NOT_PAID', message: 'financial_status "pending" is not one of fulfil.shopify.financialStatuses (paid, partially_refunded, authorized)' }], deliveries: [] },
    ]);
    expect(waiting.stderr).toMatch(/^dropship: order 1003 would wait: NOT_PAID financial_status "pending"/);
    const skipped = dropship(['preview', file('cancelled.json', fixture('shopify-order-cancelled.json')), '--config', FIXTURE_CONFIG_DIR]);
    expect(skipped.status).toBe(0);
    expect(JSON.parse(skipped.stdout)).toMatchObject({ orderId: '1004', status: 'skipped', reasons: [{ code: 'CANCELLED' }, { code: 'REFUNDED' }], deliveries: [] });
    expect(JSON.parse(dropship(['preview', file('ok.json', JSON.stringify(orderPayload())), '--config', FIXTURE_CONFIG_DIR]).stdout)).toMatchObject({ status: 'planned' });
  });
});

describe('dropship', () => {
  it('prints its version from package.json', () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(dropship([flag])).toEqual({ status: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('verify --json prints one JSON document, and exits 1 when a check failed', () => {
    const one = dropship(['verify', 'creamery', '--json', '--config', FIXTURE_CONFIG_DIR]);
    expect([one.status, one.stderr, JSON.parse(one.stdout)]).toEqual([0, '', { ok: true, keys: { ok: true }, recipients: [{ recipient: 'creamery', kind: 'dropship', ok: true }] }]);
    const all = dropship(['verify', '--json', '--config', FIXTURE_CONFIG_DIR]);
    expect(all.status).toBe(1);
    expect(all.stdout.trim().split('\n')).toHaveLength(1);
    const report = JSON.parse(all.stdout) as { ok: boolean; recipients: Array<{ recipient: string; ok: boolean; error?: string }> };
    expect(report.ok).toBe(false);
    expect(report.recipients.map((r) => [r.recipient, r.ok])).toEqual([['fedex', false], ['ups', false], ['creamery', true], ['oliveco', true]]);
    expect(report.recipients[1]?.error).toMatch(/^carriers\.ups: clientIdEnv or clientIdFile is required/);
  });
});

describe('dropship start', () => {
  it('says in one line how to get Redis when redis-server is missing', () => {
    const bin = path.join(tmp, 'bin-node-only');
    mkdirSync(bin);
    symlinkSync(process.execPath, path.join(bin, 'node'));
    const r = dropship(['start', '--dry-run', '--config', FIXTURE_CONFIG_DIR], { PATH: bin });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/redis-server was not found: install it .* or set REDIS_URL/);
  });

  it('refuses to serve the dashboard without credentials rather than run it open', () => {
    const r = dropship(['start', '--role', 'dashboard', '--dry-run', '--config', FIXTURE_CONFIG_DIR], { DASHBOARD_USER: '', DASHBOARD_PASSWORD: '', DASHBOARD_TOKEN: '' });
    expect([r.status, r.stderr.trim()]).toEqual([2, 'dropship: the dashboard will not run open: set DASHBOARD_USER and DASHBOARD_PASSWORD, or DASHBOARD_TOKEN']);
  });

  it('refuses to run on a shared Redis without a data key, and keygen makes one', () => {
    const r = dropship(['start', '--dry-run', '--config', FIXTURE_CONFIG_DIR], { REDIS_URL: 'redis://127.0.0.1:1', DROPSHIP_DATA_KEY: '', DROPSHIP_DATA_KEY_FILE: '' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/DROPSHIP_DATA_KEY is not set: job data holding names and addresses is encrypted at rest/);
    const bad = dropship(['enqueue', file('k.json', '{}'), '--config', FIXTURE_CONFIG_DIR], { REDIS_URL: 'redis://127.0.0.1:1', DROPSHIP_DATA_KEY: 'not-a-key' });
    expect([bad.status, bad.stderr]).toEqual([2, expect.stringMatching(/DROPSHIP_DATA_KEY: must be a 256-bit key/)]);
    const keys = [dropship(['keygen']), dropship(['keygen'])];
    for (const k of keys) expect([k.status, k.stdout]).toEqual([0, expect.stringMatching(/^[A-Za-z0-9+/]{43}=\n$/)]);
    expect(keys[0]!.stdout).not.toBe(keys[1]!.stdout);
    const timing = dropship(['start', '--dry-run', '--config', FIXTURE_CONFIG_DIR], { REDIS_URL: 'redis://127.0.0.1:1', DROPSHIP_DATA_KEY: keys[0]!.stdout.trim(), DROPSHIP_LOCK_DURATION: 'soon' });
    expect([timing.status, timing.stderr.trim()]).toEqual([2, 'dropship: DROPSHIP_LOCK_DURATION must be a duration from 1s to 10m, such as "10s"']);
  });

  it('gives up on an unreachable Redis in a few tries and says why, without the password', async () => {
    const url = `redis://:not-the-password@127.0.0.1:${await freePort()}`;
    const r = dropship(['status', '--config', FIXTURE_CONFIG_DIR], { REDIS_URL: url });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^dropship: cannot use Redis at redis:\/\/127\.0\.0\.1:\d+\/?: connect ECONNREFUSED/)]);
    expect(r.stderr).not.toContain('not-the-password');
  });

  it('start ends at once on credentials Redis refuses, saying so without the password, and waits for a Redis not up yet', async () => {
    const redis = await TestRedis.start();
    try {
      const admin = redis.client();
      await admin.config('SET', 'requirepass', 'right-password');
      admin.disconnect();
      const key = dropship(['keygen']).stdout.trim();
      for (const url of [`redis://:wrong-password@127.0.0.1:${redis.server.port}`, `redis://127.0.0.1:${redis.server.port}`]) {
        const r = dropship(['start', '--dry-run', '--config', FIXTURE_CONFIG_DIR, '--port', String(await freePort())], { REDIS_URL: url, DROPSHIP_DATA_KEY: key });
        expect(r.status).toBe(2);
        expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^dropship: Redis at redis://127\\.0\\.0\\.1:${redis.server.port}/? refused the connection's credentials: (WRONGPASS|NOAUTH) `))]);
        expect(r.stderr + r.stdout).not.toContain('wrong-password');
      }
    } finally {
      await redis.stop();
    }

    // Nothing listening yet: start waits, saying so, and runs once Redis is up.
    const port = await freePort();
    const child = spawn(TSX, [CLI, 'start', '--dry-run', '--config', FIXTURE_CONFIG_DIR, '--data-dir', path.join(tmp, 'var-wait'), '--port', String(await freePort())], {
      cwd: tmp,
      env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${port}`, DROPSHIP_DATA_KEY: dropship(['keygen']).stdout.trim() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let late: TestRedis | undefined;
    try {
      await waitFor('waiting line', () => log.includes('waiting for Redis: connect ECONNREFUSED'), 30_000);
      expect(log).not.toContain('dropship started');
      late = await TestRedis.start({ port });
      await waitFor('start-up', () => log.includes('dropship started'), 30_000);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await late?.stop();
    }
  });

  it('runs the pipeline on an embedded Redis, takes orders from the API and the CLI, and drains on SIGTERM', async () => {
    const port = await freePort();
    const dataDir = path.join(tmp, 'var');
    const outbox = path.join(tmp, 'outbox');
    const child = spawn(TSX, [CLI, 'start', '--dry-run', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir, '--outbox', outbox, '--port', String(port)], {
      cwd: tmp,
      env: { ...process.env, REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor('start-up', () => log.includes('dropship started'), 60_000); // a deadline, not a speed check: start-up waits its turn on a loaded CI machine
      // The embedded Redis's data key lives beside its data, readable by its owner only.
      expect(statSync(path.join(dataDir, 'data.key')).mode & 0o777).toBe(0o600);
      const res = await fetch(`http://127.0.0.1:${port}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(orderPayload({ id: '5001' })) });
      expect(res.status).toBe(202);
      // Several files at once, one of them an array: every order on its own JSON line, in order.
      const enq = dropship(['enqueue', file('o2.json', JSON.stringify([orderPayload({ id: '5002' }), orderPayload({ id: '5001' })])), file('o2b.json', JSON.stringify(orderPayload({ id: '5002' }))), '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]);
      expect(enq.stderr).toBe('');
      expect(enq.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([
        { orderId: '5002', duplicate: false },
        { orderId: '5001', duplicate: true },
        { orderId: '5002', duplicate: true },
      ]);
      // A file that cannot be read stops the run before any order of the others is submitted.
      const partly = dropship(['enqueue', file('o2c.json', JSON.stringify(orderPayload({ id: '5099' }))), 'missing.json', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]);
      expect([partly.status, partly.stdout, partly.stderr]).toEqual([2, '', 'dropship: cannot read missing.json (ENOENT)\n']);
      // Files being written are hidden `.part` files until renamed into place: not counted.
      const files = () => ['ups', 'creamery', 'oliveco'].flatMap((r) => (existsSync(path.join(outbox, r)) ? readdirSync(path.join(outbox, r)).filter((f) => !f.startsWith('.')).map((f) => `${r}/${f}`) : []));
      await waitFor('payloads in the outbox', () => files().length === 8, 20_000);
      expect(files().sort()).toEqual([
        'creamery/5001-creamery.csv',
        'creamery/5002-creamery.csv',
        'oliveco/5001-oliveco.json',
        'oliveco/5002-oliveco.json',
        'ups/5001+creamery.ups-ship.json',
        'ups/5001+warehouse.ups-ship.json',
        'ups/5002+creamery.ups-ship.json',
        'ups/5002+warehouse.ups-ship.json',
      ]);
      const noAddress = dropship(['enqueue', file('o3.json', JSON.stringify({ ...orderPayload({ id: '5003' }), shipTo: undefined })), '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]);
      expect(noAddress.status).toBe(0);
      let status: { queues: Array<Record<string, unknown>>; held: unknown[]; failing: unknown[] } = { queues: [], held: [], failing: [] };
      await waitFor('held order', () => {
        status = JSON.parse(dropship(['status', '--json', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]).stdout);
        return status.held.length === 1;
      });
      expect(status.queues).toEqual(expect.arrayContaining([expect.objectContaining({ queue: 'po-creamery', completed: 2, failed: 0 })]));
      expect(status.held).toEqual([{ orderId: '5003', reason: 'held: NO_SHIP_TO the order has no shipping address' }]);
      expect(status.failing).toEqual([]);

      // A supplier whose outbox cannot be written to shows as failing once its retries run out.
      renameSync(path.join(outbox, 'oliveco'), path.join(outbox, 'oliveco-before'));
      writeFileSync(path.join(outbox, 'oliveco'), 'not a folder');
      dropship(['enqueue', file('o4.json', JSON.stringify(orderPayload({ id: '5004' }))), '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]);
      await waitFor('oliveco failing', () => {
        status = JSON.parse(dropship(['status', '--json', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]).stdout);
        return status.failing.length === 1 && (status.failing[0] as { failed: number }).failed === 1;
      }, 30_000);
      expect(status.failing).toEqual([{ recipient: 'oliveco', failed: 1, retrying: 0 }]);
      const text = dropship(['status', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]).stdout;
      expect(text).toContain('failing: oliveco: 1 failed, 0 waiting to be retried');
      // The queue table: a header and aligned columns, without console.table's index column,
      // quotes or box.
      const lines = text.split('\n');
      expect(lines[0]).toMatch(/^queue +waiting +active +delayed +completed +failed$/);
      expect(lines[1]).toMatch(/^orders +0 +0 +0 +\d+ +1$/);
      expect(lines.find((l) => l.startsWith('po-creamery '))).toMatch(/^po-creamery +0 +0 +0 +\d+ +0$/);
      expect(lines[1]?.length).toBe(lines[0]?.length);
      expect(text).not.toMatch(/\(index\)|'|│|┌/);
      expect(JSON.parse(dropship(['status', '--json', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]).stdout).queues).toEqual(expect.arrayContaining([expect.objectContaining({ queue: 'po-creamery' })]));

      const disclosures = JSON.parse(dropship(['disclosures', '5001', '--json', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]).stdout);
      expect(disclosures.map((d: { recipient: string; deliveryId: string }) => d.deliveryId).sort()).toEqual(['5001+creamery+carrier', '5001+creamery+po', '5001+oliveco+po', '5001+warehouse+carrier']);
      const table = dropship(['disclosures', '5001', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]);
      expect(table.stdout).toMatch(/recipient.*kind.*transport.*fields/);
      expect(table.stdout).not.toMatch(/\(index\)|'|│|┌/);
      expect(table.stdout.split('\n').filter(Boolean)).toEqual([
        expect.stringMatching(/^deliveredAt +deliveryId +recipient +kind +transport +format +sha256 +fields$/),
        ...Array.from({ length: 4 }, () => expect.stringMatching(/^\S+Z +5001\+\S+ +(ups|creamery|oliveco) +(carrier|dropship) +outbox +\S+ +[0-9a-f]{16} +\S/)),
      ]);
      const oneText = dropship(['status', '5001', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]).stdout;
      expect(oneText.split('\n').slice(1, 3)).toEqual([expect.stringMatching(/^deliveryId +queue +state +attempts +skipped +failedReason$/), expect.stringMatching(/^5001\+creamery\+carrier +carrier-ups +completed +1$/)]);
      const one = JSON.parse(dropship(['status', '5001', '--json', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]).stdout);
      expect(one).toEqual(expect.objectContaining({ orderId: '5001', state: 'completed', disclosures: 4 }));

      // Cancelling: the creamery is told through the same outbox (oliveco's is broken above). A dry
      // run buys no labels (no tracking numbers), so there is nothing to void.
      const cancel = dropship(['cancel', '5002', '--reason', 'customer', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]);
      expect([cancel.status, cancel.stderr, JSON.parse(cancel.stdout)]).toEqual([0, '', { orderId: '5002', duplicate: false, cancelled: true }]);
      const undone = () => ['ups', 'creamery'].flatMap((r) => readdirSync(path.join(outbox, r)).filter((f) => !f.startsWith('.')).map((f) => `${r}/${f}`)).filter((f) => f.includes('5002') && /cancel|void/.test(f));
      await waitFor('cancellation in the outbox', () => undone().length === 1, 20_000);
      expect(undone()).toEqual(['creamery/5002-creamery-cancel.csv']);
      expect(readFileSync(path.join(outbox, 'creamery', '5002-creamery-cancel.csv'), 'utf8')).toMatch(/^order_id,sku,name,quantity,carrier,service\r\n5002,VC-CHEVRE,/);
      const cancelled = dropship(['status', '5002', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]).stdout;
      expect(cancelled).toMatch(/cancelled at \S+ \(customer\)/);
      const badReason = dropship(['cancel', '5002', '--reason', 'whim', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]);
      expect([badReason.status, badReason.stderr.trim()]).toEqual([2, 'dropship: --reason must be one of customer, fraud, inventory, declined, staff, other']);

      const replay = dropship(['replay', '--held', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]);
      expect([replay.status, replay.stdout.trim()]).toEqual([0, 'replayed 1: order+5003']);
      // The held order corrected: enqueue --replace plans the corrected version.
      const again = dropship(['enqueue', file('o3b.json', JSON.stringify(orderPayload({ id: '5003' }))), '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]);
      expect(JSON.parse(again.stdout)).toEqual({ orderId: '5003', duplicate: true });
      const fixed = dropship(['enqueue', '--replace', file('o3c.json', JSON.stringify(orderPayload({ id: '5003' }))), '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]);
      expect([fixed.status, fixed.stderr, JSON.parse(fixed.stdout)]).toEqual([0, '', { orderId: '5003', duplicate: false, replaced: true }]);
      await waitFor('the corrected order in the outbox', () => existsSync(path.join(outbox, 'creamery', '5003-creamery.csv')), 20_000);
      expect(dropship(['status', '5003', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]).stdout).toMatch(/^stage: planned \(version 1\)/m);
      const bad = dropship(['replay', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]);
      expect([bad.status, bad.stderr.trim()]).toEqual([2, 'dropship: name exactly one of --delivery, --supplier, --order, --held, --fulfillment or --fulfillments']);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(log).toContain('stopped');
    expect(existsSync(path.join(dataDir, 'redis.url'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'redis', 'appendonlydir'))).toBe(true);
  }, 150_000);
});

describe('dropship start on a data folder another start holds', () => {
  /** `dropship start --dry-run` on an embedded Redis in `dataDir`, its stdout and stderr collected. */
  function startEmbedded(dataDir: string, port: number) {
    const child = spawn(TSX, [CLI, 'start', '--dry-run', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir, '--outbox', path.join(dataDir, 'outbox'), '--port', String(port)], {
      cwd: tmp,
      env: { ...process.env, REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, log: () => log, exited };
  }

  const post = (port: number, id: string) =>
    fetch(`http://127.0.0.1:${port}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(orderPayload({ id })) });

  it('stops at once with exit code 2, leaving the first running, its redis-server and its redis.url alone', async () => {
    const dataDir = path.join(tmp, 'var-held');
    const port = await freePort();
    const first = startEmbedded(dataDir, port);
    try {
      await waitFor('the first start', () => first.log().includes('dropship started'), 30_000);
      const redisUrl = readFileSync(path.join(dataDir, 'redis.url'), 'utf8');
      const lockFile = path.join(dataDir, 'dropship.lock');
      const pid = readFileSync(lockFile, 'utf8').trim();

      const second = dropship(['start', '--dry-run', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir, '--port', String(await freePort())]);
      expect([second.status, second.stdout, second.stderr]).toEqual([
        2,
        '',
        `dropship: the data folder ${dataDir} is in use by another "dropship start" (pid ${pid}): stop that one first, or give this one its own --data-dir (if no dropship is running, remove ${lockFile})\n`,
      ]);
      expect(readFileSync(path.join(dataDir, 'redis.url'), 'utf8')).toBe(redisUrl);
      expect(readFileSync(lockFile, 'utf8').trim()).toBe(pid);

      // The first still serves: it takes an order, delivers it, and the CLI finds its Redis.
      expect((await post(port, '6101')).status).toBe(202);
      await waitFor('order 6101 delivered', () => JSON.parse(dropship(['status', '6101', '--json', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]).stdout || '{}').state === 'completed', 30_000);
    } finally {
      first.child.kill('SIGTERM');
    }
    expect(await first.exited).toBe(0);
    expect(readdirSync(dataDir).sort()).toEqual(['data.key', 'outbox', 'redis']);
  }, 90_000);

  it('takes over from a start that was killed, first shutting down the redis-server it left running', async () => {
    const dataDir = path.join(tmp, 'var-killed');
    const port = await freePort();
    const first = startEmbedded(dataDir, port);
    let orphan = '';
    try {
      await waitFor('the first start', () => first.log().includes('dropship started'), 30_000);
      orphan = readFileSync(path.join(dataDir, 'redis.url'), 'utf8').trim();
      expect((await post(port, '6201')).status).toBe(202);
      const delivered = () => JSON.parse(dropship(['status', '6201', '--json', '--config', FIXTURE_CONFIG_DIR, '--data-dir', dataDir]).stdout || '{}') as { state?: string; disclosures?: number };
      await waitFor('order 6201 delivered', () => delivered().state === 'completed', 30_000);
      // SIGKILL: no exit hook runs, so the lock, redis.url and redis-server stay behind.
      process.kill(Number(readFileSync(path.join(dataDir, 'dropship.lock'), 'utf8')), 'SIGKILL');
      await first.exited;
      expect(existsSync(path.join(dataDir, 'dropship.lock'))).toBe(true);

      const next = startEmbedded(dataDir, port);
      try {
        await waitFor('the next start', () => next.log().includes('dropship started'), 30_000);
        expect(next.log()).toContain(`shut down the redis-server an earlier start on ${dataDir} left running (its data flushed) before starting a new one`);
        expect(readFileSync(path.join(dataDir, 'redis.url'), 'utf8').trim()).not.toBe(orphan);
        await expect(fetch(`http://127.0.0.1:${new URL(orphan).port}`).catch((err: Error) => (err.cause as { code?: string } | undefined)?.code)).resolves.toBe('ECONNREFUSED');
        // What the killed start did is still there, on the one server now running.
        expect(delivered()).toEqual(expect.objectContaining({ state: 'completed', disclosures: 4 }));
      } finally {
        next.child.kill('SIGTERM');
      }
      expect(await next.exited).toBe(0);
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
      // Should the test fail before the next start, leave no redis-server running.
      if (orphan !== '') await shutDownOrphanedServer(orphan, path.join(dataDir, 'redis'));
    }
  }, 90_000);
});
