import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { stringify } from 'yaml';
import { startCarrierStandIn, type Carrier, type CarrierStandIn } from '../testkit/receivers/carriers';
import { SHOPIFY_STANDIN_API_VERSION, startShopifyStandIn, type ShopifyStandIn } from '../testkit/receivers/stores';
import { opensslAvailable, startHttpsReceiver, type HttpsReceiver } from '../testkit/receivers/https';
import { startSmtpReceiver, type SmtpReceiver } from '../testkit/receivers/smtp';
import { findSshd, SSHD_MISSING_HINT, startSshd, type LocalSshd } from '../testkit/receivers/sshd';
import { DATA_KEY_ENV, generateDataKey } from '../src/queue/sealing';

/**
 * Everything the demo runs against, on this machine only: a local receiver per supplier and
 * carrier stand-ins, generated keys and secrets, and a configuration pointing at them, all
 * in one temp dir that {@link DemoEnvironment.stop} removes.
 */

/** The suppliers of the demo, the first three modelled on the example configuration in `config/`. */
export const SUPPLIERS = {
  sftp: 'vermont-creamery',
  email: 'alpine-chocolatier',
  https: 'olive-grove',
  /** An EDI supplier: X12 850 purchase orders in, X12 856 ship notices back, both on its SFTP server. */
  x12: 'hudson-charcuterie',
} as const;

/** The EDI supplier's folders on the SFTP server: purchase orders in, ship notices out. */
export const X12_PO_DIR = 'edi/inbound';
export const X12_ASN_DIR = 'edi/outbound';
/** The store's and the EDI supplier's interchange ids (ISA06/ISA08). */
export const X12_PARTIES = { store: 'GOURMETLARDER', supplier: 'HUDSONCHARC' } as const;

/** Where the store's own key and the demo's secrets are found (set in this process only). */
export const ENV = {
  storeKeyFile: 'STORE_PGP_KEY_FILE',
  storePassphrase: 'STORE_PGP_PASSPHRASE',
  smtpUser: 'DEMO_SMTP_USER',
  smtpPassword: 'DEMO_SMTP_PASSWORD',
  oliveSecret: 'DEMO_OLIVE_GROVE_WEBHOOK_SECRET',
  upsId: 'DEMO_UPS_CLIENT_ID',
  upsSecret: 'DEMO_UPS_CLIENT_SECRET',
  fedexId: 'DEMO_FEDEX_CLIENT_ID',
  fedexSecret: 'DEMO_FEDEX_CLIENT_SECRET',
  creameryConfirmToken: 'DEMO_CREAMERY_CONFIRM_TOKEN',
  oliveConfirmSecret: 'DEMO_OLIVE_GROVE_CONFIRM_SECRET',
  shopifyToken: 'DEMO_SHOPIFY_ACCESS_TOKEN',
} as const;

/** The remote directory of the SFTP supplier, relative to the login directory. */
export const SFTP_REMOTE_DIR = 'inbound/orders';
/** Where the SFTP supplier leaves its shipment confirmations (CSV), relative to the login directory. */
export const SFTP_CONFIRMATIONS_DIR = 'outbound/confirmations';
/** The creamery's CSV confirmation columns, as its own system names them. */
export const CREAMERY_CSV_COLUMNS = { orderId: 'PO Number', sku: 'Item', quantity: 'Qty Shipped', carrier: 'Carrier', trackingNumber: 'Tracking #' };

/** One PGP key pair, armored; the private half unlocked. */
export interface DemoPgpKey {
  publicKey: string;
  privateKey: openpgp.PrivateKey;
  fingerprint: string;
}

export interface DemoEnvironment {
  /** The temp dir holding everything below. */
  readonly dir: string;
  readonly configDir: string;
  /** Payloads for recipients without a local receiver end up here. */
  readonly outboxDir: string;
  readonly sshd?: LocalSshd;
  readonly smtp?: SmtpReceiver;
  readonly https?: HttpsReceiver;
  readonly carriers: Partial<Record<Carrier, CarrierStandIn>>;
  /** The Shopify store stand-in told what shipped (absent: no platform, nothing is told). */
  readonly shopify?: ShopifyStandIn;
  /** The store's signing key (public half, to verify signatures). */
  readonly storeKey: DemoPgpKey;
  /** The email supplier's key (private half, to decrypt what it received). */
  readonly supplierKey: DemoPgpKey;
  /** Recipients whose receiver could not be started, with the reason: they go to the outbox. */
  readonly fallbacks: Map<string, string>;
  /** The secrets the configuration names, to be set in this process's environment. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

async function pgpKey(name: string, email: string, passphrase?: string): Promise<DemoPgpKey & { armoredPrivate: string }> {
  const generated = await openpgp.generateKey({
    userIDs: [{ name, email }],
    format: 'armored',
    ...(passphrase === undefined ? {} : { passphrase }),
  });
  let privateKey = await openpgp.readPrivateKey({ armoredKey: generated.privateKey });
  if (passphrase !== undefined) privateKey = await openpgp.decryptKey({ privateKey, passphrase });
  return { publicKey: generated.publicKey, privateKey, fingerprint: privateKey.getFingerprint().toUpperCase(), armoredPrivate: generated.privateKey };
}

const secret = (bytes = 18): string => randomBytes(bytes).toString('base64url');

/** Starts a receiver, or records why it could not be (then its recipients use the outbox). */
async function attempt<T>(what: string, recipients: string[], fallbacks: Map<string, string>, start: () => Promise<T>): Promise<T | undefined> {
  try {
    return await start();
  } catch (error) {
    const reason = `${what} could not be started (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`;
    for (const r of recipients) fallbacks.set(r, reason);
    return undefined;
  }
}

const SHIP_FROM = {
  [SUPPLIERS.sftp]: { name: 'Vermont Creamery', line1: '40 Pitman Rd', city: 'Websterville', region: 'VT', postalCode: '05678', country: 'US', phone: '+1 802 555 0100' },
  [SUPPLIERS.email]: { name: 'Alpine Chocolatier', line1: '9 Bahnhofstrasse', city: 'Burlington', region: 'VT', postalCode: '05401', country: 'US', phone: '+1 802 555 0177' },
  [SUPPLIERS.https]: { name: 'Olive Grove Imports', line1: '77 Harbor Way', city: 'Oakland', region: 'CA', postalCode: '94607', country: 'US', phone: '+1 510 555 0123' },
  [SUPPLIERS.x12]: { name: 'Hudson Valley Charcuterie', line1: '5 Orchard Lane', city: 'Hudson', region: 'NY', postalCode: '12534', country: 'US', phone: '+1 518 555 0166' },
};

/** The local receivers that could be started (the others' recipients use the outbox). */
interface Receivers {
  sshd?: LocalSshd | undefined;
  smtp?: SmtpReceiver | undefined;
  https?: HttpsReceiver | undefined;
  carriers: Partial<Record<Carrier, CarrierStandIn>>;
  shopify?: ShopifyStandIn | undefined;
}

/** `store.yaml` and one file per supplier, each delivering to its local receiver (or the outbox). */
function writeConfiguration(configDir: string, outboxDir: string, receivers: Receivers): void {
  const { sshd, smtp, https, carriers, shopify } = receivers;
  if (sshd) mkdirSync(path.join(sshd.root, SFTP_REMOTE_DIR), { recursive: true });
  if (sshd) mkdirSync(path.join(sshd.root, SFTP_CONFIRMATIONS_DIR), { recursive: true });
  if (sshd) mkdirSync(path.join(sshd.root, X12_PO_DIR), { recursive: true });
  if (sshd) mkdirSync(path.join(sshd.root, X12_ASN_DIR), { recursive: true });
  const outbox = { transport: 'outbox', dir: outboxDir };
  const deliveries: Record<string, Record<string, unknown>> = {
    [SUPPLIERS.sftp]: {
      ...(sshd
        ? sshd.deliveryOptions(SFTP_REMOTE_DIR)
        : outbox),
      filename: '{orderId}-{supplierId}.csv',
    },
    [SUPPLIERS.x12]: { ...(sshd ? sshd.deliveryOptions(X12_PO_DIR) : outbox), filename: '{orderId}-{supplierId}.edi' },
    [SUPPLIERS.email]: smtp
      ? {
          transport: 'email',
          to: 'orders@alpine-chocolatier.example',
          from: 'The Gourmet Larder <dropship@gourmet-larder.example>',
          smtp: { host: smtp.host, port: smtp.port, requireTLS: true, caFile: smtp.ca.caFile, userEnv: ENV.smtpUser, passwordEnv: ENV.smtpPassword },
        }
      : outbox,
    [SUPPLIERS.https]: https
      ? { transport: 'https', url: `${https.url}/v1/purchase-orders`, caFile: https.ca.caFile, auth: { hmacSecretEnv: ENV.oliveSecret }, timeout: '10s' }
      : outbox,
  };
  const address = (field: string) => [`${field}.name`, `${field}.line1`, `${field}.line2`, `${field}.city`, `${field}.region`, `${field}.postalCode`, `${field}.country`];
  const suppliers = [
    {
      id: SUPPLIERS.sftp,
      name: 'Vermont Creamery',
      skus: ['VC-*', 'BUTTER-42'],
      labels: 'retailer',
      fields: ['order.id', ...address('shipTo'), 'lines.sku', 'lines.name', 'lines.quantity', 'shipment.carrier', 'shipment.service', 'shipment.trackingNumber'],
      format: 'csv',
    },
    {
      id: SUPPLIERS.email,
      name: 'Alpine Chocolatier',
      skus: ['CHOC-*'],
      labels: 'supplier',
      fields: ['order.id', 'order.giftMessage', ...address('shipTo'), 'lines.sku', 'lines.name', 'lines.quantity', 'lines.properties', 'shipment.carrier', 'shipment.service'],
      format: 'json',
      // Email is always PGP-encrypted; the outbox has no PGP.
      ...(smtp ? { pgp: { publicKeyFile: 'keys/alpine-chocolatier.asc' } } : {}),
    },
    {
      id: SUPPLIERS.https,
      name: 'Olive Grove Imports',
      skus: ['OLV-*'],
      labels: 'retailer',
      fields: ['order.id', 'order.placedAt', ...address('shipTo'), 'shipTo.company', 'lines.sku', 'lines.quantity', 'shipment.id', 'shipment.carrier', 'shipment.service', 'shipment.trackingNumber'],
      format: 'json',
    },
    {
      id: SUPPLIERS.x12,
      name: 'Hudson Valley Charcuterie',
      skus: ['HV-*'],
      // It ships on its own UPS account and says so in an X12 856.
      labels: 'supplier',
      fields: ['order.id', ...address('shipTo'), 'lines.sku', 'lines.name', 'lines.quantity', 'shipment.carrier', 'shipment.service'],
      format: 'x12-850',
      formatOptions: { sender: { qualifier: 'ZZ', id: X12_PARTIES.store }, receiver: { qualifier: 'ZZ', id: X12_PARTIES.supplier } },
    },
  ];
  // The creamery and the olive grove tell the store what they shipped, over its confirmation API.
  const confirmations: Record<string, unknown> = {
    // The creamery acknowledges over the API and reports shipments as CSV files in its SFTP folder.
    [SUPPLIERS.sftp]: {
      https: { auth: { bearerTokenEnv: ENV.creameryConfirmToken } },
      ...(sshd ? { sftp: { remoteDir: SFTP_CONFIRMATIONS_DIR, every: '5m', format: 'csv' } } : {}),
      csv: { columns: CREAMERY_CSV_COLUMNS },
      expectWithin: '48h',
    },
    [SUPPLIERS.https]: { https: { auth: { hmacSecretEnv: ENV.oliveConfirmSecret } }, expectWithin: '48h' },
    // The charcuterie leaves X12 856 ship notices in its SFTP folder.
    ...(sshd ? { [SUPPLIERS.x12]: { sftp: { remoteDir: X12_ASN_DIR, every: '5m', format: 'x12-856' }, expectWithin: '48h' } } : {}),
  };
  for (const s of suppliers) {
    const doc = { ...s, shipFrom: SHIP_FROM[s.id], delivery: deliveries[s.id], retry: { attempts: 8, backoff: '1s' }, ...(confirmations[s.id] ? { confirmations: confirmations[s.id] } : {}) };
    writeFileSync(path.join(configDir, 'suppliers', `${s.id}.yaml`), `# Demo supplier delivering to a local receiver (written by demo/)\n${stringify(doc)}`);
  }

  const carrierBlock = (carrier: Carrier, account: Record<string, string>): Record<string, unknown> => {
    const standIn = carriers[carrier];
    const prefix = carrier === 'ups' ? 'UPS' : 'FEDEX';
    return {
      ...account,
      environment: 'test',
      clientIdEnv: `DEMO_${prefix}_CLIENT_ID`,
      clientSecretEnv: `DEMO_${prefix}_CLIENT_SECRET`,
      ...(standIn ? { baseUrl: standIn.url, caFile: standIn.caFile, timeout: '10s' } : {}),
    };
  };
  const store = {
    store: {
      name: 'The Gourmet Larder (demo)',
      // What shipped goes back to the (stand-in) Shopify store, which tells the customer.
      ...(shopify
        ? {
            platform: 'shopify',
            shopify: { shopDomain: 'gourmet-larder-demo.myshopify.com', accessTokenEnv: ENV.shopifyToken, apiVersion: SHOPIFY_STANDIN_API_VERSION, baseUrl: shopify.url, caFile: shopify.caFile },
          }
        : {}),
    },
    warehouse: {
      id: 'warehouse',
      address: { name: 'The Gourmet Larder', company: 'The Gourmet Larder LLC', line1: '120 Market Street', city: 'Portland', region: 'OR', postalCode: '97204', country: 'US', phone: '+1 503 555 0142' },
    },
    shipping: {
      methods: {
        standard: { carrier: 'ups', service: '03' },
        'ups-2day': { carrier: 'ups', service: '02' },
        express: { carrier: 'fedex', service: 'PRIORITY_OVERNIGHT' },
        'fedex-ground': { carrier: 'fedex', service: 'FEDEX_GROUND' },
      },
      default: 'standard',
      defaultLineWeightGrams: 500,
    },
    carriers: {
      ups: carrierBlock('ups', { shipperNumber: 'A1B2C3', labelFormat: 'GIF' }),
      fedex: carrierBlock('fedex', { accountNumber: '740561073', labelImageType: 'PDF' }),
    },
    retention: { completedJobs: '1h', dedupe: '1d' },
    // The demo posts up to a thousand orders in a few seconds, all from loopback.
    api: { rateLimits: { orders: { max: 2000, per: '1m' } } },
  };
  writeFileSync(path.join(configDir, 'store.yaml'), `# Demo store; the carriers point at local stand-ins (written by demo/)\n${stringify(store)}`);
}

/** Starts the receivers, makes the keys and secrets, and writes the configuration. */
export async function startDemoEnvironment(): Promise<DemoEnvironment> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dropship-demo-'));
  const configDir = path.join(dir, 'config');
  const secretsDir = path.join(dir, 'secrets');
  const outboxDir = path.join(dir, 'outbox');
  mkdirSync(path.join(configDir, 'suppliers'), { recursive: true });
  mkdirSync(path.join(configDir, 'keys'));
  mkdirSync(secretsDir, { mode: 0o700 });

  const fallbacks = new Map<string, string>();
  const smtpCredentials = { user: 'store', password: secret() };
  const oliveSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const storePassphrase = secret();

  const tls = opensslAvailable();
  if (!tls) {
    for (const r of [SUPPLIERS.email, SUPPLIERS.https, 'ups', 'fedex']) {
      fallbacks.set(r, 'openssl is not installed, so no local TLS certificate can be made (Debian/Ubuntu: apt-get install openssl)');
    }
  }
  if (findSshd() === undefined) {
    fallbacks.set(SUPPLIERS.sftp, SSHD_MISSING_HINT);
    fallbacks.set(SUPPLIERS.x12, SSHD_MISSING_HINT);
  }
  const keys = Promise.all([
    pgpKey('The Gourmet Larder (demo)', 'dropship@gourmet-larder.example', storePassphrase),
    pgpKey('Alpine Chocolatier orders (demo)', 'orders@alpine-chocolatier.example'),
  ]);
  // Awaited below, once the receivers are up; a failure meanwhile must not count as unhandled.
  keys.catch(() => undefined);
  const [sshd, smtp, https, ups, fedex] = await Promise.all([
    fallbacks.has(SUPPLIERS.sftp) ? undefined : attempt('sshd', [SUPPLIERS.sftp, SUPPLIERS.x12], fallbacks, () => startSshd()),
    tls ? attempt('the SMTP receiver', [SUPPLIERS.email], fallbacks, () => startSmtpReceiver({ credentials: smtpCredentials })) : undefined,
    tls ? attempt('the HTTPS receiver', [SUPPLIERS.https], fallbacks, () => startHttpsReceiver({ webhookSecret: oliveSecret })) : undefined,
    tls ? attempt('the UPS stand-in', ['ups'], fallbacks, () => startCarrierStandIn('ups')) : undefined,
    tls ? attempt('the FedEx stand-in', ['fedex'], fallbacks, () => startCarrierStandIn('fedex')) : undefined,
  ]);
  const shopify = tls ? await attempt('the Shopify stand-in', ['shopify'], fallbacks, () => startShopifyStandIn()) : undefined;
  // The Shopify example order (examples/orders/shopify-orders-create.json) as the store holds
  // it: one fulfillment order with its lines that ship (the removed line has none left).
  shopify?.addOrder({
    id: 5800000000001,
    fulfillmentOrders: [
      {
        id: 6900000000001,
        status: 'OPEN',
        locationId: 7700000000001,
        lines: [
          { id: 6910000000001, lineItemId: 13600000000001, remaining: 2 },
          { id: 6910000000002, lineItemId: 13600000000002, remaining: 1 },
          { id: 6910000000004, lineItemId: 13600000000004, remaining: 3 },
        ],
      },
    ],
  });
  const carriers: Partial<Record<Carrier, CarrierStandIn>> = { ...(ups ? { ups } : {}), ...(fedex ? { fedex } : {}) };
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.allSettled([sshd?.stop(), smtp?.stop(), https?.stop(), ups?.stop(), fedex?.stop(), shopify?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const [storeKey, supplierKey] = await keys;
    const secretFile = (name: string, content: string): string => {
      const full = path.join(secretsDir, name);
      writeFileSync(full, content, { mode: 0o600 });
      return full;
    };
    const storeKeyFile = secretFile('store-signing-key.asc', storeKey.armoredPrivate);
    secretFile('alpine-chocolatier-private-key.asc', supplierKey.armoredPrivate);
    writeFileSync(path.join(configDir, 'keys', 'alpine-chocolatier.asc'), supplierKey.publicKey);
    writeConfiguration(configDir, outboxDir, { sshd, smtp, https, carriers, shopify });
    const env: Record<string, string> = {
      [ENV.storeKeyFile]: storeKeyFile,
      [ENV.storePassphrase]: storePassphrase,
      [ENV.smtpUser]: smtpCredentials.user,
      [ENV.smtpPassword]: smtpCredentials.password,
      [ENV.oliveSecret]: oliveSecret,
      [ENV.creameryConfirmToken]: secret(),
      [ENV.oliveConfirmSecret]: `whsec_${randomBytes(24).toString('base64')}`,
      ...(shopify ? { [ENV.shopifyToken]: shopify.accessToken } : {}),
      // The key every process of this demo seals job data with (the demo's Redis is its own).
      [DATA_KEY_ENV]: generateDataKey(),
      ...(ups ? { [ENV.upsId]: ups.clientId, [ENV.upsSecret]: ups.clientSecret } : {}),
      ...(fedex ? { [ENV.fedexId]: fedex.clientId, [ENV.fedexSecret]: fedex.clientSecret } : {}),
    };
    return {
      dir,
      configDir,
      outboxDir,
      ...(sshd ? { sshd } : {}),
      ...(smtp ? { smtp } : {}),
      ...(https ? { https } : {}),
      carriers,
      ...(shopify ? { shopify } : {}),
      storeKey,
      supplierKey,
      fallbacks,
      env,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
