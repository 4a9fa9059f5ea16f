// Drives code-server (started by tests/editors/test_vscode_trace.py) to check "Show Trace": run a
// spell with an agent, a tool and a workflow from its "Run spell" lens, click "Show Trace" in the
// notification the finished run offers, and read the timeline webview: its rows (span labels,
// categories, durations, token counts), the bars' computed colours and where they are, plus
// screenshots of the page and of the timeline. Then close the panel and open it again with the
// command "llmspell: Show Trace".
//
// Input (environment): CS_URL, WORKSPACE, ARTIFACTS, CHROMIUM, STEP_TIMEOUT_MS.
// Output: "ok NAME" / "FAIL NAME: why" lines, then `RESULT {...}` (JSON) and "N passed, N failed".
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const url = process.env.CS_URL;
const workspace = process.env.WORKSPACE;
const artifacts = process.env.ARTIFACTS ?? 'test-artifacts/vscode-trace';
const stepTimeout = Number(process.env.STEP_TIMEOUT_MS ?? 30000);
mkdirSync(artifacts, { recursive: true });

const checks = [];
const out = (s) => process.stdout.write(s + '\n');

async function check(name, fn) {
  const start = Date.now();
  try {
    const detail = await fn();
    checks.push({ name, ok: true, ms: Date.now() - start, detail: detail ?? null });
    out(`ok ${name} (${Date.now() - start} ms)`);
    return true;
  } catch (e) {
    const why = (e && e.message ? e.message : String(e)).split('\n').slice(0, 6).join(' | ');
    checks.push({ name, ok: false, ms: Date.now() - start, detail: why });
    out(`FAIL ${name}: ${why}`);
    return false;
  }
}

async function outputText(page) {
  return page.evaluate(() => [...document.querySelectorAll('.part.panel .monaco-editor .view-lines .view-line')]
    .map((l) => ({ top: parseFloat(l.style.top || '0'), text: l.textContent ?? '' }))
    .sort((a, b) => a.top - b.top).map((l) => l.text.replace(/\u00a0/g, ' ')).join('\n'));
}

async function waitOutput(page, re, timeout = stepTimeout) {
  const deadline = Date.now() + timeout;
  let text = '';
  while (Date.now() < deadline) {
    text = await outputText(page);
    if (re.test(text)) return text;
    await page.waitForTimeout(150);
  }
  throw new Error(`output channel never matched ${re}; it showed:\n${text.slice(-600)}`);
}

async function openFile(page, name, firstLine) {
  await page.keyboard.press('Control+KeyP');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(name);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: name }).first().waitFor();
  await page.keyboard.press('Enter');
  await page.locator('.editor-instance .monaco-editor .view-lines', { hasText: firstLine }).first().waitFor();
}

async function runPalette(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill('>' + title);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().waitFor();
  await page.keyboard.press('Enter');
}

/** The timeline page inside the webview (code-server nests it: iframe.webview > iframe#active-frame). */
function webview(page) {
  return page.frameLocator('iframe.webview').frameLocator('iframe#active-frame');
}

async function readTimeline(page) {
  const view = webview(page);
  await view.locator('.timeline .row').first().waitFor({ timeout: stepTimeout });
  const title = (await view.locator('h1').textContent()) ?? '';
  const summary = (await view.locator('.summary').textContent()) ?? '';
  const rows = await view.locator('.timeline .row').evaluateAll((els) => els.map((el) => {
    const bar = el.querySelector('.bar');
    const r = bar.getBoundingClientRect();
    return {
      label: el.querySelector('.span-label')?.textContent ?? '',
      category: el.dataset.category,
      durationMs: Number(el.dataset.durationMs),
      inputTokens: el.dataset.inputTokens === undefined ? null : Number(el.dataset.inputTokens),
      outputTokens: el.dataset.outputTokens === undefined ? null : Number(el.dataset.outputTokens),
      durationText: el.querySelector('.span-duration')?.textContent ?? '',
      tokensText: el.querySelector('.span-tokens')?.textContent ?? '',
      indent: parseFloat(el.querySelector('.label').style.paddingLeft || '0'),
      barColor: getComputedStyle(bar).backgroundColor,
      bar: { x: r.x, y: r.y, width: r.width, height: r.height },
    };
  }));
  const background = await view.locator('body').evaluate((b) => getComputedStyle(b).backgroundColor);
  return { title, summary, rows, background };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
let timeline = null;
const shots = {};
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(stepTimeout);

  const ready = await check('workbench', async () => {
    await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60000 });
    await page.locator('.explorer-folders-view').waitFor({ timeout: 60000 });
  });
  if (!ready) throw new Error('workbench did not load');

  await check('run-traced-spell', async () => {
    await openFile(page, 'traced.lua', 'Hook.register');
    await page.locator('.editor-instance .codelens-decoration a', { hasText: 'Run spell' }).first().click();
    const text = await waitOutput(page, /Trace: \d+ spans/, 60000);
    return { line: text.split('\n').find((l) => l.startsWith('Trace: ')), success: /✔ success in/.test(text) };
  });

  await check('show-trace-from-notification', async () => {
    const toast = page.locator('.notifications-toasts .notification-list-item', { hasText: 'spans traced' }).first();
    await toast.waitFor();
    await toast.hover();
    await toast.locator('.monaco-button', { hasText: 'Show Trace' }).first().click();
    timeline = await readTimeline(page);
    await page.waitForTimeout(500); // let the webview paint its final layout
    shots.page = join(artifacts, 'trace-webview-page.png');
    await page.screenshot({ path: shots.page });
    shots.timeline = join(artifacts, 'trace-webview.png');
    await webview(page).locator('body').screenshot({ path: shots.timeline });
    const tab = (await page.locator('.tabs-container .tab', { hasText: 'Trace: traced.lua' }).first().textContent()) ?? '';
    return { tab: tab.trim(), rows: timeline.rows.length };
  });

  await check('show-trace-command', async () => {
    // Close the panel, then reopen it from the command palette.
    await page.locator('.tabs-container .tab', { hasText: 'Trace: traced.lua' }).first().click();
    await page.keyboard.press('Control+KeyW');
    await page.locator('.tabs-container .tab', { hasText: 'Trace: traced.lua' }).first().waitFor({ state: 'detached' });
    await openFile(page, 'traced.lua', 'Hook.register');
    await runPalette(page, 'llmspell: Show Trace');
    const again = await readTimeline(page);
    return { rows: again.rows.length, title: again.title };
  });
} finally {
  await browser.close().catch(() => undefined);
}
const passed = checks.filter((c) => c.ok).length;
out('RESULT ' + JSON.stringify({ checks, timeline, shots }));
out(`${passed} passed, ${checks.length - passed} failed`);
process.exit(passed === checks.length ? 0 : 1);
