// Drives the real VS Code (code-server, already started by tests/editors/test_vscode.py with the
// llmspell .vsix installed) in headless Debian Chromium via playwright-core, like a user would:
// open a spell, see the "Run spell" lens and a squiggle, complete `Agent.` from the suggest
// widget, click "Run spell", read the "llmspell Run" output channel until the final status, then
// start a never-ending spell and stop it with the Cancel button of its progress notification.
//
// Input (environment): CS_URL, WORKSPACE, ARTIFACTS, CHROMIUM, STEP_TIMEOUT_MS.
// Output: one line per check ("ok NAME (ms)" / "FAIL NAME: why"), then a JSON line
// `RESULT {...}` with the checks and the output-channel text, then "N passed, N failed".
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const url = process.env.CS_URL;
const workspace = process.env.WORKSPACE;
const artifacts = process.env.ARTIFACTS ?? 'test-artifacts/vscode';
const stepTimeout = Number(process.env.STEP_TIMEOUT_MS ?? 30000);
mkdirSync(artifacts, { recursive: true });

const checks = [];
const t0 = Date.now();
let shot = 0;
const out = (s) => process.stdout.write(s + '\n');

async function screenshot(page, name) {
  shot += 1;
  const file = join(artifacts, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file }).catch(() => undefined);
  return file;
}

async function check(page, name, fn) {
  const start = Date.now();
  try {
    const detail = await fn();
    const ms = Date.now() - start;
    checks.push({ name, ok: true, ms, detail: detail ?? null, screenshot: await screenshot(page, name) });
    out(`ok ${name} (${ms} ms)`);
    return true;
  } catch (e) {
    const ms = Date.now() - start;
    const why = (e && e.message ? e.message : String(e)).split('\n').slice(0, 4).join(' | ');
    checks.push({ name, ok: false, ms, detail: why, screenshot: await screenshot(page, 'FAIL-' + name) });
    out(`FAIL ${name}: ${why}`);
    return false;
  }
}

/** Text of the output panel's editor (the visible lines, joined). */
async function outputText(page) {
  return page.evaluate(() => {
    const lines = [...document.querySelectorAll('.part.panel .monaco-editor .view-lines .view-line')];
    return lines
      .map((l) => ({ top: parseFloat(l.style.top || '0'), text: l.textContent ?? '' }))
      .sort((a, b) => a.top - b.top)
      .map((l) => l.text.replace(/\u00a0/g, ' '))
      .join('\n');
  });
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

/** Wait until the newest run in the output channel (after its last header) matches `re`. */
async function waitNewestRun(page, name, re, timeout = stepTimeout) {
  const deadline = Date.now() + timeout;
  let tail = '';
  while (Date.now() < deadline) {
    const text = await outputText(page);
    const at = text.lastIndexOf('── run ');
    tail = at >= 0 ? text.slice(at) : '';
    if (tail.includes(`: ${name}`) && re.test(tail)) return tail;
    await page.waitForTimeout(150);
  }
  throw new Error(`the newest ${name} run never matched ${re}; it showed:\n${tail.slice(-600)}`);
}

async function runPalette(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill('>' + title);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().waitFor();
  await page.keyboard.press('Enter');
}

async function openFile(page, name, firstLine) {
  await page.keyboard.press('Control+KeyP');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: stepTimeout });
  await input.fill(name);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: name }).first().waitFor({ timeout: stepTimeout });
  await page.keyboard.press('Enter');
  await page.locator('.editor-instance .monaco-editor .view-lines', { hasText: firstLine }).first()
    .waitFor({ timeout: stepTimeout });
}

async function runFromPalette(page) {
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
  await runPalette(page, 'llmspell: Run Spell');
}

/** The user settings.json as VS Code saved it ({} when unreadable or mid-write). */
function savedSettings() {
  try { return JSON.parse(readFileSync(process.env.USER_SETTINGS, 'utf8')); } catch { return {}; }
}

/** Change a setting through the Settings editor, as a user would, and wait until VS Code saved it. */
async function setSetting(page, id, rowText, value, expected) {
  await page.keyboard.press('Control+Comma');
  await page.locator('.settings-editor').waitFor();
  await page.waitForTimeout(300);
  await page.locator('.settings-editor .settings-header .monaco-editor').first().click();
  await page.keyboard.press('Control+A');
  await page.keyboard.type(id, { delay: 10 });
  const row = page.locator('.settings-editor .setting-item', { hasText: rowText }).first();
  await row.waitFor();
  const input = row.locator('input').first();
  await input.click();
  await input.press('Control+A');
  await input.pressSequentially(value, { delay: 20 });
  const deadline = Date.now() + 10000;
  while (savedSettings()[id] !== expected) {
    if (Date.now() > deadline) throw new Error(`the Settings editor did not save ${id} = ${JSON.stringify(expected)}`);
    await page.waitForTimeout(100);
  }
  // VS Code 1.139 shows Settings as a modal: close it to get back to the editor.
  for (let i = 0; i < 3 && await page.locator('.settings-editor').isVisible(); i++) {
    await page.keyboard.press('Escape');
    await page.waitForTimeout(200);
  }
  await page.locator('.settings-editor').waitFor({ state: 'hidden', timeout: 5000 });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
let outputAtEnd = '';
let cancelOutput = '';
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(stepTimeout);

  const ready = await check(page, 'workbench', async () => {
    await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60000 });
    await page.locator('.explorer-folders-view').waitFor({ timeout: 60000 });
  });
  if (!ready) throw new Error('workbench did not load');

  await check(page, 'open-spell', () => openFile(page, 'spell.lua', 'Agent'));

  await check(page, 'code-lens', async () => {
    await page.locator('.editor-instance .codelens-decoration', { hasText: 'Run spell' }).first().waitFor();
  });

  await check(page, 'diagnostic', async () => {
    const squiggle = page.locator('.editor-instance .monaco-editor .squiggly-error, .editor-instance .monaco-editor .squiggly-warning').first();
    await squiggle.waitFor();
    const label = await page.locator('#status\\.problems').getAttribute('aria-label').catch(() => null);
    // Hover the squiggle to show the diagnostic message itself.
    await squiggle.hover({ force: true });
    const hover = page.locator('.monaco-hover', { hasText: /bulder|unknown/i }).first();
    await hover.waitFor({ timeout: 10000 });
    const message = (await hover.textContent()) ?? '';
    await page.keyboard.press('Escape');
    return { problems: label, hover: message.slice(0, 200) };
  });

  const completed = await check(page, 'completion', async () => {
    // Last line is empty: type a member access and let the '.' trigger the suggest widget.
    await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('local b = Agent.', { delay: 30 });
    const widget = page.locator('.editor-widget.suggest-widget');
    const row = widget.locator('.monaco-list-row', { hasText: 'builder' }).first();
    try {
      await row.waitFor({ timeout: 8000 });
    } catch {
      await page.keyboard.press('Control+Space');
      await row.waitFor();
    }
    const items = await widget.locator('.monaco-list-row .label-name').allTextContents();
    await screenshot(page, 'completion-popup');
    // Accept "builder" from the pop-up.
    await page.keyboard.type('bui', { delay: 30 });
    await widget.locator('.monaco-list-row.focused', { hasText: 'builder' }).waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.editor-instance .view-lines', { hasText: 'Agent.builder' }).first().waitFor();
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+KeyS');
    return { items: items.slice(0, 12) };
  });
  if (!completed) {
    // Leave a runnable spell for the next checks: drop the half-typed last line and save.
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+End');
    await page.keyboard.press('Shift+Home');
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Control+KeyS');
  }

  await check(page, 'run-lens-output', async () => {
    await page.locator('.editor-instance .codelens-decoration a', { hasText: 'Run spell' }).first().click();
    const text = await waitOutput(page, /(success|error) in .*tokens .*cost/);
    outputAtEnd = text;
    // The panel only renders the lines in view; test_vscode.py checks the channel's full text.
    if (!/✔ success in/.test(text)) throw new Error('the run did not succeed:\n' + text);
    const status = await page.locator('.statusbar-item', { hasText: /llmspell: success/ }).first().textContent({ timeout: 5000 });
    return { status };
  });

  await check(page, 'cancel-long-run', async () => {
    await openFile(page, 'long.lua', 'while true do');
    // This time through the command palette: "llmspell: Run Spell".
    await runFromPalette(page);
    await waitOutput(page, /── run \S+: long\.lua/);
    const running = page.locator('.statusbar-item', { hasText: 'llmspell: running long.lua' }).first();
    await running.waitFor();
    const toast = page.locator('.notifications-toasts .notification-list-item', { hasText: /llmspell|long\.lua|spell/i }).first();
    await toast.waitFor();
    await screenshot(page, 'progress-notification');
    await toast.hover();
    await toast.locator('.monaco-button', { hasText: 'Cancel' }).first().click();
    cancelOutput = await waitOutput(page, /■ cancelled in/, 15000);
    const status = await page.locator('.statusbar-item', { hasText: /llmspell: cancelled/ }).first().textContent({ timeout: 5000 });
    return { status, toast: 'cancel clicked in the progress notification' };
  });

  await check(page, 'palette-cancel-and-show-output', async () => {
    // "llmspell: Run Spell" then "llmspell: Cancel Run" from the command palette.
    await runFromPalette(page);
    await waitNewestRun(page, 'long.lua', /spinning/);
    await page.locator('.statusbar-item', { hasText: 'llmspell: running long.lua' }).first().waitFor();
    await runPalette(page, 'llmspell: Cancel Run');
    const tail = await waitNewestRun(page, 'long.lua', /■ cancelled in/, 15000);
    // "llmspell: Show Run Output" brings the channel back after the panel is closed.
    await page.keyboard.press('Control+KeyJ');
    await page.locator('.part.panel').waitFor({ state: 'hidden' });
    await runPalette(page, 'llmspell: Show Run Output');
    await page.locator('.part.panel').waitFor({ state: 'visible' });
    await waitNewestRun(page, 'long.lua', /■ cancelled in/);
    return { tail: tail.split('\n').filter((l) => l.startsWith('■')).pop() };
  });

  await check(page, 'settings-reach-server', async () => {
    // llmspell.limits.wallTimeSeconds -> initializationOptions.limits.wall_time_s: a 0.5 s limit
    // must stop the never-ending spell with status "timeout".
    await setSetting(page, 'llmspell.limits.wallTimeSeconds', 'Wall-time limit', '0.5', 0.5);
    await page.waitForTimeout(1500); // the extension restarts the server on the change
    await openFile(page, 'long.lua', 'while true do');
    await runFromPalette(page);
    const text = await waitOutput(page, /✖ timeout in/, 20000);
    return { tail: text.split('\n').filter((l) => l.startsWith('✖')).pop() };
  });

  await check(page, 'missing-server-message', async () => {
    // Point the extension at a server that does not exist: it restarts the client and must say
    // what to fix.
    await setSetting(page, 'llmspell.server.path', 'llmspell-ls executable', '/nonexistent/llmspell-ls',
      '/nonexistent/llmspell-ls');
    const toast = page.locator('.notifications-toasts .notification-list-item',
      { hasText: 'was not found at "/nonexistent/llmspell-ls"' }).first();
    await toast.waitFor();
    await page.locator('.statusbar-item', { hasText: 'llmspell-ls missing' }).first().waitFor();
    return { message: ((await toast.locator('.notification-list-item-message').textContent()) ?? '').slice(0, 300) };
  });
} finally {
  await browser.close().catch(() => undefined);
}

const passed = checks.filter((c) => c.ok).length;
const failed = checks.length - passed;
out('RESULT ' + JSON.stringify({ checks, output: outputAtEnd, cancelOutput, total_ms: Date.now() - t0 }));
out(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
