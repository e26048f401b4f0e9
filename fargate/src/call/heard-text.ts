// What the caller heard of an utterance, as text: the spoken words cut to the characters that reached the caller.

/** The longest prefix of `text` holding `n` non-whitespace characters, trimmed. */
export function takeNonSpace(text: string, n: number): string {
  if (n <= 0) return '';
  let seen = 0;
  for (let i = 0; i < text.length; i++) {
    if (!/\s/.test(text[i]!)) seen++;
    if (seen >= n) return text.slice(0, i + 1).trim();
  }
  return text.trim();
}

const nonSpace = (s: string) => s.replace(/\s+/g, '').length;

/**
 * `spoken` (what the agent meant to say, with the LLM's spacing) cut to `heardChars` (the characters the playout
 * says reached the caller, from TTS alignment). Whitespace is ignored when matching, since TTS alignment and LLM
 * text may space differently. `complete` is true only when every spoken character was heard.
 */
export function heardText(spoken: string, heardChars: string): { text: string; complete: boolean } {
  const want = nonSpace(spoken);
  const got = nonSpace(heardChars);
  if (got >= want) return { text: spoken.trim(), complete: true };
  return { text: takeNonSpace(spoken, got), complete: false };
}
