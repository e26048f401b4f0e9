// Observer plumbing: combineObservers (the call sees one observer) and the per-turn waterfall log observer.
import type { CallObserver, CallSummary } from './observer';
import type { CostBreakdown } from './cost-meter';
import { logger as rootLogger, type Logger } from './logger';
import type { TierSplit } from './router';
import { waterfallRow } from './waterfall';

/**
 * One observer that forwards every event to each given observer in order (undefined entries are skipped). An
 * observer that throws is logged and skipped: metrics must never break a call or starve the other observers.
 */
export function combineObservers(...observers: (CallObserver | undefined)[]): CallObserver {
  const list = observers.filter((o): o is CallObserver => o !== undefined);
  const each = <K extends keyof CallObserver>(hook: K, args: Parameters<CallObserver[K]>) => {
    list.forEach((o, i) => {
      try {
        (o[hook] as (...a: Parameters<CallObserver[K]>) => void)(...args);
      } catch (err) {
        rootLogger.error({ hook, observer: i, err: { name: (err as Error)?.name, message: (err as Error)?.message } }, 'call observer failed');
      }
    });
  };
  return {
    turn: (...a) => each('turn', a),
    toolCall: (...a) => each('toolCall', a),
    usage: (...a) => each('usage', a),
    end: (...a) => each('end', a),
  };
}

const ms = (v: number | undefined) => (v === undefined ? undefined : Math.round(v));

/**
 * One pino line per turn with the stage deltas of the latency waterfall (no text, no tool arguments) plus the four
 * per-turn measures under the same field names as call.ts `logObserver` (local/bench.ts reads them), and one line at
 * the end with the call summary, its cost breakdown and the model-tier split when given.
 */
export function waterfallLogObserver(log: Logger, opts: { cost?: (s: CallSummary) => CostBreakdown; tiers?: () => TierSplit } = {}): CallObserver {
  return {
    turn(m) {
      const r = waterfallRow(m);
      log.info(
        {
          turn: r.turn, replyId: r.replyId, from: r.origin, waterfall: r.deltas, totalMs: r.totalMs,
          voiceToVoiceMs: ms(m.voiceToVoiceMs),
          sttFinalDelayMs: ms(m.sttFinalDelayMs),
          llmTimeToFirstTokenMs: ms(m.llmTimeToFirstTokenMs),
          ttsTimeToFirstByteMs: ms(m.ttsTimeToFirstByteMs),
          tools: r.tools.map((t) => ({ name: t.name, ms: Math.round(t.ms), ok: t.ok })),
          flags: r.flags.length ? r.flags : undefined,
        },
        'turn latency',
      );
    },
    toolCall(name, ms, ok) {
      log.debug({ tool: name, ms: Math.round(ms), ok }, 'tool call');
    },
    usage(u) {
      log.debug({ model: u.model, inputTokens: u.inputTokens, outputTokens: u.outputTokens, ttsChars: u.ttsChars, wasted: u.wasted }, 'reply usage');
    },
    end(s) {
      const cost = opts.cost?.(s);
      log.info({ ...s, costUsd: cost?.total, cost, tiers: opts.tiers?.() }, 'call summary');
    },
  };
}
