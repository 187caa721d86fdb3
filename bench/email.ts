import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import * as openpgp from 'openpgp';
import { startSmtpReceiver } from '../testkit/receivers/smtp';
import type { PlannedDelivery } from '../src/planning/plan';
import { type BenchOutput, log, withPrivateRedis } from './common';
import { forEachLimited } from './pipeline';
import { bareWorkerRound, interleaved, Sides } from './bare-worker';
import { benchOrders, describeRound, plannedPayloads, timed, transportBenchConfig, TransportPipeline, type DeliveryRound } from './transport-harness';

/**
 * `email`: PGP-encrypted and signed messages/s through the pipeline to a local SMTP server
 * (STARTTLS, certificate verified; PGP/MIME built, signed and encrypted per delivery), against
 * what a user would write instead: a bare BullMQ worker (concurrency 4, the pipeline's delivery
 * worker's) whose job encrypts + signs its payload with openpgp and sends it with a pooled
 * nodemailer transport (the same 2 connections). `email_vs_loop` keeps the older yardstick: the
 * same encrypt + sign + send in a loop, no queue, 4 in flight.
 */

const ORDERS = Number(process.env.BENCH_EMAIL_ORDERS ?? 400);
const REPS = Number(process.env.BENCH_EMAIL_REPS ?? 3);
const CONNECTIONS = 2;
const IN_FLIGHT = 4;

export async function emailBench(): Promise<BenchOutput> {
  const smtp = await startSmtpReceiver();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dropship-bench-email-'));
  const [supplier, store] = await Promise.all([
    openpgp.generateKey({ userIDs: [{ name: 'Bench Supplier', email: 'orders@supplier.example' }], format: 'armored' }),
    openpgp.generateKey({ userIDs: [{ name: 'Bench Store', email: 'po@store.example' }], format: 'armored' }),
  ]);
  writeFileSync(path.join(dir, 'supplier.asc'), supplier.publicKey);
  writeFileSync(path.join(dir, 'store.asc'), store.privateKey);
  const env = { STORE_PGP_KEY_FILE: path.join(dir, 'store.asc') };
  const encryptionKeys = await openpgp.readKey({ armoredKey: supplier.publicKey });
  const signingKeys = await openpgp.readPrivateKey({ armoredKey: store.privateKey });
  const mailer = nodemailer.createTransport({
    pool: true,
    maxConnections: CONNECTIONS,
    maxMessages: 100,
    host: smtp.host,
    port: smtp.port,
    secure: false,
    requireTLS: true,
    tls: { ca: smtp.ca.caPem, minVersion: 'TLSv1.2' },
    logger: false,
  });

  /** The bare transfer: encrypt + sign the body with openpgp, send it with pooled nodemailer. */
  const send = async (p: PlannedDelivery): Promise<void> => {
    const armored = await openpgp.encrypt({ message: await openpgp.createMessage({ text: p.body }), encryptionKeys, signingKeys, format: 'armored' });
    await mailer.sendMail({ from: 'po@store.example', to: 'orders@supplier.example', subject: `Purchase order ${p.orderId}`, text: armored });
  };
  /** The bare libraries in a loop, no queue. */
  const loopRound = (payloads: readonly PlannedDelivery[]): Promise<DeliveryRound> => timed(payloads.length, () => forEachLimited(payloads, IN_FLIGHT, send));

  try {
    const config = transportBenchConfig(dir, {
      format: 'json',
      pgpPublicKeyFile: path.join(dir, 'supplier.asc'),
      delivery: {
        transport: 'email',
        to: 'orders@supplier.example',
        from: 'po@store.example',
        smtp: { host: smtp.host, port: smtp.port, requireTLS: true, caFile: smtp.ca.caFile, maxConnections: CONNECTIONS },
      },
    });
    log(`[email] ${ORDERS} orders (one JSON purchase order each) per round, ${REPS} rounds; SMTP with STARTTLS on ${smtp.port}; ${CONNECTIONS} pooled connections and ${IN_FLIGHT} deliveries in flight on both sides`);
    return await withPrivateRedis('email', async (url) => {
      const pipeline = await TransportPipeline.start(config, url, 'email', env, { deliveryConcurrency: IN_FLIGHT });
      try {
        const sides = new Sides('email', 'message', 'messages/s', ORDERS);
        for (let r = 0; r <= REPS; r++) {
          // Round 0 warms up both sides (JIT, key checks, SMTP connections) and is not counted.
          const count = r === 0 ? 100 : ORDERS;
          const events = benchOrders(count, `E${r}-`);
          const payloads = plannedPayloads(config, events);
          const [p, b, l] = await interleaved(
            r,
            () => pipeline.round(events),
            () => bareWorkerRound(url, `bare${r}`, payloads, IN_FLIGHT, send, 'message'),
            () => loopRound(payloads),
          );
          log(`[email] ${r === 0 ? 'warm-up' : `round ${r}`}: pipeline ${describeRound(p, count)}; bare worker ${describeRound(b, count)}; bare loop ${describeRound(l, count)}`);
          smtp.reset();
          if (r === 0) continue;
          sides.add(p, b, l);
        }
        return sides.results(0.8, 'a bare BullMQ worker doing the same openpgp + nodemailer send', 'a bare openpgp + nodemailer loop with no queue');
      } finally {
        await pipeline.stop();
      }
    });
  } finally {
    mailer.close();
    await smtp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
