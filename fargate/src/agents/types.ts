// The shape of an agent profile, as a schema: what one phone persona says, which tools it may call, how it listens
// and sounds. Agent files are JSON, validated with this schema at boot.
import { z } from 'zod';

const line = z.string().trim().min(1);

/**
 * When a call is flagged for human review (call/flags.ts), and when frustration hands it to a person. Every field is
 * optional; {@link reviewOf} fills the defaults.
 */
export const reviewSchema = z.strictObject({
  /** Word-sequence similarity (0–1) at which a caller turn counts as a repeat of an earlier one. @default 0.8 */
  repeatSimilarity: z.number().min(0).max(1).optional(),
  /** Frustration signals (repeat, negative phrase, same request twice) that raise the frustration flag. @default 2 */
  frustrationFlagAt: z.number().int().min(1).optional(),
  /** Frustration signals that escalate to a person (the seed's fallback routing). @default 3 */
  frustrationEscalateAt: z.number().int().min(1).optional(),
  /** A caller turn under this mean STT confidence counts as low-confidence. @default 0.6 */
  lowConfidence: z.number().min(0).max(1).optional(),
  /** Low-confidence caller turns in a row that raise the low-confidence flag. @default 3 */
  lowConfidenceTurns: z.number().int().min(1).optional(),
  /** Failures of one tool in a call that raise the tool-failures flag. @default 2 */
  toolFailures: z.number().int().min(1).optional(),
});
export type ReviewThresholds = Required<z.infer<typeof reviewSchema>>;

/** The defaults of the `review` block. */
export const DEFAULT_REVIEW: ReviewThresholds = {
  repeatSimilarity: 0.8, frustrationFlagAt: 2, frustrationEscalateAt: 3, lowConfidence: 0.6, lowConfidenceTurns: 3, toolFailures: 2,
};

/** A profile's review thresholds, defaults filled. */
export function reviewOf(profile: { review?: z.infer<typeof reviewSchema> }): ReviewThresholds {
  return { ...DEFAULT_REVIEW, ...Object.fromEntries(Object.entries(profile.review ?? {}).filter(([, v]) => v !== undefined)) };
}

/** One agent file: a whole profile, or `extends` another agent and overrides some fields. */
export const agentFileSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes'),
    /** Another agent's name: this file's fields override that profile's. */
    extends: z.string().optional(),
    /** The LLM's instructions. `{today}` is replaced with the business-local date at call start. */
    systemPrompt: line.optional(),
    /** Business tools (catalog names) plus the pipeline's own `transfer_to_human` / `take_payment` when allowed. */
    tools: z.array(z.string().min(1)).optional(),
    /**
     * How long a pause ends the caller's turn: a fixed window, or `adaptive` (turn-policy.ts: per turn, from what the
     * agent asked and how complete the caller's words are). Also sets Deepgram `endpointing`/`utterance_end_ms` or Flux thresholds.
     */
    endpointing: z.enum(['aggressive', 'balanced', 'conservative', 'adaptive']).optional(),
    /** Deepgram model family: Nova-3 ends turns on endpointing/UtteranceEnd; Flux with its own model (and can speculate). */
    stt: z.enum(['nova-3', 'flux-general-en']).optional(),
    /**
     * Start a held reply before the turn is confirmed (costs LLM tokens when the caller resumes): on Flux
     * EagerEndOfTurn; on Nova-3 at an early `speech_final`, confirmed after the full endpointing window. The caller
     * hears nothing sooner than without it, so pauses are not cut off. Absent means true.
     */
    speculate: z.boolean().optional(),
    /** `large` for tool-heavy reasoning; `small` when speed matters more. */
    llm: z.enum(['small', 'large']).optional(),
    /** ElevenLabs voice id. */
    voiceId: z.string().min(1).optional(),
    /** Played from cached audio the moment the stream starts. */
    greeting: line.optional(),
    /** Said (cached audio) before a slow tool so the line is never silent; one is picked per tool call. */
    fillers: z.array(line).optional(),
    /** Said (cached audio) just before the call is transferred to a person. */
    handoffLine: line.optional(),
    /** Said (cached audio) when a provider fails mid-call, before escalating. */
    apologyLine: line.optional(),
    /** Said (cached audio) before the call moves to Twilio <Pay>. */
    paymentLine: line.optional(),
    /** Said (cached audio) before the call moves to another task (deploy, scale-in). */
    holdLine: line.optional(),
    /** Said (cached audio) by the task that takes the call over, once it is back on the line. */
    resumeLine: line.optional(),
    /** Flag-for-review and frustration thresholds (call/flags.ts); absent means {@link DEFAULT_REVIEW}. */
    review: reviewSchema.optional(),
  })
  .strict();

export type AgentFile = z.infer<typeof agentFileSchema>;

/** A complete profile: every field set (after `extends` is applied). */
export const agentProfileSchema = agentFileSchema
  .omit({ extends: true })
  .required({ holdLine: true, resumeLine: true, systemPrompt: true, tools: true, endpointing: true, stt: true, llm: true, voiceId: true, greeting: true, fillers: true, handoffLine: true, apologyLine: true, paymentLine: true });

export type AgentProfile = z.infer<typeof agentProfileSchema>;
export type SttModel = AgentProfile['stt'];
