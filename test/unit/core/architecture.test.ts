import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url).pathname;

function typescriptFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return typescriptFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)[^'"]*from\s+'([^']+)'/gm)].map((match) => match[1]!);
}

describe('the data path runs one way: adapters → engine → interfaces → providers', () => {
  it('nothing in src/ imports an adapter, except the composition root src/main.ts', () => {
    const offenders = typescriptFiles(join(root, 'src'))
      .filter((file) => !file.endsWith('src/main.ts'))
      .flatMap((file) => importsOf(file).filter((target) => target.includes('adapters/')).map((target) => `${relative(root, file)} → ${target}`));
    expect(offenders).toEqual([]);
  });

  it('the engine knows no vendor: nothing in src/engine imports a provider implementation', () => {
    const offenders = typescriptFiles(join(root, 'src/engine')).flatMap((file) =>
      importsOf(file)
        .filter((target) => /providers\/(clova|openai-compatible|http)\//.test(target))
        .map((target) => `${relative(root, file)} → ${target}`),
    );
    expect(offenders).toEqual([]);
  });
});
