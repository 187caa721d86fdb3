import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(ROOT, 'src', 'cli', 'dropship.ts');

/** What one `dropship` run gave. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The `dropship` command as an operator runs it: from `cwd`, with the configuration folder
 * `configDir` and `env` over this process's environment (no colours), given a minute.
 */
export function dropshipCli(options: { cwd: string | (() => string); configDir: string | (() => string); env: () => Record<string, string> }): (...args: string[]) => CliRun {
  const value = (v: string | (() => string)) => (typeof v === 'function' ? v() : v);
  return (...args) => {
    const r = spawnSync(TSX, [CLI, ...args, '--config', value(options.configDir)], {
      cwd: value(options.cwd),
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', ...options.env() },
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
}
