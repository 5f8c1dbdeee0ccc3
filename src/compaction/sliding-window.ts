import type { ChatMessage } from '../providers/types.js';

/**
 * The sliding window as CLOVA documents it, over turns: when the history A plus the output reserve B
 * exceeds the window X, drop the oldest turns, whole, the fewest whose tokens cover the excess
 * A + B − X. The newest turn is never dropped.
 *
 * Returns the index of the first kept turn (0 when everything fits), or `undefined` when even the
 * newest turn alone exceeds `availableTokens`. One pass over the counts: O(turns).
 *
 * @example firstKeptTurn([100, 200, 300, 400], 700) // 2: excess 300 → drop the turns of 100 and 200
 */
export function firstKeptTurn(turnTokens: readonly number[], availableTokens: number): number | undefined {
  if (turnTokens.length === 0) return 0;
  let total = 0;
  for (const tokens of turnTokens) total += tokens;
  let first = 0;
  const last = turnTokens.length - 1;
  while (total > availableTokens && first < last) {
    total -= turnTokens[first] ?? 0;
    first += 1;
  }
  return total > availableTokens ? undefined : first;
}

/**
 * Matches what a remote sliding window returned against the conversation we sent, so its result is
 * only trusted when it keeps the contract: the same system messages, then an unchanged suffix of
 * the conversation. Returns how many leading non-system messages it dropped, or `undefined` when the
 * result is not such a suffix (then the caller slides locally instead).
 */
export function droppedPrefixLength(sent: readonly ChatMessage[], returned: readonly ChatMessage[]): number | undefined {
  const sentSystem = sent.filter((message) => message.role === 'system');
  const returnedSystem = returned.filter((message) => message.role === 'system');
  if (sentSystem.length !== returnedSystem.length) return undefined;
  if (sentSystem.some((message, index) => !sameMessage(message, returnedSystem[index]))) return undefined;
  const sentRest = sent.filter((message) => message.role !== 'system');
  const returnedRest = returned.filter((message) => message.role !== 'system');
  const dropped = sentRest.length - returnedRest.length;
  if (dropped < 0) return undefined;
  for (let index = 0; index < returnedRest.length; index += 1) {
    if (!sameMessage(sentRest[dropped + index], returnedRest[index])) return undefined;
  }
  return dropped;
}

function sameMessage(left: ChatMessage | undefined, right: ChatMessage | undefined): boolean {
  return left !== undefined && right !== undefined && left.role === right.role && left.content === right.content;
}
