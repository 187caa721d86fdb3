import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { evictionPolicyWarning } from '../../src/queue/redis';
import { TestRedis } from '../support/redis';

const ROOT = path.join(__dirname, '..', '..');

interface Service {
  build?: string;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
}

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };
  const cli = readFileSync(path.join(ROOT, 'src', 'cli', 'dropship.ts'), 'utf8');

  it('runs Redis with an append-only file and noeviction', () => {
    const cmd = compose.services.redis?.command ?? [];
    expect(cmd).toEqual(expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']));
  });

  it('runs the API and the workers as roles the CLI knows, against the compose Redis', () => {
    for (const [name, role] of [['api', 'api'], ['workers', 'workers'], ['dashboard', 'dashboard']] as const) {
      const svc = compose.services[name]!;
      expect(svc.build).toBe('.');
      expect(svc.command).toEqual(['start', '--role', role]);
      expect(svc.environment?.REDIS_URL).toBe('redis://redis:6379');
      expect(svc.environment?.CONFIG_DIR).toBe('/app/config');
    }
    expect(cli).toMatch(/choices\(\['all', 'api', 'workers', 'dashboard'\]\)/);
    expect(Object.keys(compose.services.dashboard?.environment ?? {})).toEqual(expect.arrayContaining(['DASHBOARD_USER', 'DASHBOARD_PASSWORD']));
    expect(compose.services.api?.environment?.HOST).toBe('0.0.0.0');
    // Every process that writes or reads orders seals them with the same key, required.
    for (const name of ['api', 'workers']) expect(compose.services[name]?.environment?.DROPSHIP_DATA_KEY).toMatch(/^\$\{DROPSHIP_DATA_KEY:\?/);
  });

  it('provides every secret the example configuration names', () => {
    const config = ['alpine-chocolatier', 'olive-grove', 'vermont-creamery'].map((f) => readFileSync(path.join(ROOT, 'config', 'suppliers', `${f}.yaml`), 'utf8')).join('\n');
    const envNames = [...config.matchAll(/(?:Env|Secret(?:Env)?): (\w+)/g)].map((m) => m[1]!);
    expect(envNames.length).toBeGreaterThan(0);
    for (const env of envNames) expect(Object.keys(compose.services.workers?.environment ?? {})).toContain(env);
    expect(config).toContain('privateKeyFile: /run/secrets/vc_sftp_key');
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
