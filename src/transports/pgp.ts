import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import MimeNode from 'nodemailer/lib/mime-node';
import * as openpgp from 'openpgp';
import { boundaryBase, mimeBytes } from './mime';
import { DeliveryError } from './transport';

const DAY_MS = 86_400_000;

/** A supplier's public key, read and checked (see {@link readRecipientKey}). */
export interface RecipientKey {
  readonly key: openpgp.PublicKey;
  /** Upper-case hex fingerprint of the primary key. */
  readonly fingerprint: string;
  readonly userIds: readonly string[];
  /** When the key (or the subkey used for encryption) stops being usable; `null` when never. */
  readonly expiresAt: Date | null;
  /** Whole days left until {@link expiresAt} (rounded down); `null` when the key does not expire. */
  readonly daysUntilExpiry: number | null;
}

function keyProblem(label: string, problem: string): DeliveryError {
  return DeliveryError.permanent('ECONFIG', `PGP key ${label}: ${problem}`);
}

function asDate(value: Date | number | null): Date | null {
  return value instanceof Date ? value : null;
}

/**
 * Reads an armored public key and checks that mail or files can be encrypted to it now:
 * refuses a private key, an expired or revoked key, and a key without an encryption-capable
 * (sub)key, each with a message naming `label` (a file path or supplier id, never key material).
 *
 * @param armored - the armored public key block
 * @param label - what to call the key in error messages
 * @param date - the moment the key must be valid at (now when omitted)
 */
export async function readRecipientKey(armored: string, label: string, date: Date = new Date()): Promise<RecipientKey> {
  let key: openpgp.Key;
  try {
    key = await openpgp.readKey({ armoredKey: armored });
  } catch {
    throw keyProblem(label, 'is not an OpenPGP public key (expected an armored "PUBLIC KEY BLOCK")');
  }
  if (key.isPrivate()) throw keyProblem(label, 'is a private key; configure the supplier\'s public key only');
  return checkRecipientKey(key, label, date);
}

/** Checks an already parsed key again (keys expire while the service runs); see {@link readRecipientKey}. */
export async function checkRecipientKey(key: openpgp.PublicKey, label: string, date: Date = new Date()): Promise<RecipientKey> {
  const fingerprint = key.getFingerprint().toUpperCase();
  const named = `${label} (${fingerprint})`;
  if (await key.isRevoked(undefined, undefined, date)) throw keyProblem(named, 'has been revoked');
  const primaryExpiry = asDate(await key.getExpirationTime());
  if (primaryExpiry !== null && primaryExpiry.getTime() <= date.getTime()) {
    throw keyProblem(named, `expired on ${primaryExpiry.toISOString().slice(0, 10)}`);
  }
  try {
    await key.verifyPrimaryKey(date);
  } catch (error) {
    throw keyProblem(named, `is not valid: ${(error as Error).message}`);
  }
  let encryptionKey: openpgp.PublicKey | openpgp.Subkey;
  try {
    encryptionKey = await key.getEncryptionKey(undefined, date);
  } catch {
    throw keyProblem(named, 'has no valid encryption-capable subkey (all are missing, expired or revoked)');
  }
  const subkeyExpiry = encryptionKey === key ? null : asDate(await encryptionKey.getExpirationTime(date));
  const expiries = [primaryExpiry, subkeyExpiry].filter((d): d is Date => d !== null);
  const expiresAt = expiries.length === 0 ? null : new Date(Math.min(...expiries.map((d) => d.getTime())));
  return {
    key,
    fingerprint,
    userIds: key.getUserIDs(),
    expiresAt,
    daysUntilExpiry: expiresAt === null ? null : Math.floor((expiresAt.getTime() - date.getTime()) / DAY_MS),
  };
}

/** Options of {@link encryptArmored}. */
export interface EncryptOptions {
  /** Name stored in the OpenPGP literal data packet. */
  filename?: string;
  /** Also sign with this (unlocked) key. */
  signingKey?: openpgp.PrivateKey;
}

/**
 * How long a successful check of a recipient key stands before the next message checks it
 * again (never past the key's own expiry). The check verifies the key's self-signatures, which
 * costs about as much as a quarter of the encryption it guards.
 */
const RECHECK_MS = 60_000;
/** Per parsed key (they are read once and kept): until when its last check stands, ms since the epoch. */
const checkedUntil = new WeakMap<openpgp.PublicKey, number>();

/**
 * Checks the key again unless a check in the last {@link RECHECK_MS} found it usable; a
 * success stands at most until the key expires, so an expired key fails from that moment.
 */
async function checkStillUsable(recipient: RecipientKey, label: string): Promise<void> {
  const now = Date.now();
  const until = checkedUntil.get(recipient.key);
  if (until !== undefined && now < until) return;
  const checked = await checkRecipientKey(recipient.key, label, new Date(now));
  checkedUntil.set(recipient.key, Math.min(now + RECHECK_MS, checked.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY));
}

/**
 * Encrypts `content` to the recipient key and returns an armored `PGP MESSAGE`. The key is
 * checked again first (at most once a minute, and at its expiry), so a key that expired since
 * start-up fails with a clear message.
 */
export async function encryptArmored(
  content: string | Uint8Array,
  recipient: RecipientKey,
  label: string,
  options: EncryptOptions = {},
): Promise<string> {
  await checkStillUsable(recipient, label);
  const binary = typeof content === 'string' ? new TextEncoder().encode(content) : content;
  const message = await openpgp.createMessage({ binary, ...(options.filename === undefined ? {} : { filename: options.filename }) });
  try {
    return await openpgp.encrypt({
      message,
      encryptionKeys: recipient.key,
      ...(options.signingKey === undefined ? {} : { signingKeys: options.signingKey }),
      format: 'armored',
    });
  } catch (error) {
    throw DeliveryError.permanent('ECONFIG', `PGP encryption to ${label} failed: ${(error as Error).message}`);
  }
}

const storeKeys = new Map<string, Promise<openpgp.PrivateKey>>();

async function unlockStoreKey(file: string, passphrase: string | undefined): Promise<openpgp.PrivateKey> {
  let armored: string;
  try {
    armored = await readFile(file, 'utf8');
  } catch (error) {
    throw DeliveryError.permanent('ECONFIG', `STORE_PGP_KEY_FILE ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: armored });
  } catch {
    throw DeliveryError.permanent('ECONFIG', `STORE_PGP_KEY_FILE ${file} is not an armored OpenPGP private key`);
  }
  if (!key.isDecrypted()) {
    if (passphrase === undefined || passphrase === '') {
      throw DeliveryError.permanent('ECONFIG', `STORE_PGP_KEY_FILE ${file} is protected; set STORE_PGP_PASSPHRASE`);
    }
    try {
      key = await openpgp.decryptKey({ privateKey: key, passphrase });
    } catch {
      throw DeliveryError.permanent('ECONFIG', `STORE_PGP_PASSPHRASE does not unlock STORE_PGP_KEY_FILE ${file}`);
    }
  }
  try {
    await key.getSigningKey();
  } catch {
    throw DeliveryError.permanent('ECONFIG', `STORE_PGP_KEY_FILE ${file} has no valid signing key (expired, revoked or missing)`);
  }
  return key;
}

/**
 * The store's signing key from `STORE_PGP_KEY_FILE` (relative paths against the working
 * directory), unlocked with `STORE_PGP_PASSPHRASE`. Unlocked once per process and file; a
 * failure is not remembered, so fixing the environment and retrying works.
 */
export async function loadStoreSigningKey(env: NodeJS.ProcessEnv): Promise<openpgp.PrivateKey> {
  const configured = env.STORE_PGP_KEY_FILE;
  if (configured === undefined || configured === '') {
    throw DeliveryError.permanent('ECONFIG', 'STORE_PGP_KEY_FILE is not set; email deliveries are signed with the store key');
  }
  const file = resolve(configured);
  const passphrase = env.STORE_PGP_PASSPHRASE;
  // The cache key must change with the passphrase, without keeping the passphrase itself around.
  const cacheKey = `${file}\0${createHash('sha256').update(passphrase ?? '').digest('hex')}`;
  let pending = storeKeys.get(cacheKey);
  if (pending === undefined) {
    pending = unlockStoreKey(file, passphrase);
    storeKeys.set(cacheKey, pending);
    pending.catch(() => storeKeys.delete(cacheKey));
  }
  return pending;
}

/** What goes inside a PGP/MIME message (see {@link buildPgpMimeMessage}). */
export interface PgpMimeInput {
  from: string;
  to: string;
  subject: string;
  /** The short plain-text part (no HTML, no links, no personal data). */
  text: string;
  attachment: { filename: string; contentType: string; content: string };
  /** Message-ID to use (without angle brackets); the same delivery keeps the same id. */
  messageId: string;
}

/** An RFC 5322 message ready for SMTP, and its Message-ID (with angle brackets). */
export interface PgpMimeMessage {
  raw: Buffer;
  messageId: string;
}

/**
 * Builds an RFC 3156 PGP/MIME message: `multipart/encrypted` whose encrypted part holds a
 * `multipart/mixed` entity (the text and the attachment), signed by the store key and encrypted
 * to the recipient in one OpenPGP message (RFC 3156 section 6.2, combined method). Only From, To,
 * Subject, Date and Message-ID travel in the clear.
 */
export async function buildPgpMimeMessage(
  input: PgpMimeInput,
  recipient: RecipientKey,
  label: string,
  signingKey: openpgp.PrivateKey,
): Promise<PgpMimeMessage> {
  // Every node of a tree is given its root's boundary base: one random draw per tree, not one
  // per node.
  const innerBase = { baseBoundary: boundaryBase() };
  const inner = new MimeNode('multipart/mixed', { newline: 'win', ...innerBase });
  // A node whose root is another node leaves out Date, Message-ID and MIME-Version.
  const entity = new MimeNode('multipart/mixed', { rootNode: inner, newline: 'win', ...innerBase });
  entity.createChild('text/plain; charset=utf-8', innerBase).setContent(input.text);
  entity
    .createChild(input.attachment.contentType, { filename: input.attachment.filename, ...innerBase })
    .setHeader('Content-Disposition', 'attachment')
    .setHeader('Content-Transfer-Encoding', 'base64')
    .setContent(Buffer.from(input.attachment.content, 'utf8'));
  const plaintext = mimeBytes(entity);

  const armored = await encryptArmored(plaintext, recipient, label, { signingKey });

  const outerBase = { baseBoundary: boundaryBase() };
  const outer = new MimeNode('multipart/encrypted; protocol="application/pgp-encrypted"', { newline: 'win', ...outerBase });
  outer.setHeader({ From: input.from, To: input.to, Subject: input.subject, 'Message-ID': `<${input.messageId}>` });
  outer
    .createChild('application/pgp-encrypted', outerBase)
    .setHeader('Content-Description', 'PGP/MIME version identification')
    .setHeader('Content-Transfer-Encoding', '7bit')
    .setContent('Version: 1\r\n');
  outer
    .createChild('application/octet-stream; name="encrypted.asc"', outerBase)
    .setHeader('Content-Description', 'OpenPGP encrypted message')
    .setHeader('Content-Disposition', 'inline; filename="encrypted.asc"')
    .setHeader('Content-Transfer-Encoding', '7bit')
    .setContent(armored);
  return { raw: mimeBytes(outer), messageId: `<${input.messageId}>` };
}

/**
 * Reads a recipient key once and keeps it (a parse costs more than an encryption); a failed
 * read is not kept, so fixing the key file and retrying works.
 */
export function recipientKeyLoader(armored: () => string | undefined, label: () => string): () => Promise<RecipientKey> {
  let cached: Promise<RecipientKey> | undefined;
  return () => {
    if (cached === undefined) {
      const key = armored();
      cached = key === undefined ? Promise.reject(keyProblem(label(), 'is not configured')) : readRecipientKey(key, label());
      cached.catch(() => {
        cached = undefined;
      });
    }
    return cached;
  };
}
