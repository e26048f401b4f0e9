// Browser-test helpers: headless Debian chromium through playwright-core, and a recorder of when each console line first appeared.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium (`apt-get install chromium`), or CHROMIUM_PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` or set CHROMIUM_PATH`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** A line of the console's transcript and when (Date.now() in the page, same clock as the test) it first showed. */
export interface SeenLine {
  turn: number;
  who: string;
  text: string;
  at: number;
}

/** Opens the console and records every transcript line the first time it is rendered. */
export async function openConsole(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
  // Runs in the page (a string: the test's tsconfig has no DOM types).
  await page.addInitScript({
    content: `
      window.__seen = [];
      const keys = new Set();
      new MutationObserver(() => {
        for (const li of document.querySelectorAll('#transcript li')) {
          const key = (document.getElementById('call')?.dataset.callSid ?? '') + '/' + li.dataset.turn;
          if (keys.has(key)) continue;
          keys.add(key);
          window.__seen.push({ turn: Number(li.dataset.turn), who: li.classList.contains('caller') ? 'caller' : 'agent', text: li.textContent ?? '', at: Date.now() });
        }
      }).observe(document, { childList: true, subtree: true });`,
  });
  await page.goto(url);
  await page.waitForSelector('#status[data-state="open"]');
  return page;
}

export function seenLines(page: Page): Promise<SeenLine[]> {
  return page.evaluate('window.__seen') as Promise<SeenLine[]>;
}

/** Waits until the console shows at least `n` transcript lines (of `who`, when given). */
export async function waitForLines(page: Page, n: number, who?: 'caller' | 'agent', timeout = 30_000): Promise<void> {
  await page.waitForFunction(`document.querySelectorAll('#transcript li${who ? `.${who}` : ''}').length >= ${n}`, undefined, { timeout });
}
