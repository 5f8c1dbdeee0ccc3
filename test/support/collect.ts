/** Everything an async iterable yields, in order (`Array.fromAsync` needs Node 22; we support 20). */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const collected: T[] = [];
  for await (const item of items) collected.push(item);
  return collected;
}
