import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SftpClient from 'ssh2-sftp-client';
import { startSshd, type LocalSshd } from '../testkit/receivers/sshd';
import type { PlannedDelivery } from '../src/planning/plan';
import { sshFingerprint } from '../src/transports/sftp/connection';
import { type BenchOutput, log, median, result, withPrivateRedis } from './common';
import { benchOrders, describeRound, plannedPayloads, timed, transportBenchConfig, TransportPipeline, type DeliveryRound } from './transport-harness';

/**
 * `sftp`: deliveries/s through the pipeline to a local OpenSSH sshd (pinned host key, part
 * file then rename, one pooled connection), against a bare ssh2-sftp-client loop doing the
 * same put + rename of the same payloads on one open connection. Each round writes to a
 * fresh directory, so neither side pays for the other's files.
 */

const ORDERS = Number(process.env.BENCH_SFTP_ORDERS ?? 1500);
const REPS = Number(process.env.BENCH_SFTP_REPS ?? 3);

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
    log(`[sftp] ${ORDERS} orders (one CSV purchase order each) per round, ${REPS} rounds; OpenSSH sshd on ${sshd.port}; pipeline: 1 pooled connection, delivery concurrency 4; bare: 1 connection, sequential put + posixRename`);
    return await withPrivateRedis('sftp', async (url) => {
      const pipe: number[] = [];
      const bare: number[] = [];
      for (let r = 0; r <= REPS; r++) {
        // Round 0 warms up both sides (JIT, the pipeline's SSH connection) and is not counted.
        const label = r === 0 ? 'warm-up' : `round ${r}`;
        const count = r === 0 ? 200 : ORDERS;
        const config = transportBenchConfig(path.join(dir, `r${r}`), { format: 'csv', delivery: sshd.deliveryOptions(remoteDir(sshd, `pipe${r}`)) });
        const events = benchOrders(count, `S${r}-`);
        const pipeline = await TransportPipeline.start(config, url, `sftp${r}`, {});
        try {
          await pipeline.round(benchOrders(50, `SW${r}-`));
          const b = await bareRound(client, remoteDir(sshd, `bare${r}`), plannedPayloads(config, events));
          const p = await pipeline.round(events);
          log(`[sftp] ${label}: pipeline ${describeRound(p, count)}; bare ${describeRound(b, count)}`);
          if (r === 0) continue;
          pipe.push(p.perSecond);
          bare.push(b.perSecond);
        } finally {
          await pipeline.stop();
        }
      }
      const out = result(median(pipe), median(bare), 'deliveries/s');
      log(`[sftp] median ${out.value} vs bare ssh2-sftp-client ${out.baseline} deliveries/s: ratio ${out.ratio} (target ≥ 0.7)`);
      return { sftp: out };
    });
  } finally {
    await client.end().catch(() => undefined);
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
