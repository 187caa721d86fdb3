import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from '../src/queue/embedded-redis';
import { clusterUrl } from '../src/queue/redis';

const run = promisify(execFile);

/** One redis-server of the local cluster. */
export interface ClusterNode {
  port: number;
  /** `127.0.0.1:<port>`, as the cluster names it. */
  address: string;
  process: ChildProcess;
}

/** A node's role and slots as `CLUSTER NODES` tells them. */
export interface NodeRole {
  address: string;
  id: string;
  primary: boolean;
  /** The primary's id, for a replica. */
  replicaOf?: string;
  /** Slot ranges served (primaries), `[from, to]` inclusive. */
  slots: Array<[number, number]>;
  failed: boolean;
}

export interface LocalRedisClusterOptions {
  /** @defaultValue 3 */
  primaries?: number;
  /** Replicas per primary. @defaultValue 1 */
  replicas?: number;
  /**
   * `cluster-node-timeout`: how soon a silent primary is failed over to its replica.
   * @defaultValue 1500 ms (Redis's own default is 15 s; a test or chaos run wants it quick)
   */
  nodeTimeoutMs?: number;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A real Redis Cluster on loopback for tests, chaos runs and benchmarks: `primaries ×
 * (1 + replicas)` redis-servers (`--cluster-enabled yes`, nothing saved to disk) on free ports,
 * with their node files in a temporary folder, joined by `redis-cli --cluster create` and
 * waited for until every node reports `cluster_state:ok` and every replica is in sync.
 * `stop()` kills them all and removes the folder.
 */
export class LocalRedisCluster {
  private constructor(
    readonly dir: string,
    readonly nodes: ClusterNode[],
    private readonly options: Required<LocalRedisClusterOptions>,
  ) {}

  static async start(options: LocalRedisClusterOptions = {}): Promise<LocalRedisCluster> {
    const opts: Required<LocalRedisClusterOptions> = { primaries: options.primaries ?? 3, replicas: options.replicas ?? 1, nodeTimeoutMs: options.nodeTimeoutMs ?? 1500 };
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dropship-cluster-'));
    const nodes: ClusterNode[] = [];
    const cluster = new LocalRedisCluster(dir, nodes, opts);
    try {
      const count = opts.primaries * (1 + opts.replicas);
      for (let i = 0; i < count; i++) nodes.push(await cluster.spawnNode(await freePort()));
      await Promise.all(nodes.map((n) => cluster.waitForPing(n.port)));
      await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => n.address), '--cluster-replicas', String(opts.replicas), '--cluster-yes'], { timeout: 60_000 });
      await cluster.waitUntilHealthy();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  private async spawnNode(port: number): Promise<ClusterNode> {
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      `nodes-${port}.conf`,
      '--cluster-node-timeout',
      String(this.options.nodeTimeoutMs),
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
      '--logfile',
      `redis-${port}.log`,
    ];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    child.unref();
    return { port, address: `127.0.0.1:${port}`, process: child };
  }

  private async waitForPing(port: number): Promise<void> {
    for (let i = 0; i < 200; i++) {
      try {
        if ((await this.command(port, 'PING')) === 'PONG') return;
      } catch {
        // not up yet
      }
      await sleep(25);
    }
    throw new Error(`redis-server on ${port} did not start`);
  }

  /** One command to one node, over a short-lived connection. */
  async command(port: number, ...args: string[]): Promise<unknown> {
    const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, connectTimeout: 2000 });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      return await redis.call(args[0]!, ...args.slice(1));
    } finally {
      redis.disconnect();
    }
  }

  /** Nodes still running. */
  private live(): ClusterNode[] {
    return this.nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
  }

  /**
   * Waits until every running node says `cluster_state:ok`, knows the same primaries for
   * every slot, and each replica's link to its primary is up (WAIT can then be answered).
   */
  async waitUntilHealthy(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    let why = '';
    while (Date.now() < until) {
      try {
        const live = this.live();
        const infos = await Promise.all(live.map((n) => this.command(n.port, 'CLUSTER', 'INFO') as Promise<string>));
        const notOk = live.filter((_, i) => !/cluster_state:ok/.test(infos[i]!));
        const replication = await Promise.all(live.map((n) => this.command(n.port, 'INFO', 'replication') as Promise<string>));
        const unlinked = live.filter((_, i) => /role:slave/.test(replication[i]!) && !/master_link_status:up/.test(replication[i]!));
        const views = await Promise.all(live.map(async (n) => JSON.stringify((await this.roles(n.port)).filter((r) => r.primary && !r.failed).map((r) => [r.address, r.slots]).sort())));
        if (notOk.length === 0 && unlinked.length === 0 && new Set(views).size === 1) return;
        why = `not ok: ${notOk.map((n) => n.port).join(',') || '-'}; replicas not linked: ${unlinked.map((n) => n.port).join(',') || '-'}; views agree: ${new Set(views).size === 1}`;
      } catch (error) {
        why = error instanceof Error ? error.message : String(error);
      }
      await sleep(100);
    }
    throw new Error(`the local Redis Cluster did not become healthy: ${why}`);
  }

  /** Roles and slots as `port`'s node sees them. */
  async roles(port = this.live()[0]!.port): Promise<NodeRole[]> {
    const text = (await this.command(port, 'CLUSTER', 'NODES')) as string;
    return text
      .trim()
      .split('\n')
      .map((line) => {
        const [id, addr, flags, replicaOf, , , , , ...slots] = line.split(' ');
        const flagList = (flags ?? '').split(',');
        return {
          id: id!,
          address: (addr ?? '').split('@')[0]!,
          primary: flagList.includes('master'),
          ...(replicaOf && replicaOf !== '-' ? { replicaOf } : {}),
          failed: flagList.includes('fail') || flagList.includes('fail?') || flagList.includes('noaddr'),
          slots: slots
            .filter((s) => /^\d+(-\d+)?$/.test(s))
            .map((s) => {
              const [from, to] = s.split('-').map(Number);
              return [from!, to ?? from!] as [number, number];
            }),
        };
      });
  }

  /** Running primaries serving slots, by address. */
  async primaries(): Promise<NodeRole[]> {
    return (await this.roles()).filter((r) => r.primary && !r.failed && r.slots.length > 0);
  }

  /** The address of the primary serving `slot`. */
  async primaryOf(slot: number): Promise<string | undefined> {
    return (await this.primaries()).find((p) => p.slots.some(([from, to]) => slot >= from && slot <= to))?.address;
  }

  /** The seed nodes as `REDIS_CLUSTER_NODES` takes them. */
  get seeds(): string {
    return this.nodes.map((n) => n.address).join(',');
  }

  /** The address the pipeline takes (`clusterUrl` of the seeds). */
  get url(): string {
    return clusterUrl(this.seeds);
  }

  node(address: string): ClusterNode {
    const node = this.nodes.find((n) => n.address === address);
    if (!node) throw new Error(`no node ${address} in this cluster`);
    return node;
  }

  /** Kills one node at once (SIGKILL): a crashed server. */
  async kill(address: string): Promise<void> {
    const node = this.node(address);
    if (node.process.exitCode !== null || node.process.signalCode !== null) return;
    const alive = setInterval(() => undefined, 1000);
    const exited = new Promise<void>((resolve) => node.process.once('exit', () => resolve()));
    node.process.kill('SIGKILL');
    await exited;
    clearInterval(alive);
  }

  /**
   * Waits until the replica of a primary that was killed took its slots over (the cluster
   * fails it over after `nodeTimeoutMs`): every slot served again by a running primary.
   * Returns the primaries then, comma-separated.
   */
  async waitForFailover(killed: string, timeoutMs = 30_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      try {
        const live = this.live()[0]!;
        const info = (await this.command(live.port, 'CLUSTER', 'INFO')) as string;
        const primaries = (await this.roles(live.port)).filter((r) => r.primary && !r.failed && r.slots.length > 0);
        const served = primaries.reduce((n, p) => n + p.slots.reduce((m, [from, to]) => m + to - from + 1, 0), 0);
        if (/cluster_state:ok/.test(info) && served === 16384 && !primaries.some((p) => p.address === killed)) {
          return primaries.map((p) => p.address).join(',');
        }
      } catch {
        // a node is still settling
      }
      await sleep(100);
    }
    throw new Error(`no replica took over from ${killed} within ${timeoutMs} ms`);
  }

  /**
   * Starts a killed node again on its port and node file, as an orchestrator restarts a failed
   * container: a primary that was failed over comes back as a replica of the one that replaced
   * it. Waits until the cluster is healthy again (every replica in sync).
   */
  async restart(address: string): Promise<void> {
    const at = this.nodes.findIndex((n) => n.address === address);
    if (at < 0) throw new Error(`no node ${address} in this cluster`);
    const node = this.nodes[at]!;
    if (node.process.exitCode === null && node.process.signalCode === null) throw new Error(`${address} is still running`);
    this.nodes[at] = await this.spawnNode(node.port);
    await this.waitForPing(node.port);
    await this.waitUntilHealthy();
  }

  /** Kills every replica: the primaries still serve every slot, but WAIT finds no replica to confirm a write. */
  async killReplicas(): Promise<string[]> {
    const replicas = (await this.roles()).filter((r) => !r.primary && !r.failed).map((r) => r.address);
    for (const address of replicas) await this.kill(address);
    return replicas;
  }

  async stop(): Promise<void> {
    // The servers are unref'd: keep this process alive until they are gone.
    const alive = setInterval(() => undefined, 1000);
    await Promise.all(
      this.live().map(
        (n) =>
          new Promise<void>((resolve) => {
            n.process.once('exit', () => resolve());
            n.process.kill('SIGKILL');
          }),
      ),
    );
    clearInterval(alive);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
