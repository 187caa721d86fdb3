import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CATALOGUE } from '../../src/errors';
import { generateDataKey } from '../../src/queue/sealing';
import { FIXTURE_CONFIG_DIR } from '../support/orders';
import type { PipelineHarness } from '../support/pipeline';
import { dropshipCli } from '../support/cli';
import { TestRedis } from '../support/redis';
import { noDefaultMethodConfig, PERSONAL, seedOrders, startHarness, trackingNumberOf } from './support';

/**
 * `dropship status ORDER_ID`, run as an operator runs it (tsx, the CLI, REDIS_URL) against a
 * Redis the real pipeline left: each shipment's stages, and a held order's reason in words
 * with what to do.
 */


let redis: TestRedis;
let harness: PipelineHarness;
let tmp: string;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dropship-status-'));
  redis = await TestRedis.start();
  harness = await startHarness(noDefaultMethodConfig(), redis.url, 'status');
  await seedOrders(harness);
}, 60_000);

afterAll(async () => {
  await harness?.stop();
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const dropship = dropshipCli({ cwd: () => tmp, configDir: FIXTURE_CONFIG_DIR, env: () => ({ REDIS_URL: redis.url, QUEUE_PREFIX: 'status', DROPSHIP_DATA_KEY: generateDataKey() }) });
const status = (orderId: string, ...extra: string[]) => dropship('status', orderId, ...extra);

describe('dropship status ORDER_ID', () => {
  it("prints each shipment's stages: planned → sent, where and when, tracking", () => {
    const r = status('1001');
    expect([r.code, r.stderr]).toEqual([0, '']);
    const at = String.raw`\d{4}-\d\d-\d\dT[\d:.]+Z`;
    expect(r.stdout).toMatch(new RegExp(`\\nshipment 1001\\+creamery: sent\\n  ups \\(carrier\\): planned → sent ${at} via recording \\(ups-ship\\), tracking ${trackingNumberOf('1001+creamery+carrier')}\\n  creamery \\(supplier\\): planned → sent ${at} via recording \\(csv\\)\\n`));
    expect(r.stdout).toMatch(new RegExp(`\\nshipment 1001\\+warehouse: shipped\\n  ups \\(carrier\\): planned → sent ${at} via recording \\(ups-ship\\), tracking ${trackingNumberOf('1001+warehouse+carrier')}\\n  shipped ${at} by warehouse: UPS ${trackingNumberOf('1001+warehouse+carrier')} \\(2 units, label\\)\\n`));
    for (const value of PERSONAL) expect(r.stdout).not.toContain(value);

    const json = JSON.parse(status('1001', '--json').stdout) as { shipments: Array<{ shipmentId: string; deliveries: Array<{ recipient: string; stage: string }> }> };
    expect(json.shipments.map((s) => [s.shipmentId, s.deliveries.map((d) => `${d.recipient} ${d.stage}`)])).toEqual([
      ['1001+creamery', ['ups sent', 'creamery sent']],
      ['1001+oliveco', ['oliveco sent']],
      ['1001+warehouse', ['ups sent']],
    ]);
  }, 60_000);

  it('prints a held order with its reason in words and what to do', () => {
    const r = status('1002');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `held: ${CATALOGUE.UNKNOWN_SHIPPING_METHOD.message} (UNKNOWN_SHIPPING_METHOD); shipping method "pigeon-post" is not in store.yaml shipping.methods and no shipping.default is set; what to do: ${CATALOGUE.UNKNOWN_SHIPPING_METHOD.action}\n`,
    );
  }, 60_000);
});
