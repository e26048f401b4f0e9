// The operations console in headless Chromium during simulated local calls: live list, heard transcript, waterfall, actions.
import { copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScenario } from '../../local/scenarios/scenario';
import type { LocalStack } from '../../local/stack';
import { call, settled, stackFor } from '../e2e/helpers';
import { launch, openConsole, seenLines, waitForLines } from './helpers';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const booking = loadScenario('booking');
/** The booking, plus one LLM rule that answers differently once a supervisor's whisper is in the conversation. */
const whisperable = {
  ...booking,
  llm: [
    { when: { system: 'Operator instruction.*loyalty discount', lastUser: '\\bten\\b' }, reply: { text: 'Ten AM it is, and your loyalty discount applies.' } },
    ...(booking.llm ?? []),
  ],
};


let stack: LocalStack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([stackFor(whisperable as typeof booking, { console: true }), launch()]);
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** Waits until the console lists the call and shows it. */
async function waitForCall(page: Page, callSid: string): Promise<void> {
  await page.waitForSelector(`#calls li[data-call-sid="${callSid}"]`, { timeout: 15_000 });
  await page.click(`#calls li[data-call-sid="${callSid}"]`);
  await page.waitForSelector(`#call[data-call-sid="${callSid}"]`);
}

describe('operations console', () => {
  it('lists a live call and shows each caller line and agent reply as heard within a second of the turn', async () => {
    const page = await openConsole(browser, stack.console!.pageUrl);
    const callSid = 'CA' + Date.now().toString(16).padStart(32, 'c');
    const placed = call(stack, booking, { callSid });
    await waitForCall(page, callSid);
    // Mid-call: after the booking was confirmed, the console has transcript, waterfall bars, tools and cost.
    await waitForLines(page, 6);
    // UPDATE_CONSOLE_SCREENSHOT=1 refreshes the README's docs/console.png from this moment of the call.
    const shot = join(tmpdir(), `console-mid-call-${process.pid}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.UPDATE_CONSOLE_SCREENSHOT === '1') copyFileSync(shot, join(ROOT, 'docs', 'console.png'));
    const report = await placed;
    expect(report.ok).toBe(true);
    await settled(stack, callSid);
    await page.waitForSelector(`#calls li.ended[data-call-sid="${callSid}"]`);

    const stored = (await stack.transcript(callSid)).filter((t) => Number(t.turn) > 0) as { role: string; text: string; endAt: string }[];
    const seen = await seenLines(page);
    expect(seen.map((s) => [s.who, s.text.replace(/ ✂.*$/, '')])).toEqual(stored.map((t) => [t.role === 'user' ? 'caller' : 'agent', t.text]));
    const lags = stored.map((t, i) => seen[i]!.at - Date.parse(t.endAt));
    console.info(`console lag per transcript line (ms): ${lags.join(', ')}`);
    for (const [i, t] of stored.entries()) {
      const lag = lags[i]!;
      expect(lag, `line ${i + 1} ("${t.text}") showed ${lag} ms after it was heard`).toBeLessThan(1000);
    }
    // The waterfall has a row per answered reply, with its stage bars, and the tools and cost are there.
    const replies = stack.calls.get(callSid)!.turns.filter((m) => m.voiceToVoiceMs !== undefined).length;
    expect(replies).toBeGreaterThanOrEqual(3);
    expect(await page.locator('#waterfall .row').count()).toBe(replies);
    expect(await page.locator('#waterfall .bar.v2v').count()).toBe(replies);
    expect(await page.locator('#waterfall .bar.stt').count()).toBe(replies);
    expect(await page.locator('#waterfall .bar.llm').count()).toBeGreaterThanOrEqual(1);
    await expect(page.locator('#tools li').allTextContents()).resolves.toEqual(expect.arrayContaining([expect.stringContaining('check_availability'), expect.stringContaining('book_appointment')]));
    expect(Number((await page.textContent('#call-cost'))!.slice(1))).toBeGreaterThan(0);
    await page.close();
  });

  it('shows the masked caller, never the number', async () => {
    const page = await openConsole(browser, stack.console!.pageUrl);
    const callSid = 'CA' + Date.now().toString(16).padStart(32, 'd');
    const placed = call(stack, booking, { callSid });
    await waitForCall(page, callSid);
    const title = await page.textContent('#call-title');
    expect(title).toContain('[phone]…01');
    expect(await page.content()).not.toContain(booking.from!.slice(1));
    await placed;
    await settled(stack, callSid);
    await page.close();
  });

  it('"take over" produces the <Dial> update at the Twilio REST emulator', async () => {
    const page = await openConsole(browser, stack.console!.pageUrl);
    const callSid = 'CA' + Date.now().toString(16).padStart(32, 'e');
    const placed = call(stack, booking, { callSid });
    await waitForCall(page, callSid);
    await waitForLines(page, 2);
    await page.fill('#take-over-to', '+15559876543');
    await page.click('#take-over');
    await page.waitForSelector('#acks li[data-ok="true"]');
    const report = await placed;
    const update = stack.emulators.twilio.requests.find((r) => r.callSid === callSid && /<Dial[\s>]/.test(r.params.Twiml ?? ''));
    expect(update?.params.Twiml).toContain('+15559876543');
    expect(report.transferred).toContain('<Dial');
    await page.close();
  });

  it('"whisper" changes the agent\'s next reply', async () => {
    const page = await openConsole(browser, stack.console!.pageUrl);
    const callSid = 'CA' + Date.now().toString(16).padStart(32, 'f');
    const placed = call(stack, booking, { callSid });
    await waitForCall(page, callSid);
    await waitForLines(page, 1, 'agent');
    await page.fill('#whisper-text', 'Mention the loyalty discount.');
    await page.click('#whisper');
    await page.waitForSelector('#acks li[data-ok="true"]');
    const report = await placed;
    await settled(stack, callSid);
    // The instruction reaches the LLM as a system message, and the caller hears the reply it changed.
    const after = stack.emulators.llm.requests.filter((r) => JSON.stringify(r.body.messages).includes('Mention the loyalty discount.'));
    expect(after.length).toBeGreaterThan(0);
    expect(report.heard).toContain('your loyalty discount applies');
    await page.close();
  });

  it('a frustration scenario raises the flag and the console highlights the call', async () => {
    const frustrated = loadScenario('frustrated');
    const s = await stackFor(frustrated, { console: true });
    try {
      const page = await openConsole(browser, s.console!.pageUrl);
      const callSid = 'CA' + Date.now().toString(16).padStart(32, 'a');
      const placed = call(s, frustrated, { callSid });
      await page.waitForSelector(`#calls li.flagged[data-call-sid="${callSid}"]`, { timeout: 30_000 });
      await page.click(`#calls li[data-call-sid="${callSid}"]`);
      expect(await page.textContent('#flags')).toContain('frustration');
      await placed;
      await page.close();
    } finally {
      await s.close();
    }
  });
});
