// The default call observer: one pino line per turn with its latency waterfall, debug lines for tools and usage.
import type { Logger } from './logger';
import type { CallObserver } from './observer';

/** Default observer: one pino line per turn with the latency waterfall (ms after the caller's last word). */
export function logObserver(log: Logger): CallObserver {
  return {
    turn(m) {
      const from = m.speechEndAt ?? m.sttFinalAt ?? m.replyStartedAt;
      const at = (t: number | undefined) => (t === undefined ? undefined : Math.round(t - from));
      log.info(
        {
          turn: m.turn,
          waterfall: {
            speechEnd: m.speechEndAt === undefined ? undefined : 0,
            sttFinal: at(m.sttFinalAt),
            llmFirstToken: at(m.llmFirstTokenAt),
            firstClause: at(m.firstClauseAt),
            ttsFirstByte: at(m.ttsFirstByteAt),
            firstAudioOut: at(m.firstAudioAt),
          },
          voiceToVoiceMs: m.voiceToVoiceMs,
          sttFinalDelayMs: m.sttFinalDelayMs,
          llmTimeToFirstTokenMs: m.llmTimeToFirstTokenMs,
          ttsTimeToFirstByteMs: m.ttsTimeToFirstByteMs,
          tools: m.tools,
          interrupted: m.interrupted,
          speculative: m.speculative,
          discarded: m.discarded,
        },
        'turn latency',
      );
    },
    toolCall(name, ms, ok) {
      log.debug({ tool: name, ms, ok }, 'tool call');
    },
    usage(u) {
      log.debug({ ...u }, 'reply usage');
    },
    end(s) {
      log.info({ ...s }, 'call summary');
    },
  };
}
