// Hostile run on one local stack: upgrade floods, token replay, a silent leg, log/keypad amplifiers and a forged pay result, each with good calls alongside; every good call completes with its own transcript and the stack still answers and takes calls.
import twilio from 'twilio';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallReport } from '../../local/caller/caller';
import { loadScenario, type Scenario } from '../../local/scenarios/scenario';
import type { LocalStack } from '../../local/stack';
import { openStream, postWebhook, streamParameters, type StreamClient } from '../fargate/fixtures/twilio-peer';
import { call, settled, stackFor, storedTurns } from './helpers';

const booking = loadScenario('booking');
const saidByCaller = booking.steps.flatMap((s) => ('say' in s ? [s.text] : []));
let n = 0;
const caller = (): Scenario => ({ ...booking, from: `+1555880${String(1000 + ++n).slice(-4)}` });

let stack: LocalStack;
let base = '';
let wsBase = '';
let streamUrl = '';
const junk: (WebSocket | StreamClient)[] = [];

beforeAll(async () => {
  stack = await stackFor(booking, {
    env: { MAX_CALLS: '6', MAX_PENDING_STREAMS: '8', METRICS_PORT: '0', MEDIA_SILENCE_SECONDS: '2', WS_PING_SECONDS: '1' },
  });
  base = new URL(stack.twimlUrl).origin;
  wsBase = base.replace(/^http/, 'ws');
  streamUrl = stack.mediaUrl;
}, 60_000);

afterAll(async () => {
  for (const j of junk) j instanceof WebSocket ? j.terminate() : j.close();
  await stack?.close();
});

/** A webhook as Twilio sends it, then the stream its TwiML names, signed like Twilio. */
async function attackerStream(callSid: string): Promise<{ client: StreamClient; params: Record<string, string> }> {
  const { authToken } = stack.twilio;
  const hook = await postWebhook(base, { authToken, publicUrl: base, params: { CallSid: callSid, From: '+15550000001', To: '+15550001000' } });
  expect(hook.status).toBe(200);
  const { params } = streamParameters(hook.body);
  const client = await openStream(wsBase, '/media', { authToken, url: streamUrl });
  junk.push(client);
  return { client, params };
}

function rawUpgrade(signature: string | undefined): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(streamUrl, { headers: signature ? { 'x-twilio-signature': signature } : {} });
    junk.push(ws);
    ws.once('open', () => resolve(101));
    ws.once('unexpected-response', (_q, r) => resolve(r.statusCode ?? 0));
    ws.once('error', () => resolve(0));
  });
}

/** Runs `attack` while two good calls run; returns their reports once settled. */
async function alongside(attack: () => Promise<void>): Promise<CallReport[]> {
  const good = [call(stack, caller()), call(stack, caller())];
  await attack();
  const reports = await Promise.all(good);
  await Promise.all(reports.map((r) => settled(stack, r.callSid, 30_000)));
  return reports;
}

async function expectGood(reports: CallReport[]): Promise<void> {
  for (const r of reports) {
    expect(r.turns.filter((t) => !t.ok).map((t) => t.error)).toEqual([]);
    expect(r.heard).toContain('goodbye');
    const turns = await storedTurns(stack, r.callSid);
    expect(turns.filter((t) => t.role === 'user').map((t) => t.text)).toEqual(saidByCaller);
  }
}

describe('hostile run', () => {
  it('an upgrade flood (200 unsigned or replayed-signature idle sockets) locks no good call out', async () => {
    const replayed = twilio.getExpectedTwilioSignature(stack.twilio.authToken, streamUrl, {});
    let statuses: number[] = [];
    const reports = await alongside(async () => {
      statuses = await Promise.all(Array.from({ length: 200 }, (_, i) => rawUpgrade(i % 2 ? replayed : undefined)));
    });
    expect(statuses.filter((s) => s === 403)).toHaveLength(100);
    await expectGood(reports);
  }, 120_000);

  it('a replayed stream token is refused (1008) while the call it was minted for and the good calls go on', async () => {
    const reports = await alongside(async () => {
      const callSid = 'CA' + 'a'.repeat(32);
      const first = await attackerStream(callSid);
      const second = await openStream(wsBase, '/media', { authToken: stack.twilio.authToken, url: streamUrl });
      junk.push(second);
      first.client.begin({ callSid, customParameters: first.params });
      await new Promise((r) => setTimeout(r, 200));
      second.begin({ callSid, customParameters: first.params });
      expect(await second.closedWith()).toMatchObject({ code: 1008, reason: 'stream token already used' });
      first.client.stop(callSid);
    });
    await expectGood(reports);
  }, 120_000);

  it('a silent started stream is ended and amplifiers (unknown events, odd digits, endless keypad) cost no call', async () => {
    const reports = await alongside(async () => {
      const silent = await attackerStream('CA' + 'b'.repeat(32));
      silent.client.begin({ callSid: 'CA' + 'b'.repeat(32), customParameters: silent.params });
      expect((await silent.client.closedWith()).code).toBe(1000);

      const noisy = await attackerStream('CA' + 'c'.repeat(32));
      noisy.client.begin({ callSid: 'CA' + 'c'.repeat(32), customParameters: noisy.params });
      for (let i = 0; i < 300; i++) {
        noisy.client.send({ event: 'hologram', streamSid: noisy.client.streamSid });
        noisy.client.dtmf(i % 7 ? String(i % 10) : 'Z');
        noisy.client.media(new Uint8Array(160).fill(0xff));
      }
      noisy.client.stop('CA' + 'c'.repeat(32));
      expect((await noisy.client.closedWith()).code).toBe(1000);
    });
    await expectGood(reports);
  }, 120_000);

  it('a forged or unbound /pay-result is refused with 403', async () => {
    const params = { CallSid: 'CA' + 'd'.repeat(32), From: '+15550000001', To: '+15550001000', Result: 'success' };
    const sig = twilio.getExpectedTwilioSignature(stack.twilio.authToken, `${base}/pay-result?payment=success`, params);
    const res = await fetch(`${base}/pay-result?payment=success`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig }, body: new URLSearchParams(params).toString() });
    expect(res.status).toBe(403);
  });

  it('afterwards the service answers /healthz and takes a new call', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const r = await call(stack, caller());
    await settled(stack, r.callSid, 30_000);
    await expectGood([r]);
  }, 120_000);
});
