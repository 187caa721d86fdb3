import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import * as openpgp from 'openpgp';
import SftpClient from 'ssh2-sftp-client';
import { sshFingerprint } from '../src/transports/sftp/connection';
import { upsTransId } from '../src/carriers/ups/client';
import { SFTP_REMOTE_DIR, X12_PO_DIR, SUPPLIERS, type DemoEnvironment } from './environment';
import type { Carrier } from '../testkit/receivers/carriers';

/**
 * What each recipient holds at the end of the demo, read back the way the recipient itself
 * would: files fetched over SFTP, mail decrypted with the supplier's key and its signature
 * checked against the store's key, HTTPS requests with their signatures verified.
 */

/** One payload as the recipient has it. */
export interface ReceivedPayload {
  /** The order it belongs to (from the file name, subject or idempotency key). */
  orderId: string;
  /** File name, attachment name or idempotency key. */
  name: string;
  /** The payload, decrypted where it travelled encrypted. */
  body: string;
}

export interface RecipientInbox {
  recipient: string;
  /** How it was delivered and where to, in a few words. */
  via: string;
  items: ReceivedPayload[];
  /** What was checked on the way back, each as "n of m ..." facts. */
  checks: string[];
  /** Checks that failed. */
  problems: string[];
}

const orderOfFile = (name: string, recipient: string): string => name.replace(new RegExp(`-${recipient}\\.[a-z0-9]+$`), '');

/** An SFTP supplier's drop, listed and fetched over SFTP with the pinned host key. */
async function sftpInbox(env: DemoEnvironment, recipient: string = SUPPLIERS.sftp, remoteDir: string = SFTP_REMOTE_DIR): Promise<RecipientInbox> {
  const sshd = env.sshd;
  if (sshd === undefined) throw new Error('no sshd');
  const client = new SftpClient('dropship-demo-readback');
  await client.connect({
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.clientKey.privateKey,
    hostVerifier: (key: Buffer) => sshFingerprint(key) === sshd.hostKey.fingerprint,
  });
  try {
    const entries = (await client.list(remoteDir)).filter((e) => e.type === '-').map((e) => e.name).sort();
    const partial = entries.filter((n) => n.startsWith('.') && n.endsWith('.part'));
    const items: ReceivedPayload[] = [];
    for (const name of entries.filter((n) => !n.startsWith('.'))) {
      const data = (await client.get(`${remoteDir}/${name}`)) as Buffer;
      items.push({ orderId: orderOfFile(name, recipient), name, body: data.toString('utf8') });
    }
    return {
      recipient,
      via: `SFTP to OpenSSH sshd ${sshd.host}:${sshd.port}, host key ${sshd.hostKey.fingerprint} pinned`,
      items,
      checks: [`${items.length} files in ${remoteDir}/, read back over SFTP`, `${partial.length} partial uploads left behind`],
      problems: partial.length > 0 ? [`partial uploads left: ${partial.join(', ')}`] : [],
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The email supplier's mailbox: every message decrypted with its key, the store's signature checked. */
async function emailInbox(env: DemoEnvironment): Promise<RecipientInbox> {
  const smtp = env.smtp;
  if (smtp === undefined) throw new Error('no SMTP receiver');
  const storePublicKey = env.storeKey.privateKey.toPublic();
  const items: ReceivedPayload[] = [];
  const problems: string[] = [];
  let secure = 0;
  let decrypted = 0;
  let verified = 0;
  for (const [n, mail] of smtp.messages.entries()) {
    if (mail.secure) secure += 1;
    const outer = await simpleParser(mail.raw);
    const encrypted = outer.attachments.find((a) => a.contentType === 'application/octet-stream');
    if (encrypted === undefined) {
      problems.push(`message ${n + 1} has no encrypted part`);
      continue;
    }
    try {
      const result = await openpgp.decrypt({
        message: await openpgp.readMessage({ armoredMessage: encrypted.content.toString('utf8') }),
        decryptionKeys: env.supplierKey.privateKey,
        verificationKeys: storePublicKey,
        format: 'binary',
      });
      decrypted += 1;
      const signature = result.signatures[0];
      if (signature !== undefined && (await signature.verified.catch(() => false))) verified += 1;
      else problems.push(`message ${n + 1} ("${outer.subject ?? ''}"): the store's signature does not verify`);
      const inner = await simpleParser(Buffer.from(result.data));
      for (const attachment of inner.attachments) {
        const name = attachment.filename ?? 'attachment';
        items.push({ orderId: orderOfFile(name, SUPPLIERS.email), name: `"${outer.subject ?? ''}", attachment ${name}`, body: attachment.content.toString('utf8') });
      }
    } catch (error) {
      problems.push(`message ${n + 1} cannot be decrypted with the supplier's key (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  const total = smtp.messages.length;
  return {
    recipient: SUPPLIERS.email,
    via: `PGP/MIME email over SMTP with STARTTLS to ${smtp.host}:${smtp.port}`,
    items,
    checks: [
      `${total} messages, ${secure} of them sent over STARTTLS`,
      `${decrypted} decrypted with the supplier's private key`,
      `${verified} signatures verified against the store's key ${env.storeKey.fingerprint.slice(-16)}`,
    ],
    problems: [...problems, ...(secure < total ? [`${total - secure} messages arrived without TLS`] : [])],
  };
}

const header = (value: string | string[] | undefined): string => (Array.isArray(value) ? (value[0] ?? '') : (value ?? ''));

/** The HTTPS supplier's endpoint: every accepted request with its signature verified. */
function httpsInbox(env: DemoEnvironment): RecipientInbox {
  const https = env.https;
  if (https === undefined) throw new Error('no HTTPS receiver');
  const accepted = https.requests.filter((r) => r.status !== undefined && r.status < 300);
  const keys = new Set(accepted.map((r) => header(r.headers['idempotency-key'])));
  const signed = accepted.filter((r) => r.signatureValid === true).length;
  const items = accepted.map((r) => {
    const key = header(r.headers['idempotency-key']);
    return { orderId: key.split('+')[0] ?? key, name: `${r.method} ${r.path}, Idempotency-Key ${key}`, body: r.body };
  });
  return {
    recipient: SUPPLIERS.https,
    via: `HTTPS POST to ${https.url}/v1/purchase-orders, certificate from the demo CA`,
    items,
    checks: [`${accepted.length} requests accepted`, `${signed} Standard Webhooks signatures verified`, `${keys.size} distinct Idempotency-Keys`],
    problems: [
      ...(signed < accepted.length ? [`${accepted.length - signed} requests without a valid signature`] : []),
      ...(keys.size < accepted.length ? [`${accepted.length - keys.size} requests repeated an Idempotency-Key`] : []),
    ],
  };
}

/** A carrier stand-in's shipments, mapped back to their orders by the ids the clients sent. */
function carrierInbox(env: DemoEnvironment, carrier: Carrier, deliveryIds: readonly string[]): RecipientInbox {
  const standIn = env.carriers[carrier];
  if (standIn === undefined) throw new Error(`no ${carrier} stand-in`);
  const byTransaction = new Map(deliveryIds.map((id) => [carrier === 'ups' ? upsTransId(id) : id, id]));
  const shipped = standIn.requestsTo('ship').filter((r) => r.status === 200);
  const items = shipped.map((r) => {
    const transaction = header(r.headers[carrier === 'ups' ? 'transid' : 'x-customer-transaction-id']);
    const deliveryId = byTransaction.get(transaction) ?? transaction;
    return { orderId: deliveryId.split('+')[0] ?? deliveryId, name: deliveryId, body: r.body };
  });
  return {
    recipient: carrier,
    via: `${carrier === 'ups' ? 'UPS Shipping' : 'FedEx Ship'} API stand-in at ${standIn.url} (OAuth client credentials)`,
    items,
    checks: [`${shipped.length} shipments created`, `${standIn.tokens.length} OAuth token${standIn.tokens.length === 1 ? '' : 's'} issued`],
    problems: standIn.violations.slice(0, 5),
  };
}

/** Payloads written to the outbox for a recipient whose receiver could not run. */
async function outboxInbox(env: DemoEnvironment, recipient: string, reason: string): Promise<RecipientInbox> {
  const folder = path.join(env.outboxDir, recipient);
  const names = (await readdir(folder).catch(() => [] as string[])).filter((n) => !n.startsWith('.')).sort();
  const items = await Promise.all(
    names.map(async (name) => ({ orderId: orderOfFile(name, recipient).replace(/-(ups|fedex)$/, ''), name, body: await readFile(path.join(folder, name), 'utf8') })),
  );
  return { recipient, via: `outbox ${folder} (${reason})`, items, checks: [`${items.length} files written`], problems: [] };
}

/** Every recipient's inbox, suppliers first. `carrierDeliveryIds` maps carrier requests back to orders. */
export async function readInboxes(env: DemoEnvironment, carrierDeliveryIds: readonly string[]): Promise<RecipientInbox[]> {
  const read = (recipient: string, own: () => Promise<RecipientInbox> | RecipientInbox): Promise<RecipientInbox> => {
    const reason = env.fallbacks.get(recipient);
    return reason === undefined ? Promise.resolve(own()) : outboxInbox(env, recipient, reason);
  };
  return Promise.all([
    read(SUPPLIERS.sftp, () => sftpInbox(env)),
    read(SUPPLIERS.email, () => emailInbox(env)),
    read(SUPPLIERS.https, () => httpsInbox(env)),
    read(SUPPLIERS.x12, () => sftpInbox(env, SUPPLIERS.x12, X12_PO_DIR)),
    read('ups', () => carrierInbox(env, 'ups', carrierDeliveryIds)),
    read('fedex', () => carrierInbox(env, 'fedex', carrierDeliveryIds)),
  ]);
}
