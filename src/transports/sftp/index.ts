import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import { utils as sshUtils } from 'ssh2';
import type SftpClient from 'ssh2-sftp-client';
import { z } from 'zod';
import { envVarName, positiveDuration } from '../../config/option-schemas';
import { encryptArmored, recipientKeyLoader } from '../pgp';
import {
  DeliveryError,
  type DeliveryPayload,
  type DeliveryReceipt,
  type Transport,
  type TransportContext,
  type TransportKind,
} from '../transport';
import type { Connection, SshCredentials } from './connection';
import { ConnectionPool } from './pool';

/**
 * The SFTP transport kind: its options, the key it logs in with, and deliveries (atomic
 * upload, optional PGP, errors classified). Connections are in connection.ts, their pool in
 * pool.ts.
 */

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/**
 * A file mode as an octal string ("0640"): a YAML number would be read as decimal (YAML 1.2
 * reads `0640` as 640), so only a string is taken. Others may never write the file, and the
 * setuid, setgid and sticky bits have no place on a purchase order.
 */
const fileMode = z
  .string({ error: 'fileMode must be an octal mode in quotes, such as "0640" (unquoted, YAML reads 0640 as the decimal number 640)' })
  .regex(/^0?[0-7]{3}$/, { error: 'fileMode must be an octal mode such as "0640" (three octal digits, with an optional leading 0)' })
  .transform((mode) => Number.parseInt(mode, 8))
  .refine((mode) => (mode & 0o002) === 0, { error: 'fileMode must not let others write the file (the last digit must be 0, 4 or 5)' });

const hostKeyPin = z.string().regex(FINGERPRINT, {
  error: 'hostKey must be "SHA256:<43 base64 characters>" exactly as `ssh-keygen -lf <key>.pub` prints it',
});

/** `delivery` options of an SFTP supplier (without `transport: sftp`). */
export const sftpOptionsSchema = z
  .object({
    /** SFTP server host name or address. */
    host: z.string().min(1, { error: 'host is required' }),
    /**
     * SSH port.
     * @defaultValue 22
     */
    port: z.number().int().min(1).max(65535, { error: 'port must be 1-65535' }).default(22),
    /** Login name. */
    username: z.string().min(1, { error: 'username is required' }),
    /** Path of the private key file (relative paths against the config directory). */
    privateKeyFile: z.string().min(1).optional(),
    /** Name of an environment variable holding the private key itself. */
    privateKeyEnv: envVarName('privateKeyEnv').optional(),
    /** Name of an environment variable holding the private key's passphrase. */
    passphraseEnv: envVarName('passphraseEnv').optional(),
    /**
     * The server's host key fingerprint, `SHA256:<base64>` as `ssh-keygen -lf` prints it; a
     * list during a key rotation. Required: an unpinned SFTP server is a configuration error.
     */
    hostKey: z.union([hostKeyPin, z.array(hostKeyPin).min(1)], {
      error: (issue) =>
        issue.input === undefined
          ? 'hostKey is required: pin the server key (`ssh-keygen -lf`); unpinned SFTP is not allowed'
          : undefined,
    }),
    /** Directory files are uploaded to (relative paths start in the login directory). */
    remoteDir: z
      .string()
      .min(1, { error: 'remoteDir is required' })
      .refine((dir) => !dir.includes('\0'), { error: 'remoteDir must not contain NUL' }),
    /**
     * File name template; the core renders it into `payload.filename`, this transport only
     * checks that the result is a plain name.
     * @defaultValue `"{orderId}-{supplierId}.{ext}"` (applied by the core)
     */
    filename: z
      .string()
      .min(1)
      .refine((name) => !name.includes('/') && !name.includes('\\') && !name.includes('..'), {
        error: 'filename must be a plain file name template without "/", "\\" or ".."',
      })
      .optional(),
    /**
     * Mode of the uploaded files, octal, in quotes ("0640"). ssh2 alone would create them 0666
     * (before the server's umask); the mode is set on the open file, so the server's umask
     * does not change it.
     * @defaultValue "0640"
     */
    fileMode: fileMode.default(0o640),
    /**
     * SSH keep-alive interval; three unanswered keep-alives drop the connection.
     * @defaultValue 10s
     */
    keepaliveInterval: positiveDuration('keepaliveInterval').default(10_000),
    /**
     * How long one delivery may take, connecting included.
     * @defaultValue 60s
     */
    timeout: positiveDuration('timeout').default(60_000),
    /**
     * An unused pooled connection is closed after this long.
     * @defaultValue 5m
     */
    idleTimeout: positiveDuration('idleTimeout').default(300_000),
    /**
     * Connections kept per supplier; each carries one operation at a time.
     * @defaultValue 1
     */
    poolSize: z.number().int().min(1).max(4, { error: 'poolSize must be 1-4' }).default(1),
  })
  .strict()
  .superRefine((options, ctx) => {
    const sources = [options.privateKeyFile, options.privateKeyEnv].filter((s) => s !== undefined).length;
    if (sources !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['privateKeyFile'],
        message: 'exactly one of privateKeyFile (a file path) or privateKeyEnv (an environment variable name) is required',
      });
    }
  });

/** Validated SFTP options (durations in milliseconds). */
export type SftpOptions = z.output<typeof sftpOptionsSchema>;

/** A plain file name: no directories, no traversal, no control characters, not hidden. */
function checkFilename(name: string): void {
  // eslint-disable-next-line no-control-regex
  if (name === '' || name.startsWith('.') || /[/\\\x00-\x1f]/.test(name) || name.includes('..')) {
    throw DeliveryError.permanent('EPAYLOAD', `payload filename "${name.slice(0, 100)}" is not a plain file name`);
  }
}

/** The private key (and passphrase) the options name, checked to parse before first use. */
export function loadCredentials(options: SftpOptions, context: TransportContext): SshCredentials {
  let privateKey: string;
  if (options.privateKeyFile !== undefined) {
    const file = resolve(context.configDir, options.privateKeyFile);
    try {
      privateKey = readFileSync(file, 'utf8');
    } catch (error) {
      throw DeliveryError.permanent('ECONFIG', `sftp ${context.instanceId}: privateKeyFile ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  } else {
    const name = options.privateKeyEnv as string;
    const value = context.env[name];
    if (value === undefined || value === '') {
      throw DeliveryError.permanent('ECONFIG', `sftp ${context.instanceId}: environment variable ${name} (privateKeyEnv) is not set`);
    }
    privateKey = value;
  }
  let passphrase: string | undefined;
  if (options.passphraseEnv !== undefined) {
    passphrase = context.env[options.passphraseEnv];
    if (passphrase === undefined) {
      throw DeliveryError.permanent('ECONFIG', `sftp ${context.instanceId}: environment variable ${options.passphraseEnv} (passphraseEnv) is not set`);
    }
  }
  const parsed = sshUtils.parseKey(privateKey, passphrase);
  if (parsed instanceof Error || (Array.isArray(parsed) && parsed.length === 0)) {
    // ssh2's reason names the problem (format, missing or wrong passphrase), never the key.
    const reason = parsed instanceof Error ? parsed.message : 'no key found';
    throw DeliveryError.permanent('ECONFIG', `sftp ${context.instanceId}: the private key cannot be used: ${reason}`);
  }
  return passphrase === undefined ? { privateKey } : { privateKey, passphrase };
}

interface ErrorLike {
  message: string;
  code?: string | number;
}

/** Message and code of a thrown value (duck-typed: Node's own errors may come from another realm). */
function describe(error: unknown): ErrorLike {
  if (typeof error !== 'object' || error === null) return { message: String(error) };
  const { message, code } = error as { message?: unknown; code?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  return typeof code === 'string' || typeof code === 'number' ? { message: text, code } : { message: text };
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/** Whether an error came from the link rather than from an SFTP request the server answered. */
function isConnectionError(error: ErrorLike): boolean {
  return typeof error.code !== 'number' && !/No such file|Permission denied/i.test(error.message);
}

/** SSH_FX_PERMISSION_DENIED (3), or the message ssh2-sftp-client wraps it in. */
function isPermissionDenied(error: unknown): boolean {
  const { code, message } = describe(error);
  return code === 3 || /Permission denied/i.test(message);
}

class SftpTransport implements Transport {
  readonly kind = 'sftp';
  readonly instanceId: string;
  private readonly pool: ConnectionPool;
  private readonly where: string;
  private readonly pgpKey = recipientKeyLoader(
    () => this.context.pgpPublicKey,
    () => this.keyLabel(),
  );

  constructor(
    private readonly options: SftpOptions,
    private readonly context: TransportContext,
  ) {
    this.instanceId = context.instanceId;
    this.where = `${options.host}:${options.port}`;
    const pins = typeof options.hostKey === 'string' ? [options.hostKey] : options.hostKey;
    this.pool = new ConnectionPool(options.poolSize, {
      name: `sftp-${context.instanceId}`,
      host: options.host,
      port: options.port,
      username: options.username,
      credentials: loadCredentials(options, context),
      pins,
      keepaliveInterval: options.keepaliveInterval,
      readyTimeout: Math.min(options.timeout, 20_000),
      idleTimeout: options.idleTimeout,
    });
  }

  async deliver(payload: DeliveryPayload, signal?: AbortSignal): Promise<DeliveryReceipt> {
    checkFilename(payload.filename);
    let content = payload.body;
    let name = payload.filename;
    if (this.context.pgpPublicKey !== undefined) {
      const key = await this.pgpKey();
      content = await encryptArmored(payload.body, key, this.keyLabel(), { filename: payload.filename });
      name = `${payload.filename}.pgp`;
    }
    const remotePath = posix.join(this.options.remoteDir, name);
    // The same delivery always writes the same part file, so a retry overwrites a half upload.
    const partPath = posix.join(this.options.remoteDir, `.${name}.${payload.deliveryId.replace(/[^A-Za-z0-9_-]/g, '_')}.part`);
    const data = Buffer.from(content, 'utf8');

    await this.withConnection(signal, async (client, connection) => {
      const written = await this.upload(client, data, partPath);
      // ssh2 drops a refused write (no space, quota, EIO) and put still resolves: only the size
      // the server kept tells a whole upload from an empty or cut-off file.
      const kept = (await client.stat(written)).size;
      if (kept !== data.length) {
        await client.delete(written, true).catch(() => undefined);
        throw DeliveryError.permanent('EREJECTED', `${this.where} stored ${kept} of ${data.length} bytes of ${name}: no space left on the server, or a quota exceeded`);
      }
      await this.rename(client, connection, written, remotePath);
    });
    return {
      location: `sftp://${this.where}${remotePath.startsWith('/') ? '' : '/'}${remotePath}`,
      response: { remotePath, bytes: String(data.length), encrypted: String(name !== payload.filename) },
    };
  }

  async verify(): Promise<void> {
    await this.withConnection(undefined, async (client) => {
      const type = await client.exists(this.options.remoteDir);
      if (type !== 'd') {
        throw DeliveryError.permanent('EREJECTED', `remote directory ${this.options.remoteDir} does not exist on ${this.where}`);
      }
      if (this.context.pgpPublicKey !== undefined) await this.pgpKey();
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private keyLabel(): string {
    return `of ${this.instanceId} (pgp.publicKeyFile)`;
  }

  /**
   * Writes `data` to the part file, created with `fileMode`, and returns the path written.
   * A part file left by an interrupted upload is normally overwritten; a server that forbids
   * overwriting (ProFTPD's `AllowOverwrite off`) answers "permission denied" instead, on every
   * retry. Then the leftover is removed and the upload made again; if it cannot be removed
   * either, the upload goes to a fresh part name (the leftover stays, and is named in no file
   * the supplier reads). A directory this login may not write to fails all three, and that
   * first refusal is what is reported.
   */
  private async upload(client: SftpClient, data: Buffer, partPath: string): Promise<string> {
    const options = { writeStreamOptions: { mode: this.options.fileMode } };
    try {
      await client.put(data, partPath, options);
      return partPath;
    } catch (refused) {
      if (!isPermissionDenied(refused)) throw refused;
      const leftover = await client.exists(partPath).catch(() => false);
      if (leftover === false) throw refused;
      const removed = await client.delete(partPath).then(
        () => true,
        () => false,
      );
      const target = removed ? partPath : partPath.replace(/\.part$/, `.${randomBytes(4).toString('hex')}.part`);
      try {
        await client.put(data, target, options);
      } catch {
        throw refused;
      }
      return target;
    }
  }

  /**
   * Replace as atomic as the server allows: posix-rename where offered; else delete-then-rename,
   * which leaves a moment without the file when one is replaced (a redelivery).
   */
  private async rename(client: SftpClient, connection: Connection, from: string, to: string): Promise<void> {
    if (connection.posixRename !== false) {
      try {
        await client.posixRename(from, to);
        connection.posixRename = true;
        return;
      } catch (error) {
        if (!/does not support/i.test(describe(error).message)) throw error;
        connection.posixRename = false;
      }
    }
    await client.delete(to, true);
    await client.rename(from, to);
  }

  /**
   * Runs `work` on a pooled connection under the delivery timeout. A reused connection that
   * turns out to be dead gets one transparent retry on a fresh one (the upload is idempotent).
   */
  private async withConnection(
    signal: AbortSignal | undefined,
    work: (client: SftpClient, connection: Connection) => Promise<void>,
  ): Promise<void> {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(DeliveryError.retryable('ETIMEDOUT', `SFTP delivery to ${this.where} took longer than ${this.options.timeout} ms`)),
      this.options.timeout,
    );
    const onAbort = (): void => controller.abort(DeliveryError.retryable('ETIMEDOUT', `SFTP delivery to ${this.where} was aborted`));
    if (signal?.aborted === true) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let connection: Connection | undefined;
    try {
      if (controller.signal.aborted) throw controller.signal.reason;
      connection = await this.pool.acquire(controller.signal);
      const current = connection;
      const aborted = new Promise<never>((_, reject) => {
        const stop = (): void => {
          void current.drop();
          reject(controller.signal.reason);
        };
        if (controller.signal.aborted) stop();
        else controller.signal.addEventListener('abort', stop, { once: true });
      });
      aborted.catch(() => undefined);
      for (let attempt = 0; ; attempt += 1) {
        let fresh = true;
        try {
          const opened = await Promise.race([current.open(), aborted]);
          fresh = opened.fresh;
          await Promise.race([work(opened.client, current), aborted]);
          return;
        } catch (error) {
          if (error instanceof DeliveryError) {
            if (error.code === 'ETIMEDOUT' || error.code === 'ECONNECTION') await current.drop();
            throw error;
          }
          const info = describe(error);
          if (isConnectionError(info)) await current.drop();
          if (!fresh && attempt === 0 && isConnectionError(info)) continue;
          throw this.classify(info, current);
        }
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (connection !== undefined) this.pool.release(connection);
    }
  }

  private classify(error: ErrorLike, connection: Connection): DeliveryError {
    const { message, code } = error;
    if (connection.hostKeyRejected) {
      const expected = typeof this.options.hostKey === 'string' ? this.options.hostKey : this.options.hostKey.join(' or ');
      return DeliveryError.permanent(
        'EHOSTKEY',
        `host key of ${this.where} does not match the pinned key: expected ${expected}, offered ${connection.offeredHostKey ?? 'none'}`,
      );
    }
    if (/authentication methods failed/i.test(message)) {
      return DeliveryError.permanent('EAUTH', `SFTP login as ${this.options.username} at ${this.where} was refused (the server does not accept the key)`);
    }
    if (code === 2 || /No such file/i.test(message)) {
      return DeliveryError.permanent('EREJECTED', `remote directory ${this.options.remoteDir} does not exist on ${this.where}`);
    }
    if (code === 3 || /Permission denied/i.test(message)) {
      return DeliveryError.permanent('EREJECTED', `permission denied writing to ${this.options.remoteDir} on ${this.where}`);
    }
    if (typeof code === 'number') {
      return DeliveryError.retryable('EREMOTE', `SFTP server ${this.where} failed the request (status ${code})`);
    }
    if (code === 'ETIMEDOUT' || /timed? ?out/i.test(message)) {
      return DeliveryError.retryable('ETIMEDOUT', `SFTP connection to ${this.where} timed out`);
    }
    const reason = typeof code === 'string' && CONNECTION_CODES.has(code) ? code : 'connection lost';
    return DeliveryError.retryable('ECONNECTION', `SFTP connection to ${this.where} failed (${reason})`);
  }
}

/**
 * SFTP delivery (ssh2-sftp-client): pinned host key, key-only login, atomic upload
 * (`.<name>.<deliveryId>.part` then rename; a leftover part file the server will not let us
 * overwrite is removed, or written around), files created with `fileMode` (0640 by default),
 * pooled keep-alive connections, optional PGP encryption to the supplier key (armored, `.pgp`
 * suffix).
 */
export const sftpTransport: TransportKind<SftpOptions> = {
  kind: 'sftp',
  optionsSchema: sftpOptionsSchema,
  create: (options, context) => new SftpTransport(options, context),
};
