import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, randomFillSync } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { DropshipError } from '../errors';
import { unrecoverable } from '../errors/unrecoverable';

/**
 * Encryption at rest of what the pipeline keeps in Redis about people: order job data,
 * payload bodies, carrier answers with label images, batched purchase orders. A Redis dump,
 * an AOF file or the dashboard shows ciphertext; only processes holding the key read it.
 *
 * AES-256-GCM with a random 96-bit IV per value and the value's purpose as associated data
 * (a delivery's ciphertext cannot be passed off as an order's). A token names the key that
 * sealed it, so a rotated-out key can still open jobs queued before the rotation.
 */
export interface DataCipher {
  /** First 8 hex digits of the current key's SHA-256: which key sealed a value, never the key. */
  readonly keyId: string;
  seal(value: unknown, purpose: SealPurpose): string;
  open<T>(token: string, purpose: SealPurpose): T;
}

/**
 * What a sealed value is: bound into the ciphertext as associated data. `oauth-token` is a
 * carrier API token in the shared token cache, sealed under {@link createDerivedCipher}.
 */
export type SealPurpose = 'order' | 'order-fingerprint' | 'delivery' | 'result' | 'batch-entry' | 'oauth-token';

const VERSION = 'dsk1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Environment variables that hold or point at the key. */
export const DATA_KEY_ENV = 'DROPSHIP_DATA_KEY';
export const DATA_KEY_FILE_ENV = 'DROPSHIP_DATA_KEY_FILE';
export const PREVIOUS_DATA_KEYS_ENV = 'DROPSHIP_DATA_KEY_PREVIOUS';

function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** A key as written in env or a key file: 32 bytes in base64 (44 characters) or hex (64). */
export function parseDataKey(text: string, where: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : /^[A-Za-z0-9+/_-]{43}=?$/.test(t) ? Buffer.from(t, 'base64') : undefined;
  if (!key || key.length !== 32) {
    throw new DropshipError('ECONFIG', [`${where}: must be a 256-bit key, 32 bytes in base64 (44 characters) or hex (64); generate one with "dropship keygen"`]);
  }
  return key;
}

/** A new random key, base64. */
export function generateDataKey(): string {
  return randomBytes(32).toString('base64');
}

/**
 * IVs come from a buffer the CSPRNG fills 512 IVs at a time, each 12 bytes handed out once:
 * as random and as unique as `randomBytes(12)` per value, without its several microseconds
 * of setup on every seal. (A process starts with the buffer empty; nothing is shared.)
 */
const IV_POOL = Buffer.alloc(IV_BYTES * 512);
let ivOffset = IV_POOL.length;

/** Writes a fresh random IV into `into` at `at`. */
function writeIv(into: Buffer, at: number): void {
  if (ivOffset + IV_BYTES > IV_POOL.length) {
    randomFillSync(IV_POOL);
    ivOffset = 0;
  }
  IV_POOL.copy(into, at, ivOffset, ivOffset + IV_BYTES);
  ivOffset += IV_BYTES;
}

/** Each purpose's associated data, encoded once. */
const AAD = new Map<string, Buffer>();
function aadOf(purpose: SealPurpose): Buffer {
  let aad = AAD.get(purpose);
  if (aad === undefined) {
    aad = Buffer.from(purpose);
    AAD.set(purpose, aad);
  }
  return aad;
}

const HEADER_BYTES = IV_BYTES + TAG_BYTES;

class AesGcmCipher implements DataCipher {
  readonly keyId: string;
  private readonly keys: Map<string, Buffer>;
  /** `dsk1.<keyId>.`: what every token this cipher seals starts with. */
  private readonly prefix: string;

  constructor(
    private readonly key: Buffer,
    previous: readonly Buffer[],
  ) {
    this.keyId = keyIdOf(key);
    this.keys = new Map([...previous.map((k) => [keyIdOf(k), k] as const), [this.keyId, key]]);
    this.prefix = `${VERSION}.${this.keyId}.`;
  }

  seal(value: unknown, purpose: SealPurpose): string {
    // IV, tag and ciphertext in one buffer, base64-encoded once.
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    writeIv(header, 0);
    const cipher = createCipheriv('aes-256-gcm', this.key, header.subarray(0, IV_BYTES));
    cipher.setAAD(aadOf(purpose));
    const body = cipher.update(JSON.stringify(value), 'utf8');
    const rest = cipher.final();
    cipher.getAuthTag().copy(header, IV_BYTES);
    const parts = rest.length === 0 ? [header, body] : [header, body, rest];
    return this.prefix + Buffer.concat(parts, HEADER_BYTES + body.length + rest.length).toString('base64');
  }

  open<T>(token: string, purpose: SealPurpose): T {
    // `version.keyId.data`, anything after a further dot ignored (as `split('.')` read it).
    const first = token.indexOf('.');
    const second = first < 0 ? -1 : token.indexOf('.', first + 1);
    const third = second < 0 ? -1 : token.indexOf('.', second + 1);
    const version = first < 0 ? token : token.slice(0, first);
    const keyId = first < 0 ? undefined : token.slice(first + 1, second < 0 ? undefined : second);
    const data = second < 0 ? undefined : token.slice(second + 1, third < 0 ? undefined : third);
    if (version !== VERSION || !keyId || data === undefined) throw new DropshipError('ESEALED', ['sealed data: not a sealed value']);
    const key = this.keys.get(keyId);
    if (!key) {
      throw new DropshipError('ESEALED', [
        `sealed data: sealed with key ${keyId}, which this process does not hold (current key ${this.keyId}; list retired keys in ${PREVIOUS_DATA_KEYS_ENV})`,
      ]);
    }
    const raw = Buffer.from(data, 'base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(aadOf(purpose));
      decipher.setAuthTag(raw.subarray(IV_BYTES, HEADER_BYTES));
      const body = decipher.update(raw.subarray(HEADER_BYTES));
      // Throws unless the tag authenticates: nothing is parsed before it has.
      const rest = decipher.final();
      const text = (rest.length === 0 ? body : Buffer.concat([body, rest])).toString('utf8');
      return JSON.parse(text) as T;
    } catch {
      throw new DropshipError('ESEALED', [`sealed data: does not authenticate under key ${keyId} as ${purpose} data (altered, or not what it claims to be)`]);
    }
  }
}

/** A cipher over `key` (current) that also opens values sealed with `previous` keys. */
export function createDataCipher(key: Buffer | string, previous: ReadonlyArray<Buffer | string> = []): DataCipher {
  const asKey = (k: Buffer | string, where: string) => (typeof k === 'string' ? parseDataKey(k, where) : k);
  const current = asKey(key, 'data key');
  if (current.length !== 32) throw new DropshipError('ECONFIG', ['data key: must be 32 bytes']);
  return new AesGcmCipher(current, previous.map((k) => asKey(k, PREVIOUS_DATA_KEYS_ENV)));
}

/** HKDF `info` of {@link createDerivedCipher}: a new scheme of derivation gets a new label. */
const DERIVED_KEY_INFO = 'dropship derived data key v1';

/**
 * A cipher (the same AES-256-GCM sealing) under a key derived with HKDF-SHA256 from `secret`
 * instead of the data key: for values only the holders of another secret may read. The OAuth
 * token cache seals under the carrier client secret, which every worker holds and a reader of
 * Redis does not. `scope` is the HKDF salt, so each scope has its own key: a value sealed in
 * one scope does not open in another, even under the same secret.
 */
export function createDerivedCipher(secret: string, scope: string): DataCipher {
  return createDataCipher(Buffer.from(hkdfSync('sha256', secret, scope, DERIVED_KEY_INFO, 32)));
}

/**
 * The cipher of a process that holds no key (a dashboard that never unmasks): it neither
 * seals nor opens, and says why.
 */
export function withoutDataKey(): DataCipher {
  const refuse = (): never => {
    throw new DropshipError('ECONFIG', [`this process holds no data key (${DATA_KEY_ENV}): it cannot read or write sealed job data`]);
  };
  return { keyId: 'none', seal: refuse, open: refuse };
}

function readKeyFile(file: string, where: string): Buffer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DropshipError('ECONFIG', [`${where}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  return parseDataKey(text, `${where} (${file})`);
}

/**
 * The data cipher from env: `DROPSHIP_DATA_KEY` (the key) or `DROPSHIP_DATA_KEY_FILE` (a file
 * holding it, e.g. a Docker secret), plus `DROPSHIP_DATA_KEY_PREVIOUS` (comma-separated
 * retired keys, still opened). Without either, `localKeyFile` (when given) is read, or
 * created with a new key readable by its owner only: for a private embedded Redis, whose
 * data lives beside it. Otherwise a configuration error: Redis must never hold clear data.
 */
export function dataCipherFromEnv(env: NodeJS.ProcessEnv, options: { localKeyFile?: string } = {}): DataCipher {
  const previous = (env[PREVIOUS_DATA_KEYS_ENV] ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
    .map((k, i) => parseDataKey(k, `${PREVIOUS_DATA_KEYS_ENV}[${i}]`));
  if (env[DATA_KEY_ENV] && env[DATA_KEY_FILE_ENV]) throw new DropshipError('ECONFIG', [`set ${DATA_KEY_ENV} or ${DATA_KEY_FILE_ENV}, not both`]);
  if (env[DATA_KEY_ENV]) return createDataCipher(parseDataKey(env[DATA_KEY_ENV], DATA_KEY_ENV), previous);
  if (env[DATA_KEY_FILE_ENV]) return createDataCipher(readKeyFile(env[DATA_KEY_FILE_ENV], DATA_KEY_FILE_ENV), previous);
  const local = options.localKeyFile;
  if (local) {
    if (!existsSync(local)) {
      writeFileSync(local, generateDataKey() + '\n', { mode: 0o600, flag: 'wx' });
    }
    chmodSync(local, 0o600);
    return createDataCipher(readKeyFile(local, 'local data key'), previous);
  }
  throw new DropshipError('ECONFIG', [
    `${DATA_KEY_ENV} is not set: job data holding names and addresses is encrypted at rest in Redis. Generate a key with "dropship keygen" and give every process the same one (or ${DATA_KEY_FILE_ENV} naming a file that holds it)`,
  ]);
}

/** Job data with its personal part sealed: ids and routing in clear, everything in `sealed`. */
export type SealedData<C extends object> = C & { sealed: string };

export function isSealed(data: unknown): data is { sealed: string } {
  return typeof data === 'object' && data !== null && typeof (data as { sealed?: unknown }).sealed === 'string';
}

/** `clear` (what the dashboard and operators may see) plus the whole of `value`, sealed. */
export function sealJob<C extends object>(cipher: DataCipher, value: unknown, clear: C, purpose: SealPurpose): SealedData<C> {
  // Object.assign rather than `{ ...clear, sealed }`: V8 (Node 20) gives every object that
  // gets a new key after such a spread a hidden class of its own (microseconds and garbage
  // per job). `clear` is the caller's own ids and routing, plain keys.
  return Object.assign({}, clear, { sealed: cipher.seal(value, purpose) });
}

/** The value a job was given: opened when sealed; as stored when it was queued before sealing. */
export function openJob<T>(cipher: DataCipher, data: unknown, purpose: SealPurpose): T {
  return isSealed(data) ? cipher.open<T>(data.sealed, purpose) : (data as T);
}

/**
 * `openJob` in a worker: a value this process cannot open (its key is not held, or the data
 * was altered) fails the job for good, kept for replay once the key is given.
 */
export function openJobData<T>(cipher: DataCipher, data: unknown, purpose: SealPurpose): T {
  try {
    return openJob<T>(cipher, data, purpose);
  } catch (err) {
    throw unrecoverable('ESEALED', err instanceof DropshipError ? err.problems.join('; ') : 'sealed data cannot be opened');
  }
}

/** What a delivery job shows in clear: ids, routing and field names; never a body or a view. */
export interface DeliveryClear {
  deliveryId: string;
  orderId: string;
  shipmentId: string;
  recipient: string;
  kind: string;
  transport: string;
  format: string;
  filename: string;
  fields: readonly string[];
  purpose?: string;
}

/** A planned delivery as queued: the payload (and any view) sealed. */
export function sealDelivery(cipher: DataCipher, d: DeliveryClear): SealedData<DeliveryClear> {
  const { deliveryId, orderId, shipmentId, recipient, kind, transport, format, filename, fields, purpose } = d;
  const sealed = cipher.seal(d, 'delivery');
  return purpose
    ? { deliveryId, orderId, shipmentId, recipient, kind, transport, format, filename, fields, purpose, sealed }
    : { deliveryId, orderId, shipmentId, recipient, kind, transport, format, filename, fields, sealed };
}
