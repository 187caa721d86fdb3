import net, { type Server, type Socket } from 'node:net';

/**
 * How a {@link FaultProxy} treats traffic:
 * - `pass`: forwards both ways untouched;
 * - `down`: nothing listens (connections are refused) and open connections are dropped, as
 *   when the receiver's host is down;
 * - `hang`: connections are accepted but nothing is ever answered (and nothing forwarded), as
 *   with a receiver stuck on a full queue or a firewall silently dropping packets;
 * - `{ delayMs }`: every byte from the receiver arrives `delayMs` late: a receiver that answers
 *   slowly (with TLS, the handshake's server flight is delayed too, once per connection).
 */
export type FaultMode = 'pass' | 'down' | 'hang' | { delayMs: number };

interface Pair {
  client: Socket;
  upstream?: Socket;
}

/**
 * A TCP proxy on a loopback port in front of one receiver, whose behaviour a scenario switches
 * at run time. TLS and SSH pass through untouched (certificates and host keys are checked
 * end to end), so a transport pointed at the proxy sees exactly what it would see from a
 * receiver failing that way.
 */
export class FaultProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<Pair>();
  private current: FaultMode = 'pass';
  /** Connections accepted, and connections held in `hang`. */
  readonly counts = { accepted: 0, hung: 0 };

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** Starts a proxy to `target` on a free loopback port. */
  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const proxy = new FaultProxy(port, target);
    await proxy.listen();
    return proxy;
  }

  get mode(): FaultMode {
    return this.current;
  }

  /**
   * Switches the behaviour. Going `down` or into a `hang` drops open connections (a dead or
   * stuck server answers nothing more on them), and so does coming out of a hang; a slow
   * receiver's connections stay open, and their delay follows the mode from then on.
   */
  async set(mode: FaultMode): Promise<void> {
    const previous = this.current;
    this.current = mode;
    if (mode === 'down' || mode === 'hang' || previous === 'hang') this.dropAll();
    if (mode === 'down') await this.unlisten();
    else await this.listen();
  }

  /** The loopback ports of the clients connected now (to find which process holds a connection). */
  clientPorts(): number[] {
    return [...this.pairs].flatMap((p) => (p.client.remotePort !== undefined && !p.client.destroyed ? [p.client.remotePort] : []));
  }

  async stop(): Promise<void> {
    this.current = 'down';
    this.dropAll();
    await this.unlisten();
  }

  private dropAll(): void {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream?.destroy();
    }
    this.pairs.clear();
  }

  private async listen(): Promise<void> {
    if (this.server !== undefined) return;
    const server = net.createServer((client) => this.accept(client));
    server.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  private async unlisten(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.counts.accepted += 1;
    const pair: Pair = { client };
    this.pairs.add(pair);
    const forget = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on('error', forget);
    client.on('close', forget);
    const mode = this.current;
    if (mode === 'hang') {
      this.counts.hung += 1;
      // Read and drop whatever the client sends; never answer.
      client.on('data', () => undefined);
      return;
    }
    if (mode === 'down') {
      forget();
      return;
    }
    const upstream = net.connect(this.target.port, this.target.host);
    pair.upstream = upstream;
    // Every chunk from the receiver is released after the delay the mode asks for now, in order;
    // when the receiver closes, the client hears of it after the last delayed chunk.
    let releaseAt = 0;
    const closeLater = (): void => void setTimeout(forget, Math.max(0, releaseAt - Date.now())).unref();
    upstream.on('error', closeLater);
    upstream.on('close', closeLater);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      const now = Date.now();
      const delay = typeof this.current === 'object' ? this.current.delayMs : 0;
      if (delay === 0 && releaseAt <= now) {
        client.write(chunk);
        return;
      }
      releaseAt = Math.max(now + delay, releaseAt);
      setTimeout(() => {
        if (!client.destroyed) client.write(chunk);
      }, releaseAt - now).unref();
    });
  }
}
