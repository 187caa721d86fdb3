import { randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as openpgp from 'openpgp';
import { parse } from 'yaml';
import { freePort } from '../../src/queue/embedded-redis';
import { evictionPolicyWarning } from '../../src/queue/redis';
import { generateDataKey } from '../../src/queue/sealing';
import { LocalRedisCluster } from '../../testkit/redis-cluster';
import { TestRedis } from '../support/redis';
import { waitFor } from '../support/wait';

const ROOT = path.join(__dirname, '..', '..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
// Node itself runs the CLI, with tsx as a loader (no tsx wrapper process): the wrapper relays a
// SIGTERM and, when the busy child has not answered within 30 ms, SIGKILLs it (exit 143). The
// image runs the compiled CLI on node directly, as this does.
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const CLI = path.join(ROOT, 'src', 'cli', 'dropship.ts');
const ROLES = ['api', 'workers', 'dashboard'] as const;

// Each role is started as its own process (tsx), a few seconds each.
jest.setTimeout(120_000);

interface Service {
  build?: string;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  secrets?: Array<string | { source: string }>;
}

const composeText = readFileSync(COMPOSE_FILE, 'utf8');
const compose = parse(composeText) as { services: Record<string, Service>; secrets: Record<string, { file: string }> };
/** Every `${NAME:?message}` of the file: the variables compose refuses to run without. */
const REQUIRED = new Map([...composeText.matchAll(/\$\{(\w+):\?([^}]*)\}/g)].map((m) => [m[1]!, m[2]!]));
/** Names of the secrets the example configuration reads from the environment. */
const CONFIG_SECRETS = (() => {
  const files = ['store.yaml', ...['alpine-chocolatier', 'olive-grove', 'vermont-creamery'].map((f) => path.join('suppliers', `${f}.yaml`))];
  // What the configuration names, not what its comments suggest (store.yaml shows a commented Shopify block).
  const config = files.map((f) => readFileSync(path.join(ROOT, 'config', f), 'utf8').replace(/^\s*#.*$/gm, '')).join('\n');
  return [...new Set([...config.matchAll(/(?:Env|Secret(?:Env)?): (\w+)/g)].map((m) => m[1]!))];
})();

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dropship-compose-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs docker-compose on the shipped file with exactly `vars` (no .env, nothing inherited). */
function dockerCompose(args: string[], vars: Record<string, string>) {
  const emptyEnvFile = path.join(tmp, 'empty.env');
  writeFileSync(emptyEnvFile, '');
  const r = spawnSync('docker-compose', ['-f', COMPOSE_FILE, '--env-file', emptyEnvFile, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: tmp, ...vars },
    timeout: 60_000,
  });
  if (r.error) throw new Error(`docker-compose cannot run (${r.error.message}): npm test's preflight installs it (Debian package docker-compose)`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A value for every required variable: dummies, except values whose form the processes check
 * at start-up: a data key, and a Standard Webhooks secret (`whsec_` + base64 of 24+ bytes).
 */
const requiredValue = (name: string): string => {
  if (name === 'DROPSHIP_DATA_KEY') return generateDataKey();
  if (name.endsWith('_WEBHOOK_SECRET')) return `whsec_${randomBytes(32).toString('base64')}`;
  return `dummy-value-of-${name}`;
};
const requiredValues = (): Record<string, string> => Object.fromEntries([...REQUIRED.keys()].map((name) => [name, requiredValue(name)]));

describe('docker-compose.yml', () => {
  const cli = readFileSync(CLI, 'utf8');

  it('runs Redis with an append-only file and noeviction', () => {
    const cmd = compose.services.redis?.command ?? [];
    expect(cmd).toEqual(expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']));
  });

  it('runs the API and the workers as roles the CLI knows, against the compose Redis', () => {
    for (const role of ROLES) {
      const svc = compose.services[role]!;
      expect(svc.build).toBe('.');
      expect(svc.command).toEqual(['start', '--role', role]);
      expect(svc.environment?.REDIS_URL).toBe('redis://redis:6379');
      expect(svc.environment?.CONFIG_DIR).toBe('/app/config');
    }
    expect(cli).toMatch(/choices\(\['all', 'api', 'workers', 'dashboard'\]\)/);
    expect(compose.services.dashboard?.environment?.DASHBOARD_USER).toMatch(/^\$\{DASHBOARD_USER:\?/);
    expect(compose.services.dashboard?.environment?.DASHBOARD_PASSWORD).toMatch(/^\$\{DASHBOARD_PASSWORD:\?/);
    expect(compose.services.api?.environment?.HOST).toBe('0.0.0.0');
    // Every process that writes or reads orders seals them with the same key, required.
    for (const name of ['api', 'workers']) expect(compose.services[name]?.environment?.DROPSHIP_DATA_KEY).toMatch(/^\$\{DROPSHIP_DATA_KEY:\?/);
  });

  it('requires every secret the example configuration names, for the workers only', () => {
    expect(CONFIG_SECRETS).toEqual(expect.arrayContaining(['UPS_CLIENT_ID', 'FEDEX_CLIENT_SECRET', 'SMTP_PASSWORD', 'OLIVE_GROVE_WEBHOOK_SECRET']));
    for (const env of CONFIG_SECRETS) {
      expect([env, compose.services.workers?.environment?.[env]]).toEqual([env, expect.stringMatching(new RegExp(`^\\$\\{${env}:\\?`))]);
      for (const other of ['api', 'dashboard']) expect(Object.keys(compose.services[other]?.environment ?? {})).not.toContain(env);
    }
    const config = readFileSync(path.join(ROOT, 'config', 'suppliers', 'vermont-creamery.yaml'), 'utf8');
    expect(config).toContain('privateKeyFile: /run/secrets/vc_sftp_key');
    expect(compose.services.workers?.environment?.STORE_PGP_KEY_FILE).toBe('/run/secrets/store_pgp_key');
    expect(compose.services.workers?.secrets).toEqual(['store_pgp_key', 'vc_sftp_key']);
    for (const other of ['api', 'dashboard', 'redis']) expect(compose.services[other]?.secrets).toBeUndefined();
  });

  it('documents each file of the secrets folder it mounts, and keeps that folder out of git', () => {
    expect(Object.entries(compose.secrets).map(([name, s]) => [name, s.file])).toEqual([
      ['store_pgp_key', './secrets/store_pgp_key.asc'],
      ['vc_sftp_key', './secrets/vc_sftp_key'],
    ]);
    const header = composeText.slice(0, composeText.indexOf('\nservices:'));
    for (const file of ['secrets/store_pgp_key.asc', 'secrets/vc_sftp_key']) expect(header).toContain(`#   ${file} `);
    expect(header).toContain('ssh-keygen -t ed25519 -N "" -C dropship -f secrets/vc_sftp_key');
    expect(header).toContain('gpg --armor --export-secret-keys');
    expect(readFileSync(path.join(ROOT, '.gitignore'), 'utf8').split('\n')).toEqual(expect.arrayContaining(['secrets/', '.env']));
  });

  it('is valid for docker-compose with the required variables set', () => {
    expect([...REQUIRED.keys()].sort()).toEqual(
      ['API_TOKEN', 'DASHBOARD_PASSWORD', 'DASHBOARD_USER', 'DROPSHIP_DATA_KEY', ...CONFIG_SECRETS].sort(),
    );
    const r = dockerCompose(['config', '-q'], requiredValues());
    expect(r).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('has a cluster profile: six cluster nodes, joined once with a replica each, and the three roles on them', () => {
    // Parsed with YAML merge keys, as compose reads them (the cluster roles extend the others' environment).
    const merged = (parse(composeText, { merge: true }) as { services: Record<string, Service & { profiles?: string[]; depends_on?: Record<string, { condition: string }> }> }).services;
    const nodes = Object.keys(merged).filter((name) => /^redis-node-\d$/.test(name));
    expect(nodes).toHaveLength(6);
    for (const name of nodes) {
      const node = merged[name]!;
      expect(node.profiles).toEqual(['cluster']);
      expect(node.command).toEqual(expect.arrayContaining(['--cluster-enabled', 'yes', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction']));
      expect(node.volumes).toEqual([`${name}-data:/data`]);
    }
    const create = merged['redis-cluster-create']!;
    expect(create.profiles).toEqual(['cluster']);
    expect(create.command?.join(' ')).toContain(`redis-cli --cluster create ${nodes.map((n) => `${n}:6379`).join(' ')} --cluster-replicas 1 --cluster-yes`);
    for (const role of ROLES) {
      const svc = merged[`${role}-cluster`]!;
      const single = merged[role]!;
      expect(svc.profiles).toEqual(['cluster']);
      expect(svc.command).toEqual(['start', '--role', role]);
      expect(svc.depends_on).toEqual({ 'redis-cluster-create': { condition: 'service_completed_successfully' } });
      expect(svc.environment).toEqual({ ...single.environment, REDIS_URL: '', REDIS_CLUSTER_NODES: 'redis-node-1:6379,redis-node-2:6379,redis-node-3:6379', QUEUE_PARTITIONS: '6' });
      expect(svc.secrets).toEqual(single.secrets);
    }
    // The single-node services stay out of the profile: `docker compose up` runs them as before.
    for (const name of ['redis', ...ROLES]) expect((merged[name] as { profiles?: string[] }).profiles).toBeUndefined();
  });

  it('is valid for docker-compose with the cluster profile', () => {
    const r = dockerCompose(['--profile', 'cluster', 'config', '-q'], requiredValues());
    expect(r).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('refuses to run while a required variable is unset, naming it', () => {
    for (const [name, message] of REQUIRED) {
      expect(message).toContain(name);
      const { [name]: _left, ...others } = requiredValues();
      const r = dockerCompose(['config', '-q'], others);
      expect([name, r.status]).toEqual([name, 1]);
      // docker-compose 1 and 2 both end their error with the file's own message.
      expect([name, r.stderr.trim().endsWith(`: ${message}`)]).toEqual([name, true]);
    }
  });
});

/** Starts `dropship start --role <role>` with only `env` (and PATH): started, or its exit and output. */
async function startRole(role: string, env: Record<string, string>): Promise<{ started: boolean; code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI, 'start', '--role', role], { cwd: tmp, env: { PATH: process.env.PATH, HOME: tmp, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  let code: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve((code = c))));
  await waitFor(`dropship start --role ${role} to start or exit`, () => output.includes('dropship started') || code !== undefined, 45_000);
  const started = code === undefined;
  if (started) child.kill('SIGTERM');
  return { started, code: await exited, output };
}

describe('each compose service, started with exactly the environment compose gives it', () => {
  let redis: TestRedis;
  let resolved: Record<string, Service>;
  let configDir: string;
  let secretsDir: string;

  beforeAll(async () => {
    redis = await TestRedis.start();
    const r = dockerCompose(['config'], requiredValues());
    expect(r.status).toBe(0);
    resolved = (parse(r.stdout) as { services: Record<string, Service> }).services;
    // The ./secrets folder as the comments in docker-compose.yml say to make it, mounted at /run/secrets.
    secretsDir = path.join(tmp, 'run-secrets');
    mkdirSync(secretsDir);
    const keygen = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dropship', '-f', path.join(secretsDir, 'vc_sftp_key')], { encoding: 'utf8' });
    expect(keygen.status).toBe(0);
    const { privateKey } = await openpgp.generateKey({ type: 'ecc', userIDs: [{ name: 'Gourmet Larder dropship', email: 'dropship@gourmet-larder.example' }], format: 'armored' });
    writeFileSync(path.join(secretsDir, 'store_pgp_key'), privateKey);
    // The shipped configuration, with its /run/secrets paths pointing at that folder.
    configDir = path.join(tmp, 'config');
    cpSync(path.join(ROOT, 'config'), configDir, { recursive: true });
    for (const file of readdirSync(path.join(configDir, 'suppliers'))) {
      const p = path.join(configDir, 'suppliers', file);
      writeFileSync(p, readFileSync(p, 'utf8').replaceAll('/run/secrets/', `${secretsDir}/`));
    }
  });
  afterAll(async () => {
    await redis.stop();
  });

  /** The service's resolved environment, with compose's addresses and mounts mapped onto this machine. */
  async function environmentOf(service: string): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(resolved[service]?.environment ?? {})) env[name] = String(value ?? '');
    expect(env).toMatchObject({ REDIS_URL: 'redis://redis:6379', CONFIG_DIR: '/app/config' });
    for (const [name, value] of Object.entries(env)) if (value.startsWith('/run/secrets/')) env[name] = path.join(secretsDir, value.slice('/run/secrets/'.length));
    return { ...env, REDIS_URL: redis.url, CONFIG_DIR: configDir, HOST: '127.0.0.1', PORT: String(await freePort()) };
  }

  it.each(ROLES)('%s starts and stops cleanly', async (role) => {
    const r = await startRole(role, await environmentOf(role));
    expect([r.started, r.code, r.started ? '' : r.output]).toEqual([true, 0, '']);
  });

  it('the workers refuse to start without their carrier credentials, naming the variable', async () => {
    const r = await startRole('workers', { ...(await environmentOf('workers')), UPS_CLIENT_ID: '' });
    expect(r.started).toBe(false);
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('environment variable UPS_CLIENT_ID (the client ID) is not set');
  });

  it('the workers read no dashboard credentials: a dashboard setting meant for another process does not stop them', async () => {
    const r = await startRole('workers', { ...(await environmentOf('workers')), DASHBOARD_USER: 'ops', DASHBOARD_PASSWORD: 'short' });
    expect([r.started, r.code]).toEqual([true, 0]);
  });
});

describe('the cluster profile\'s roles, started with the environment compose gives them, on a local Redis Cluster', () => {
  let cluster: LocalRedisCluster;
  let resolved: Record<string, Service>;

  beforeAll(async () => {
    cluster = await LocalRedisCluster.start();
    const r = dockerCompose(['--profile', 'cluster', 'config'], requiredValues());
    expect(r.status).toBe(0);
    resolved = (parse(r.stdout) as { services: Record<string, Service> }).services;
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it.each(['api', 'dashboard'])('%s-cluster starts on the cluster and stops cleanly', async (role) => {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(resolved[`${role}-cluster`]?.environment ?? {})) env[name] = String(value ?? '');
    expect(env).toMatchObject({ REDIS_URL: '', REDIS_CLUSTER_NODES: 'redis-node-1:6379,redis-node-2:6379,redis-node-3:6379', QUEUE_PARTITIONS: '6' });
    // compose's node names, mapped onto this machine's cluster; the configuration as shipped.
    Object.assign(env, { REDIS_CLUSTER_NODES: cluster.seeds, CONFIG_DIR: path.join(ROOT, 'config'), HOST: '127.0.0.1', PORT: String(await freePort()) });
    const r = await startRole(role, env);
    expect([r.started, r.code, r.started ? '' : r.output]).toEqual([true, 0, '']);
  });
});

describe('Redis eviction policy', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await TestRedis.start();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('warns when Redis may evict jobs, and is quiet with noeviction', async () => {
    const client = redis.client();
    try {
      expect(await evictionPolicyWarning(client)).toBeUndefined();
      await client.config('SET', 'maxmemory-policy', 'allkeys-lru');
      expect(await evictionPolicyWarning(client)).toBe('Redis maxmemory-policy is "allkeys-lru"; set it to "noeviction" or Redis may evict queued orders');
    } finally {
      client.disconnect();
    }
  });
});
