// Provider chain config: order per seam from env, keys required for every listed provider, per-provider stall deadlines.
import { describe, expect, it } from 'vitest';
import { parseChainConfig } from '../../../fargate/src/providers/chain-config';

describe('parseChainConfig', () => {
  it('defaults to today’s single providers', () => {
    const c = parseChainConfig({ GROQ_API_KEY: 'gsk' });
    expect([c.STT_PROVIDERS, c.TTS_PROVIDERS, c.LLM_PROVIDERS]).toEqual([['deepgram'], ['elevenlabs'], ['groq']]);
  });

  it('reads the order per seam and name:ms stall deadlines', () => {
    const c = parseChainConfig({
      STT_PROVIDERS: 'deepgram, assemblyai,google', ASSEMBLYAI_API_KEY: 'a', GOOGLE_STT_API_KEY: 'g',
      TTS_PROVIDERS: 'elevenlabs,deepgram', DEEPGRAM_API_KEY: 'd',
      LLM_PROVIDERS: 'groq,fireworks,together', GROQ_API_KEY: 'gsk', FIREWORKS_API_KEY: 'f', TOGETHER_API_KEY: 't',
      LLM_STALL_MS: 'groq:3000,fireworks:5000', TTS_STALL_MS: '4000',
    });
    expect(c.STT_PROVIDERS).toEqual(['deepgram', 'assemblyai', 'google']);
    expect(c.LLM_STALL_MS).toEqual({ groq: 3000, fireworks: 5000 });
    expect(c.TTS_STALL_MS).toBe(4000);
  });

  it('names every listed provider whose key is missing, in one error', () => {
    expect(() => parseChainConfig({ STT_PROVIDERS: 'deepgram,assemblyai', LLM_PROVIDERS: 'groq,together', GROQ_API_KEY: 'gsk' })).toThrow(
      /ASSEMBLYAI_API_KEY: required when STT_PROVIDERS lists assemblyai\n {2}TOGETHER_API_KEY: required when LLM_PROVIDERS lists together/,
    );
  });

  it('refuses unknown or repeated provider names and malformed Google credentials', () => {
    expect(() => parseChainConfig({ STT_PROVIDERS: 'deepgram,whisper', GROQ_API_KEY: 'g' })).toThrow(/STT_PROVIDERS: must list providers from deepgram, assemblyai, google/);
    expect(() => parseChainConfig({ LLM_PROVIDERS: 'groq,groq', GROQ_API_KEY: 'g' })).toThrow(/twice/);
    expect(() => parseChainConfig({ STT_PROVIDERS: 'google', GOOGLE_STT_CREDENTIALS: '{"client_email":1}', GROQ_API_KEY: 'g' })).toThrow(/GOOGLE_STT_CREDENTIALS/);
  });
});
