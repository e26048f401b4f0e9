// Pins the media-service environment: defaults, frozen result, and boot errors that name each bad variable (never its value).
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../fargate/src/config';
import { testEnv } from './fixtures/env';

const load = (o: Record<string, string | undefined>) => loadConfig(testEnv(o) as NodeJS.ProcessEnv);
function failure(o: Record<string, string | undefined>): string {
  try {
    load(o);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('parses a complete environment into a frozen Config with numbers and defaults', () => {
    const c = load({ MAX_CALLS: '12', DRAIN_SECONDS: undefined, PORT: '9090' });
    expect(c).toMatchObject({ PORT: 9090, MAX_CALLS: 12, DRAIN_SECONDS: 110, STREAM_TOKEN_TTL_SECONDS: 60, LLM_PROVIDER: 'groq', redisUrl: 'redis://127.0.0.1:6379' });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('fails naming a missing required variable', () => {
    expect(failure({ PUBLIC_URL: undefined })).toMatch(/^invalid media-service environment:\n {2}PUBLIC_URL: /);
    expect(failure({ TRANSCRIPTS_TABLE: undefined })).toContain('TRANSCRIPTS_TABLE');
  });

  it('names every bad variable at once', () => {
    const msg = failure({ MAX_CALLS: 'many', TWILIO_ACCOUNT_SID: 'ACnope', TRANSFER_NUMBER: '5557654321', REDIS_TLS: 'yes' });
    for (const name of ['MAX_CALLS', 'TWILIO_ACCOUNT_SID', 'TRANSFER_NUMBER', 'REDIS_TLS']) expect(msg).toContain(`${name}:`);
  });

  it('never echoes a secret value in the error', () => {
    const msg = failure({ STREAM_TOKEN_KEY: 'too-short-but-secret', CALLER_HASH_KEY: 'also-secret' });
    expect(msg).toContain('STREAM_TOKEN_KEY must be at least 32 characters');
    expect(msg).toContain('CALLER_HASH_KEY');
    expect(msg).not.toContain('too-short-but-secret');
    expect(msg).not.toContain('also-secret');
  });

  it('refuses a PUBLIC_URL that is not http(s)', () => {
    expect(failure({ PUBLIC_URL: 'wss://voice.example.test' })).toContain('PUBLIC_URL must be an http(s) URL');
  });

  it('treats a blank variable as unset rather than as 0', () => {
    expect(load({ PORT: '', DRAIN_SECONDS: '' })).toMatchObject({ PORT: 8080, DRAIN_SECONDS: 110 });
    expect(failure({ PUBLIC_URL: '' })).toContain('PUBLIC_URL');
  });

  it('requires the key of the chosen LLM provider', () => {
    expect(failure({ GROQ_API_KEY: undefined })).toContain('GROQ_API_KEY: required when LLM_PROVIDERS lists groq');
    expect(failure({ LLM_PROVIDER: 'openai-compatible' })).toContain('LLM_BASE_URL, LLM_API_KEY');
    expect(failure({ LLM_PROVIDER: 'anthropic' })).toContain('LLM_PROVIDER');
  });

  it('reads the provider chains and requires the key of every listed backup', () => {
    expect(load({ STT_PROVIDERS: 'deepgram,assemblyai', ASSEMBLYAI_API_KEY: 'aai', LLM_PROVIDERS: 'groq,fireworks', FIREWORKS_API_KEY: 'fw' })).toMatchObject({
      STT_PROVIDERS: ['deepgram', 'assemblyai'], LLM_PROVIDERS: ['groq', 'fireworks'], TTS_PROVIDERS: ['elevenlabs'],
    });
    const f = failure({ STT_PROVIDERS: 'deepgram,assemblyai', TTS_PROVIDERS: 'elevenlabs,deepgram', LLM_PROVIDERS: 'groq,together' });
    expect(f).toContain('ASSEMBLYAI_API_KEY: required when STT_PROVIDERS lists assemblyai');
    expect(f).toContain('TOGETHER_API_KEY: required when LLM_PROVIDERS lists together');
    expect(f).not.toContain('DEEPGRAM_API_KEY'); // the TTS backup shares the STT account's key, which is set
    // One OpenAI-compatible endpoint replaces the LLM chain, so the chain's Groq key is not asked for.
    expect(load({ LLM_PROVIDER: 'openai-compatible', LLM_BASE_URL: 'https://llm.example.test/v1', LLM_API_KEY: 'k', GROQ_API_KEY: undefined }).LLM_PROVIDER).toBe('openai-compatible');
  });

  it('builds the Redis URL from AWS-style parts when REDIS_URL is absent, and needs one of them', () => {
    expect(load({ REDIS_URL: undefined, REDIS_HOST: 'cache.internal', REDIS_PORT: '6380', REDIS_TLS: 'true', REDIS_PASSWORD: 'p@ss/w' }).redisUrl).toBe(
      'rediss://default:p%40ss%2Fw@cache.internal:6380',
    );
    expect(failure({ REDIS_URL: undefined })).toContain('REDIS_URL or REDIS_HOST');
  });

  it('refuses out-of-range numbers', () => {
    expect(failure({ PORT: '70000' })).toContain('PORT:');
    expect(failure({ MAX_CALLS: '0' })).toContain('MAX_CALLS:');
    expect(failure({ STREAM_TOKEN_TTL_SECONDS: '-5' })).toContain('STREAM_TOKEN_TTL_SECONDS:');
  });
});
