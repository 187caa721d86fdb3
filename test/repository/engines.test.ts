import { readFileSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';

/**
 * `engines.node` in package.json is true: every Node version it names can run every package the
 * lock file installs, runtime and development alike (`npm ci` warns EBADENGINE otherwise, and a
 * package that asks for a newer Node may use what an older one lacks). The Node that runs this
 * test is one of those versions.
 */

const ROOT = path.resolve(__dirname, '../..');
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[]; optional?: boolean }>;
};

describe('package.json engines', () => {
  const ours = manifest.engines.node;

  it('is a valid range, and the Node running the tests is in it', () => {
    expect(semver.validRange(ours)).not.toBeNull();
    expect(semver.satisfies(process.versions.node, ours)).toBe(true);
  });

  it('asks for no Node version that a locked package refuses', () => {
    const refused: string[] = [];
    for (const [where, entry] of Object.entries(lock.packages)) {
      // Very old packages spell engines as an array of strings; npm ignores those.
      const theirs = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (where === '' || theirs === undefined || entry.optional === true) continue;
      if (!semver.subset(ours, theirs, { includePrerelease: false })) refused.push(`${where.replace(/^.*node_modules\//, '')}@${entry.version ?? '?'} wants node ${theirs}`);
    }
    expect(refused).toEqual([]);
  });
});
