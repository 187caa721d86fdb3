import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import type { Config } from '../../src/config/config';
import { loadConfig } from '../../src/config/load';
import { Order, type OrderEventSource } from '../../src/core/order';
import { planOrder, type OrderPlan, type PlannedDelivery } from '../../src/planning/plan';
import { DropshipError, readFailure } from '../../src/errors';
import { markerKeys, orderJobId } from '../../src/queue/names';
import { ingestOrder, parseJsonBody } from '../../src/sources/ingest';
import { removeScratch } from '../formats/xmllint';
import { FIXTURE_CONFIG_DIR, orderPayload } from '../support/orders';
import { PipelineHarness, SHOPIFY_SECRET, WOO_SECRET } from '../support/pipeline';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';
import { writeAbuseConfig, type AbuseConfig } from './abuse-config';
import { configCases, type TestKeys } from './config-corpus';
import { apiCases, bodyBytes, canonical, cliCases, type ApiCase, type BatchItem, type CliCase, type Expectation } from './corpus';
import { answerProblems, cardProblems, csvProblems, filenameProblems, payloadProblems, validateXmlAhead, x12Problems, xmlProblems } from './judge';
import { AbuseReport, type AnswerClass, type EntryPoint } from './report';
import { generateDataKey } from '../../src/queue/sealing';

/** The data key the CLI processes seal orders with (generated for this run). */
const CLI_DATA_KEY = generateDataKey();

/**
 * The abuse corpus (issue "chaos and abuse suite"): hostile and broken inputs through every
 * entry point — the HTTP API in-process against a real redis-server and the real workers
 * with recording transports, the `dropship` CLI as a child process, and `loadConfig` — each
 * asserting the answer it must get. A summary of how every input was answered goes to the
 * console and to `.ci/out/abuse-report.json`.
 *
 * Every request and child process runs under a deadline (a hang fails its case), a 5xx or a
 * crash is an unexpected answer, and Jest fails the running test on an unhandled rejection.
 * The corpus is in `corpus.ts` (HTTP and CLI) and `config-corpus.ts`; the judges of what
 * comes back are in `judge.ts`.
 */

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(ROOT, 'src', 'cli', 'dropship.ts');
/** At most this many CLI processes at once (two shared cores). */
const CLI_CONCURRENCY = 2;
const CLI_TIMEOUT_MS = 60_000;

const report = new AbuseReport();
const API = apiCases();
const CLI_CASES = cliCases(API);

let redis: TestRedis;
let abuse: AbuseConfig;
let harness: PipelineHarness;
let scratch: string;
/** Filled in beforeAll; the configuration cases read it when they run. */
const keys: TestKeys = { publicKey: '', privateKey: '' };
const CONFIG_CASES = configCases(keys);

/** Object.prototype as it was before any input was tried: no input may add to it. */
const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort().join();
function prototypeProblems(): string[] {
  const now = Object.getOwnPropertyNames(Object.prototype).sort().join();
  return now === PROTOTYPE_KEYS ? [] : [`Object.prototype changed: ${now}`];
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function describeExpectation(e: Expectation): string {
  switch (e.answer) {
    case 'rejected':
      return `${e.status} ${e.error}${e.problem ? ` with a problem matching ${String(e.problem)}` : ''}`;
    case 'held':
      return `held ${e.reasons.join(', ')}`;
    default:
      return e.answer;
  }
}

// ---------------------------------------------------------------------------------------
// What an accepted order turns into, judged

interface Planned {
  plan: OrderPlan;
  problems: string[];
  answer: string;
  answered: AnswerClass | 'unexpected';
}

function linesOf(plan: OrderPlan, d: PlannedDelivery): number | undefined {
  return plan.status === 'planned' ? plan.shipments.find((s) => s.id === d.shipmentId)?.lines.length : undefined;
}

/** Plans an accepted payload as the order worker would, and judges every payload it renders. */
function planAccepted(payload: unknown, source: OrderEventSource['kind'] | undefined, expect: Expectation, prefix: string): Planned & { orderId?: string } {
  const problems: string[] = [];
  let event;
  try {
    event = ingestOrder(payload, source ? { source } : {});
  } catch (err) {
    return { plan: { orderId: '', status: 'held', reasons: [] }, problems: [`${prefix}: accepted, but ingesting it again throws ${(err as Error).message}`], answer: 'accepted, not ingestible', answered: 'unexpected' };
  }
  let plan: OrderPlan;
  try {
    plan = planOrder(event.order, abuse.config, { controlNumbers: { mill: 1 } });
  } catch (err) {
    return { plan: { orderId: event.order.id, status: 'held', reasons: [] }, problems: [`${prefix}: planning throws ${(err as Error).name}: ${(err as Error).message}`], answer: 'accepted, planning throws', answered: 'unexpected', orderId: event.order.id };
  }
  // Held, waiting and skipped orders are all "not planned, with reasons": the corpus says
  // which reasons it expects (#13 added waiting and skipped, e.g. NOTHING_TO_SHIP).
  if (plan.status === 'held' || (expect.answer === 'held' && plan.status !== 'planned')) {
    const codes = plan.reasons.map((r) => r.code);
    for (const r of plan.reasons) {
      if (r.message.trim() === '') problems.push(`${prefix}: held without a reason`);
      problems.push(...answerProblems(r.message, `${prefix}: the hold reason`));
    }
    if (expect.answer === 'held' && [...new Set(codes)].sort().join() !== [...expect.reasons].sort().join()) {
      problems.push(`${prefix}: held for ${codes.join(', ')}, expected ${expect.reasons.join(', ')}`);
    }
    return { plan, problems, answer: `${plan.status} ${[...new Set(codes)].join('+')}`, answered: 'held', orderId: event.order.id };
  }
  if (plan.status !== 'planned') {
    // The corpus holds ready orders only: waiting or skipped would be a wrong answer.
    const codes = [...new Set(plan.reasons.map((r) => r.code))].join('+');
    return { plan, problems: [`${prefix}: ${plan.status} (${codes}) instead of planned`], answer: `${plan.status} ${codes}`, answered: 'unexpected', orderId: event.order.id };
  }
  for (const d of plan.deliveries) {
    const lines = linesOf(plan, d);
    problems.push(...payloadProblems(d, { ...(lines !== undefined ? { lines } : {}), orderId: plan.orderId }).map((p) => `${prefix}: ${p}`));
  }
  if (expect.answer === 'accepted' && expect.verify) {
    problems.push(...expect.verify({ order: event.order, plan, deliveries: plan.deliveries }).map((p) => `${prefix}: ${p}`));
  }
  return { plan, problems, answer: 'accepted', answered: 'accepted', orderId: event.order.id };
}

// ---------------------------------------------------------------------------------------
// Set-up

/** Started in `beforeAll`, awaited by the CLI tests: the child processes run while the rest does. */
const cliRuns = new Map<CliCase, Promise<CliRun>>();

interface CliRun {
  file: string;
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runCli(c: CliCase, index: number): Promise<CliRun> {
  let file: string;
  if ('path' in c.file) file = c.file.path;
  else {
    file = path.join(scratch, `case-${index}.json`);
    writeFileSync(file, c.file.content);
  }
  const args = [CLI, c.command, file, '--config', abuse.dir, ...(c.args ?? [])];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(TSX, args, {
      cwd: scratch,
      env: { ...process.env, REDIS_URL: redis.url, QUEUE_PREFIX: 'abusecli', CONFIG_DIR: '', DROPSHIP_DATA_KEY: CLI_DATA_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ file, status, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Runs the CLI cases `CLI_CONCURRENCY` at a time, in the background. */
function startCliRuns(): void {
  const queue = CLI_CASES.map((c, i) => ({ c, i }));
  const gates = new Map<CliCase, (r: CliRun) => void>();
  for (const { c } of queue) cliRuns.set(c, new Promise((resolve) => gates.set(c, resolve)));
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) gates.get(next.c)!(await runCli(next.c, next.i));
  };
  for (let i = 0; i < CLI_CONCURRENCY; i++) void worker();
}

beforeAll(async () => {
  abuse = writeAbuseConfig();
  scratch = mkdtempSync(path.join(os.tmpdir(), 'dropship-abuse-'));
  redis = await TestRedis.start();
  startCliRuns();
  const pair = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'orders@supplier.example' }], format: 'armored' });
  Object.assign(keys, { publicKey: pair.publicKey, privateKey: pair.privateKey });
  harness = await PipelineHarness.start(abuse.config, redis.url, { prefix: 'abuse' });
  validateXmlAhead(API.flatMap((c) => (c.expect.answer === 'accepted' ? cxmlOf(bodyBytes(c.body), ROUTE_SOURCE[c.route]) : [])));
}, 60_000);

/** The cXML purchase orders a payload plans to, if it plans. */
function cxmlOf(bytes: Buffer, source: OrderEventSource['kind']): string[] {
  try {
    const plan = planOrder(ingestOrder(parseJsonBody(bytes), { source }).order, abuse.config, { controlNumbers: { mill: 1 } });
    return plan.status === 'planned' ? plan.deliveries.filter((d) => d.format === 'cxml').map((d) => d.body) : [];
  } catch {
    return [];
  }
}

afterAll(async () => {
  await harness?.stop();
  await Promise.allSettled(cliRuns.values());
  await redis?.stop();
  abuse?.dispose();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  removeScratch();
  console.log(report.write());
}, 60_000);

// ---------------------------------------------------------------------------------------
// Configuration files

/**
 * What a configuration that should have been refused does once loaded: U+FFFD where the file
 * had invalid bytes, an order held for a shipping method the store maps, or payloads that
 * are unsafe (file names, CSV rows), for an order with a line for every supplier.
 */
function consequences(config: Config): string[] {
  const problems: string[] = [];
  if (JSON.stringify(config).includes('\uFFFD')) problems.push('the configuration holds U+FFFD where the file had bytes that are not UTF-8');
  const order = Order.parse({
    ...orderPayload({ id: 'abuse-cfg-1', shippingMethod: 'no-such-method' }),
    lines: [...orderPayload().lines, ...config.suppliers.map((s, i) => ({ id: `s${i}`, sku: s.skus[0]!.replace(/\*/g, 'X'), name: 'Thing', quantity: 1, unitPrice: '1.00' }))],
  });
  const plan = planOrder(order, config);
  if (plan.status !== 'planned') return [...problems, `an order whose method falls back to shipping.default is ${plan.status}: ${plan.reasons.map((r) => r.message).join('; ')}`];
  for (const d of plan.deliveries) {
    const supplier = config.suppliers.find((s) => s.id === d.recipient);
    const delimiter = (supplier?.formatOptions as { delimiter?: string } | undefined)?.delimiter;
    problems.push(...payloadProblems(d, { ...(delimiter ? { delimiter } : {}), lines: linesOf(plan, d) ?? 0, orderId: order.id }));
  }
  return problems;
}

describe('configuration files (loadConfig)', () => {
  it.each(CONFIG_CASES.map((c) => [c.name, c] as const))('%s', async (name, c) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dropship-abuse-config-case-'));
    const started = Date.now();
    const problems: string[] = [];
    let answer: string;
    let answered: AnswerClass | 'unexpected';
    try {
      cpSync(FIXTURE_CONFIG_DIR, dir, { recursive: true });
      for (const [file, content] of Object.entries(c.files)) {
        const full = path.join(dir, file);
        if (content === null) rmSync(full, { force: true });
        else {
          mkdirSync(path.dirname(full), { recursive: true });
          writeFileSync(full, typeof content === 'function' ? content() : content);
        }
      }
      try {
        const config = loadConfig(dir);
        answer = 'loaded';
        answered = 'accepted';
        if (c.expect.answer === 'accepted' && c.expect.verify) problems.push(...(await c.expect.verify(config)));
        if (c.expect.answer === 'rejected') problems.push(...consequences(config).map((p) => `and once loaded: ${p}`));
      } catch (err) {
        if (err instanceof DropshipError && err.code === 'ECONFIG') {
          answered = 'rejected';
          answer = `ECONFIG ${err.problems[0]?.split(':')[0] ?? ''}`;
          problems.push(...answerProblems(err.problems.join('\n'), 'the configuration error', [dir]));
          const unnamed = err.problems.filter((p) => !/^(store\.yaml|suppliers\/[^:]+\.ya?ml): /.test(p));
          if (unnamed.length > 0) problems.push(`problems that name no file: ${JSON.stringify(unnamed)}`);
          if (c.expect.answer === 'rejected' && !err.problems.some((p) => c.expect.answer === 'rejected' && c.expect.problem.test(p))) {
            problems.push(`no problem matches ${String(c.expect.problem)}: ${JSON.stringify(err.problems).slice(0, 600)}`);
          }
        } else {
          answered = 'unexpected';
          answer = `crash: ${(err as Error).name}`;
          problems.push(`loadConfig threw ${(err as Error).name} (${(err as Error).message.split('\n')[0]}) instead of a configuration error naming the file`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    if (answered !== c.expect.answer) {
      problems.unshift(`expected ${c.expect.answer === 'rejected' ? `a configuration error matching ${String(c.expect.problem)}` : 'the configuration to load'}, got ${answer}`);
    }
    problems.push(...prototypeProblems());
    report.record({ entry: 'loadConfig', name, expected: c.expect.answer, answer, answered: problems.length > 0 ? 'unexpected' : answered, problems, ms: Date.now() - started });
    expect(problems).toEqual([]);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------
// HTTP API

const ROUTE_SOURCE: Record<ApiCase['route'], OrderEventSource['kind']> = {
  '/orders': 'canonical',
  '/orders/{id}/cancel': 'canonical',
  '/webhooks/shopify': 'shopify',
  '/webhooks/woocommerce': 'woocommerce',
};

/** Orders the API accepted, for the pipeline checks at the end. */
const acceptedByApi: Array<{ orderId: string; deliveries: PlannedDelivery[]; plan: OrderPlan }> = [];
const heldByApi: Array<{ orderId: string; codes: string[] }> = [];

function requestHeaders(c: ApiCase, bytes: Buffer, index: number): Record<string, string> {
  const headers: Record<string, string | undefined> = { 'content-type': 'application/json' };
  const sign = (secret: string) => createHmac('sha256', secret).update(bytes).digest('base64');
  const signature = c.signature ?? 'valid';
  const value =
    signature === 'missing' ? undefined : signature === 'valid' ? sign(c.route === '/webhooks/shopify' ? SHOPIFY_SECRET : WOO_SECRET) : 'header' in signature ? signature.header : sign(signature.secret);
  if (c.route === '/webhooks/shopify') {
    Object.assign(headers, { 'x-shopify-topic': 'orders/create', 'x-shopify-webhook-id': `abuse-${index}`, 'x-shopify-hmac-sha256': value });
  } else if (c.route === '/webhooks/woocommerce') {
    Object.assign(headers, { 'x-wc-webhook-topic': 'order.created', 'x-wc-webhook-delivery-id': `abuse-${index}`, 'x-wc-webhook-signature': value });
  }
  Object.assign(headers, c.headers ?? {});
  return Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined));
}

describe('HTTP API (POST /orders and the webhooks)', () => {
  it.each(API.map((c, i) => [`POST ${c.route}: ${c.name}`, c, i] as const))('%s', async (_name, c, index) => {
    const started = Date.now();
    const bytes = bodyBytes(c.body);
    const problems: string[] = [];
    let answer: string;
    let answered: AnswerClass | 'unexpected';
    const url = c.route === '/orders/{id}/cancel' ? `/orders/${c.id ?? ''}/cancel` : c.route;
    const res = await withTimeout(
      harness.api.inject({ method: 'POST', url, payload: bytes, headers: requestHeaders(c, bytes, index), remoteAddress: c.remoteAddress ?? '127.0.0.1' }),
      20_000,
      'answer from the API',
    );
    let body: { error?: unknown; message?: unknown; problems?: unknown; orderId?: unknown; duplicate?: unknown } = {};
    try {
      body = JSON.parse(res.body) as typeof body;
    } catch {
      problems.push(`the answer is not JSON: ${JSON.stringify(res.body.slice(0, 200))}`);
    }
    problems.push(...answerProblems(res.body, `the ${res.statusCode} answer`));
    const expectProblems = c.expect.answer === 'rejected' ? c.expect : undefined;
    if (res.statusCode >= 400 && res.statusCode < 500) {
      answered = 'rejected';
      answer = `${res.statusCode} ${String(body.error)}`;
      // Every 4xx names the error and says what to do; a 400 also lists every problem.
      if (typeof body.error !== 'string' || typeof body.message !== 'string' || (res.statusCode === 400 && !Array.isArray(body.problems))) {
        problems.push(`a ${res.statusCode} answer without error, message${res.statusCode === 400 ? ' and problems' : ''}: ${res.body.slice(0, 200)}`);
      }
      if (expectProblems && (res.statusCode !== expectProblems.status || body.error !== expectProblems.error)) {
        problems.push(`answered ${answer}, expected ${expectProblems.status} ${expectProblems.error}: ${res.body.slice(0, 300)}`);
      }
      const listed = Array.isArray(body.problems) ? (body.problems as unknown[]).map(String) : [];
      if (expectProblems?.problem && !listed.some((p) => expectProblems.problem!.test(p))) {
        problems.push(`no problem matches ${String(expectProblems.problem)}: ${JSON.stringify(listed.slice(0, 5)).slice(0, 400)}`);
      }
    } else if (res.statusCode === 202 && (c.route === '/orders/{id}/cancel' || (body as { cancelled?: unknown }).cancelled === true)) {
      // A cancellation: accepted for the order named in the path (or the webhook), once.
      answered = 'accepted';
      answer = '202 cancelled';
      const expectedId = c.route === '/orders/{id}/cancel' ? decodeURIComponent(c.id ?? '') : undefined;
      if ((body as { cancelled?: unknown }).cancelled !== true || body.duplicate !== false || (expectedId !== undefined && body.orderId !== expectedId)) {
        problems.push(`answered ${res.body}, expected the cancellation of ${expectedId ?? 'the order'} accepted once`);
      }
    } else if (res.statusCode === 202) {
      const planned = planAccepted(parseJsonBody(bytes), ROUTE_SOURCE[c.route], c.expect, 'in-process plan');
      answered = planned.answered;
      answer = `202 ${planned.answer}`;
      problems.push(...planned.problems);
      if (body.orderId !== planned.orderId || body.duplicate !== false) problems.push(`answered ${res.body}, expected order ${planned.orderId} accepted once`);
      if (planned.orderId !== undefined && planned.plan.status === 'planned') acceptedByApi.push({ orderId: planned.orderId, deliveries: planned.plan.deliveries, plan: planned.plan });
      if (planned.orderId !== undefined && planned.plan.status === 'held') heldByApi.push({ orderId: planned.orderId, codes: planned.plan.reasons.map((r) => r.code) });
    } else if (res.statusCode === 200) {
      answered = 'ignored';
      answer = `200 ${res.body.slice(0, 40)}`;
    } else {
      answered = 'unexpected';
      answer = `${res.statusCode} ${String(body.error ?? '')}`.trim();
    }
    if (answered !== c.expect.answer) problems.unshift(`expected ${describeExpectation(c.expect)}, answered ${answer}: ${res.body.slice(0, 300)}`);
    problems.push(...prototypeProblems());
    const entry: EntryPoint = `POST ${c.route}`;
    report.record({ entry, name: c.name, expected: c.expect.answer, answer, answered: problems.length > 0 ? 'unexpected' : answered, problems, ms: Date.now() - started });
    expect(problems).toEqual([]);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------
// CLI

/** One test per CLI run, and one per order inside an `enqueue` batch (all from the same run). */
type CliTest = readonly [name: string, c: CliCase, item: BatchItem | undefined, index: number];
const CLI_TESTS: CliTest[] = CLI_CASES.flatMap((c): CliTest[] =>
  c.expect.answer === 'batch'
    ? c.expect.items.map((item, index, all): CliTest => [`dropship ${c.command} (one array of ${all.length} orders): ${item.name}`, c, item, index])
    : [[`dropship ${c.command}: ${c.name}`, c, undefined, -1]],
);

let cliRedis: ReturnType<TestRedis['client']> | undefined;
/** The order is in Redis: its record (an order that simply ships is planned by the intake, with no job), or its order job. */
async function orderQueued(orderId: string | undefined): Promise<boolean> {
  cliRedis ??= redis.client();
  return (await cliRedis.exists(markerKeys.order('abusecli', orderId ?? ''), `abusecli:orders:${orderJobId(orderId ?? '')}`)) > 0;
}
afterAll(() => cliRedis?.disconnect());

/** An order inside the batch file: its line of `enqueue` output, and what it plans to. */
async function judgeBatchItem(run: CliRun, item: BatchItem, index: number): Promise<{ answer: string; answered: AnswerClass | 'unexpected'; problems: string[] }> {
  const problems = answerProblems(run.stderr, 'stderr', [run.file]);
  if (run.status !== 0) problems.push(`the batch exited ${run.status ?? run.signal}: ${JSON.stringify(run.stderr.slice(0, 300))}`);
  const planned = planAccepted(parseJsonBody(item.json), undefined, item.expect, 'in-process plan');
  problems.push(...planned.problems);
  const line = run.stdout.split('\n')[index];
  if (line !== JSON.stringify({ orderId: planned.orderId, duplicate: false })) problems.push(`enqueue printed ${JSON.stringify(line)} for it, expected order ${planned.orderId} accepted once`);
  else if (!(await orderQueued(planned.orderId))) problems.push(`order ${planned.orderId} is not in Redis (no record, no job)`);
  if (planned.answered !== item.expect.answer) problems.unshift(`expected ${describeExpectation(item.expect)}, answered ${planned.answer}`);
  return { answer: `exit ${run.status}, ${planned.answer}`, answered: planned.answered, problems };
}

/** A single-file run: its exit code, stderr, and for `preview` the printed plan against planOrder's. */
function judgeRun(run: CliRun, c: CliCase): { answer: string; answered: AnswerClass | 'unexpected'; problems: string[] } {
  const problems = answerProblems(run.stderr, 'stderr', [run.file]);
  const stderr = run.stderr.split(run.file).join('FILE');
  if (run.status === 2) {
    if (c.command === 'preview' && run.stdout !== '') problems.push(`a rejected preview printed ${JSON.stringify(run.stdout.slice(0, 200))}`);
    if (c.expect.answer === 'rejected') {
      if (!c.expect.stderr.test(stderr)) problems.push(`stderr does not match ${String(c.expect.stderr)}: ${JSON.stringify(stderr.slice(0, 400))}`);
      for (const s of c.expect.notInStderr ?? []) if (stderr.includes(s)) problems.push(`stderr quotes the input (${JSON.stringify(s)})`);
    }
    return { answer: 'exit 2', answered: 'rejected', problems };
  }
  if (run.status !== 0) {
    problems.push(`${run.signal ? `killed (${run.signal}) after ${run.ms} ms` : `exit ${run.status}`}: ${JSON.stringify(stderr.slice(0, 400))}`);
    return { answer: run.signal ? `killed (${run.signal})` : `exit ${run.status}`, answered: 'unexpected', problems };
  }
  const payload = parseJsonBody(readFileSync(run.file));
  const planned = planAccepted(payload, undefined, c.expect.answer === 'held' ? { answer: 'held', reasons: c.expect.reasons } : { answer: 'accepted' }, 'in-process plan');
  problems.push(...planned.problems);
  if (c.command === 'preview') {
    let printed: { orderId?: string; deliveries?: Array<{ recipient: string; format: string; body: string }>; held?: Array<{ code: string }> } = {};
    try {
      printed = JSON.parse(run.stdout) as typeof printed;
    } catch {
      problems.push(`preview printed no JSON object: ${JSON.stringify(run.stdout.slice(0, 200))}`);
    }
    if (planned.plan.status === 'planned') {
      // preview prints exactly the payloads planOrder renders (X12 with control number 1).
      const expected = planOrder(ingestOrder(payload).order, abuse.config);
      const bodies = (printed.deliveries ?? []).map((d) => d.body);
      if (expected.status !== 'planned' || JSON.stringify(bodies) !== JSON.stringify(expected.deliveries.map((d) => d.body))) problems.push('preview printed other payloads than planOrder renders');
      for (const d of printed.deliveries ?? []) problems.push(...payloadProblems({ format: d.format, body: d.body, recipient: d.recipient }).map((p) => `preview: ${p}`));
    } else {
      if (!/^dropship: order \S+ would be held: /.test(run.stderr)) problems.push(`a held preview says on stderr: ${JSON.stringify(run.stderr.slice(0, 200))}`);
      if (JSON.stringify((printed.held ?? []).map((h) => h.code)) !== JSON.stringify(planned.plan.status === 'held' ? planned.plan.reasons.map((r) => r.code) : [])) problems.push('preview printed other hold reasons than planOrder gives');
    }
  }
  return { answer: `exit 0, ${planned.answer}`, answered: planned.answered, problems };
}

describe('CLI (dropship preview / enqueue FILE, as child processes)', () => {
  it.each(CLI_TESTS)('%s', async (_name, c, item, index) => {
    const run = await cliRuns.get(c)!;
    const judged = item ? await judgeBatchItem(run, item, index) : judgeRun(run, c);
    const expected = item ? item.expect.answer : (c.expect.answer as AnswerClass);
    const problems = judged.answered === expected ? judged.problems : [`expected ${expected}, answered ${judged.answer}`, ...judged.problems];
    problems.push(...prototypeProblems());
    report.record({ entry: c.command === 'preview' ? 'dropship preview' : 'dropship enqueue', name: item ? item.name : c.name, expected, answer: judged.answer, answered: problems.length > 0 ? 'unexpected' : judged.answered, problems, ms: run.ms });
    expect(problems).toEqual([]);
  }, CLI_TIMEOUT_MS * 3);
});

// ---------------------------------------------------------------------------------------
// What the pipeline did with the accepted orders

describe('the pipeline after the corpus', () => {
  it('delivers every payload of every order the API accepted, each one safe', async () => {
    const expected = new Map(acceptedByApi.flatMap((a) => a.deliveries.map((d) => [d.deliveryId, { d, plan: a.plan }] as const)));
    expect(expected.size).toBeGreaterThan(0);
    await waitFor(`${expected.size} deliveries`, () => harness.delivered().filter((d) => expected.has(d.deliveryId)).length >= expected.size, 30_000).catch(() => undefined);
    const delivered = harness.delivered().filter((d) => expected.has(d.deliveryId));
    validateXmlAhead(delivered.filter((d) => d.format === 'cxml').map((d) => d.body));
    const problems: string[] = [];
    const missing = [...expected.keys()].filter((id) => !delivered.some((d) => d.deliveryId === id));
    if (missing.length > 0) problems.push(`not delivered within 30 s: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ` and ${missing.length - 10} more` : ''}`);
    const counts = new Map<string, number>();
    for (const d of delivered) counts.set(d.deliveryId, (counts.get(d.deliveryId) ?? 0) + 1);
    for (const [id, n] of counts) if (n > 1) problems.push(`${id} delivered ${n} times`);
    for (const d of delivered) {
      const planned = expected.get(d.deliveryId)!;
      const lines = linesOf(planned.plan, planned.d);
      // The first problem of each payload is enough here: the corpus cases above list them all.
      problems.push(...payloadProblems(d, { ...(lines !== undefined ? { lines } : {}), orderId: d.orderId }).slice(0, 1).map((p) => `delivered: ${p.split('\n')[0]}`));
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it('keeps every order the API accepted but planning holds in the failed set, with its reasons', async () => {
    expect(heldByApi.length).toBeGreaterThan(0);
    const queue = harness.pipeline.intake.queue;
    const reasons = new Map<string, string | undefined>();
    await waitFor('held orders failed', async () => {
      for (const h of heldByApi) {
        const job = await queue.getJob(orderJobId(h.orderId));
        reasons.set(h.orderId, job && (await job.getState()) === 'failed' ? job.failedReason : undefined);
      }
      return [...reasons.values()].every((r) => r !== undefined);
    }, 20_000).catch(() => undefined);
    const problems = heldByApi.flatMap((h) => {
      const reason = reasons.get(h.orderId);
      if (reason === undefined) return [`order ${h.orderId} did not end held`];
      const failure = readFailure(reason);
      const held = failure?.kind === 'held' ? failure.reasons.map((r) => r.code as string) : [];
      return held.length > 0 && h.codes.every((code) => held.includes(code)) ? [] : [`order ${h.orderId} failed with ${JSON.stringify(reason)}, expected held: ${h.codes.join(', ')}`];
    });
    expect(problems).toEqual([]);
  }, 30_000);

  it('keeps no card number in Redis, in any spelling', async () => {
    const dump = await redis.dump();
    expect(dump.some((v) => v.includes('abuse-api-'))).toBe(true); // the scan does see the corpus
    const problems = cardProblems(dump, 'Redis');
    expect(problems.map((p) => p.slice(0, 240))).toEqual([]);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------
// The judges themselves: each must see what it is there to see

describe('the judges used above', () => {
  const planned = () => {
    const plan = planOrder(ingestOrder(canonical('judge-1')).order, abuse.config, { controlNumbers: { mill: 1 } });
    if (plan.status !== 'planned') throw new Error('the judge fixture order does not plan');
    const body = (format: string) => plan.deliveries.find((d) => d.format === format)!.body;
    return { csv: body('csv'), x12: body('x12-850'), cxml: body('cxml') };
  };

  it('see a row a bare line break splits off, and a formula cell', () => {
    expect(csvProblems('order_id,name\r\n1,Ada\n=1+1\r\n', 'csv', { rows: 1, orderId: '1' })).toHaveLength(4);
    expect(csvProblems('order_id,name\r\n1,"Ada\n=1+1"\r\n1,\'=2\r\n', 'csv', { rows: 2, orderId: '1' })).toEqual([]);
  });

  it('see X12 values that carry a delimiter or a control character', () => {
    const { x12 } = planned();
    expect(x12Problems(x12, 'x12', { lines: 1 })).toEqual([]);
    expect(x12Problems(x12.replace('*Stone-ground flour', '*Stone~N1*ST*EVIL'), 'x12')).not.toEqual([]);
    expect(x12Problems(x12.replace('*Stone-ground flour', '*Stone>ground'), 'x12')).not.toEqual([]);
    expect(x12Problems(x12.replace('*Stone-ground flour', '*Stone\u0000ground'), 'x12')).not.toEqual([]);
    expect(x12Problems(x12, 'x12', { lines: 2 })).not.toEqual([]);
  });

  it('see markup a value added to a cXML document', () => {
    const { cxml } = planned();
    expect(xmlProblems(cxml, 'cxml')).toEqual([]);
    expect(xmlProblems(cxml.replace('>Dry cider<', '>Dry</Description><Evil/><Description>cider<'), 'cxml')).not.toEqual([]);
    expect(xmlProblems(cxml.replace('>Dry cider<', '>Dry \u0000 cider<'), 'cxml')).not.toEqual([]);
  });

  it('see file names that leave their folder or carry NUL', () => {
    for (const bad of ['../x', 'a/b', '..', '', 'a\\b', 'x\u0000.csv', 'x\n.csv']) expect(filenameProblems(bad, 'f')).not.toEqual([]);
    for (const ok of ['1001-creamery.csv', 'a..b-sheet.csv', '1001+warehouse.ups-ship.json']) expect(filenameProblems(ok, 'f')).toEqual([]);
  });

  it('see card numbers however they are spelled, and not hex digests', () => {
    for (const spelled of ['4111 1111 1111 1111', '4111-1111-1111-1111', '４１１１１１１１１１１１１１１１', '4111\u200B1111\u200B1111\u200B1111', '4111\u00001111\u00001111\u00001111']) {
      expect(cardProblems([`card ${spelled} here`], 'x')).toHaveLength(1);
    }
    expect(cardProblems(['sha256 1eb45f0ced513895496845481775333d3d3c697809d7a81a4cd0edbf76078779', 'phone +1 503 555 0199'], 'x')).toEqual([]);
    // Only the corpus's own Luhn-valid identifiers are skipped, not any Luhn-valid number.
    expect(cardProblems(['sku 4006381333924, order 7334567890123409+creamery'], 'x')).toEqual([]);
    expect(cardProblems(['sku 4006381333932'], 'x')).toHaveLength(1);
  });

  it('see stack traces and internal paths in answers', () => {
    expect(answerProblems('TypeError: x\n    at Object.<anonymous> (/work/main/src/api/server.ts:10:5)', 'a')).not.toEqual([]);
    expect(answerProblems('{"error":"EINVALID_ORDER","problems":["id: must be 1-64 letters"]}', 'a')).toEqual([]);
  });
});
