/**
 * The ingest command as an operator can type it here: `npm run ingest -- …` in a source checkout,
 * `node dist/src/knowledge/ingest-cli.js …` in the production image, which has neither tsx nor the
 * TypeScript sources that `npm run ingest` needs.
 *
 * @example
 * ingestCommand(['--embeddings', 'docs']) // 'npm run ingest -- --embeddings docs'
 */
export function ingestCommand(args: readonly string[]): string {
  const compiled = import.meta.url.endsWith('.js');
  const program = compiled ? 'node dist/src/knowledge/ingest-cli.js' : 'npm run ingest --';
  return [program, ...args.map(quoteForShell)].join(' ');
}

/** Placeholders such as `<files or folders>` or `[options]` stay readable; anything with shell-special characters is single-quoted. */
function quoteForShell(argument: string): string {
  if (/^(<[^<>]+>|\[[^[\]]+\])(\.\.\.)?$/.test(argument) || /^[\w@%+=:,./-]+$/.test(argument)) return argument;
  return `'${argument.replaceAll("'", `'\\''`)}'`;
}
