import { createHash } from 'node:crypto';
import SftpClient from 'ssh2-sftp-client';

/**
 * One SSH connection to an SFTP server with its SFTP channel (ssh2-sftp-client): connecting
 * with the host key checked against the pins, keep-alives, closing after an idle time. It
 * knows nothing of deliveries; the pool (pool.ts) hands connections out and the transport
 * (index.ts) uses them.
 */

/** `SHA256:<base64 without padding>` of a raw SSH public key blob, as `ssh-keygen -l` prints it. */
export function sshFingerprint(rawKey: Buffer): string {
  return `SHA256:${createHash('sha256').update(rawKey).digest('base64').replace(/=+$/, '')}`;
}

/** The login: a private key (already checked to parse) and its passphrase, if any. */
export type SshCredentials = { privateKey: string; passphrase?: string };

/** Where and how a {@link Connection} connects, from the supplier's SFTP options. */
export interface ConnectSettings {
  /** Client name in ssh2-sftp-client's own messages: `sftp-<supplier>`. */
  name: string;
  host: string;
  port: number;
  username: string;
  credentials: SshCredentials;
  /** The host key fingerprints accepted (`SHA256:...`); any other key is refused. */
  pins: readonly string[];
  /** SSH keep-alive interval in ms; three unanswered keep-alives drop the connection. */
  keepaliveInterval: number;
  /** How long the SSH handshake may take, in ms. */
  readyTimeout: number;
  /** An unused connection is closed after this many ms. */
  idleTimeout: number;
}

/** One SSH connection with its SFTP channel; used by one operation at a time. */
export class Connection {
  private client: SftpClient | undefined;
  private alive = false;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Whether the server offers posix-rename@openssh.com; learnt on first use. */
  posixRename: boolean | undefined;
  /** Fingerprint of the host key the server offered on the last connect. */
  offeredHostKey: string | undefined;
  /** Whether the last connect failed because that key is not one of the pins. */
  hostKeyRejected = false;

  constructor(private readonly settings: ConnectSettings) {}

  get connected(): boolean {
    return this.alive;
  }

  /** Returns the open client, connecting first when needed; `fresh` says whether it just connected. */
  async open(): Promise<{ client: SftpClient; fresh: boolean }> {
    this.clearIdle();
    if (this.client !== undefined && this.alive) return { client: this.client, fresh: false };
    await this.drop();
    // Only this client's own events may mark the connection dead, not a late one from its predecessor.
    const onGone = (): void => {
      if (this.client === client) this.alive = false;
    };
    const client: SftpClient = new SftpClient(this.settings.name, { error: onGone, end: onGone, close: onGone });
    this.hostKeyRejected = false;
    this.offeredHostKey = undefined;
    this.posixRename = undefined;
    this.client = client;
    await client.connect({
      host: this.settings.host,
      port: this.settings.port,
      username: this.settings.username,
      ...this.settings.credentials,
      hostVerifier: (key: Buffer): boolean => {
        const offered = sshFingerprint(key);
        this.offeredHostKey = offered;
        this.hostKeyRejected = !this.settings.pins.includes(offered);
        return !this.hostKeyRejected;
      },
      keepaliveInterval: this.settings.keepaliveInterval,
      keepaliveCountMax: 3,
      readyTimeout: this.settings.readyTimeout,
    });
    this.alive = true;
    return { client, fresh: true };
  }

  /** Marks the connection free; closes it after the idle timeout. */
  release(): void {
    this.clearIdle();
    if (!this.alive) return;
    this.idleTimer = setTimeout(() => void this.drop(), this.settings.idleTimeout);
    this.idleTimer.unref();
  }

  /** Closes the connection (politely if it is still up) and forgets it. */
  async drop(): Promise<void> {
    this.clearIdle();
    const client = this.client;
    this.client = undefined;
    this.alive = false;
    if (client === undefined) return;
    try {
      await Promise.race([client.end(), new Promise((r) => setTimeout(r, 2000).unref())]);
    } catch {
      // already gone
    }
  }

  private clearIdle(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}
