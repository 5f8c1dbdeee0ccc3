import { afterEach } from 'vitest';

export interface Closable {
  close(): Promise<unknown>;
}

/**
 * Closes what each test opened once it ends, failed or not, newest first (so a bot process goes
 * before the engine it runs on). Call at the top of a file or `describe`; the returned function
 * enrols a resource and hands it back.
 *
 * @example
 *   const closeLater = closeAfterEach();
 *   const engine = closeLater(await createTestEngine({ answerer }));
 */
export function closeAfterEach(): <T extends Closable>(resource: T) => T {
  const opened: Closable[] = [];
  afterEach(async () => {
    for (const resource of opened.splice(0).reverse()) await resource.close();
  });
  return (resource) => {
    opened.push(resource);
    return resource;
  };
}
