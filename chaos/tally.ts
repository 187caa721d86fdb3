import { existsSync, readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { SFTP_REMOTE_DIR, SUPPLIERS, type DemoEnvironment } from '../demo/environment';
import { upsTransId } from '../src/carriers/ups/client';
import type { ExpectedDelivery } from './environment';

/**
 * What the receivers themselves saw, counted the way each could tell deliveries apart:
 * - SFTP: files in the drop folder, one name per purchase order (the transport uploads to a
 *   `.part` name, then renames, so a retry replaces the file). Leftover `.part` files count as
 *   debris; renames onto a final name are watched, so a file written twice shows as a rewrite.
 * - SMTP: messages per Message-ID (the transport derives it from the delivery id).
 * - HTTPS: accepted requests per `Idempotency-Key` (the delivery id).
 * - UPS/FedEx stand-ins: shipments created per transaction id (`transId`, derived from the
 *   delivery id; `x-customer-transaction-id`, the delivery id). A carrier cannot drop a
 *   repeat: each one is a second label bought. A label cancelled since (FedEx, after a lost
 *   answer) is no longer live: "bought twice" counts deliveries with more than one live label.
 */

/** One delivery as the receivers saw it. */
export interface Arrival {
  /** Times the receiver got it (files count once here; rewrites come from the folder watcher). */
  count: number;
  /** When the harness first saw it (ms since epoch). */
  firstAt: number;
}

/** Per-recipient figures at one moment. */
export interface RecipientFigures {
  expected: number;
  arrived: number;
  lost: number;
  /** Deliveries the receiver got more than once, and the extra copies. */
  duplicated: number;
  extraCopies: number;
  /** Items the receiver got that match no expected delivery. */
  unexpected: number;
}

export interface TallyFigures {
  expected: number;
  arrived: number;
  lost: number;
  byRecipient: Record<string, RecipientFigures>;
  sftp: {
    /** Files beyond the first for one order (by the order id the file name starts with). */
    duplicateFiles: number;
    /** `.part` uploads left in the drop folder. */
    leftoverTempFiles: number;
    /** Final files written more than once (a rename onto an existing name), as the folder watcher saw them. */
    rewrites: number;
    /** Files whose content does not name their order (truncated or mixed up). */
    badContent: number;
  };
  /** Duplicates a receiver can drop by a key the transport sends (Message-ID, Idempotency-Key). */
  droppableDuplicates: number;
  /** Duplicates no key lets the receiver drop: extra carrier labels. */
  undroppableDuplicates: number;
  /** Delivery ids of the carrier requests that arrived more than once. */
  duplicatedCarrierDeliveries: string[];
  /** Carrier labels as the stand-ins sold them. */
  labels: {
    sold: number;
    /** Voided or cancelled since (FedEx shipments found after a lost answer are cancelled). */
    cancelled: number;
    /** Delivery ids holding more than one live (not cancelled) label: labels bought twice. */
    boughtTwice: string[];
    /** Questions about a lost answer (UPS Label Recovery, FedEx Track by References), and those UPS answered with the label. */
    recoveryQuestions: number;
    recovered: number;
  };
}

const header = (value: string | string[] | undefined): string => (Array.isArray(value) ? (value[0] ?? '') : (value ?? ''));

/** The Message-ID the email transport gives a delivery (see `messageIdFor` in src/transports/email.ts). */
function messageIdLocalPart(deliveryId: string): string {
  return deliveryId.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** The key a delivery arrives under at its receiver. */
function keyOf(d: ExpectedDelivery): string {
  if (d.recipient === SUPPLIERS.sftp) return `sftp:${d.filename}`;
  if (d.recipient === SUPPLIERS.email) return `smtp:${messageIdLocalPart(d.deliveryId)}`;
  if (d.recipient === SUPPLIERS.https) return `https:${d.deliveryId}`;
  if (d.recipient === 'ups') return `ups:${upsTransId(d.deliveryId)}`;
  if (d.recipient === 'fedex') return `fedex:${d.deliveryId}`;
  throw new Error(`no receiver for ${d.recipient}`);
}

/** Counts what each receiver of a {@link DemoEnvironment} got, incrementally (call {@link poll}). */
export class ReceiverTally {
  /** Receiver key (file name, Message-ID, idempotency key, transaction id) → what arrived under it. */
  private readonly received = new Map<string, Arrival>();
  private readonly expected = new Map<string, ExpectedDelivery>();
  private cursors = { smtp: 0, https: 0, ups: 0, fedex: 0 };
  private readonly renames = new Map<string, number>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The SFTP drop folder on the local disk (sshd serves it). */
  readonly sftpDir: string;

  constructor(
    private readonly env: DemoEnvironment,
    remoteDir: string = SFTP_REMOTE_DIR,
  ) {
    if (env.sshd === undefined) throw new Error('no sshd');
    this.sftpDir = path.join(env.sshd.root, remoteDir);
  }

  /** Adds deliveries to wait for (before or after they arrive). */
  expect(deliveries: readonly ExpectedDelivery[]): void {
    for (const d of deliveries) this.expected.set(d.deliveryId, d);
  }

  get expectedDeliveries(): ExpectedDelivery[] {
    return [...this.expected.values()];
  }

  /** What arrived for one delivery, if anything. */
  arrival(d: ExpectedDelivery): Arrival | undefined {
    return this.received.get(keyOf(d));
  }

  /** Expected deliveries that have arrived. */
  get arrivedCount(): number {
    return [...this.expected.values()].filter((d) => this.received.has(keyOf(d))).length;
  }

  /** Starts polling the receivers every `everyMs`, and watching the SFTP drop folder for rewrites. */
  start(everyMs = 250): void {
    if (existsSync(this.sftpDir)) {
      this.watcher = watch(this.sftpDir, (event, name) => {
        if (event !== 'rename' || typeof name !== 'string' || name.startsWith('.')) return;
        this.renames.set(name, (this.renames.get(name) ?? 0) + 1);
      });
      this.watcher.on('error', () => undefined);
    }
    this.timer = setInterval(() => this.poll(), everyMs);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }

  private seen(key: string, now: number): void {
    const arrival = this.received.get(key);
    if (arrival === undefined) this.received.set(key, { count: 1, firstAt: now });
    else arrival.count += 1;
  }

  /** Reads whatever arrived since the last poll. */
  poll(): void {
    const now = Date.now();
    const { smtp, https, carriers } = this.env;
    if (smtp !== undefined) {
      for (; this.cursors.smtp < smtp.messages.length; this.cursors.smtp++) {
        const raw = (smtp.messages[this.cursors.smtp] as { raw: Buffer }).raw;
        const head = raw.subarray(0, Math.min(raw.length, 4096)).toString('latin1').split('\r\n\r\n')[0] ?? '';
        const id = /^Message-ID:\s*<([^@>]+)@[^>]*>/im.exec(head)?.[1] ?? '(none)';
        this.seen(`smtp:${id}`, now);
      }
    }
    if (https !== undefined) {
      for (; this.cursors.https < https.requests.length; this.cursors.https++) {
        const r = https.requests[this.cursors.https];
        if (r === undefined || r.status === undefined || r.status >= 300) continue;
        this.seen(`https:${header(r.headers['idempotency-key'])}`, now);
      }
    }
    for (const carrier of ['ups', 'fedex'] as const) {
      const standIn = carriers[carrier];
      if (standIn === undefined) continue;
      for (; this.cursors[carrier] < standIn.requests.length; this.cursors[carrier]++) {
        const r = standIn.requests[this.cursors[carrier]];
        if (r === undefined || r.endpoint !== 'ship' || r.status !== 200) continue;
        const id = header(r.headers[carrier === 'ups' ? 'transid' : 'x-customer-transaction-id']);
        this.seen(`${carrier}:${id}`, now);
      }
    }
    // SFTP: a file counts once when first seen; rewrites come from the watcher.
    for (const name of this.sftpFiles().final) {
      if (!this.received.has(`sftp:${name}`)) this.seen(`sftp:${name}`, now);
    }
  }

  /** The SFTP drop folder's final files and `.part` leftovers. */
  sftpFiles(): { final: string[]; temp: string[] } {
    let names: string[];
    try {
      names = readdirSync(this.sftpDir);
    } catch {
      return { final: [], temp: [] };
    }
    return { final: names.filter((n) => !n.startsWith('.')), temp: names.filter((n) => n.startsWith('.') && n.endsWith('.part')) };
  }

  /** Size in bytes of a file in the SFTP drop folder; undefined when it is not there. */
  fileSize(name: string): number | undefined {
    try {
      return statSync(path.join(this.sftpDir, name)).size;
    } catch {
      return undefined;
    }
  }

  /** Expected deliveries that have not arrived. */
  missing(): ExpectedDelivery[] {
    return [...this.expected.values()].filter((d) => !this.received.has(keyOf(d)));
  }

  get allArrived(): boolean {
    return this.missing().length === 0;
  }

  /** The figures now (polls once first). */
  figures(): TallyFigures {
    this.poll();
    const blank = (): RecipientFigures => ({ expected: 0, arrived: 0, lost: 0, duplicated: 0, extraCopies: 0, unexpected: 0 });
    const byRecipient: Record<string, RecipientFigures> = {};
    const wantedKeys = new Set<string>();
    let droppable = 0;
    let undroppable = 0;
    const duplicatedCarrier: string[] = [];
    let rewrites = 0;
    for (const d of this.expected.values()) {
      const r = (byRecipient[d.recipient] ??= blank());
      r.expected += 1;
      wantedKeys.add(keyOf(d));
      const arrival = this.arrival(d);
      if (arrival === undefined) {
        r.lost += 1;
        continue;
      }
      r.arrived += 1;
      // Copies: files from the watcher's renames onto the name, everything else from the receivers.
      if (d.recipient === SUPPLIERS.sftp) {
        rewrites += Math.max(0, (this.renames.get(d.filename) ?? 1) - 1);
        continue;
      }
      if (arrival.count <= 1) continue;
      r.duplicated += 1;
      r.extraCopies += arrival.count - 1;
      if (d.kind === 'carrier') {
        undroppable += arrival.count - 1;
        duplicatedCarrier.push(d.deliveryId);
      }
      else droppable += arrival.count - 1;
    }
    const recipientOfReceiver: Record<string, string> = { sftp: SUPPLIERS.sftp, smtp: SUPPLIERS.email, https: SUPPLIERS.https, ups: 'ups', fedex: 'fedex' };
    for (const [key, arrival] of this.received) {
      if (wantedKeys.has(key)) continue;
      const receiver = key.slice(0, key.indexOf(':'));
      (byRecipient[recipientOfReceiver[receiver] ?? receiver] ??= blank()).unexpected += arrival.count;
    }
    // Live labels per delivery, from what the stand-ins sold (keyed as the carrier deliveries are).
    const live = new Map<string, number>();
    const labels = { sold: 0, cancelled: 0, boughtTwice: [] as string[], recoveryQuestions: 0, recovered: 0 };
    for (const carrier of ['ups', 'fedex'] as const) {
      const standIn = this.env.carriers[carrier];
      if (standIn === undefined) continue;
      for (const label of standIn.sold) {
        labels.sold += 1;
        if (label.voided) labels.cancelled += 1;
        else live.set(`${carrier}:${label.transactionId ?? ''}`, (live.get(`${carrier}:${label.transactionId ?? ''}`) ?? 0) + 1);
      }
      const questions = standIn.requestsTo('recover');
      labels.recoveryQuestions += questions.length;
      if (carrier === 'ups') labels.recovered += questions.filter((r) => r.status === 200).length;
    }
    for (const d of this.expected.values()) if (d.kind === 'carrier' && (live.get(keyOf(d)) ?? 0) > 1) labels.boughtTwice.push(d.deliveryId);
    const files = this.sftpFiles();
    const wantedFiles = new Map([...this.expected.values()].filter((d) => d.recipient === SUPPLIERS.sftp).map((d) => [d.filename, d] as const));
    let badContent = 0;
    const perOrder = new Map<string, number>();
    for (const name of files.final) {
      // Files per order, by the order id the name starts with (chaos order ids hold no "-"):
      // a retry that wrote under another name would show here as a second file.
      const orderId = /^([^-]+)-/.exec(name)?.[1] ?? name;
      perOrder.set(orderId, (perOrder.get(orderId) ?? 0) + 1);
      const d = wantedFiles.get(name);
      if (d === undefined) continue;
      let body = '';
      try {
        body = readFileSync(path.join(this.sftpDir, name), 'utf8');
      } catch {
        // removed meanwhile
      }
      if (!body.includes(d.orderId) || !/\n$/.test(body)) badContent += 1;
    }
    const duplicateFiles = [...perOrder.values()].reduce((n, c) => n + Math.max(0, c - 1), 0);
    const arrived = this.arrivedCount;
    return {
      expected: this.expected.size,
      arrived,
      lost: this.expected.size - arrived,
      byRecipient,
      sftp: { duplicateFiles, leftoverTempFiles: files.temp.length, rewrites, badContent },
      droppableDuplicates: droppable,
      undroppableDuplicates: undroppable,
      duplicatedCarrierDeliveries: duplicatedCarrier.sort(),
      labels: { ...labels, boughtTwice: labels.boughtTwice.sort() },
    };
  }

  /** Delivery latency per recipient: first arrival minus `submittedAt(orderId)`, for deliveries of the given orders. */
  latencies(orders: ReadonlySet<string>, submittedAt: (orderId: string) => number | undefined): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const d of this.expected.values()) {
      if (!orders.has(d.orderId)) continue;
      const arrival = this.arrival(d);
      const sent = submittedAt(d.orderId);
      if (arrival === undefined || sent === undefined) continue;
      (out[d.recipient] ??= []).push(arrival.firstAt - sent);
    }
    return out;
  }
}
