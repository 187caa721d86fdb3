import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The repository stands on its own: a clone with nothing beside it passes its tests, and its
 * readers are never sent to a file they do not have.
 */

const ROOT = path.resolve(__dirname, '../..');
const SKIP_DIRS = new Set(['.git', 'node_modules', 'dist', 'var', 'coverage', 'out']);
const TEXT = /\.(ts|js|cjs|mjs|json|md|ya?ml|sh|txt)$|^(Dockerfile|run|\.gitignore)$/;

/** Every text file of the repository, relative to its root (vendored specs left out). */
function repositoryFiles(dir = ROOT): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const rel = path.relative(ROOT, full);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name) && rel !== 'specs') found.push(...repositoryFiles(full));
    } else if (TEXT.test(entry.name) && entry.name !== 'package-lock.json') {
      found.push(rel);
    }
  }
  return found;
}

/** Names of documents users do not have; built from parts so this file does not name them itself. */
const FOREIGN_NAMES = [['DESIGN', 'md'], ['STYLE', 'md']].map((p) => p.join('.'));
const FOREIGN_FOLDERS = [['..', 'shared'].join('/'), ['shared', 'specs'].join('/')];

/**
 * Relative paths written in a file that climb out of the repository: `'../../x'` or a
 * markdown link `](../x)`, resolved from the file's folder, and `path.resolve(__dirname, '..', ...)`.
 * A line may opt out with `outside-path:` and its reason (data that only looks like a path).
 */
function escapingPaths(file: string, text: string): string[] {
  const found: string[] = [];
  const dir = path.dirname(path.join(ROOT, file));
  const outside = (target: string) => {
    const rel = path.relative(ROOT, target);
    return rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);
  };
  text.split('\n').forEach((line, i) => {
    if (line.includes('outside-path:')) return;
    for (const m of line.matchAll(/(?:['"`(])((?:\.\.\/)+)/g)) {
      if (outside(path.resolve(dir, m[1]!))) found.push(`${file}:${i + 1}: ${line.trim()}`);
    }
    for (const m of line.matchAll(/path\.(?:resolve|join)\(__dirname((?:\s*,\s*'\.\.')+)/g)) {
      const ups = (m[1]!.match(/'\.\.'/g) ?? []).length;
      if (outside(path.resolve(dir, ...Array<string>(ups).fill('..')))) found.push(`${file}:${i + 1}: ${line.trim()}`);
    }
  });
  return found;
}

describe('the repository stands on its own', () => {
  const files = repositoryFiles();

  it('finds the files it checks (the check cannot pass on an empty tree)', () => {
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'src/index.ts', '.ci/run']));
    expect(files.length).toBeGreaterThan(200);
  });

  it('no code, test, doc or script names a document or folder outside the repository', () => {
    const self = path.relative(ROOT, __filename);
    const hits = files.filter((f) => f !== self).flatMap((file) => {
      const text = readFileSync(path.join(ROOT, file), 'utf8');
      return [...FOREIGN_NAMES, ...FOREIGN_FOLDERS].filter((name) => text.includes(name)).map((name) => `${file}: ${name}`);
    });
    expect(hits).toEqual([]);
  });

  it('no relative path climbs out of the repository', () => {
    const hits = files.flatMap((file) => escapingPaths(file, readFileSync(path.join(ROOT, file), 'utf8')));
    expect(hits).toEqual([]);
  });

  it('the escape check catches a climbing path (checks the check)', () => {
    expect(escapingPaths('test/repository/x.ts', "const a = path.resolve(__dirname, '..', '..', '..', 'elsewhere');")).toHaveLength(1); // outside-path: the check's own examples
    expect(escapingPaths('test/repository/x.ts', "readFileSync('../../../elsewhere/spec.json')")).toHaveLength(1); // outside-path: the check's own examples
    expect(escapingPaths('docs/guide.md', 'see [it](../../elsewhere.md)')).toHaveLength(1); // outside-path: the check's own examples
    expect(escapingPaths('test/repository/x.ts', "import { a } from '../../src/index';")).toEqual([]);
  });
});

describe('the vendored specifications (specs/SOURCES.md)', () => {
  const specsDir = path.join(ROOT, 'specs');
  const sources = readFileSync(path.join(specsDir, 'SOURCES.md'), 'utf8');
  const listed = new Map([...sources.matchAll(/^\| ([\w.-]+) \| ([0-9a-f]{64}) \|$/gm)].map((m) => [m[1]!, m[2]!]));
  const present = readdirSync(specsDir).filter((f) => f !== 'SOURCES.md' && statSync(path.join(specsDir, f)).isFile());

  it('lists every file in specs/, and every listed file is there', () => {
    expect(present.length).toBeGreaterThan(0);
    expect([...listed.keys()].sort()).toEqual([...present].sort());
  });

  it.each(present)('%s is byte for byte what SOURCES.md says', (file) => {
    const sha = createHash('sha256').update(readFileSync(path.join(specsDir, file))).digest('hex');
    expect(sha).toBe(listed.get(file));
  });

  it('gives each file an origin', () => {
    for (const file of present) expect(sources.split(`| ${file} |`).length).toBeGreaterThanOrEqual(3);
  });
});
