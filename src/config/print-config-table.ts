import { VARIABLES } from './config.js';

/** Prints the configuration table in Markdown (the README's table is generated with this). */
const rows = Object.values(VARIABLES).map((spec) => `| \`${spec.name}\` | ${spec.description.replace(/\|/g, '\\|')} | \`${spec.example.replace(/\|/g, '\\|')}\` |`);
process.stdout.write(['| Variable | What it does | Example |', '| --- | --- | --- |', ...rows].join('\n') + '\n');
