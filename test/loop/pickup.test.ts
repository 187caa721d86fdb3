import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { stringify } from 'yaml';
import type { Config, SupplierConfig } from '../../src/config/config';
import { loadConfig } from '../../src/config/load';
import { csvConfirmationFormat } from '../../src/formats/inbound/csv';
import { Operations } from '../../src/ops/operations';
import { pickupLeaseMs } from '../../src/app/pipeline';
import { ConfirmationPickup, MAX_FILE_ATTEMPTS, openSupplierFolder, pickupFailures, readerOf, verifyConfirmationFolder } from '../../src/loop/pickup';
import { parseLoop } from '../../src/loop/record';
import { markerKeys, PICKUP_JOB, PICKUPS_QUEUE } from '../../src/queue/names';
import { keySlot } from '../../src/queue/key-slot';
import { keySpaceOf } from '../../src/queue/partitions';
import { PipelineMetrics } from '../../src/telemetry/metrics';
import { sftpOptionsSchema } from '../../src/transports/sftp';
import { startSshd, type LocalSshd } from '../../testkit/receivers/sshd';
import { X12_OPTIONS } from '../formats/po-fixtures';
import { asnBody, writeX12 } from '../formats/inbound/support';
import { FIXTURE_CONFIG_DIR, fixtureConfig, orderPayload } from '../support/orders';
import { PipelineHarness } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

/**
 * The pickup of suppliers' confirmation files from their SFTP folders, against a real OpenSSH
 * server and a real Redis: files are read, confirmed, moved to processed/ (or failed/ with a
 * reason file), taken once however many runs race, and a run that died mid-file is finished
 * by the next one.
 */

jest.setTimeout(30_000);

const CSV_COLUMNS = { orderId: 'PO Number', sku: 'SKU', quantity: 'Qty', carrier: 'Carrier', trackingNumber: 'Tracking' };

let redis: TestRedis;
let sshd: LocalSshd;
let n = 0;
const clients: Redis[] = [];

beforeAll(async () => {
  [redis, sshd] = await Promise.all([TestRedis.start(), startSshd()]);
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all([redis?.stop(), sshd?.stop()]);
});

/** A fresh folder pair per test: the creamery's (CSV) and the olive co.'s (X12 856). */
function folders() {
  n++;
  const creamery = `creamery-in-${n}`;
  const oliveco = `oliveco-in-${n}`;
  mkdirSync(join(sshd.root, creamery));
  mkdirSync(join(sshd.root, oliveco));
  return { creamery, oliveco, prefix: `pk${n}` };
}

function sftpDelivery(supplier: SupplierConfig, port = sshd.port): SupplierConfig['delivery'] {
  const { transport: _transport, ...options } = sshd.deliveryOptions(`out-${supplier.id}`);
  return { ...supplier.delivery, transport: 'sftp', options: sftpOptionsSchema.parse({ ...options, port, keepaliveInterval: '2s', timeout: '8s' }) };
}

/**
 * The fixture configuration with confirmations: with `sftp`, the creamery's CSV files and the olive
 * co.'s 856s are picked up from their folders over their delivery logins; without, both confirm
 * over HTTPS only (the pipeline then schedules no pickup, and the tests run pickups themselves).
 */
function configFor(dirs: { creamery: string; oliveco: string }, sftp: boolean, everyMs = 86_400_000, port = sshd.port): Config {
  const config = structuredClone(fixtureConfig());
  const csv = csvConfirmationFormat.parseOptions!({ columns: CSV_COLUMNS });
  if (!csv.ok) throw new Error(csv.problems.join('; '));
  for (const s of config.suppliers) {
    const https = { auth: { bearerTokenEnv: 'UNUSED_TOKEN' } };
    if (s.id === 'creamery') {
      s.delivery = sftpDelivery(s, port);
      s.confirmations = { https, ...(sftp ? { sftp: { remoteDir: dirs.creamery, everyMs, format: 'csv' as const } } : {}), csv: csv.options, expectWithinMs: 48 * 3_600_000 };
    }
    if (s.id === 'oliveco') {
      s.delivery = sftpDelivery(s, port);
      s.confirmations = { https, ...(sftp ? { sftp: { remoteDir: dirs.oliveco, everyMs, format: 'x12-856' as const } } : {}), expectWithinMs: 48 * 3_600_000 };
    }
  }
  return config;
}

async function startHarness(config: Config, prefix: string) {
  return PipelineHarness.start(config, redis.url, { prefix });
}

function storeOrder(id: string) {
  const payload = orderPayload({ id, storeId: `45078946${id}` });
  return { ...payload, lines: payload.lines.map((l, i) => ({ ...l, storeLineId: `8660${id}${i}` })) };
}

/** Posts an order and waits until the creamery and the olive co. have their purchase orders. */
async function ordered(h: PipelineHarness, id: string) {
  const before = { c: h.recorder('creamery').delivered.length, o: h.recorder('oliveco').delivered.length };
  expect((await h.postOrder(storeOrder(id))).statusCode).toBe(202);
  await waitFor('purchase orders delivered', () => h.recorder('creamery').delivered.length > before.c && h.recorder('oliveco').delivered.length > before.o);
}

function pickupOf(h: PipelineHarness, config: Config, extra: Partial<ConstructorParameters<typeof ConfirmationPickup>[0]> = {}) {
  const client = redis.client();
  clients.push(client);
  return new ConfirmationPickup({ redis: client, prefix: h.pipeline.prefix, config, confirm: (s, c, o) => h.pipeline.confirmations.confirm(s, c, o), ...extra });
}

async function loopOf(h: PipelineHarness, orderId: string) {
  return parseLoop(await h.pipeline.redis.hgetall(markerKeys.loop(h.pipeline.prefix, orderId)));
}

function drop(dir: string, name: string, text: string): void {
  writeFileSync(join(sshd.root, dir, name), text);
}

function list(dir: string): string[] {
  const path = join(sshd.root, dir);
  return existsSync(path) ? readdirSync(path).sort() : [];
}

function csv(rows: string[][]): string {
  return [['PO Number', 'SKU', 'Qty', 'Carrier', 'Tracking'], ...rows].map((r) => r.join(',')).join('\r\n') + '\r\n';
}

describe('confirmation files picked up over SFTP', () => {
  it('reads a CSV and an X12 856, records their shipments and moves them to processed/; the same file again changes nothing', async () => {
    const dirs = folders();
    const h = await startHarness(configFor(dirs, false), dirs.prefix);
    try {
      await ordered(h, '9201');
      const config = configFor(dirs, true);
      const metrics = new PipelineMetrics({ queues: [], keys: [] });
      const pickup = pickupOf(h, config, { metrics });
      // The creamery was sent VC-CHEVRE ×1 and BUTTER-42 ×3; the olive co. OLV-EVOO ×1.
      const shipments = csv([
        ['9201', 'BUTTER-42', '3', 'UPS', '1Z999AA10123456784'],
        ['9201', 'VC-CHEVRE', '1', 'UPS', '1Z999AA10123456784'],
      ]);
      drop(dirs.creamery, 'ship-20261206.csv', shipments);
      drop(dirs.oliveco, 'asn-1.edi', writeX12({ version: '004010', functionalId: 'SH', sets: [{ code: '856', body: asnBody({ reference: 'ASN-77', orderId: '9201', carrier: 'FDEG', trackingNumbers: ['794644790138'], lines: [{ sku: 'OLV-EVOO', quantity: 1 }] }) }] }));
      // Neither a dotfile nor an upload under way is touched.
      drop(dirs.creamery, '.hidden.csv', shipments);
      drop(dirs.creamery, 'ship-2.csv.part', shipments);

      const creamery = await pickup.run('creamery');
      expect(creamery.files).toEqual([{ file: 'ship-20261206.csv', outcome: 'processed', movedTo: 'processed/ship-20261206.csv', confirmations: 1, refused: 0 }]);
      const olive = await pickup.run('oliveco');
      expect(olive.files).toEqual([{ file: 'asn-1.edi', outcome: 'processed', movedTo: 'processed/asn-1.edi', confirmations: 1, refused: 0 }]);

      expect(list(dirs.creamery)).toEqual(['.hidden.csv', 'processed', 'ship-2.csv.part']);
      expect(list(`${dirs.creamery}/processed`)).toEqual(['ship-20261206.csv']);
      expect(list(dirs.oliveco)).toEqual(['processed']);
      expect(list(`${dirs.oliveco}/processed`)).toEqual(['asn-1.edi']);

      const loop = await loopOf(h, '9201');
      expect(loop.shipped).toMatchObject({ l2: 1, l3: 3, l4: 1 });
      const shipped = loop.events.filter((e) => e.kind === 'shipped' && e.channel === 'sftp');
      expect(shipped).toEqual([
        expect.objectContaining({ shipper: 'creamery', carrier: 'UPS', trackingNumbers: ['1Z999AA10123456784'], reference: 'ship-20261206.csv#row 2' }),
        expect.objectContaining({ shipper: 'oliveco', trackingNumbers: ['794644790138'], reference: expect.stringMatching(/^asn-1\.edi#/) }),
      ]);

      // The supplier sends the same file again: nothing changes, and it is moved aside, not over the first.
      drop(dirs.creamery, 'ship-20261206.csv', shipments);
      const again = await pickup.run('creamery');
      expect(again.files).toEqual([{ file: 'ship-20261206.csv', outcome: 'duplicate', movedTo: 'processed/ship-20261206-1.csv' }]);
      expect(list(`${dirs.creamery}/processed`)).toEqual(['ship-20261206-1.csv', 'ship-20261206.csv']);
      expect((await loopOf(h, '9201')).events).toEqual(loop.events);
      const counted = await metrics.registry.getSingleMetricAsString('dropship_confirmation_files_total');
      expect(counted).toContain('dropship_confirmation_files_total{supplier="creamery",outcome="processed"} 1');
      expect(counted).toContain('dropship_confirmation_files_total{supplier="creamery",outcome="duplicate"} 1');
    } finally {
      await h.stop();
    }
  });

  it('moves a file that cannot be read to failed/ with its reason (no values), records it, and still processes the others', async () => {
    const dirs = folders();
    const h = await startHarness(configFor(dirs, false), dirs.prefix);
    try {
      await ordered(h, '9202');
      const metrics = new PipelineMetrics({ queues: [], keys: [] });
      const pickup = pickupOf(h, configFor(dirs, true), { metrics });
      // A quantity that is a card number, and a row without a tracking number.
      drop(dirs.creamery, 'a-bad.csv', csv([['9202', 'BUTTER-42', '4111 1111 1111 1111', 'UPS', '1Z999AA10123456784'], ['9202', 'VC-CHEVRE', '1', 'UPS', '']]));
      // One row taken, one more than was sent (refused), one for an order never sent to the creamery.
      drop(dirs.creamery, 'b-good.csv', csv([['9202', 'BUTTER-42', '2', 'UPS', '1Z999AA10123456784'], ['9202', 'VC-CHEVRE', '5', 'FedEx', '794644790138'], ['no-such-order', 'BUTTER-42', '1', 'UPS', '1Z999AA10123456785']]));

      const run = await pickup.run('creamery');
      expect(run.files).toEqual([
        { file: 'a-bad.csv', outcome: 'failed', movedTo: 'failed/a-bad.csv' },
        { file: 'b-good.csv', outcome: 'processed', movedTo: 'processed/b-good.csv', confirmations: 3, refused: 2 },
      ]);
      expect(list(dirs.creamery)).toEqual(['failed', 'processed']);
      expect(list(`${dirs.creamery}/failed`)).toEqual(['a-bad.csv', 'a-bad.csv.reason.txt']);
      const reason = readFileSync(join(sshd.root, dirs.creamery, 'failed', 'a-bad.csv.reason.txt'), 'utf8');
      expect(reason).toMatch(/^a-bad\.csv could not be read, and nothing in it was taken:\n- row 2/);
      expect(reason).toContain('Qty');
      expect(reason).toContain('row 3');
      expect(reason).not.toContain('4111');

      // The refused confirmations of a file read are listed beside it in processed/.
      expect(list(`${dirs.creamery}/processed`)).toEqual(['b-good.csv', 'b-good.csv.reason.txt']);
      const refused = readFileSync(join(sshd.root, dirs.creamery, 'processed', 'b-good.csv.reason.txt'), 'utf8').split('\n');
      expect(refused[0]).toBe('b-good.csv was read; these of its confirmations were refused (the others were taken):');
      expect(refused).toContain('- row 4: no purchase order for this order was sent to you');
      expect(refused.some((l) => l.startsWith('- row 3: ') && l.includes('VC-CHEVRE'))).toBe(true);

      expect((await loopOf(h, '9202')).shipped.l3).toBe(2);
      const failures = await pickupFailures(h.pipeline.redis, h.pipeline.prefix, 'creamery');
      expect(failures).toEqual([{ file: 'a-bad.csv', at: expect.any(String), kind: 'unreadable', problems: expect.arrayContaining([expect.stringMatching(/^row 2/), expect.stringMatching(/^row 3/)]), movedTo: 'failed/a-bad.csv' }]);
      expect(JSON.stringify(failures)).not.toContain('4111');
      expect(await metrics.registry.getSingleMetricAsString('dropship_confirmation_files_total')).toContain('{supplier="creamery",outcome="failed"} 1');

      // The same bad name again: failed/ keeps both.
      drop(dirs.creamery, 'a-bad.csv', csv([['9202', 'BUTTER-42', 'x', 'UPS', '1Z999AA10123456784']]));
      expect((await pickup.run('creamery')).files).toEqual([{ file: 'a-bad.csv', outcome: 'failed', movedTo: 'failed/a-bad-1.csv' }]);
      expect(list(`${dirs.creamery}/failed`)).toEqual(['a-bad-1.csv', 'a-bad-1.csv.reason.txt', 'a-bad.csv', 'a-bad.csv.reason.txt']);

      // Operators see them: dropship status and the console's suppliers page read this.
      const lag = (await new Operations(h.pipeline.redis, h.pipeline.prefix, configFor(dirs, true)).confirmationLag()).find((l) => l.supplierId === 'creamery');
      expect(lag).toMatchObject({ failedFilesTotal: 2, failedFiles: [{ file: 'a-bad.csv', kind: 'unreadable', movedTo: 'failed/a-bad-1.csv' }, { file: 'a-bad.csv', movedTo: 'failed/a-bad.csv' }] });
    } finally {
      await h.stop();
    }
  });

  it('takes each file exactly once when two workers run the same pickup at the same time', async () => {
    const dirs = folders();
    const h = await startHarness(configFor(dirs, false), dirs.prefix);
    try {
      await ordered(h, '9203');
      const config = configFor(dirs, true);
      const names = ['s1.csv', 's2.csv', 's3.csv', 's4.csv'];
      drop(dirs.creamery, 's1.csv', csv([['9203', 'BUTTER-42', '1', 'UPS', '1Z999AA10123456781']]));
      drop(dirs.creamery, 's2.csv', csv([['9203', 'BUTTER-42', '1', 'UPS', '1Z999AA10123456782']]));
      drop(dirs.creamery, 's3.csv', csv([['9203', 'BUTTER-42', '1', 'UPS', '1Z999AA10123456783']]));
      drop(dirs.creamery, 's4.csv', csv([['9203', 'VC-CHEVRE', '1', 'UPS', '1Z999AA10123456784']]));
      const [a, b] = await Promise.all([pickupOf(h, config).run('creamery'), pickupOf(h, config).run('creamery')]);
      const processed = [...a.files, ...b.files].filter((f) => f.outcome === 'processed').map((f) => f.file).sort();
      expect(processed).toEqual(names);
      // The other run skipped what it found claimed (or already moved).
      for (const f of [...a.files, ...b.files]) expect(['processed', 'claimed', 'gone']).toContain(f.outcome);
      expect(list(`${dirs.creamery}/processed`)).toEqual(names);
      expect(list(dirs.creamery)).toEqual(['processed']);
      const loop = await loopOf(h, '9203');
      expect(loop.shipped).toMatchObject({ l2: 1, l3: 3 });
      expect(loop.events.filter((e) => e.kind === 'shipped' && e.channel === 'sftp')).toHaveLength(4);
      expect(loop.events.filter((e) => e.kind === 'refused')).toEqual([]);
    } finally {
      await h.stop();
    }
  });

  it('leaves a file another worker holds, and finishes it once that worker’s claim is gone (it died mid-file)', async () => {
    const dirs = folders();
    const h = await startHarness(configFor(dirs, false), dirs.prefix);
    try {
      await ordered(h, '9204');
      const config = configFor(dirs, true);
      const text = csv([['9204', 'BUTTER-42', '3', 'UPS', '1Z999AA10123456784']]);
      drop(dirs.creamery, 'ship.csv', text);
      const stat = statSync(join(sshd.root, dirs.creamery, 'ship.csv'));
      const claim = markerKeys.pickupClaim(h.pipeline.prefix, 'creamery', `ship.csv:${stat.size}:${Math.floor(stat.mtimeMs / 1000) * 1000}`);
      // A worker claimed the file and confirmed what it holds, then died before moving it.
      await h.pipeline.redis.set(claim, 'dead-worker', 'PX', 600_000);
      const read = csvConfirmationFormat.read(text, configFor(dirs, true).suppliers.find((s) => s.id === 'creamery')!.confirmations!.csv as never);
      expect(await h.pipeline.confirmations.confirm('creamery', read.confirmations[0]!.confirmation, { channel: 'sftp', reference: 'ship.csv#row 2' })).toMatchObject({ status: 'recorded', duplicate: false });

      const pickup = pickupOf(h, config);
      expect((await pickup.run('creamery')).files).toEqual([{ file: 'ship.csv', outcome: 'claimed' }]);
      expect(list(dirs.creamery)).toEqual(['ship.csv']);

      // Its claim expires.
      await h.pipeline.redis.del(claim);
      expect((await pickup.run('creamery')).files).toEqual([{ file: 'ship.csv', outcome: 'processed', movedTo: 'processed/ship.csv', confirmations: 1, refused: 0 }]);
      expect(list(`${dirs.creamery}/processed`)).toEqual(['ship.csv']);
      const loop = await loopOf(h, '9204');
      expect(loop.shipped.l3).toBe(3);
      expect(loop.events.filter((e) => e.kind === 'shipped' && e.shipper === 'creamery')).toHaveLength(1);
      expect(await h.pipeline.redis.exists(claim)).toBe(0);
    } finally {
      await h.stop();
    }
  });

  it('never leaves a file in failed/ without its reason: the reason is written first, and a run that dies before it leaves the file for the next', async () => {
    const dirs = folders();
    const h = await startHarness(configFor(dirs, false), dirs.prefix);
    try {
      const config = configFor(dirs, true);
      drop(dirs.creamery, 'bad.csv', csv([['9208', 'BUTTER-42', 'x', 'UPS', '1Z999AA10123456784']]));
      // The reason cannot be written (as when the worker dies right there).
      const dying = (supplier: SupplierConfig) => {
        const folder = openSupplierFolder(supplier, config.dir);
        folder.write = () => Promise.reject(Object.assign(new Error('write: Failure'), { code: 4 }));
        return folder;
      };
      expect((await pickupOf(h, config, { openFolder: dying }).run('creamery')).files).toEqual([{ file: 'bad.csv', outcome: 'error' }]);
      expect(list(dirs.creamery)).toEqual(['bad.csv', 'failed']);
      expect(list(`${dirs.creamery}/failed`)).toEqual([]);

      expect((await pickupOf(h, config).run('creamery')).files).toEqual([{ file: 'bad.csv', outcome: 'failed', movedTo: 'failed/bad.csv' }]);
      expect(list(`${dirs.creamery}/failed`)).toEqual(['bad.csv', 'bad.csv.reason.txt']);
      expect(readFileSync(join(sshd.root, dirs.creamery, 'failed', 'bad.csv.reason.txt'), 'utf8')).toMatch(/^bad\.csv could not be read, and nothing in it was taken:\n- row 2/);
    } finally {
      await h.stop();
    }
  });

  it('leaves a file it could not move for the next run, records why, and goes on with the others', async () => {
    const dirs = folders();
    const h = await startHarness(configFor(dirs, false), dirs.prefix);
    try {
      await ordered(h, '9207');
      const config = configFor(dirs, true);
      drop(dirs.creamery, 'a.csv', csv([['9207', 'BUTTER-42', '1', 'UPS', '1Z999AA10123456781']]));
      drop(dirs.creamery, 'b.csv', csv([['9207', 'BUTTER-42', '1', 'UPS', '1Z999AA10123456782']]));
      // The server refuses to move a.csv (its read and confirmations went through).
      const refusing = (supplier: SupplierConfig) => {
        const folder = openSupplierFolder(supplier, config.dir);
        const move = folder.moveInto.bind(folder);
        folder.moveInto = (from, dir, name) => (name === 'a.csv' ? Promise.reject(Object.assign(new Error('rename: Permission denied'), { code: 3 })) : move(from, dir, name));
        return folder;
      };
      const first = await pickupOf(h, config, { openFolder: refusing }).run('creamery');
      expect(first.files).toEqual([
        { file: 'a.csv', outcome: 'error' },
        { file: 'b.csv', outcome: 'processed', movedTo: 'processed/b.csv', confirmations: 1, refused: 0 },
      ]);
      expect(list(dirs.creamery)).toEqual(['a.csv', 'processed']);
      expect(await pickupFailures(h.pipeline.redis, h.pipeline.prefix, 'creamery')).toEqual([{ file: 'a.csv', at: expect.any(String), kind: 'error', problems: ['rename: Permission denied'] }]);
      // The next run finds it processed already (its content is known) and only moves it.
      expect((await pickupOf(h, config).run('creamery')).files).toEqual([{ file: 'a.csv', outcome: 'duplicate', movedTo: 'processed/a.csv' }]);
      expect((await loopOf(h, '9207')).shipped.l3).toBe(2);
    } finally {
      await h.stop();
    }
  });

  it('fails the run when the folder cannot be reached, and leaves the files', async () => {
    const dirs = folders();
    const h = await startHarness(configFor(dirs, false), dirs.prefix);
    try {
      drop(dirs.creamery, 'ship.csv', csv([['9205', 'BUTTER-42', '1', 'UPS', '1Z999AA10123456784']]));
      const config = configFor(dirs, true);
      const creamery = config.suppliers.find((s) => s.id === 'creamery')!;
      creamery.delivery = { ...creamery.delivery, options: { ...(creamery.delivery.options as object), hostKey: 'SHA256:' + 'A'.repeat(43) } };
      await expect(pickupOf(h, config).run('creamery')).rejects.toMatchObject({ code: 'EHOSTKEY' });
      expect(list(dirs.creamery)).toEqual(['ship.csv']);
    } finally {
      await h.stop();
    }
  });

  it('is scheduled by the pipeline for each supplier with confirmations.sftp, and unscheduled when it has none', async () => {
    const dirs = folders();
    const h = await startHarness(configFor(dirs, true, 1000), dirs.prefix);
    const connection = redis.client();
    clients.push(connection);
    const queue = new Queue(PICKUPS_QUEUE, { connection, prefix: dirs.prefix });
    try {
      const schedulers = await queue.getJobSchedulers(0, -1);
      expect(schedulers.map((s) => [s.key, s.name, s.every]).sort()).toEqual([
        ['creamery', PICKUP_JOB, 1000],
        ['oliveco', PICKUP_JOB, 1000],
      ]);
      await ordered(h, '9206');
      drop(dirs.creamery, 'ship.csv', csv([['9206', 'VC-CHEVRE', '1', 'UPS', '1Z999AA10123456784']]));
      await waitFor('the scheduled pickup', () => list(`${dirs.creamery}/processed`).includes('ship.csv'));
      expect((await loopOf(h, '9206')).shipped.l2).toBe(1);
    } finally {
      await h.stop();
    }
    // Started again without confirmations.sftp: the schedulers are gone.
    const again = await startHarness(configFor(dirs, false), dirs.prefix);
    try {
      expect(await queue.getJobSchedulers(0, -1)).toEqual([]);
    } finally {
      await again.stop();
      await queue.close();
    }
  });
});

/**
 * A configuration directory as an operator writes it: the fixture's store and creamery, and the
 * olive co. sent X12 850s over SFTP (this server), with `confirmations` as given.
 */
function x12ConfigDir(confirmations: Record<string, unknown>): string {
  const configDir = mkdtempSync(join(tmpdir(), 'dropship-x12-config-'));
  mkdirSync(join(configDir, 'suppliers'));
  copyFileSync(join(FIXTURE_CONFIG_DIR, 'store.yaml'), join(configDir, 'store.yaml'));
  copyFileSync(join(FIXTURE_CONFIG_DIR, 'suppliers', 'creamery.yaml'), join(configDir, 'suppliers', 'creamery.yaml'));
  const oliveco = {
    id: 'oliveco',
    name: 'Test Olive Co',
    skus: ['OLV-*'],
    shipFrom: { name: 'Test Olive Co', line1: '3 Harbor Way', city: 'Oakland', region: 'CA', postalCode: '94607', country: 'US', phone: '+1 510 555 0103' },
    labels: 'supplier',
    fields: ['order.id', 'order.placedAt', 'shipTo.name', 'shipTo.line1', 'shipTo.city', 'shipTo.region', 'shipTo.postalCode', 'shipTo.country', 'lines.sku', 'lines.name', 'lines.quantity'],
    format: 'x12-850',
    formatOptions: X12_OPTIONS,
    delivery: sshd.deliveryOptions('out-oliveco'),
    confirmations,
  };
  writeFileSync(join(configDir, 'suppliers', 'oliveco.yaml'), stringify(oliveco));
  return configDir;
}

/** The problems of a configuration that does not load. */
function configProblems(configDir: string): string[] {
  try {
    loadConfig(configDir);
  } catch (error) {
    return [...((error as { problems?: string[] }).problems ?? [String(error)])];
  }
  throw new Error('expected the configuration to be refused');
}

describe('X12 confirmations: the options of a supplier’s 856s and 855s', () => {
  it('are read from confirmations.x12 of its file (defaults when absent), and every problem in them is named', () => {
    const sftp = { remoteDir: 'in', every: '1d', format: 'x12-856' };
    const made: string[] = [];
    const dir = (confirmations: Record<string, unknown>) => {
      made.push(x12ConfigDir(confirmations));
      return made.at(-1)!;
    };
    const x12Of = (configDir: string) => loadConfig(configDir).suppliers.find((s) => s.id === 'oliveco')!.confirmations!.x12;
    try {
      expect(x12Of(dir({ sftp, x12: { skuQualifiers: ['IN', 'SK'], controlNumberRef: 'ZZ' } }))).toEqual({ skuQualifiers: ['IN', 'SK'], controlNumberRef: 'ZZ' });
      expect(x12Of(dir({ sftp: { ...sftp, format: 'x12-855' }, x12: { controlNumberRef: 'ZZ' } }))).toEqual({ skuQualifiers: ['SK', 'BP', 'VP'], controlNumberRef: 'ZZ' });
      expect(x12Of(dir({ sftp }))).toEqual({ skuQualifiers: ['SK', 'BP', 'VP'] });

      expect(configProblems(dir({ sftp, x12: { skuQualifiers: ['IN', 'sku'], controlNumberRef: 'our ISA13', segment: 'REF' } })).sort()).toEqual([
        'suppliers/oliveco.yaml: confirmations.x12.controlNumberRef: must be a REF01 reference qualifier such as "ZZ"',
        'suppliers/oliveco.yaml: confirmations.x12.skuQualifiers[1]: must be a two-character product ID qualifier such as "SK"',
        'suppliers/oliveco.yaml: confirmations.x12: Unrecognized key: "segment"',
      ]);
      expect(configProblems(dir({ sftp, x12: { skuQualifiers: [] } }))).toEqual(['suppliers/oliveco.yaml: confirmations.x12.skuQualifiers: must name at least one qualifier']);
      // X12 comes only as files: the block means nothing to a supplier that sends other files, or none.
      expect(configProblems(dir({ sftp: { ...sftp, format: 'json' }, x12: { controlNumberRef: 'ZZ' } }))).toEqual([
        'suppliers/oliveco.yaml: confirmations.x12: applies only to X12 files picked up over SFTP (confirmations.sftp.format x12-856 or x12-855), but the format is json',
      ]);
      expect(configProblems(dir({ https: { auth: { bearerTokenEnv: 'OLIVECO_TOKEN' } }, x12: { controlNumberRef: 'ZZ' } }))).toEqual([
        'suppliers/oliveco.yaml: confirmations.x12: applies only to X12 files picked up over SFTP (confirmations.sftp.format x12-856 or x12-855), but there is no confirmations.sftp',
      ]);
    } finally {
      for (const d of made) rmSync(d, { recursive: true, force: true });
    }
  });

  it('fail a run before the folder is opened when a configuration built otherwise gives options the reader refuses', async () => {
    const dirs = folders();
    const config = configFor(dirs, true);
    const oliveco = config.suppliers.find((s) => s.id === 'oliveco')!;
    oliveco.confirmations = { ...oliveco.confirmations!, x12: { controlNumberRef: 'not a qualifier' } };
    expect(() => readerOf(oliveco)).toThrow(expect.objectContaining({ code: 'ECONFIG', problems: ['supplier oliveco: confirmations.x12: controlNumberRef: must be a REF01 reference qualifier such as "ZZ"'] }));
    drop(dirs.oliveco, 'asn.edi', 'ISA*');
    const opened: string[] = [];
    const client = redis.client();
    clients.push(client);
    const pickup = new ConfirmationPickup({
      redis: client,
      prefix: dirs.prefix,
      config,
      confirm: () => Promise.reject(new Error('nothing is confirmed')),
      openFolder: (supplier) => {
        opened.push(supplier.id);
        return openSupplierFolder(supplier, config.dir);
      },
    });
    await expect(pickup.run('oliveco')).rejects.toMatchObject({ code: 'ECONFIG' });
    expect(opened).toEqual([]);
    expect(list(dirs.oliveco)).toEqual(['asn.edi']);
  });

  it('are what the pickup reads with: an 856 naming another interchange than our 850 went out as is refused and recorded, one naming it is taken', async () => {
    const dirs = folders();
    // The olive co. echoes our SKU under IN (not a default qualifier) and our ISA13 under REF*ZZ.
    const configDir = x12ConfigDir({ sftp: { remoteDir: dirs.oliveco, every: '1d', format: 'x12-856' }, x12: { skuQualifiers: ['IN'], controlNumberRef: 'ZZ' } });
    try {
      const config = loadConfig(configDir);
      // The pipeline runs without the pickup's schedule: the test runs the pickup itself.
      const unscheduled = structuredClone(config);
      for (const s of unscheduled.suppliers) if (s.confirmations) delete s.confirmations.sftp;
      const h = await startHarness(unscheduled, dirs.prefix);
      try {
        await ordered(h, '9210');
        const po = h.recorder('oliveco').delivered.find((d) => d.orderId === '9210')!;
        expect(po.format).toBe('x12-850');
        const sent = Number(/^ISA(?:\*[^*]*){12}\*(\d{9})\*/.exec(po.body)![1]);
        const manifest = JSON.parse((await h.pipeline.redis.get(markerKeys.manifest(h.pipeline.prefix, '9210')))!) as { shipments: Array<{ shipper: string; controlNumber?: number }> };
        expect(manifest.shipments.find((s) => s.shipper === 'oliveco')?.controlNumber).toBe(sent);

        const asn = (reference: string, controlNumber: number) => {
          const body = asnBody({ reference, orderId: '9210', carrier: 'FDEG', trackingNumbers: ['794644790138'], lines: [{ sku: 'OLV-EVOO', quantity: 1 }], skuQualifier: 'IN' });
          body.splice(body.findIndex((segment) => segment[0] === 'PRF') + 1, 0, ['REF', 'ZZ', String(controlNumber).padStart(9, '0')]);
          return writeX12({ version: '005010', functionalId: 'SH', sets: [{ code: '856', body }] });
        };
        drop(dirs.oliveco, 'a-other.edi', asn('ASN-OTHER', sent + 1));
        drop(dirs.oliveco, 'b-ours.edi', asn('ASN-OURS', sent));

        const run = await pickupOf(h, config).run('oliveco');
        expect(run.files).toEqual([
          { file: 'a-other.edi', outcome: 'processed', movedTo: 'processed/a-other.edi', confirmations: 1, refused: 1 },
          { file: 'b-ours.edi', outcome: 'processed', movedTo: 'processed/b-ours.edi', confirmations: 1, refused: 0 },
        ]);
        const problem = `it answers interchange ${sent + 1}, but the purchase order went out as interchange ${sent}`;
        expect(readFileSync(join(sshd.root, dirs.oliveco, 'processed', 'a-other.edi.reason.txt'), 'utf8')).toBe(
          `a-other.edi was read; these of its confirmations were refused (the others were taken):\n- ASN-OTHER: ${problem}\n`,
        );
        expect(list(`${dirs.oliveco}/processed`)).toEqual(['a-other.edi', 'a-other.edi.reason.txt', 'b-ours.edi']);

        const loop = await loopOf(h, '9210');
        expect(loop.shipped).toEqual({ l4: 1 });
        expect(loop.events.filter((e) => e.kind === 'refused')).toEqual([expect.objectContaining({ supplierId: 'oliveco', what: 'shipment', channel: 'sftp', reference: 'a-other.edi#ASN-OTHER', problems: [problem] })]);
        expect(loop.events.filter((e) => e.kind === 'shipped')).toEqual([expect.objectContaining({ shipper: 'oliveco', carrier: 'FedEx', trackingNumbers: ['794644790138'], channel: 'sftp', reference: 'b-ours.edi#ASN-OURS' })]);
      } finally {
        await h.stop();
      }
    } finally {
      rmSync(configDir, { recursive: true, force: true });
    }
  });
});

describe('a file that fails for another reason than its content', () => {
  it('is left and counted when its reader fails unexpectedly, and goes to failed/ with its reason at the last attempt; the other files go on', async () => {
    const dirs = folders();
    // Four partitions: every key is hash-tagged, as on a Redis Cluster.
    const h = await PipelineHarness.start(configFor(dirs, false), redis.url, { prefix: dirs.prefix, partitions: 4 });
    const keys = h.pipeline.keys;
    const read = csvConfirmationFormat.read.bind(csvConfirmationFormat);
    // A reader fault on one file's content, whose message quotes the file (as JSON.parse's do).
    const faulty = jest.spyOn(csvConfirmationFormat, 'read').mockImplementation((text, options) => {
      if (text.includes('Crashing Carrier Co')) throw new TypeError('cannot read carrier "Crashing Carrier Co"');
      return read(text, options);
    });
    try {
      await ordered(h, '9211');
      const metrics = new PipelineMetrics({ queues: [], keys: [] });
      const config = configFor(dirs, true);
      drop(dirs.creamery, 'a-crash.csv', csv([['9211', 'BUTTER-42', '1', 'Crashing Carrier Co', '1Z999AA10123456781']]));
      drop(dirs.creamery, 'b-good.csv', csv([['9211', 'BUTTER-42', '1', 'UPS', '1Z999AA10123456782']]));
      const stat = statSync(join(sshd.root, dirs.creamery, 'a-crash.csv'));
      // Counted in the supplier's own partition, in the hash slot of its claims and failed files.
      const file = `a-crash.csv:${stat.size}:${Math.floor(stat.mtimeMs / 1000) * 1000}`;
      const attemptsKey = markerKeys.pickupAttempts(keys.forSupplier('creamery'), 'creamery', file);
      expect(attemptsKey).toMatch(/\{[^}]+\}/);
      expect(keySlot(attemptsKey)).toBe(keySlot(markerKeys.pickupClaim(keys.forSupplier('creamery'), 'creamery', file)));
      expect(keySlot(attemptsKey)).toBe(keySlot(markerKeys.pickupFailures(keys.forSupplier('creamery'), 'creamery')));
      const partitionedPickup = (extra: Partial<ConstructorParameters<typeof ConfirmationPickup>[0]>) => {
        const client = redis.client();
        clients.push(client);
        return new ConfirmationPickup({ redis: client, prefix: keys, config, confirm: (s, c, o) => h.pipeline.confirmations.confirm(s, c, o), ...extra });
      };

      expect((await partitionedPickup({ metrics }).run('creamery')).files).toEqual([
        { file: 'a-crash.csv', outcome: 'error', attempts: 1 },
        { file: 'b-good.csv', outcome: 'processed', movedTo: 'processed/b-good.csv', confirmations: 1, refused: 0 },
      ]);
      expect(list(dirs.creamery)).toEqual(['a-crash.csv', 'processed']);
      expect(await h.pipeline.redis.get(attemptsKey)).toBe('1');
      expect(await h.pipeline.redis.pttl(attemptsKey)).toBeGreaterThan(0);
      // Each run is a pickup of its own (a worker restarted in between counts on).
      for (let n = 2; n < MAX_FILE_ATTEMPTS; n++) {
        expect((await partitionedPickup({ metrics }).run('creamery')).files).toEqual([{ file: 'a-crash.csv', outcome: 'error', attempts: n }]);
        expect(list(dirs.creamery)).toEqual(['a-crash.csv', 'processed']);
      }
      expect((await partitionedPickup({ metrics }).run('creamery')).files).toEqual([{ file: 'a-crash.csv', outcome: 'failed', movedTo: 'failed/a-crash.csv', attempts: MAX_FILE_ATTEMPTS }]);
      expect(list(dirs.creamery)).toEqual(['failed', 'processed']);
      expect(list(`${dirs.creamery}/failed`)).toEqual(['a-crash.csv', 'a-crash.csv.reason.txt']);
      expect(readFileSync(join(sshd.root, dirs.creamery, 'failed', 'a-crash.csv.reason.txt'), 'utf8')).toBe(
        `a-crash.csv could not be read in ${MAX_FILE_ATTEMPTS} attempts, and nothing in it was taken:\n- the csv reader failed on it unexpectedly (TypeError)\n`,
      );
      expect(await h.pipeline.redis.exists(attemptsKey)).toBe(0);
      expect((await partitionedPickup({ metrics }).run('creamery')).files).toEqual([]);

      // Operators see every attempt, and the file in failed/; never what the file holds.
      const failures = await pickupFailures(h.pipeline.redis, keys, 'creamery');
      expect(failures).toHaveLength(MAX_FILE_ATTEMPTS);
      expect(failures[0]).toEqual({ file: 'a-crash.csv', at: expect.any(String), kind: 'unreadable', problems: ['the csv reader failed on it unexpectedly (TypeError)'], movedTo: 'failed/a-crash.csv', attempts: MAX_FILE_ATTEMPTS });
      expect(failures.at(-1)).toEqual({ file: 'a-crash.csv', at: expect.any(String), kind: 'error', problems: ['the csv reader failed on it unexpectedly (TypeError)', `attempt 1 of ${MAX_FILE_ATTEMPTS}: left for the next run`], attempts: 1 });
      expect(JSON.stringify(failures)).not.toContain('Crashing');
      const lag = (await new Operations(h.pipeline.redis, keys, config).confirmationLag()).find((l) => l.supplierId === 'creamery');
      expect(lag).toMatchObject({ failedFilesTotal: MAX_FILE_ATTEMPTS, failedFiles: [{ file: 'a-crash.csv', kind: 'unreadable', movedTo: 'failed/a-crash.csv' }, { kind: 'error' }, { kind: 'error' }] });
      const counted = await metrics.registry.getSingleMetricAsString('dropship_confirmation_files_total');
      expect(counted).toContain(`{supplier="creamery",outcome="error"} ${MAX_FILE_ATTEMPTS - 1}`);
      expect(counted).toContain('{supplier="creamery",outcome="failed"} 1');
      expect(counted).toContain('{supplier="creamery",outcome="processed"} 1');
      expect(parseLoop(await h.pipeline.redis.hgetall(markerKeys.loop(keys.forOrder('9211'), '9211'))).shipped.l3).toBe(1);
    } finally {
      faulty.mockRestore();
      await h.stop();
    }
  });

  it('counts nothing when the link is lost mid-download (the next run takes the file), and counts a download the server refuses while the link is up', async () => {
    const dirs = folders();
    const h = await startHarness(configFor(dirs, false), dirs.prefix);
    try {
      await ordered(h, '9212');
      const config = configFor(dirs, true);
      const attemptKeys = async () => h.pipeline.redis.keys(`${keySpaceOf(h.pipeline.prefix).forSupplier('creamery')}:pickup:attempts:*`);
      drop(dirs.creamery, 'ship.csv', csv([['9212', 'BUTTER-42', '1', 'UPS', '1Z999AA10123456781']]));
      // The server dies as the file is downloaded.
      const dying = (supplier: SupplierConfig) => {
        const folder = openSupplierFolder(supplier, config.dir);
        const read = folder.read.bind(folder);
        folder.read = (path) => {
          sshd.kill();
          return read(path);
        };
        return folder;
      };
      try {
        await expect(pickupOf(h, config, { openFolder: dying }).run('creamery')).rejects.toThrow();
      } finally {
        await sshd.restart();
      }
      expect(list(dirs.creamery)).toEqual(['ship.csv']);
      expect(await attemptKeys()).toEqual([]);
      expect(await pickupFailures(h.pipeline.redis, h.pipeline.prefix, 'creamery')).toEqual([]);
      expect((await pickupOf(h, config).run('creamery')).files).toEqual([{ file: 'ship.csv', outcome: 'processed', movedTo: 'processed/ship.csv', confirmations: 1, refused: 0 }]);

      // The server refuses to hand a file out, run after run (here, with two attempts allowed).
      drop(dirs.creamery, 'locked.csv', csv([['9212', 'BUTTER-42', '1', 'UPS', '1Z999AA10123456782']]));
      const refusing = (supplier: SupplierConfig) => {
        const folder = openSupplierFolder(supplier, config.dir);
        folder.read = () => Promise.reject(Object.assign(new Error('get: Permission denied'), { code: 3 }));
        return folder;
      };
      expect((await pickupOf(h, config, { openFolder: refusing, maxAttempts: 2 }).run('creamery')).files).toEqual([{ file: 'locked.csv', outcome: 'error', attempts: 1 }]);
      expect(await attemptKeys()).toHaveLength(1);
      expect((await pickupOf(h, config, { openFolder: refusing, maxAttempts: 2 }).run('creamery')).files).toEqual([{ file: 'locked.csv', outcome: 'failed', movedTo: 'failed/locked.csv', attempts: 2 }]);
      expect(readFileSync(join(sshd.root, dirs.creamery, 'failed', 'locked.csv.reason.txt'), 'utf8')).toBe(
        'locked.csv could not be read in 2 attempts, and nothing in it was taken:\n- it could not be downloaded: get: Permission denied\n',
      );
      expect(await attemptKeys()).toEqual([]);
      expect((await loopOf(h, '9212')).shipped.l3).toBe(1);
    } finally {
      await h.stop();
    }
  });
});

describe('dropship verify of a confirmation folder', () => {
  it('passes for a folder that exists, can be listed and whose processed/ can be written', async () => {
    const dirs = folders();
    const creamery = configFor(dirs, true).suppliers.find((s) => s.id === 'creamery')!;
    await verifyConfirmationFolder(creamery, sshd.root);
    expect(list(dirs.creamery)).toEqual(['processed']);
    expect(list(`${dirs.creamery}/processed`)).toEqual([]);
  });

  it('names a missing folder, and a processed/ that cannot be written', async () => {
    const dirs = folders();
    const missing = configFor({ ...dirs, creamery: 'no-such-folder' }, true).suppliers.find((s) => s.id === 'creamery')!;
    await expect(verifyConfirmationFolder(missing, sshd.root)).rejects.toThrow(`confirmation folder no-such-folder does not exist on 127.0.0.1:${sshd.port}`);
    const readOnly = configFor(dirs, true, 86_400_000, sshd.readOnlyPort).suppliers.find((s) => s.id === 'creamery')!;
    await expect(verifyConfirmationFolder(readOnly, sshd.root)).rejects.toThrow(new RegExp(`^${dirs.creamery}/processed does not exist on 127\\.0\\.0\\.1:${sshd.readOnlyPort} and cannot be made`));
    mkdirSync(join(sshd.root, dirs.creamery, 'processed'));
    await expect(verifyConfirmationFolder(readOnly, sshd.root)).rejects.toThrow(new RegExp(`^${dirs.creamery}/processed on 127\\.0\\.0\\.1:${sshd.readOnlyPort} is not writable`));
  });
});

describe('dropship verify (the command)', () => {
  it('checks the confirmation folder of a supplier with confirmations.sftp, after its delivery (its failures: above)', () => {
    const dirs = folders();
    const configDir = mkdtempSync(join(tmpdir(), 'dropship-pickup-config-'));
    try {
      mkdirSync(join(configDir, 'suppliers'));
      copyFileSync(join(FIXTURE_CONFIG_DIR, 'store.yaml'), join(configDir, 'store.yaml'));
      mkdirSync(join(sshd.root, 'out-creamery'), { recursive: true });
      const supplier = (remoteDir: string) =>
        readFileSync(join(FIXTURE_CONFIG_DIR, 'suppliers', 'creamery.yaml'), 'utf8')
          .replace(/^delivery: .*$/m, `delivery: { transport: sftp, host: 127.0.0.1, port: ${sshd.port}, username: ${sshd.username}, privateKeyFile: ${sshd.clientKey.privateKeyFile}, hostKey: "${sshd.hostKey.fingerprint}", remoteDir: out-creamery }`)
          .concat(`confirmations:\n  sftp: { remoteDir: ${remoteDir}, every: 5m, format: csv }\n  csv: { columns: { orderId: PO Number, sku: SKU, quantity: Qty, carrier: Carrier, trackingNumber: Tracking } }\n`);
      const verify = () => {
        const r = spawnSync(join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx'), [join(__dirname, '..', '..', 'src', 'cli', 'dropship.ts'), 'verify', 'creamery', '--json', '--config', configDir], { encoding: 'utf8', timeout: 60_000 });
        return { status: r.status, report: JSON.parse(r.stdout) as unknown, stderr: r.stderr };
      };
      writeFileSync(join(configDir, 'suppliers', 'creamery.yaml'), supplier(dirs.creamery));
      expect(verify()).toEqual({
        status: 0,
        stderr: '',
        report: {
          ok: true,
          keys: { ok: true },
          recipients: [
            { recipient: 'creamery', kind: 'dropship', ok: true },
            { recipient: 'creamery', kind: 'confirmations', ok: true },
          ],
        },
      });
      expect(list(dirs.creamery)).toEqual(['processed']);
    } finally {
      rmSync(configDir, { recursive: true, force: true });
    }
  });
});

describe('the claim lease of a pipeline started with DROPSHIP_LOCK_DURATION', () => {
  it('follows the workers’ lock duration, so a file claimed by a worker that died waits no longer than its jobs (at least 5 s)', () => {
    // The pipeline passes this to the pickup when the lock duration is set (test/chaos/loop.test.ts kills workers mid-pickup).
    expect(pickupLeaseMs(10_000)).toBe(10_000);
    expect(pickupLeaseMs(30_000)).toBe(30_000);
    expect(pickupLeaseMs(1000)).toBe(5000);
  });
});
