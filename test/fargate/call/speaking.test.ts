// Speaking decides what the caller heard, once per utterance, on every path: played out, barged in (paused, resumed
// or cut), a TTS failure mid-reply, and the call ending mid-sentence. Scripted LLM/TTS seams; real time is not used.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { evenAlignment } from '../../../fargate/src/call/playout';
import { Speaking, type HeardUtterance } from '../../../fargate/src/call/speaking';
import type { LanguageModel, TextToSpeech } from '../../../fargate/src/providers/types';
import { Reply } from '../../../fargate/src/call/reply';

const log = pino({ level: 'silent' });

/** Twilio's side: what went out, and the marks it would echo. */
function wire() {
  const marks: string[] = [];
  const sent: string[] = [];
  return { marks, sent, play: () => void sent.push('audio'), mark: (m: string) => void (marks.push(m), sent.push(`mark:${m}`)), clear: () => void sent.push('clear') };
}

/** An LLM that says `text` in one delta. */
const says = (text: string): LanguageModel => ({
  async *stream() {
    yield { kind: 'text', delta: text };
    yield { kind: 'done', finishReason: 'stop', usage: { inputTokens: 10, outputTokens: 5 }, model: 'm' };
  },
});
/** A TTS that voices each text piece as one chunk, 100 ms per character; fails on piece `failAt` (0-based) if given. */
const voices = (failAt?: number): TextToSpeech => ({
  async *synthesize(text) {
    let i = 0;
    for await (const piece of text) {
      if (i++ === failAt) throw new Error('elevenlabs socket closed');
      yield { audio: new Uint8Array(piece.length * 800), alignment: evenAlignment(piece, piece.length * 100) };
    }
  },
});

function setup(clock = { t: 0 }) {
  const w = wire();
  const heard: HeardUtterance[] = [];
  const speaking = new Speaking(w, (u) => heard.push(u), () => clock.t);
  const reply = (text: string, ttsFailAt?: number) =>
    new Reply(
      { callSid: 'CA1', llm: says(text), tts: voices(ttsFailAt), tools: { call: async () => { throw new Error('no tools'); } }, model: 'm', toolDefs: [], latencyClass: () => 'instant', filler: () => undefined, playout: speaking.playout, log, now: () => clock.t },
      'r1', 1, [{ role: 'user', content: 'hi' }], { speculative: false, callSignal: new AbortController().signal },
    );
  const echoAll = () => {
    for (const m of w.marks.splice(0)) speaking.onMark(m);
  };
  return { w, heard, speaking, reply, echoAll, clock };
}

const line = (text: string) => ({ text, audio: new Uint8Array(text.length * 800), alignment: evenAlignment(text, text.length * 100) });

describe('Speaking', () => {
  it('reports a reply once, complete, after its words are final and every mark has echoed', async () => {
    const s = setup();
    const r = s.reply('Sure, ten works. Shall I book it?');
    s.speaking.play(r);
    const outcome = await r.done;
    expect(s.speaking.generated(r, outcome)).toBe('live');
    expect(s.heard).toEqual([]); // audio still queued at Twilio
    s.echoAll();
    expect(s.heard.map((h) => [h.owner, h.text, h.complete])).toEqual([['r1', 'Sure, ten works. Shall I book it?', true]]);
  });

  it('a cut reply is heard up to the characters that played, flagged incomplete', async () => {
    const s = setup();
    const r = s.reply('Sure, ten works.');
    s.speaking.play(r);
    s.speaking.generated(r, await r.done);
    s.clock.t = 500; // "Sure," played (5 × 100 ms)
    s.speaking.cut();
    expect(s.heard.map((h) => [h.text, h.complete])).toEqual([['Sure,', false]]);
  });

  it('a pause then a false alarm loses nothing: the rest plays and the reply is heard whole', async () => {
    const s = setup();
    const r = s.reply('Sure, ten works.');
    s.speaking.play(r);
    s.speaking.generated(r, await r.done);
    s.clock.t = 500;
    s.speaking.pause();
    s.echoAll(); // Twilio echoes the cleared marks at once: not "played"
    expect(s.heard).toEqual([]);
    expect(s.speaking.audible()).toBe(true);
    s.clock.t = 1500;
    s.speaking.resume();
    s.echoAll();
    expect(s.heard.map((h) => [h.text, h.complete])).toEqual([['Sure, ten works.', true]]);
    expect(s.w.sent.filter((x) => x === 'clear')).toHaveLength(1);
  });

  it('a TTS failure mid-reply is heard as what played, never the full LLM text', async () => {
    const s = setup();
    const r = s.reply('Sure, ten works. Shall I book it for you?', 1);
    s.speaking.play(r);
    const outcome = await r.done;
    expect(outcome.status).toBe('failed');
    s.speaking.generated(r, outcome);
    s.echoAll();
    // The clause chunker sent "Sure, " first; the socket died on the next clause.
    expect(s.heard.map((h) => [h.text, h.complete])).toEqual([['Sure,', false]]);
  });

  it('the call ending mid-sentence settles every utterance with what had played', async () => {
    const s = setup();
    s.speaking.say('greeting', line('Hi there.'));
    s.echoAll();
    s.speaking.say('handoff', line('Connecting you now.'));
    s.clock.t = 10_000;
    await s.speaking.end();
    expect(s.heard.map((h) => [h.owner, h.text, h.complete])).toEqual([
      ['greeting', 'Hi there.', true],
      ['handoff', '', false],
    ]);
  });

  it('confirms a held reply only for the text it was speculated on, and drops it otherwise', async () => {
    const s = setup();
    const held = new Reply(
      { callSid: 'CA1', llm: says('Ok.'), tts: voices(), tools: { call: async () => { throw new Error('x'); } }, model: 'm', toolDefs: [], latencyClass: () => 'instant', filler: () => undefined, playout: s.speaking.playout, log },
      'r2', 2, [], { speculative: true, callSignal: new AbortController().signal },
    );
    s.speaking.hold(held, 'ten works');
    expect(s.speaking.confirm('ten works for me', {})).toBeUndefined();
    expect(held.measures.discarded).toBe(true);
    expect(s.speaking.generated(held, await held.done)).toBe('gone');
    expect(s.w.sent.filter((x) => x === 'audio')).toHaveLength(0);
  });
});
