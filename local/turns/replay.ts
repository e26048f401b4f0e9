// Replays recorded STT event timelines of the turn corpus through the turn detector on a simulated clock, and scores each policy (pure).
import type { SttEvent, TurnChange } from '../../fargate/src/providers/types';
import { ENDPOINTING_PROFILES, EndpointingTurnDetector, type EndpointingProfileName, type SpeculationWaste } from '../../fargate/src/turn-detector';
import type { LoadedTurn } from './corpus';

/** The policies an agent can choose (`endpointing` in its data file). */
export const POLICIES: readonly EndpointingProfileName[] = ['aggressive', 'balanced', 'conservative', 'adaptive'];
/**
 * The replay's clock grain: the detector sees time pass every TICK_MS between STT events. The call loop instead arms one
 * timer at the detector's `nextDeadline()`; test/fargate/turn-detector.test.ts pins that both give the same changes.
 */
export const TICK_MS = 50;

/** One STT event and when it reached the client, ms after the stream's first audio byte. */
export interface Recorded {
  at: number;
  ev: SttEvent;
}

/** What the detector decided for one turn, with the simulated time of each change. */
export interface TurnOutcome {
  turn: LoadedTurn;
  changes: { at: number; change: TurnChange }[];
  waste: SpeculationWaste;
}

/**
 * Feeds one turn's recorded events to a fresh detector (one turn = one call) with ticks every TICK_MS. The agent
 * is audible during over-agent turns until the caller really interrupts (`user-started`), including while paused
 * (the loop keeps reporting it audible until the barge-in resolves); otherwise it is silent.
 */
export function replayTurn(turn: LoadedTurn, events: Recorded[], policy: EndpointingProfileName, endAt: number): TurnOutcome {
  const detector = new EndpointingTurnDetector({ endpointing: ENDPOINTING_PROFILES[policy], speculate: true });
  detector.setAgentContext({ lastUtterance: turn.asked, collecting: turn.collecting });
  const changes: TurnOutcome['changes'] = [];
  let audible = turn.overAgent;
  const feed = (input: SttEvent | { kind: 'tick' }, at: number) => {
    for (let c = detector.update(input, at, audible); c; c = detector.drain()) {
      changes.push({ at, change: c });
      if (c.kind === 'user-started') audible = false;
    }
  };
  const sorted = [...events].sort((a, b) => a.at - b.at);
  let next = 0;
  for (let t = 0; t <= endAt; t += TICK_MS) {
    while (next < sorted.length && sorted[next]!.at <= t) {
      feed(sorted[next]!.ev, sorted[next]!.at);
      next++;
    }
    feed({ kind: 'tick' }, t);
  }
  return { turn, changes, waste: detector.waste() };
}

function pct(values: number[], p: number): number | undefined {
  if (!values.length) return undefined;
  const s = [...values].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!);
}

/** One policy's scores on the corpus (rates are fractions of the turns they apply to). */
export interface PolicyScore {
  /** Reply turns: the first `user-finished` at or after the labelled end, minus that end (ms). */
  delayP50Ms?: number;
  delayP95Ms?: number;
  /** Reply turns where a `user-finished` came before the labelled end (the agent would have started mid-turn). */
  cutInRate: number;
  cutIns: string[];
  /** Reply turns that never ended. */
  missed: string[];
  /** Backchannel and noise turns over the agent that made it stop for good (`user-started`). */
  falseBargeInRate: number;
  /** Backchannel turns over the agent whose answer was lost: it stopped for good or replied to the backchannel. */
  lostToBackchannel: number;
  /** How long a backchannel or noise over the agent paused it (barge-in → false-alarm, ms), p50. */
  falsePauseP50Ms?: number;
  /** Real interruptions: onset → `barge-in` (playout cleared), p50 ms; and the ones never interrupted. */
  interruptClearP50Ms?: number;
  interruptsMissed: string[];
  /** Noise with the agent silent that got a reply. */
  noiseReplies: string[];
  /** Estimated wasted speculative LLM tokens per turn (SpeculationLedger: ⌈chars/4⌉ + 30 per dropped held reply). */
  wastedTokensPerTurn: number;
  /** Held replies started per turn. */
  speculationsPerTurn: number;
}

const firstAt = (o: TurnOutcome, kind: TurnChange['kind']) => o.changes.find((c) => c.change.kind === kind)?.at;
const ratio = (n: number, d: number) => (d ? Math.round((n / d) * 1000) / 1000 : 0);

/** Scores one policy from its outcomes on every corpus turn. */
export function score(outcomes: TurnOutcome[]): PolicyScore {
  const replies = outcomes.filter((o) => o.turn.expect === 'reply');
  const delays: number[] = [];
  const cutIns: string[] = [];
  const missed: string[] = [];
  for (const o of replies) {
    const ends = o.changes.filter((c) => c.change.kind === 'user-finished').map((c) => c.at);
    if (ends.some((at) => at < o.turn.labelledEndMs)) cutIns.push(o.turn.id);
    const after = ends.find((at) => at >= o.turn.labelledEndMs);
    if (after === undefined) missed.push(o.turn.id);
    else delays.push(after - o.turn.labelledEndMs);
  }
  const overIgnored = outcomes.filter((o) => o.turn.expect === 'ignore' && o.turn.overAgent);
  const stopped = overIgnored.filter((o) => firstAt(o, 'user-started') !== undefined);
  const backchannels = overIgnored.filter((o) => o.turn.category === 'backchannel');
  const lost = backchannels.filter((o) => firstAt(o, 'user-started') !== undefined || firstAt(o, 'user-finished') !== undefined);
  const pauses = overIgnored.flatMap((o) => {
    const [b, f] = [firstAt(o, 'barge-in'), firstAt(o, 'false-alarm')];
    return b !== undefined && f !== undefined ? [f - b] : [];
  });
  const interrupts = outcomes.filter((o) => o.turn.expect === 'interrupt');
  const clears = interrupts.flatMap((o) => {
    const at = firstAt(o, 'barge-in') ?? firstAt(o, 'user-started');
    return at === undefined ? [] : [at - o.turn.onsetMs];
  });
  const noise = outcomes.filter((o) => o.turn.category === 'noise' && !o.turn.overAgent && firstAt(o, 'user-finished') !== undefined);
  const n = outcomes.length || 1;
  return {
    delayP50Ms: pct(delays, 50),
    delayP95Ms: pct(delays, 95),
    cutInRate: ratio(cutIns.length, replies.length),
    cutIns,
    missed,
    falseBargeInRate: ratio(stopped.length, overIgnored.length),
    lostToBackchannel: lost.length,
    falsePauseP50Ms: pct(pauses, 50),
    interruptClearP50Ms: pct(clears, 50),
    interruptsMissed: interrupts.filter((o) => firstAt(o, 'user-started') === undefined).map((o) => o.turn.id),
    noiseReplies: noise.map((o) => o.turn.id),
    wastedTokensPerTurn: Math.round((outcomes.reduce((s, o) => s + o.waste.wastedTokens, 0) / n) * 10) / 10,
    speculationsPerTurn: Math.round((outcomes.reduce((s, o) => s + o.waste.started, 0) / n) * 100) / 100,
  };
}
