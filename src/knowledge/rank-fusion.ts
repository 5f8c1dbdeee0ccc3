/**
 * Reciprocal rank fusion: each list contributes `1 / (k + rank)` per entry. It needs no score
 * calibration between lexical and dense retrieval, which live on unrelated scales.
 */
export function fuseByRank(rankings: readonly (readonly number[])[], k = 60): { position: number; score: number }[] {
  const fused = new Map<number, number>();
  for (const ranking of rankings) {
    ranking.forEach((position, rank) => fused.set(position, (fused.get(position) ?? 0) + 1 / (k + rank + 1)));
  }
  return [...fused.entries()]
    .map(([position, score]) => ({ position, score }))
    .sort((left, right) => right.score - left.score || left.position - right.position);
}
