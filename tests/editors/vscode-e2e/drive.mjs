// Drives the real VS Code (code-server, already started by tests/editors/test_vscode.py with the
// llmspell .vsix installed) in headless Debian Chromium via playwright-core, like a user would:
// open a spell, see the "Run spell" lens and a squiggle, complete `Agent.` from the suggest
// widget, click "Run spell", read the "llmspell Run" output channel until the final status, then
// start a never-ending spell and stop it with the Cancel button of its progress notification.
//
// Input (environment): CS_URL, WORKSPACE, ARTIFACTS, CHROMIUM, STEP_TIMEOUT_MS.
// Output: one line per check ("ok NAME (ms)" / "FAIL NAME: why"), then a JSON line
// `RESULT {...}` with the checks and the output-channel text, then "N passed, N failed".
import {
  check, finish, launchBrowser, openFile, openWorkbench, runPalette, screenshot, setSetting,
  stepTimeout, waitNewestRun, waitOutput,
} from './lib.mjs';

async function runFromPalette(page) {
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
  await runPalette(page, 'llmspell: Run Spell');
}

const browser = await launchBrowser();
let outputAtEnd = '';
let cancelOutput = '';
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(stepTimeout);

  const ready = await check(page, 'workbench', () => openWorkbench(page));
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

finish({ output: outputAtEnd, cancelOutput });
