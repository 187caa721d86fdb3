import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import { DropshipError } from '../../src/errors';
import { FIXTURE_CONFIG_DIR } from '../support/orders';

function withConfig(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dropship-config-'));
  cpSync(FIXTURE_CONFIG_DIR, dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

function problemsOf(dir: string): string[] {
  try {
    loadConfig(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(DropshipError);
    return [...(err as DropshipError).problems];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  throw new Error('expected the configuration to be refused');
}

const supplier = (extra: string) => `
id: bad
name: Bad Supplier
skus: ["BAD-*"]
shipFrom: { name: Bad, line1: 1 Road, city: Town, country: US, phone: "+1 555 0100" }
format: csv
${extra}
`;

describe('loading configuration', () => {
  it('loads the fixture, frozen, suppliers sorted by id', () => {
    const config = loadConfig(FIXTURE_CONFIG_DIR);
    expect(config.suppliers.map((s) => s.id)).toEqual(['creamery', 'oliveco']);
    expect(config.suppliers[0]?.retry).toEqual({ attempts: 3, backoffMs: 100 });
    expect(config.store.retention).toEqual({ completedJobsMs: 3_600_000, dedupeMs: 86_400_000, disclosuresMs: 400 * 86_400_000 });
    expect(Object.isFrozen(config.suppliers[0]?.fields)).toBe(true);
  });

  it('loads the shipped example configuration', () => {
    const config = loadConfig(path.join(__dirname, '..', '..', 'config'));
    expect(config.suppliers.map((s) => [s.id, s.delivery.transport, s.format])).toEqual([
      ['alpine-chocolatier', 'email', 'json'],
      ['olive-grove', 'https', 'json'],
      ['vermont-creamery', 'sftp', 'csv'],
    ]);
  });

  it('refuses an allow-list naming a forbidden field, naming the file, the path and the field', () => {
    const problems = problemsOf(
      withConfig({
        'suppliers/bad.yaml': supplier(`fields: [order.id, billTo.line1, payment.last4, customer.browserIp]\ndelivery: { transport: outbox, dir: /tmp/x }`),
      }),
    );
    expect(problems).toEqual([
      'suppliers/bad.yaml: fields[1]: "billTo.line1" may never be sent to a supplier (billing and payment data never leave)',
      'suppliers/bad.yaml: fields[2]: "payment.last4" may never be sent to a supplier (billing and payment data never leave)',
      'suppliers/bad.yaml: fields[3]: "customer.browserIp" is not a canonical field path (see docs/canonical-order.md)',
    ]);
  });

  it('refuses SKU patterns using glob syntax that SKU patterns do not have, naming the file and the path', () => {
    const problems = problemsOf(
      withConfig({ 'suppliers/bad.yaml': supplier('fields: [order.id]\ndelivery: { transport: outbox, dir: /tmp/x }').replace('["BAD-*"]', '["BAD-*", "BAD-{A,B}", "BAD-[0-9]*", "!BAD-X"]') }),
    );
    expect(problems).toEqual([
      'suppliers/bad.yaml: skus[1]: uses braces "{a,b}", which SKU patterns do not support: list each pattern, or write "\\{" for a literal brace',
      'suppliers/bad.yaml: skus[2]: uses a character class "[...]", which SKU patterns do not support: list each pattern, or write "\\[" for a literal bracket',
      'suppliers/bad.yaml: skus[3]: starts with "!": negated patterns are not supported (write "\\!" for a SKU starting with "!")',
    ]);
  });

  it('reports every problem in every file at once', () => {
    const problems = problemsOf(
      withConfig({
        'store.yaml': 'store: { name: X }\nshipping: { methods: { std: { carrier: dhl, service: x } } }\n',
        'suppliers/bad.yaml': supplier(`fields: [order.id]\ndelivery: { transport: ftp }\nretry: { attempts: 0, backoff: soon }`),
        'suppliers/broken.yaml': 'id: [unclosed\n',
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^store\.yaml: shipping\.methods\.std\.carrier: /),
        expect.stringMatching(/^suppliers\/bad\.yaml: retry\.attempts: /),
        'suppliers/bad.yaml: retry.backoff: must be a duration such as "30s", "15m" or "2h"',
        expect.stringMatching(/^suppliers\/broken\.yaml: line \d+, column \d+: YAML: /),
      ]),
    );
    expect(problems.length).toBeGreaterThanOrEqual(4);
  });

  it('batching: refuses a format that cannot batch, a batch file name without {batchId}, a cancellation named like its order, and bad sizes', () => {
    const cxml = supplier(
      `fields: [order.id, lines.sku, lines.quantity]\nformatOptions: { payloadIdDomain: shop.example, from: { domain: DUNS, identity: "1" }, to: { domain: DUNS, identity: "2" }, sender: { domain: NetworkId, identity: shop }, billTo: { addressId: AP, name: Shop, line1: 1 Road, city: Town, postalCode: "1", country: US } }\ndelivery: { transport: outbox, dir: /tmp/x }\nbatch: { every: 15m }`,
    ).replace('format: csv', 'format: cxml');
    expect(problemsOf(withConfig({ 'suppliers/bad.yaml': cxml }))).toEqual(['suppliers/bad.yaml: batch: the cxml format carries one purchase order per document and cannot be batched']);
    const names = supplier(`fields: [order.id]\ndelivery: { transport: outbox, dir: /tmp/x, batchFilename: "orders.csv", filename: "{orderId}.csv", cancelFilename: "{orderId}.csv" }\nbatch: { every: 500ms, maxOrders: 0 }`);
    expect(problemsOf(withConfig({ 'suppliers/bad.yaml': names }))).toEqual([
      'suppliers/bad.yaml: batch.every: must be at least 1s',
      expect.stringMatching(/^suppliers\/bad\.yaml: batch\.maxOrders: /),
    ]);
    const named = supplier(`fields: [order.id]\ndelivery: { transport: outbox, dir: /tmp/x, batchFilename: "orders.csv", filename: "{orderId}.csv", cancelFilename: "{orderId}.csv" }\nbatch: { every: 15m }`);
    expect(problemsOf(withConfig({ 'suppliers/bad.yaml': named }))).toEqual([
      'suppliers/bad.yaml: delivery.cancelFilename: must differ from delivery.filename, or a cancellation would overwrite its purchase order',
      'suppliers/bad.yaml: delivery.batchFilename: must contain {batchId}, or one batch would overwrite the last',
    ]);
  });

  it('batching: a valid batch block is loaded in milliseconds, with the default file name', () => {
    const dir = withConfig({ 'suppliers/good.yaml': supplier(`fields: [order.id]\ndelivery: { transport: outbox, dir: /tmp/x }\nbatch: { every: 15m, maxOrders: 200 }`).replace('id: bad', 'id: good').replace('BAD-*', 'GOOD-*') });
    try {
      const good = loadConfig(dir).suppliers.find((s) => s.id === 'good');
      expect(good?.batch).toEqual({ everyMs: 900_000, maxOrders: 200 });
      expect(good?.delivery.batchFilename).toBe('{batchId}.csv');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names unknown formats and transports with the known ones', () => {
    const problems = problemsOf(withConfig({ 'suppliers/bad.yaml': supplier(`fields: [order.id]\ndelivery: { transport: ftp }`).replace('format: csv', 'format: pdf') }));
    expect(problems).toEqual([
      expect.stringMatching(/^suppliers\/bad\.yaml: format: "pdf" is not a known format \(known: csv, cxml, json, x12-850/),
      expect.stringMatching(/^suppliers\/bad\.yaml: delivery\.transport: "ftp" is not a known transport \(known: .*outbox/),
    ]);
  });

  it('refuses a supplier file whose id does not match its name, and duplicate warehouse ids', () => {
    const problems = problemsOf(
      withConfig({ 'suppliers/bad.yaml': supplier(`fields: [order.id]\ndelivery: { transport: outbox, dir: /tmp/x }`).replace('id: bad', 'id: warehouse') }),
    );
    expect(problems).toEqual(['suppliers/bad.yaml: id: is "warehouse" but the file is named bad.yaml; they must match']);
  });

  it('refuses a shipping method whose carrier is not configured', () => {
    const problems = problemsOf(
      withConfig({
        'store.yaml': 'store: { name: X }\nshipping: { methods: { std: { carrier: fedex, service: FEDEX_GROUND } } }\ncarriers: { ups: { shipperNumber: "A1B2C3" } }\n',
      }),
    );
    expect(problems).toEqual(['store.yaml: shipping.methods.std.carrier: uses fedex, but carriers.fedex is not configured']);
  });
});

describe('the order id on allow-lists', () => {
  it('is required: every purchase order is identified by it', () => {
    const problems = problemsOf(withConfig({ 'suppliers/bad.yaml': supplier(`fields: [shipment.id, lines.sku]\ndelivery: { transport: outbox, dir: /tmp/x }`) }));
    expect(problems).toEqual([
      'suppliers/bad.yaml: fields: "order.id" must be listed: every purchase order is identified by its order id (file name, shipment id, idempotency key)',
    ]);
  });
});

describe('api: rate limits and trusted proxies (store.yaml)', () => {
  const STORE = 'store: { name: X }\nshipping: { methods: { std: { carrier: ups, service: "03" } } }\ncarriers: { ups: { shipperNumber: "A1B2C3" } }\n';

  it('defaults to 600 requests a minute per client for orders, Shopify and supplier confirmations, 1200 for WooCommerce, 300 for the dashboard, no proxy', () => {
    expect(loadConfig(FIXTURE_CONFIG_DIR).store.api).toEqual({
      rateLimits: {
        orders: { max: 600, windowMs: 60_000 },
        shopify: { max: 600, windowMs: 60_000 },
        woocommerce: { max: 1200, windowMs: 60_000 },
        dashboard: { max: 300, windowMs: 60_000 },
        suppliers: { max: 600, windowMs: 60_000 },
      },
      trustProxy: [],
      webhookMaxAgeMs: 86_400_000,
    });
  });

  it('takes each limit on its own, the rest keeping their defaults', () => {
    const dir = withConfig({ 'store.yaml': `${STORE}api:\n  rateLimits:\n    shopify: { max: 1200, per: 30s }\n    dashboard: { max: 60 }\n  trustProxy: [10.0.0.0/8, "::1", loopback]\n  webhookMaxAge: 6h\n` });
    try {
      const { api } = loadConfig(dir).store;
      expect(api.rateLimits).toEqual({
        orders: { max: 600, windowMs: 60_000 },
        shopify: { max: 1200, windowMs: 30_000 },
        woocommerce: { max: 1200, windowMs: 60_000 },
        dashboard: { max: 60, windowMs: 60_000 },
        suppliers: { max: 600, windowMs: 60_000 },
      });
      expect(api.trustProxy).toEqual(['10.0.0.0/8', '::1', 'loopback']);
      expect(api.webhookMaxAgeMs).toBe(6 * 3_600_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad limits and proxy addresses, naming the file and path of each', () => {
    const problems = problemsOf(
      withConfig({
        'store.yaml': `${STORE}api:
  rateLimits:
    orders: { max: 0, per: soon }
    shopify: { max: 2.5, per: 500ms }
    woocommerce: { max: "600", per: 2d }
    dashboard: { per: 1m, burst: 10 }
    checkout: { max: 5 }
  trustProxy: [true, 10.0.0.0/33, everyone, 10.0.0.0/8]
  webhookMaxAge: 30d
  port: 80
`,
      }),
    );
    expect(problems).toEqual([
      'store.yaml: api.rateLimits.orders.max: must be at least 1',
      'store.yaml: api.rateLimits.orders.per: must be a duration such as "30s", "15m" or "2h"',
      'store.yaml: api.rateLimits.shopify.max: must be a whole number',
      'store.yaml: api.rateLimits.shopify.per: must be between 1s and 1d',
      'store.yaml: api.rateLimits.woocommerce.max: Invalid input: expected number, received string',
      'store.yaml: api.rateLimits.woocommerce.per: must be between 1s and 1d',
      'store.yaml: api.rateLimits.dashboard: Unrecognized key: "burst"',
      'store.yaml: api.rateLimits: Unrecognized key: "checkout"',
      'store.yaml: api.trustProxy[0]: Invalid input: expected string, received boolean',
      'store.yaml: api.trustProxy[1]: must be an IP address, a CIDR range such as 10.0.0.0/8, or loopback, linklocal or uniquelocal',
      'store.yaml: api.trustProxy[2]: must be an IP address, a CIDR range such as 10.0.0.0/8, or loopback, linklocal or uniquelocal',
      'store.yaml: api.webhookMaxAge: must be between 1h and 7d',
      'store.yaml: api: Unrecognized key: "port"',
    ]);
  });
});
