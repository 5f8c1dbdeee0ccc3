import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string } };
const readme = readFileSync(new URL('README.md', root), 'utf8');
const npmrc = readFileSync(new URL('.npmrc', root), 'utf8');

interface LockedPackage {
  dev?: boolean;
  optional?: boolean;
  engines?: { node?: string } | string[];
}
const locked = Object.entries((JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as { packages: Record<string, LockedPackage> }).packages)
  .filter(([path]) => path !== '')
  // npm skips the engines of optional packages (platform binaries) instead of failing on them.
  .filter(([, entry]) => !entry.optional)
  .map(([path, entry]) => ({ name: path.replace(/^.*node_modules\//, ''), dev: entry.dev === true, nodeRange: Array.isArray(entry.engines) ? undefined : entry.engines?.node }));
const runtime = locked.filter((entry) => !entry.dev);

/** Locked packages whose `engines.node` does not accept `version`. */
function refusing(packages: typeof locked, version: string): string[] {
  return packages.filter((entry) => entry.nodeRange !== undefined && !semver.satisfies(version, entry.nodeRange)).map((entry) => `${entry.name} (${entry.nodeRange})`);
}

const oldestSupported = semver.minVersion(manifest.engines.node)!.version;

describe('the Node.js versions the package claims', () => {
  it('engines.node is exactly the oldest Node.js 20 every runtime dependency accepts', () => {
    const node20 = Array.from({ length: 30 }, (_, minor) => Array.from({ length: 10 }, (__, patch) => `20.${minor}.${patch}`)).flat();
    expect(node20.find((version) => refusing(runtime, version).length === 0)).toBe(oldestSupported);
  });

  it('says the same in the README', () => {
    expect(readme).toContain(`Node.js ≥ ${oldestSupported} to run`);
  });

  it('the tests run on the Node.js the README names for them', () => {
    const named = /the tests need Node\.js ≥ (\d+\.\d+(?:\.\d+)?)/.exec(readme)?.[1];
    expect(named, 'README: "the tests need Node.js ≥ …"').toBeDefined();
    expect(refusing(locked, semver.coerce(named)!.version)).toEqual([]);
  });

  it('leaves engine-strict off, because npm 10 (Node 20.18) would refuse even `npm ci --omit=dev` over the test packages', () => {
    // Those test packages are why: they do need a newer Node than the bot does.
    expect(refusing(locked.filter((entry) => entry.dev), oldestSupported)).not.toEqual([]);
    expect(npmrc).not.toMatch(/^\s*engine-strict\s*=\s*true\s*$/m);
  });
});
