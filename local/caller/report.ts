// What a simulated call reports: per-turn latency, barge-in and heard text, the call summary, and how they print.

/** Barge-in of one say step: the caller spoke `requestedAfterMs` after the agent started talking. */
export interface BargeInReport {
  requestedAfterMs: number;
  /** When the agent's talk spurt started (first played speech frame), ms from the call start. */
  agentStartedAt?: number;
  /** The caller's speech onset: its first speech frame sent, ms from the call start. */
  speechOnsetAt?: number;
  /** Agent audio was still queued to play when the caller started speaking (false: the agent had already finished). */
  agentAudibleAtOnset?: boolean;
  /** First `clear` received after the onset, ms from the call start. */
  clearAt?: number;
  /** `clearAt - speechOnsetAt`: how fast the agent stopped. Undefined when it did not clear. */
  reactionMs?: number;
}

/** One turn: a caller action (speech or keys) and the agent audio played until the next caller action. */
export interface TurnReport {
  index: number;
  /** `greeting`: agent audio before the caller's first action. */
  kind: 'greeting' | 'say' | 'dtmf';
  /** Index of the scenario step that opened the turn (-1 for the greeting). */
  step: number;
  /** Say id, for say turns. */
  say?: string;
  /** What the caller said (the scenario text) or the keys it pressed. */
  input?: string;
  /** Turn start, ms from the call start (the caller's first frame or key of this turn). */
  startedAt: number;
  /** End of the caller's last speech frame sent (or last key sent), ms from the call start. */
  inputEndedAt?: number;
  /** First played agent frame with speech energy that answers this input, ms from the call start. */
  firstAgentAudioAt?: number;
  /** `firstAgentAudioAt - inputEndedAt`, on the caller's clock. Undefined when the agent did not answer. */
  voiceToVoiceMs?: number;
  bargeIn?: BargeInReport;
  /** `clear` messages received during the turn. */
  clears: number;
  /** Decoded text of the agent audio played during the turn (tone text, lower case). */
  heard: string;
  /** ms of agent audio played during the turn. */
  agentAudioMs: number;
  /** Longest silence between two pieces of agent speech after the answer began (a provider switch mid-reply shows here). */
  longestPauseMs?: number;
  /** False when a step of this turn failed (e.g. the agent never answered). */
  ok: boolean;
  error?: string;
  /** The agent audio that played during the turn (μ-law). Left out of JSON output. */
  audio: Uint8Array;
}

/** How the call ended. */
export type EndReason = 'scenario' | 'hangup' | 'server-closed' | 'redirected' | 'aborted' | 'timeout';

export interface CallReport {
  scenario: string;
  callSid: string;
  streamSid: string;
  accountSid: string;
  /** The URL the media stream was opened on. */
  streamUrl: string;
  /** Wall-clock start (ISO 8601). */
  startedAt: string;
  durationMs: number;
  endedBy: EndReason;
  /** Every scenario step was played. */
  completed: boolean;
  turns: TurnReport[];
  /** Media frames sent (50 per second of call). */
  framesSent: number;
  marksEchoed: number;
  clears: number;
  /** Keys sent, in order. */
  dtmfSent: string;
  /** The TwiML the call was redirected to (e.g. `<Dial>` for a transfer). */
  transferred?: string;
  /**
   * Moves to a new stream (`<Connect><Stream>` TwiML, i.e. a migration to another task), caller-clock ms: when the
   * TwiML came, when the new stream opened, and the agent silence heard across it.
   */
  migrations: { redirectedAt: number; reconnectedAt?: number; gapMs?: number }[];
  /** Everything heard, turn by turn, joined with " | ". */
  heard: string;
  /** Server messages that broke the Media Streams protocol (bad JSON, wrong streamSid, unknown event). */
  protocolErrors: string[];
  /** All turns ok and every step played (a call ended by transfer or the server counts if its turns were ok). */
  ok: boolean;
}

/** The report as plain JSON: each turn's audio becomes its byte count. */
export function reportJson(report: CallReport): unknown {
  return { ...report, turns: report.turns.map(({ audio, ...t }) => ({ ...t, audioBytes: audio.length })) };
}

const ms = (v: number | undefined): string => (v === undefined ? '-' : `${Math.round(v)}`);

/** A readable summary: one line per turn, then the call totals. */
export function formatReport(r: CallReport): string {
  const rows = [['#', 'kind', 'input', 'v2v ms', 'barge-in ms', 'clears', 'heard']];
  for (const t of r.turns) {
    const b = t.bargeIn;
    const barge = !b ? '' : b.reactionMs !== undefined ? ms(b.reactionMs) : b.agentAudibleAtOnset ? 'kept talking' : 'agent done';
    rows.push([
      String(t.index),
      t.kind,
      clip(t.input ?? '', 34),
      ms(t.voiceToVoiceMs),
      barge,
      String(t.clears),
      clip(t.heard, 60) + (t.ok ? '' : `  ✗ ${t.error ?? 'failed'}`),
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const lines = rows.map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  '));
  const v2v = r.turns.map((t) => t.voiceToVoiceMs).filter((v): v is number => v !== undefined);
  lines.push(
    '',
    `scenario ${r.scenario}  call ${r.callSid}  ${r.ok ? 'OK' : 'FAILED'}  ended by ${r.endedBy}${r.completed ? '' : ' (steps left unplayed)'}`,
    `duration ${(r.durationMs / 1000).toFixed(1)} s  turns ${r.turns.length}  frames ${r.framesSent}  marks echoed ${r.marksEchoed}  clears ${r.clears}  dtmf ${r.dtmfSent || '-'}`,
    `voice-to-voice ms: ${v2v.length ? v2v.map((v) => Math.round(v)).join(', ') : '-'}`,
    `transferred: ${r.transferred ?? 'no'}`,
  );
  if (r.protocolErrors.length) lines.push(`protocol errors: ${r.protocolErrors.join('; ')}`);
  return lines.join('\n');
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
