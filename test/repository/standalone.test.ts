import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
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

/** Markdown without fenced code blocks and code spans: what is left holds only real links. */
function withoutCode(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '')
    .replace(/(`+)[\s\S]*?\1/g, '');
}

/** The anchor GitHub gives a heading: lower case, punctuation dropped, each space a hyphen. */
function headingSlug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a markdown file offers (repeated headings get -1, -2, ... as on GitHub). */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const body = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '');
  for (const m of body.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const slug = headingSlug(m[1]!);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** The targets of the inline links, images and reference definitions of a markdown text. */
function markdownLinkTargets(markdown: string): string[] {
  const text = withoutCode(markdown);
  const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const references = [...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/gm)].map((m) => m[1]!);
  return [...inline, ...references];
}

/**
 * Relative links of a markdown file (repository-relative path) that lead nowhere: to no file, or
 * to a heading the target file does not have. Links with a scheme (https:, mailto:) are not
 * followed.
 */
function brokenMarkdownLinks(file: string, markdown: string): string[] {
  const broken: string[] = [];
  for (const target of markdownLinkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const [rawPath = '', anchor] = target.split('#', 2);
    const full = rawPath === '' ? path.join(ROOT, file) : path.resolve(path.dirname(path.join(ROOT, file)), decodeURIComponent(rawPath));
    if (!existsSync(full) || !statSync(full).isFile()) {
      broken.push(`${file}: ${target}: no such file`);
    } else if (anchor !== undefined && full.endsWith('.md') && !headingAnchors(readFileSync(full, 'utf8')).has(anchor)) {
      broken.push(`${file}: ${target}: no heading with that anchor`);
    }
  }
  return broken;
}

/** `docs/<name>.md` paths a file names (code, comments, prose) that do not exist. */
function missingDocs(file: string, text: string): string[] {
  return [...text.matchAll(/(?<![\w.-])docs\/[\w./-]*?\.md\b/g)]
    .map((m) => m[0])
    .filter((doc) => !existsSync(path.join(ROOT, doc)))
    .map((doc) => `${file}: ${doc}`);
}

describe('the documentation leads somewhere', () => {
  const files = repositoryFiles();
  const self = path.relative(ROOT, __filename);
  const markdown = files.filter((f) => f.endsWith('.md'));

  it('covers README.md and every page in docs/', () => {
    expect(markdown).toEqual(expect.arrayContaining(['README.md', 'docs/README.md', 'docs/architecture.md', 'docs/guides/shopify.md']));
  });

  it('every relative link in README.md and docs/**/*.md leads to a file, and to a heading it has', () => {
    const broken = markdown.flatMap((file) => brokenMarkdownLinks(file, readFileSync(path.join(ROOT, file), 'utf8')));
    expect(broken).toEqual([]);
  });

  it('every docs/<name>.md a source, test or doc file names exists', () => {
    const missing = files.filter((f) => f !== self).flatMap((file) => missingDocs(file, readFileSync(path.join(ROOT, file), 'utf8')));
    expect(missing).toEqual([]);
  });

  it('the pages code comments cite are there', () => {
    for (const page of ['canonical-order', 'api', 'cli', 'benchmarks', 'privacy', 'architecture']) {
      expect(existsSync(path.join(ROOT, 'docs', `${page}.md`))).toBe(true);
    }
  });

  it('catches a broken link, a missing heading and a missing page (checks the check)', () => {
    expect(brokenMarkdownLinks('docs/x.md', 'See [the guide](guides/nowhere.md).')).toHaveLength(1);
    expect(brokenMarkdownLinks('docs/x.md', 'See [privacy](privacy.md#no-such-heading).')).toHaveLength(1);
    expect(brokenMarkdownLinks('docs/x.md', 'See [a folder](guides).')).toHaveLength(1);
    expect(brokenMarkdownLinks('README.md', '[docs](docs/nowhere.md "title") and [ref]: docs/gone.md')).toHaveLength(1);
    expect(brokenMarkdownLinks('README.md', '[docs](docs/nowhere.md)\n\n[ref]: docs/gone.md')).toHaveLength(2);
    expect(brokenMarkdownLinks('docs/x.md', 'Go [up](#nowhere).')).toHaveLength(1);
    expect(missingDocs('src/x.ts', '// see docs/nowhere.md')).toHaveLength(1);
  });

  it('follows what is a link, and only that (checks the check)', () => {
    expect(brokenMarkdownLinks('docs/x.md', 'See [privacy](privacy.md#1-no-card-data) and [keys](operations.md#the-data-key).')).toEqual([]);
    expect(brokenMarkdownLinks('README.md', '[Shopify](docs/guides/shopify.md#1-a-public-https-address), [site](https://example.com/x.md)')).toEqual([]);
    expect(brokenMarkdownLinks('docs/x.md', '`[not a link](nowhere.md)`\n\n```\n[nor this](nowhere.md)\n```\n')).toEqual([]);
    expect(headingSlug('Carriers: `carriers.ups` and `carriers.fedex`')).toBe('carriers-carriersups-and-carriersfedex');
    expect(headingSlug('`suppliers/<id>.yaml`')).toBe('suppliersidyaml');
    expect(missingDocs('src/x.ts', '// see docs/privacy.md, docs/guides/scaling.md and mydocs/x.md')).toEqual([]);
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
