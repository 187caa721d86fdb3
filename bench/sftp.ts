import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SftpClient from 'ssh2-sftp-client';
import { startSshd, type LocalSshd } from '../testkit/receivers/sshd';
import type { PlannedDelivery } from '../src/planning/plan';
import { sshFingerprint } from '../src/transports/sftp/connection';
import { type BenchOutput, log, withPrivateRedis } from './common';
import { bareWorkerRound, interleaved, serialised, Sides } from './bare-worker';
import { benchOrders, describeRound, plannedPayloads, timed, transportBenchConfig, TransportPipeline, type DeliveryRound } from './transport-harness';

/**
 * `sftp`: deliveries/s through the pipeline to a local OpenSSH sshd (pinned host key, part
 * file then rename, one pooled connection), against what a user would write instead: a bare
 * BullMQ worker (concurrency 4, the pipeline's delivery worker's) whose job does the same
 * ssh2-sftp-client put + rename of its payload on one open connection, lent to one job at a
 * time (as the pipeline's pool lends its one connection, and as ssh2-sftp-client asks: one
 * operation at a time per connection). `sftp_vs_loop` keeps the older yardstick: a bare loop,
 * no queue, doing the same put + rename one after the other on that connection. Each side of
 * each round writes to a fresh directory, so none pays for another's files.
 */

const ORDERS = Number(process.env.BENCH_SFTP_ORDERS ?? 1500);
const REPS = Number(process.env.BENCH_SFTP_REPS ?? 3);
/** The pipeline's delivery worker concurrency (Pipeline's default), and the bare worker's. */
const CONCURRENCY = 4;

/** The bare library: one connection, `put` to a part file then `posixRename`, one at a time. */
function bareRound(client: SftpClient, dir: string, payloads: readonly PlannedDelivery[]): Promise<DeliveryRound> {
  return timed(payloads.length, async () => {
    for (const p of payloads) {
      const part = `${dir}/.${p.filename}.part`;
      await client.put(Buffer.from(p.body, 'utf8'), part);
      await client.posixRename(part, `${dir}/${p.filename}`);
    }
  });
}

/** The bare worker: one job per order, the same put + rename inside it, one connection. */
function bareWorker(url: string, prefix: string, client: SftpClient, dir: string, payloads: readonly PlannedDelivery[]): Promise<DeliveryRound> {
  const lend = serialised();
  return bareWorkerRound(url, prefix, payloads, CONCURRENCY, (p) =>
    lend(async () => {
      const part = `${dir}/.${p.filename}.part`;
      await client.put(Buffer.from(p.body, 'utf8'), part);
      await client.posixRename(part, `${dir}/${p.filename}`);
    }),
  );
}

/** A fresh directory in the SFTP root (relative to the login directory). */
function remoteDir(sshd: LocalSshd, name: string): string {
  mkdirSync(path.join(sshd.root, name));
  return name;
}

export async function sftpBench(): Promise<BenchOutput> {
  const sshd = await startSshd();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dropship-bench-sftp-'));
  const client = new SftpClient('bench-bare');
  try {
        await client.connect({
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      privateKey: sshd.clientKey.privateKey,
      hostVerifier: (key: Buffer) => sshFingerprint(key) === sshd.hostKey.fingerprint,
    });
    log(
      `[sftp] ${ORDERS} orders (one CSV purchase order each) per round, ${REPS} rounds; OpenSSH sshd on ${sshd.port}; pipeline: 1 pooled connection, delivery concurrency ${CONCURRENCY}; ` +
        `bare worker: BullMQ concurrency ${CONCURRENCY}, 1 connection lent to one job at a time; bare loop: 1 connection, sequential put + posixRename`,
    );
    return await withPrivateRedis('sftp', async (url) => {
      const sides = new Sides('sftp', 'delivery', 'deliveries/s', ORDERS);
      for (let r = 0; r <= REPS; r++) {
        // Round 0 warms up both sides (JIT, the pipeline's SSH connection) and is not counted.
        const label = r === 0 ? 'warm-up' : `round ${r}`;
        const count = r === 0 ? 200 : ORDERS;
        const config = transportBenchConfig(path.join(dir, `r${r}`), { format: 'csv', delivery: sshd.deliveryOptions(remoteDir(sshd, `pipe${r}`)) });
        const events = benchOrders(count, `S${r}-`);
        const pipeline = await TransportPipeline.start(config, url, `sftp${r}`, {});
        try {
          await pipeline.round(benchOrders(50, `SW${r}-`));
          const payloads = plannedPayloads(config, events);
          const [p, b, l] = await interleaved(
            r,
            () => pipeline.round(events),
            () => bareWorker(url, `bare${r}`, client, remoteDir(sshd, `bare${r}`), payloads),
            () => bareRound(client, remoteDir(sshd, `loop${r}`), payloads),
          );
          log(`[sftp] ${label}: pipeline ${describeRound(p, count)}; bare worker ${describeRound(b, count)}; bare loop ${describeRound(l, count)}`);
          if (r === 0) continue;
          sides.add(p, b, l);
        } finally {
          await pipeline.stop();
        }
      }
      return sides.results(0.6, 'a bare BullMQ worker doing the same put + rename', 'a bare ssh2-sftp-client loop with no queue');
    });
  } finally {
    await client.end().catch(() => undefined);
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
