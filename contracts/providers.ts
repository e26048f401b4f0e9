// The provider names of each seam and the backup secrets they need: shared by the media service's chain config and the CDK stage config.

export const STT_NAMES = ['deepgram', 'assemblyai', 'google'] as const;
export const TTS_NAMES = ['elevenlabs', 'deepgram'] as const;
export const LLM_NAMES = ['groq', 'fireworks', 'together'] as const;
export type SttName = (typeof STT_NAMES)[number];
export type TtsName = (typeof TTS_NAMES)[number];
export type LlmName = (typeof LLM_NAMES)[number];

/** Provider order per seam: the first is the primary, the rest are backups tried in order. */
export interface ProviderOrder {
  readonly stt: readonly SttName[];
  readonly llm: readonly LlmName[];
  readonly tts: readonly TtsName[];
}

/**
 * Backups with an account of their own: the Secrets Manager secret each needs and the media-service variable it fills.
 * (Deepgram Aura-2 TTS uses the Deepgram STT key; the primaries' secrets always exist.)
 */
export const BACKUP_SECRETS = {
  assemblyai: { seam: 'stt', env: 'ASSEMBLYAI_API_KEY', secret: 'AssemblyAI' },
  google: { seam: 'stt', env: 'GOOGLE_STT_CREDENTIALS', secret: 'GoogleStt' },
  fireworks: { seam: 'llm', env: 'FIREWORKS_API_KEY', secret: 'Fireworks' },
  together: { seam: 'llm', env: 'TOGETHER_API_KEY', secret: 'Together' },
} as const;
export type BackupWithSecret = keyof typeof BACKUP_SECRETS;

/** The backups of `order` that need a secret of their own, in a stable order. */
export function backupsWithSecrets(order: ProviderOrder): BackupWithSecret[] {
  const listed = new Set<string>([...order.stt, ...order.llm]);
  return (Object.keys(BACKUP_SECRETS) as BackupWithSecret[]).filter((n) => listed.has(n));
}
