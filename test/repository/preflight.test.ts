import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * `npm test` starts with scripts/preflight.ts: on a machine without the suite's servers and
 * tools it stops before any test, naming them and the one command that installs them.
 */

const ROOT = path.resolve(__dirname, '../..');
const TSX_CLI = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const PREFLIGHT = path.join(ROOT, 'scripts', 'preflight.ts');
/** Every program the suite needs that is looked up on PATH (sshd and chromium are named by path). */
const ON_PATH = ['redis-server', 'redis-cli', 'ssh-keygen', 'openssl', 'xmllint', 'docker-compose'];
const ALL_PACKAGES = 'redis-server redis-tools openssh-server openssh-client openssl libxml2-utils chromium docker-compose';
const SUDO = process.getuid?.() === 0 ? '' : 'sudo ';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dropship-preflight-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

function executable(file: string, text = '#!/bin/sh\nexit 0\n'): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, 0o755);
  return file;
}

/** A PATH folder holding node and the named programs (fakes), and nothing else. */
function binWith(programs: string[]): string {
  const bin = path.join(tmp, 'bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(process.execPath, path.join(bin, 'node'));
  for (const p of programs) executable(path.join(bin, p));
  return bin;
}

function preflight(bin: string, env: NodeJS.ProcessEnv = {}, args: string[] = []) {
  const r = spawnSync(process.execPath, [TSX_CLI, PREFLIGHT, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: bin, HOME: tmp, SSHD_PATH: path.join(tmp, 'none', 'sshd'), CHROMIUM_PATH: path.join(tmp, 'none', 'chromium'), ...env },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** sshd and chromium where SSHD_PATH and CHROMIUM_PATH point. */
function serverPaths(): NodeJS.ProcessEnv {
  return { SSHD_PATH: executable(path.join(tmp, 'sbin', 'sshd')), CHROMIUM_PATH: executable(path.join(tmp, 'sbin', 'chromium')) };
}

/** A fake apt-get: logs its arguments and, on install, puts the programs of the named packages on PATH. */
function fakeAptGet(bin: string, provides: Record<string, string>): string {
  const log = path.join(tmp, 'apt.log');
  executable(
    path.join(bin, 'apt-get'),
    `#!/usr/bin/env node
const fs = require('fs');
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(log)}, args.join(' ') + '\\n');
const provides = ${JSON.stringify(provides)};
if (args[0] === 'install') for (const pkg of args.filter((a) => provides[a])) {
  const file = ${JSON.stringify(bin)} + '/' + provides[pkg];
  fs.writeFileSync(file, '#!/bin/sh\\nexit 0\\n');
  fs.chmodSync(file, 0o755);
}
`,
  );
  // Passwordless sudo, for a test run by a user other than root.
  executable(path.join(bin, 'sudo'), '#!/bin/sh\n[ "$1" = -n ] && shift\n[ "$1" = true ] && exit 0\nexec "$@"\n');
  return log;
}

const aptCalls = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);

describe('npm test preflight', () => {
  it('stops at once with exit 1 on a machine with only node, naming every program and the one command that installs them', () => {
    const r = preflight(binWith([]));
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('not installed: redis-server, redis-cli, sshd, ssh-keygen, openssl, xmllint, chromium, docker-compose\n');
    expect(r.stderr).toContain(`\n  ${SUDO}apt-get install -y ${ALL_PACKAGES}\n`);
  });

  it('names only what is missing', () => {
    const r = preflight(binWith(['redis-server', 'redis-cli', 'ssh-keygen', 'openssl']), serverPaths());
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('not installed: xmllint, docker-compose\n');
    expect(r.stderr).toContain(`\n  ${SUDO}apt-get install -y libxml2-utils docker-compose\n`);
  });

  it('passes silently when every program is there', () => {
    const r = preflight(binWith(ON_PATH), serverPaths());
    expect(r).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('installs nothing on a developer machine: without CI=true it names the command even where apt-get is', () => {
    const bin = binWith(['redis-server', 'redis-cli', 'ssh-keygen', 'openssl']);
    const log = fakeAptGet(bin, { 'libxml2-utils': 'xmllint', 'docker-compose': 'docker-compose' });
    const r = preflight(bin, { ...serverPaths(), CI: '' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`\n  ${SUDO}apt-get install -y libxml2-utils docker-compose\n`);
    expect(aptCalls(log)).toEqual([]);
  });

  it('installs with apt-get as root in CI, and with --install (as root or through passwordless sudo)', () => {
    const expected = ['update -qq', 'install -y -qq --no-install-recommends libxml2-utils docker-compose'];
    const runs: Array<{ env: NodeJS.ProcessEnv; args: string[] }> = [{ env: { CI: '' }, args: ['--install'] }];
    if (SUDO === '') runs.push({ env: { CI: 'true' }, args: [] });
    for (const run of runs) {
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp);
      const bin = binWith(['redis-server', 'redis-cli', 'ssh-keygen', 'openssl']);
      const log = fakeAptGet(bin, { 'libxml2-utils': 'xmllint', 'docker-compose': 'docker-compose' });
      const r = preflight(bin, { ...serverPaths(), ...run.env }, run.args);
      expect([r.status, r.stderr]).toEqual([0, 'preflight: installing libxml2-utils docker-compose\n']);
      expect(aptCalls(log)).toEqual(expected);
    }
  });

  it('still stops, naming what is missing, when the install does not provide it', () => {
    const bin = binWith(['redis-server', 'redis-cli', 'ssh-keygen', 'openssl']);
    const log = fakeAptGet(bin, {});
    const r = preflight(bin, serverPaths(), ['--install']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('not installed: xmllint, docker-compose\n');
    expect(aptCalls(log)).toHaveLength(2);
  });
});
