import { posix } from 'node:path';
import type SftpClient from 'ssh2-sftp-client';
import { DeliveryError, type TransportContext } from '../transport';
import { Connection } from './connection';
import { loadCredentials, type SftpOptions } from './index';

/**
 * A folder on a supplier's SFTP server, reached with its delivery login (the same pinned host
 * key and key): what the pickup of confirmation files and `dropship verify` need. Files are
 * listed, read, moved without ever replacing one, and written. One connection, one operation
 * at a time; closed by {@link SftpFolder.close}.
 */

/** A plain file of the folder, as listed. */
export interface FolderEntry {
  name: string;
  size: number;
  /** Modification time, ms since the epoch (SFTP gives whole seconds). */
  modifiedAt: number;
}

/** Message and code of a thrown value (ssh2-sftp-client wraps the SFTP status in `code`). */
function describe(error: unknown): { message: string; code?: string | number } {
  if (typeof error !== 'object' || error === null) return { message: String(error) };
  const { message, code } = error as { message?: unknown; code?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  return typeof code === 'string' || typeof code === 'number' ? { message: text, code } : { message: text };
}

/** Whether the server answered "no such file" (SSH_FX_NO_SUCH_FILE). */
export function isNoSuchFile(error: unknown): boolean {
  const { code, message } = describe(error);
  return code === 2 || /No such file/i.test(message);
}

/** Whether the server answered "permission denied" (SSH_FX_PERMISSION_DENIED). */
export function isPermissionDenied(error: unknown): boolean {
  const { code, message } = describe(error);
  return code === 3 || /Permission denied/i.test(message);
}

/** `name.csv` → `name-1.csv` (then -2, …): the name a moved file takes when its own is taken. */
export function suffixedName(name: string, n: number): string {
  if (n === 0) return name;
  const dot = name.lastIndexOf('.');
  return dot > 0 ? `${name.slice(0, dot)}-${n}${name.slice(dot)}` : `${name}-${n}`;
}

export class SftpFolder {
  readonly where: string;
  private readonly connection: Connection;
  private client: SftpClient | undefined;

  constructor(
    private readonly options: SftpOptions,
    context: TransportContext,
  ) {
    this.where = `${options.host}:${options.port}`;
    this.connection = new Connection({
      name: `sftp-pickup-${context.instanceId}`,
      host: options.host,
      port: options.port,
      username: options.username,
      credentials: loadCredentials(options, context),
      pins: typeof options.hostKey === 'string' ? [options.hostKey] : options.hostKey,
      keepaliveInterval: options.keepaliveInterval,
      readyTimeout: Math.min(options.timeout, 20_000),
      idleTimeout: options.idleTimeout,
    });
  }

  /** Whether the SSH connection is still up (an operation that failed with it down failed for the link's sake). */
  get connected(): boolean {
    return this.client !== undefined && this.connection.connected;
  }

  /** Connects; a refused host key, a refused login or an unreachable server throws a `DeliveryError` saying which. */
  async open(): Promise<void> {
    try {
      this.client = (await this.connection.open()).client;
    } catch (error) {
      await this.connection.drop();
      const { message, code } = describe(error);
      if (this.connection.hostKeyRejected) {
        const expected = typeof this.options.hostKey === 'string' ? this.options.hostKey : this.options.hostKey.join(' or ');
        throw DeliveryError.permanent('EHOSTKEY', `host key of ${this.where} does not match the pinned key: expected ${expected}, offered ${this.connection.offeredHostKey ?? 'none'}`);
      }
      if (/authentication methods failed/i.test(message)) {
        throw DeliveryError.permanent('EAUTH', `SFTP login as ${this.options.username} at ${this.where} was refused (the server does not accept the key)`);
      }
      if (code === 'ETIMEDOUT' || /timed? ?out/i.test(message)) throw DeliveryError.retryable('ETIMEDOUT', `SFTP connection to ${this.where} timed out`);
      throw DeliveryError.retryable('ECONNECTION', `SFTP connection to ${this.where} failed (${typeof code === 'string' ? code : 'connection lost'})`);
    }
  }

  private get sftp(): SftpClient {
    if (this.client === undefined) throw DeliveryError.retryable('ECONNECTION', `not connected to ${this.where}`);
    return this.client;
  }

  /** Whether `path` is a directory (false when it is absent or something else). */
  async isDirectory(path: string): Promise<boolean> {
    return (await this.sftp.exists(path)) === 'd';
  }

  /** The plain files of `dir` (no directories, links or special files). */
  async files(dir: string): Promise<FolderEntry[]> {
    const listed = await this.sftp.list(dir);
    return listed.filter((f) => f.type === '-').map((f) => ({ name: f.name, size: f.size, modifiedAt: f.modifyTime }));
  }

  /** Size and modification time of a file now, or undefined when it is gone. */
  async stat(path: string): Promise<{ size: number; modifiedAt: number } | undefined> {
    try {
      const s = await this.sftp.stat(path);
      return { size: s.size, modifiedAt: s.modifyTime };
    } catch (error) {
      if (isNoSuchFile(error)) return undefined;
      throw error;
    }
  }

  async read(path: string): Promise<Buffer> {
    return (await this.sftp.get(path)) as Buffer;
  }

  /** Creates `dir` (and its parents) unless it is there. */
  async ensureDirectory(dir: string): Promise<void> {
    if ((await this.sftp.exists(dir)) === 'd') return;
    try {
      await this.sftp.mkdir(dir, true);
    } catch (error) {
      // Another worker may have made it meanwhile.
      if ((await this.sftp.exists(dir)) !== 'd') throw error;
    }
  }

  /**
   * Moves the file at `from` into `dir` under `name`, or `name-1`, `name-2`… when that is taken:
   * never over an existing file. Returns the name it took. A plain SFTP rename does not replace
   * (OpenSSH's server links then unlinks, and fails when the target exists); the name is also
   * checked first, for servers whose rename would replace.
   */
  async moveInto(from: string, dir: string, name: string): Promise<string> {
    for (let n = 0; n < 1000; n++) {
      const candidate = suffixedName(name, n);
      const target = posix.join(dir, candidate);
      if ((await this.sftp.exists(target)) !== false) continue;
      try {
        await this.sftp.rename(from, target);
        return candidate;
      } catch (error) {
        // Taken meanwhile (another worker's file of the same name): try the next name.
        if ((await this.sftp.exists(target)) !== false && (await this.sftp.exists(from)) !== false) continue;
        throw error;
      }
    }
    throw new Error(`${dir} already holds ${name} and 999 files named after it`);
  }

  /** Writes a (small) text file, replacing one of that name. */
  async write(path: string, text: string): Promise<void> {
    await this.sftp.put(Buffer.from(text, 'utf8'), path);
  }

  async remove(path: string): Promise<void> {
    await this.sftp.delete(path);
  }

  async close(): Promise<void> {
    this.client = undefined;
    await this.connection.drop();
  }
}
