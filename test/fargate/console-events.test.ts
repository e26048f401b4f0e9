// The console events a call produces: transcript lines from the Recording, call/tool/cost/end from the instruments' observer.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { consoleEventSchema, type ConsoleEvent, type LiveFeed } from '../../contracts/console';
import { Conversation } from '../../fargate/src/call/conversation';
import { Recording } from '../../fargate/src/call/recording';
import { withLiveFeed } from '../../fargate/src/observability/console-feed';
import { createObservability } from '../../fargate/src/observability/instruments';
import type { CallObserver } from '../../fargate/src/observability/observer';
import type { AgentProfile } from '../../fargate/src/agents/types';
import { testConfig } from './fixtures/env';
import { CALL_SID, SUMMARY, T0, USAGE } from './observability/fixtures';

const log = pino({ level: 'silent' });
const noop: CallObserver = { turn: () => {}, toolCall: () => {}, usage: () => {}, end: () => {} };

/** A feed that keeps what the call published, each checked against the wire schema. */
function collect(): LiveFeed & { events: ConsoleEvent[] } {
  const events: ConsoleEvent[] = [];
  return { events, publish: (e) => void events.push(consoleEventSchema.parse(e)) };
}

describe('console events of a call', () => {
  it('each transcript line goes to the feed as a turn event, caller and agent words as heard', () => {
    const feed = collect();
    let now = T0;
    const r = new Recording(new Conversation('system'), noop, () => now);
    r.live = { feed, callSid: CALL_SID };
    r.saying('greeting', 'Hi, how can I help?');
    r.heard({ owner: 'greeting', text: 'Hi, how can I help?', complete: true });
    now += 2000;
    r.user('I need a haircut.', T0 + 1000);
    now += 1500;
    r.heard({ owner: 'filler', text: 'One moment', complete: false });
    expect(feed.events).toEqual([
      { type: 'turn', callSid: CALL_SID, turn: 1, at: T0, agent: 'Hi, how can I help?', interrupted: false, waterfall: {} },
      { type: 'turn', callSid: CALL_SID, turn: 2, at: T0 + 2000, caller: 'I need a haircut.', interrupted: false, waterfall: {} },
      { type: 'turn', callSid: CALL_SID, turn: 3, at: T0 + 3500, agent: 'One moment', interrupted: true, waterfall: {} },
    ]);
  });

  it('the instruments observer adds call-started with the caller masked, tools, a rising running cost and call-ended', () => {
    const feed = collect();
    const obs = createObservability({ config: testConfig({ STAGE: 'staging', MAX_CALLS: '50' }), emit: () => {} });
    const instrumentsFor = withLiveFeed(obs.instrumentsFor, feed);
    const inst = instrumentsFor({ start: { callSid: CALL_SID, startedAt: Date.now() - 30_000, caller: '+15551230001' }, log }, { name: 'booking', stt: 'nova-3', llm: 'small' } as AgentProfile);
    inst.observer.usage(USAGE[0]!);
    inst.observer.toolCall('check_availability', 41.6, true);
    inst.observer.end({ ...SUMMARY, escalated: true });
    const types = feed.events.map((e) => e.type);
    expect(types[0]).toBe('call-started');
    expect(feed.events[0]).toMatchObject({ agent: 'booking', caller: '[phone]…01' });
    expect(JSON.stringify(feed.events)).not.toContain('5551230001');
    expect(feed.events.find((e) => e.type === 'tool')).toMatchObject({ name: 'check_availability', ms: 42, ok: true });
    const costs = feed.events.filter((e) => e.type === 'cost').map((e) => (e as { usd: number }).usd);
    expect(costs.length).toBeGreaterThanOrEqual(2);
    expect(costs[0]).toBeGreaterThan(0);
    expect(costs.at(-1)).toBeGreaterThanOrEqual(costs[0]!);
    expect(feed.events.at(-1)).toMatchObject({ type: 'call-ended', callSid: CALL_SID, escalated: true });
  });

  it('a stream that hands the call over does not end it on the console', () => {
    const feed = collect();
    const obs = createObservability({ config: testConfig({ STAGE: 'staging', MAX_CALLS: '50' }), emit: () => {} });
    const inst = withLiveFeed(obs.instrumentsFor, feed)({ start: { callSid: CALL_SID, startedAt: T0 }, log }, { name: 'booking', stt: 'nova-3', llm: 'small' } as AgentProfile);
    inst.observer.end({ ...SUMMARY, handedOver: true });
    expect(feed.events.some((e) => e.type === 'call-ended')).toBe(false);
  });
});
