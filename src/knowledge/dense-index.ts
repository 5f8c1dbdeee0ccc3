/** A hit of the dense index: the entry's position and its cosine similarity to the query. */
export interface DenseHit {
  position: number;
  score: number;
}

/**
 * Exact cosine search over embedding vectors. Vectors are normalised once at load, so a query costs
 * one dot product per chunk: fine for the tens of thousands of chunks a support knowledge base has.
 */
export class DenseIndex {
  private readonly vectors: Float32Array[];

  constructor(vectors: readonly (readonly number[])[]) {
    this.vectors = vectors.map((vector) => normalise(vector));
  }

  get size(): number {
    return this.vectors.length;
  }

  search(queryVector: readonly number[], limit: number): DenseHit[] {
    const query = normalise(queryVector);
    const hits: DenseHit[] = this.vectors.map((vector, position) => ({ position, score: dot(vector, query) }));
    hits.sort((left, right) => right.score - left.score || left.position - right.position);
    return hits.slice(0, limit);
  }
}

function normalise(vector: readonly number[]): Float32Array {
  const result = Float32Array.from(vector);
  const length = Math.sqrt(dot(result, result));
  if (length > 0) for (let index = 0; index < result.length; index += 1) result[index] = result[index]! / length;
  return result;
}

function dot(left: Float32Array, right: Float32Array): number {
  let sum = 0;
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index += 1) sum += left[index]! * right[index]!;
  return sum;
}
