import { LocalRedisCluster } from '../testkit/redis-cluster';
import { type BenchOutput, log, median, result, withPrivateRedis } from './common';
import { benchConfig, DELIVERIES_PER_ORDER, orderEvents } from './orders';
import { describe, PIPELINE_TUNING, pipelineRound } from './pipeline';
import { createRedis } from '../src/queue/redis';
import { startWindows } from './redis-stats';

/**
 * `cluster`: deliveries/s of the real pipeline on a local Redis Cluster (3 primaries with a
 * replica each, `QUEUE_PARTITIONS` 6, intake waiting for a replica per order), against the
 * same pipeline and orders on one private redis-server (one partition). `cluster_max_share`:
 * the largest share of all commands one primary served over the cluster rounds (INFO
 * commandstats of each primary), against an even third.
 */

const ORDERS = Number(process.env.BENCH_CLUSTER_ORDERS ?? 600);
const REPS = Number(process.env.BENCH_CLUSTER_REPS ?? 3);
const PARTITIONS = Number(process.env.BENCH_CLUSTER_PARTITIONS ?? 6);

export async function clusterBench(): Promise<BenchOutput> {
  const config = benchConfig();
  const units = ORDERS * DELIVERIES_PER_ORDER;
  const rounds = Array.from({ length: REPS }, (_, r) => orderEvents(ORDERS, `C${r}-`));
  log(`[cluster] ${ORDERS} orders × ${DELIVERIES_PER_ORDER} deliveries per round, ${REPS} rounds; ${PARTITIONS} partitions on 3 primaries, against one redis-server`);

  const single: number[] = [];
  await withPrivateRedis('cluster', async (url) => {
    await pipelineRound(config, url, 'warm-single', orderEvents(100, 'WS'));
    for (let r = 0; r < REPS; r++) {
      const p = await pipelineRound(config, url, `single${r}`, rounds[r]!);
      log(`[cluster] round ${r + 1} ${describe('one redis-server', p, units)}`);
      single.push(p.perSecond);
    }
  });

  const onCluster: number[] = [];
  const shares: number[] = [];
  const cluster = await LocalRedisCluster.start({ primaries: 3, replicas: 1 });
  log(`[cluster] local Redis Cluster on ${cluster.seeds}`);
  const admin = createRedis(cluster.url);
  try {
    const tuning = { ...PIPELINE_TUNING, partitions: PARTITIONS };
    await pipelineRound(config, cluster.url, 'warm-cluster', orderEvents(100, 'WC'), tuning);
    for (let r = 0; r < REPS; r++) {
      // Each primary's own counters over the round (the round resets them again as it starts).
      const endWindows = await startWindows(admin);
      const p = await pipelineRound(config, cluster.url, `cluster${r}`, rounds[r]!, tuning);
      const windows = await endWindows();
      const total = windows.reduce((n, w) => n + w.totalCalls, 0);
      const share = Math.max(...windows.map((w) => w.totalCalls)) / total;
      log(`[cluster] round ${r + 1} ${describe('3-primary cluster', p, units)}; commands per primary ${windows.map((w) => `${w.server} ${w.totalCalls}`).join(', ')}: largest share ${share.toFixed(3)}`);
      onCluster.push(p.perSecond);
      shares.push(share);
    }
  } finally {
    await admin.quit().catch(() => admin.disconnect());
    await cluster.stop();
  }
  const throughput = result(median(onCluster), median(single), 'deliveries/s');
  const share = result(median(shares), 1 / 3, 'share of commands');
  log(`[cluster] median ${throughput.value} deliveries/s on the cluster against ${throughput.baseline} on one redis-server (ratio ${throughput.ratio}); largest primary share ${share.value} (an even split is 0.333; target at most 0.4)`);
  return { cluster: throughput, cluster_max_share: share };
}
