import { Connection, type ConnectSettings } from './connection';
import { DeliveryError } from '../transport';

/**
 * The SFTP connections of one supplier: at most `poolSize` of them, each lent to one
 * operation at a time, kept open between deliveries until their idle timeout.
 */

/** A bounded set of connections; a caller gets one to itself (already connected ones first). */
export class ConnectionPool {
  private readonly free: Connection[];
  private readonly waiting: { grant: (c: Connection) => void; fail: (e: Error) => void }[] = [];
  private readonly all: Connection[];
  private closed = false;

  constructor(size: number, settings: ConnectSettings) {
    this.all = Array.from({ length: size }, () => new Connection(settings));
    this.free = [...this.all];
  }

  async acquire(signal: AbortSignal): Promise<Connection> {
    if (this.closed) throw DeliveryError.retryable('ECONNECTION', 'the SFTP transport has been closed');
    const connectedIndex = this.free.findIndex((c) => c.connected);
    const index = connectedIndex >= 0 ? connectedIndex : this.free.length - 1;
    if (index >= 0) return this.free.splice(index, 1)[0] as Connection;
    return new Promise<Connection>((grant, fail) => {
      const waiter = { grant, fail };
      this.waiting.push(waiter);
      signal.addEventListener(
        'abort',
        () => {
          const at = this.waiting.indexOf(waiter);
          if (at >= 0) this.waiting.splice(at, 1);
          fail(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        },
        { once: true },
      );
    });
  }

  release(connection: Connection): void {
    const next = this.waiting.shift();
    if (next !== undefined && !this.closed) {
      next.grant(connection);
      return;
    }
    connection.release();
    this.free.push(connection);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.fail(DeliveryError.retryable('ECONNECTION', 'the SFTP transport has been closed'));
    await Promise.all(this.all.map((c) => c.drop()));
  }
}
