import { describe, expect, it } from 'vitest';
import { ingestCommand } from '../../../src/knowledge/ingest-command.js';

describe('the ingest command shown to operators', () => {
  it('is npm run ingest from a source checkout, with placeholders left readable', () => {
    expect(ingestCommand(['--embeddings', '--index', './data/knowledge-index.json'])).toBe('npm run ingest -- --embeddings --index ./data/knowledge-index.json');
    expect(ingestCommand(['[options]', '<file or folder>...'])).toBe('npm run ingest -- [options] <file or folder>...');
  });

  it('quotes paths a shell would split or expand', () => {
    expect(ingestCommand(['--index', 'my data/index.json', "it's.json", '$HOME/x'])).toBe(`npm run ingest -- --index 'my data/index.json' 'it'\\''s.json' '$HOME/x'`);
  });
});
