/**
 * Runs the fake CLOVA Studio on its own for local development (`npm run fake:clova`): any non-empty
 * Bearer key is accepted and replies come from the default responders (echo, lexical reranker,
 * search-then-cite RAG Reasoning, extractive summaries, hashed-bigram embeddings).
 */
import { startFakeClova } from './fake-clova-server.js';

const DEFAULT_PORT = 8090;

const requestedPort = process.env.FAKE_CLOVA_PORT;
const port = requestedPort === undefined || requestedPort === '' ? DEFAULT_PORT : Number(requestedPort);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`FAKE_CLOVA_PORT must be a port number (0-65535), got "${requestedPort}".\n`);
  process.exit(1);
}

const fake = await startFakeClova({ port, acceptAnyKey: true });
process.stdout.write(
  [
    `Fake CLOVA Studio listening on ${fake.url}`,
    `Use it with: CLOVA_STUDIO_BASE_URL=${fake.url} CLOVA_STUDIO_API_KEY=nv-local-dev npm start`,
    '',
  ].join('\n'),
);

let closing = false;
const shutdown = (): void => {
  if (closing) return;
  closing = true;
  void fake.close().then(() => process.exit(0));
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
