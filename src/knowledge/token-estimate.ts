const HANGUL_OR_CJK = /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3\u3040-\u30ff\u4e00-\u9fff]/u;
const PIECE = /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3\u3040-\u30ff\u4e00-\u9fff]|[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu;

/**
 * A local token estimate for sizing chunks, without a tokenizer. It leans high on purpose: Korean
 * runs about one token per one to two syllables, so each syllable counts as one; Latin words count
 * one token per four characters; each punctuation mark counts one.
 */
export function estimateTokens(text: string): number {
  let tokens = 0;
  for (const piece of text.match(PIECE) ?? []) {
    if (HANGUL_OR_CJK.test(piece)) tokens += 1;
    else if (/[\p{L}\p{N}]/u.test(piece)) tokens += Math.ceil(piece.length / 4);
    else tokens += 1;
  }
  return tokens;
}
