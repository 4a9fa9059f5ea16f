// Helpers shared by the code-server drivers (drive.mjs: language features and runs; debug.mjs: the
// spell debugger): checks with screenshots, the command palette, quick open, the output panel,
// the Settings editor, and the headless Debian Chromium launch. Each driver is its own process, so
// the module-level check list is that driver's.
//
// Input (environment): CS_URL, WORKSPACE, ARTIFACTS, CHROMIUM, STEP_TIMEOUT_MS, USER_SETTINGS.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const url = process.env.CS_URL;
export const workspace = process.env.WORKSPACE;
export const artifacts = process.env.ARTIFACTS ?? 'test-artifacts/vscode';
export const stepTimeout = Number(process.env.STEP_TIMEOUT_MS ?? 30000);
mkdirSync(artifacts, { recursive: true });

export const checks = [];
const t0 = Date.now();
let shot = 0;
export const out = (s) => process.stdout.write(s + '\n');

export async function screenshot(page, name) {
  shot += 1;
  const file = join(artifacts, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file }).catch(() => undefined);
  return file;
}

export async function check(page, name, fn) {
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
export async function outputText(page) {
  return page.evaluate(() => {
    const lines = [...document.querySelectorAll('.part.panel .monaco-editor .view-lines .view-line')];
    return lines
      .map((l) => ({ top: parseFloat(l.style.top || '0'), text: l.textContent ?? '' }))
      .sort((a, b) => a.top - b.top)
      .map((l) => l.text.replace(/\u00a0/g, ' '))
      .join('\n');
  });
}

export async function waitOutput(page, re, timeout = stepTimeout) {
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
export async function waitNewestRun(page, name, re, timeout = stepTimeout) {
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

export async function runPalette(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill('>' + title);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().waitFor();
  await page.keyboard.press('Enter');
}

export async function openFile(page, name, firstLine) {
  await page.keyboard.press('Control+KeyP');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: stepTimeout });
  await input.fill(name);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: name }).first().waitFor({ timeout: stepTimeout });
  await page.keyboard.press('Enter');
  await page.locator('.editor-instance .monaco-editor .view-lines', { hasText: firstLine }).first()
    .waitFor({ timeout: stepTimeout });
}

/** The user settings.json as VS Code saved it ({} when unreadable or mid-write). */
export function savedSettings() {
  try { return JSON.parse(readFileSync(process.env.USER_SETTINGS, 'utf8')); } catch { return {}; }
}

/** Change a setting through the Settings editor, as a user would, and wait until VS Code saved it. */
export async function setSetting(page, id, rowText, value, expected) {
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

/** Headless Debian Chromium (no browser download: playwright-core drives the system one). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** Load the workbench on the test workspace (the first check of every driver). */
export async function openWorkbench(page) {
  await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60000 });
  await page.locator('.explorer-folders-view').waitFor({ timeout: 60000 });
}

/** Print the RESULT line and the closing "N passed, N failed" line; exit 1 on any failure. */
export function finish(extra = {}) {
  const passed = checks.filter((c) => c.ok).length;
  const failed = checks.length - passed;
  out('RESULT ' + JSON.stringify({ checks, ...extra, total_ms: Date.now() - t0 }));
  out(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}
