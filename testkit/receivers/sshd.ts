import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/queue/embedded-redis';

const run = promisify(execFile);
/** Where OpenSSH's server usually lives (it is rarely on a user's PATH). */
const SSHD_CANDIDATES = ['/usr/sbin/sshd', '/usr/local/sbin/sshd', '/opt/homebrew/sbin/sshd', '/usr/bin/sshd'];

/**
 * The OpenSSH `sshd` binary: `SSHD_PATH` when set, else the usual places. Undefined when it is
 * not there (OpenSSH's server is not installed) or `ssh-keygen` is missing.
 */
export function findSshd(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (spawnSync('ssh-keygen', ['-?'], { stdio: 'ignore' }).error !== undefined) return undefined;
  const configured = env.SSHD_PATH;
  if (configured !== undefined && configured !== '') return existsSync(configured) ? configured : undefined;
  return SSHD_CANDIDATES.find((candidate) => existsSync(candidate));
}

/** OpenSSH's stand-alone SFTP server, beside sshd or in the usual libexec folders. */
function findSftpServer(sshd: string): string | undefined {
  const prefix = dirname(dirname(sshd));
  return [join(prefix, 'lib', 'openssh', 'sftp-server'), join(prefix, 'libexec', 'sftp-server'), join(prefix, 'libexec', 'openssh', 'sftp-server'), '/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server']
    .find((candidate) => existsSync(candidate));
}

export const SSHD_MISSING_HINT = 'OpenSSH sshd was not found (Debian/Ubuntu: apt-get install openssh-server; or set SSHD_PATH)';

/** A key pair made by `ssh-keygen`. */
export interface SshKeyPair {
  privateKeyFile: string;
  /** OpenSSH private key text. */
  privateKey: string;
  /** `authorized_keys` line. */
  publicKey: string;
  /** `SHA256:<base64>` as `ssh-keygen -lf` prints it. */
  fingerprint: string;
}

/**
 * A real OpenSSH server as a supplier's SFTP drop (demo, integration tests, benchmarks):
 * loopback only, a generated host key, key-only login as the current user, `internal-sftp`
 * starting in {@link LocalSshd.root}. {@link LocalSshd.readOnlyPort} serves the same tree
 * read-only (`internal-sftp -R`), the only dependable way to get "permission denied" when
 * running as root. {@link LocalSshd.unprivilegedPort} serves it to sessions without root's
 * privileges, so that file modes and ownership apply as on a real supplier's server.
 */
export interface LocalSshd {
  readonly host: string;
  readonly port: number;
  readonly readOnlyPort: number;
  /**
   * A port whose SFTP sessions run as an unprivileged user (`nobody` under `setpriv` when this
   * process is root; otherwise every port already is): a file it does not own and may not
   * write cannot be overwritten, as on a server that forbids overwriting. Only folders the
   * test opens up (`chmod 0777`, or `1777` so nothing of another owner can be removed) are
   * writable there.
   */
  readonly unprivilegedPort: number;
  readonly username: string;
  /** Directory the SFTP session starts in; relative remote paths resolve here. */
  readonly root: string;
  readonly hostKey: SshKeyPair;
  /** The key whose public half is authorised. */
  readonly clientKey: SshKeyPair;
  /** A supplier's `delivery` block that logs in to this server (pinned host key, authorised key). */
  deliveryOptions(remoteDir: string): Record<string, unknown>;
  /** Makes another key pair in the server's temp dir (not authorised). */
  makeKeyPair(name: string, passphrase?: string): Promise<SshKeyPair>;
  /** Authorises another public key. */
  authorize(key: SshKeyPair): void;
  /** SIGKILLs the listener and every session process, as a crash would. */
  kill(): void;
  /** Starts the server again on the same ports with the same keys (after {@link kill}). */
  restart(): Promise<void>;
  /** Stops everything and removes the temp dir. */
  stop(): Promise<void>;
  /** What sshd logged so far (for failing tests). */
  log(): string;
}

async function keyPair(dir: string, name: string, passphrase = ''): Promise<SshKeyPair> {
  const file = join(dir, name);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', name, '-f', file]);
  const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`]);
  const fingerprint = stdout.split(' ')[1];
  if (fingerprint === undefined || !fingerprint.startsWith('SHA256:')) throw new Error(`ssh-keygen -l printed ${stdout}`);
  return {
    privateKeyFile: file,
    privateKey: readFileSync(file, 'utf8'),
    publicKey: readFileSync(`${file}.pub`, 'utf8').trim(),
    fingerprint,
  };
}

/** Every descendant of `pid` (sshd's session processes call setsid, so a process group kill misses them). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    // No /proc (macOS): sshd's own SIGKILL has to do.
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift() as number;
    for (const child of children.get(next) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

async function waitForPort(port: number, deadline: number, proc: ChildProcess, log: () => string): Promise<void> {
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`sshd exited with ${proc.exitCode}:\n${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`sshd did not listen on ${port}:\n${log()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Starts sshd (see {@link LocalSshd}); throws when OpenSSH's server is not installed
 * ({@link findSshd}). Call `stop()` when done; the server is also killed when this process exits.
 */
export async function startSshd(): Promise<LocalSshd> {
  const sshd = findSshd();
  if (sshd === undefined) throw new Error(SSHD_MISSING_HINT);
  const dir = mkdtempSync(join(tmpdir(), 'dropship-sshd-'));
  try {
    return await launchSshd(sshd, dir);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

async function launchSshd(sshd: string, dir: string): Promise<LocalSshd> {
  const root = join(dir, 'root');
  mkdirSync(root);
  try {
    // sshd run by root refuses to start without its privilege separation directory.
    mkdirSync('/run/sshd', { recursive: true });
  } catch {
    // Not root: sshd then runs unprivileged and does not need it.
  }

  const [hostKey, clientKey, port, readOnlyPort, unprivilegedPort] = await Promise.all([
    keyPair(dir, 'ssh_host_ed25519_key'),
    keyPair(dir, 'client_key'),
    freePort(),
    freePort(),
    freePort(),
  ]);
  // As root, the unprivileged port runs OpenSSH's sftp-server as nobody: it must be able to
  // pass through the temp folder (its keys stay 0600) into the tree.
  const asRoot = process.getuid?.() === 0;
  const sftpServer = findSftpServer(sshd);
  const unprivileged = asRoot && sftpServer !== undefined && spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).error === undefined
    ? `setpriv --reuid=nobody --regid=nogroup --clear-groups ${sftpServer} -d ${root}`
    : `internal-sftp -d ${root}`;
  chmodSync(dir, 0o711);
  chmodSync(root, 0o755);
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, `${clientKey.publicKey}\n`);
  const username = userInfo().username;
  const configFile = join(dir, 'sshd_config');
  writeFileSync(
    configFile,
    [
      `Port ${port}`,
      `Port ${readOnlyPort}`,
      `Port ${unprivilegedPort}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey.privateKeyFile}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${username}`,
      'UsePAM no',
      'StrictModes no',
      'UseDNS no',
      'LogLevel VERBOSE',
      `Subsystem sftp internal-sftp -d ${root}`,
      `ForceCommand internal-sftp -d ${root}`,
      `Match LocalPort ${readOnlyPort}`,
      `  ForceCommand internal-sftp -R -d ${root}`,
      `Match LocalPort ${unprivilegedPort}`,
      `  ForceCommand ${unprivileged}`,
      '',
    ].join('\n'),
  );

  let logText = '';
  let proc: ChildProcess | undefined;
  const log = (): string => logText;

  const launch = async (): Promise<void> => {
    const child = spawn(sshd, ['-D', '-e', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      logText = (logText + chunk).slice(-20_000);
    });
    proc = child;
    const deadline = Date.now() + 5000;
    await waitForPort(port, deadline, child, log);
    await waitForPort(readOnlyPort, deadline, child, log);
    await waitForPort(unprivilegedPort, deadline, child, log);
  };

  const kill = (): void => {
    const current = proc;
    if (current?.pid === undefined || current.exitCode !== null || current.signalCode !== null) return;
    const pids = [current.pid, ...descendants(current.pid)];
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };

  const waitExit = async (): Promise<void> => {
    const current = proc;
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return;
    await new Promise<void>((resolve) => current.once('exit', () => resolve()));
  };

  // Session processes outlive a dead parent unless killed: never leave them behind.
  process.once('exit', kill);
  try {
    await launch();
  } catch (error) {
    kill();
    process.removeListener('exit', kill);
    throw error;
  }

  return {
    host: '127.0.0.1',
    port,
    readOnlyPort,
    unprivilegedPort,
    username,
    root,
    hostKey,
    clientKey,
    deliveryOptions: (remoteDir) => ({
      transport: 'sftp',
      host: '127.0.0.1',
      port,
      username,
      privateKeyFile: clientKey.privateKeyFile,
      hostKey: hostKey.fingerprint,
      remoteDir,
    }),
    makeKeyPair: (name, passphrase) => keyPair(dir, name, passphrase),
    authorize: (key) => writeFileSync(authorizedKeys, `${readFileSync(authorizedKeys, 'utf8')}${key.publicKey}\n`),
    kill,
    restart: async () => {
      kill();
      await waitExit();
      await launch();
    },
    stop: async () => {
      kill();
      await waitExit();
      process.removeListener('exit', kill);
      rmSync(dir, { recursive: true, force: true });
    },
    log,
  };
}
