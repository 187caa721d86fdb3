/**
 * The first step of `npm test`: the suite starts real servers and tools, so check that each is
 * installed before any test runs. All there: prints nothing, exits 0. Some missing: names them
 * and the one command that installs them, and exits 1, unless it may install them itself:
 *
 *   scripts/preflight.ts            installs only as root with CI=true (a CI machine);
 *                                   on a developer's machine it names the command instead
 *   scripts/preflight.ts --install  installs as root or through passwordless sudo (.ci/run)
 *
 * Installing needs apt-get (Debian, Ubuntu). This list is the only list of the suite's system
 * packages: `.ci/run` installs them by running this script with --install.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

interface Requirement {
  /** What the message calls it. */
  program: string;
  /** The Debian/Ubuntu package that installs it. */
  debianPackage: string;
  /** Where it is looked for: names are searched on PATH, absolute paths taken as they are. */
  candidates: (env: NodeJS.ProcessEnv) => string[];
}

/** A configured location wins (the tests honour the same variables); else the usual places. */
const configuredOr = (variable: string, defaults: string[]) => (env: NodeJS.ProcessEnv) => (env[variable] ? [env[variable]] : defaults);
const onPath = (name: string) => () => [name];

const REQUIREMENTS: Requirement[] = [
  { program: 'redis-server', debianPackage: 'redis-server', candidates: onPath('redis-server') },
  // testkit/redis-cluster.ts joins its nodes with `redis-cli --cluster create`.
  { program: 'redis-cli', debianPackage: 'redis-tools', candidates: onPath('redis-cli') },
  // OpenSSH's server is rarely on PATH; testkit/receivers/sshd.ts looks in the same places.
  { program: 'sshd', debianPackage: 'openssh-server', candidates: configuredOr('SSHD_PATH', ['/usr/sbin/sshd', '/usr/local/sbin/sshd', '/opt/homebrew/sbin/sshd', '/usr/bin/sshd']) },
  { program: 'ssh-keygen', debianPackage: 'openssh-client', candidates: onPath('ssh-keygen') },
  { program: 'openssl', debianPackage: 'openssl', candidates: onPath('openssl') },
  { program: 'xmllint', debianPackage: 'libxml2-utils', candidates: onPath('xmllint') },
  // The dashboard's browser test drives Chromium through playwright-core, which brings no browser.
  { program: 'chromium', debianPackage: 'chromium', candidates: configuredOr('CHROMIUM_PATH', ['/usr/bin/chromium']) },
  { program: 'docker-compose', debianPackage: 'docker-compose', candidates: onPath('docker-compose') },
];

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The executable `name` resolves to: an absolute path as it is, a bare name on PATH. */
function locate(name: string, env: NodeJS.ProcessEnv): string | undefined {
  if (path.isAbsolute(name)) return isExecutable(name) ? name : undefined;
  const dirs = (env.PATH ?? '').split(path.delimiter).filter((d) => d !== '');
  return dirs.map((d) => path.join(d, name)).find(isExecutable);
}

function missing(env: NodeJS.ProcessEnv): Requirement[] {
  return REQUIREMENTS.filter((r) => !r.candidates(env).some((c) => locate(c, env) !== undefined));
}

const isRoot = process.getuid?.() === 0;

function installCommand(packages: string[]): string {
  return `${isRoot ? '' : 'sudo '}apt-get install -y ${packages.join(' ')}`;
}

/** How this process may run apt-get, if at all: directly as root, or through passwordless sudo. */
function installer(env: NodeJS.ProcessEnv, asked: boolean): string[] | undefined {
  const aptGet = locate('apt-get', env);
  if (!aptGet) return undefined;
  if (isRoot) return asked || env.CI === 'true' ? [aptGet] : undefined;
  if (!asked) return undefined;
  const sudo = locate('sudo', env);
  if (sudo && spawnSync(sudo, ['-n', 'true'], { stdio: 'ignore', env }).status === 0) return [sudo, '-n', aptGet];
  return undefined;
}

function install(prefix: string[], packages: string[], env: NodeJS.ProcessEnv): void {
  const [command, ...args] = prefix as [string, ...string[]];
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  process.stderr.write(`preflight: installing ${packages.join(' ')}\n`);
  for (const step of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...packages]]) {
    const r = spawnSync(command, [...args, ...step], { stdio: ['ignore', 'ignore', 'inherit'], env: aptEnv });
    if (r.status !== 0) {
      process.stderr.write(`preflight: apt-get ${step[0]} failed (exit ${r.status ?? r.signal})\n`);
      return;
    }
  }
}

function main(): number {
  const env = process.env;
  const asked = process.argv.includes('--install');
  let absent = missing(env);
  if (absent.length === 0) return 0;
  const prefix = installer(env, asked);
  if (prefix) {
    install(prefix, absent.map((r) => r.debianPackage), env);
    absent = missing(env);
    if (absent.length === 0) return 0;
  }
  const packages = [...new Set(absent.map((r) => r.debianPackage))];
  process.stderr.write(
    `preflight: the test suite runs real servers and tools that are not installed: ${absent.map((r) => r.program).join(', ')}\n` +
      `Install them (Debian/Ubuntu) with:\n\n  ${installCommand(packages)}\n\n` +
      'On another system, install the same programs with its package manager ' +
      '(sshd and chromium may also be named with SSHD_PATH and CHROMIUM_PATH).\n',
  );
  return 1;
}

process.exitCode = main();
