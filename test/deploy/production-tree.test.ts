import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';

/**
 * What the production image runs (Dockerfile: `src/` and `workers/`, built with
 * tsconfig.build.json, then `npm prune --omit=dev`) must need nothing that prune removes:
 * every package it imports is a dependency, none a devDependency, and the tools only the
 * tests, the test kit and the demo use stay out of `dependencies`.
 */

const ROOT = path.resolve(__dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
const BUILTINS = new Set(builtinModules);

const tsFiles = (dir: string): string[] =>
  readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** The repository file a relative import names (as TypeScript resolves it here). */
function resolveRelative(from: string, specifier: string): string {
  const base = path.join(path.dirname(from), specifier);
  const found = [`${base}.ts`, path.join(base, 'index.ts'), base].find((f) => existsSync(path.join(ROOT, f)) && statSync(path.join(ROOT, f)).isFile());
  if (!found) throw new Error(`${from}: cannot resolve ${specifier}`);
  return found;
}

/**
 * Every file reachable by imports (static, `export ... from`, `import()`, `require()`; type-only
 * ones too, since the build type-checks them) from `entries`, and the packages they import.
 */
function importClosure(entries: string[]): { files: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const packages = new Map<string, string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    if (!file.endsWith('.ts')) continue;
    const { importedFiles } = ts.preProcessFile(readFileSync(path.join(ROOT, file), 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (fileName.startsWith('.')) queue.push(resolveRelative(file, fileName));
      else if (!fileName.startsWith('node:') && !BUILTINS.has(fileName)) packages.set(packageOf(fileName), file);
    }
  }
  return { files, packages };
}

const production = importClosure(['src/index.ts', 'src/cli/dropship.ts', ...tsFiles('workers')]);

describe('the production tree', () => {
  it('is what the image builds: src/ and workers/, reached from the entry points', () => {
    expect(production.files.size).toBeGreaterThan(60);
    expect([...production.files]).toEqual(expect.arrayContaining(['src/cli/dropship.ts', 'src/app/pipeline.ts', 'workers/delivery-worker.ts', 'src/transports/sftp/index.ts']));
    expect([...production.files].filter((f) => !/^(src|workers)\//.test(f))).toEqual([]);
    const build = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    expect(build.include).toEqual(['src', 'workers']);
  });

  it('imports only dependencies: nothing that npm prune --omit=dev removes, nothing undeclared', () => {
    const imported = [...production.packages.keys()].sort();
    expect(imported).toEqual(expect.arrayContaining(['bullmq', 'fastify', 'ioredis', 'nodemailer', 'openpgp', 'ssh2-sftp-client']));
    const undeclared = imported.filter((p) => !Object.hasOwn(pkg.dependencies, p)).map((p) => `${p} (imported by ${production.packages.get(p)})`);
    expect(undeclared).toEqual([]);
    expect(imported.filter((p) => Object.hasOwn(pkg.devDependencies, p))).toEqual([]);
  });

  it('leaves the tools only the tests, the test kit and the demo use to devDependencies', () => {
    const dev = importClosure(['testkit', 'demo', 'test', 'bench', 'chaos'].flatMap(tsFiles));
    const devOnly = [...dev.packages.keys()].filter((p) => !production.packages.has(p)).sort();
    expect(devOnly).toEqual(expect.arrayContaining(['mailparser', 'smtp-server', 'playwright-core']));
    expect(devOnly.filter((p) => Object.hasOwn(pkg.dependencies, p))).toEqual([]);
  });
});

describe('the production image (Dockerfile)', () => {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

  it('copies only what the build needs: no test kit, demo, tests or benches', () => {
    const copied = [...dockerfile.matchAll(/^COPY (?!--from=)(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
    expect(copied.sort()).toEqual(['config', 'package-lock.json', 'package.json', 'package.json', 'src', 'tsconfig.build.json', 'tsconfig.json', 'workers']);
    expect(dockerfile).toMatch(/^RUN npm run build && npm prune --omit=dev$/m);
  });
});
