// Drives the spell debugger in the real VS Code (code-server with the llmspell .vsix installed,
// started by tests/editors/test_vscode.py) like a user: open debug.lua, see the "Debug spell" lens
// beside "Run spell", set a breakpoint by clicking the gutter, click "Debug spell", see the paused
// line (the debug toolbar, the highlighted stopped line, the call stack naming debug.lua and the
// line) and the locals in the Variables view, evaluate an expression in the Debug Console, step over to the next line, continue to the end and
// read the spell's output in the Debug Console; then stop on a hook point (the adapter's "Hook
// points" filter in the Breakpoints view) and see the hook context.
//
// Input (environment): CS_URL, WORKSPACE, ARTIFACTS, CHROMIUM, STEP_TIMEOUT_MS, BREAK_LINE.
// Output: one line per check, `RESULT {...}`, then "N passed, N failed".
import { check, finish, launchBrowser, openFile, openWorkbench, screenshot, stepTimeout } from './lib.mjs';

const breakLine = Number(process.env.BREAK_LINE ?? 4);
const editor = '.editor-instance .monaco-editor';

/** Texts of the rows of a list in the Run and Debug view (call stack, variables, breakpoints). */
async function rows(page, viewClass) {
  return page.locator(`.${viewClass} .monaco-list-row`).allTextContents();
}

async function waitRows(page, viewClass, pred, what, timeout = stepTimeout) {
  const deadline = Date.now() + timeout;
  let last = [];
  while (Date.now() < deadline) {
    last = (await rows(page, viewClass)).map((t) => t.replace(/\u00a0/g, ' ').trim());
    if (pred(last)) return last;
    await page.waitForTimeout(150);
  }
  throw new Error(`${what} never showed; the ${viewClass} rows were: ${JSON.stringify(last).slice(0, 600)}`);
}

/** 1-based line number of the line the debugger shows as stopped (the top stack frame decoration). */
async function stoppedLine(page) {
  return page.evaluate((sel) => {
    const deco = document.querySelector(`${sel} .debug-top-stack-frame-line`)
      ?? document.querySelector(`${sel} .codicon-debug-stackframe`);
    if (!deco) return null;
    const top = parseFloat(deco.parentElement?.style.top || deco.style.top || 'NaN');
    for (const n of document.querySelectorAll(`${sel} .margin-view-overlays .line-numbers`)) {
      const parentTop = parseFloat(n.parentElement?.style.top || 'NaN');
      if (Math.abs(parentTop - top) < 2) return Number(n.textContent);
    }
    return -1;
  }, editor);
}

async function waitStoppedAt(page, line) {
  const deadline = Date.now() + stepTimeout;
  let last = null;
  while (Date.now() < deadline) {
    last = await stoppedLine(page);
    if (last === line) return;
    await page.waitForTimeout(150);
  }
  throw new Error(`the editor never showed the stopped line ${line} (last seen: ${last})`);
}

/** Click the glyph margin (left of the line number) of `line`, as a user sets a breakpoint. */
async function clickGutter(page, line) {
  const number = page.locator(`${editor} .margin-view-overlays .line-numbers`, { hasText: new RegExp(`^\\s*${line}\\s*$`) }).first();
  await number.waitFor();
  const box = await number.boundingBox();
  const margin = await page.locator(`${editor} .margin`).first().boundingBox();
  if (!box || !margin) throw new Error('no layout for the editor gutter');
  await page.mouse.move(margin.x + 8, box.y + box.height / 2);
  await page.waitForTimeout(200); // the hover shows the faded breakpoint hint first
  await page.mouse.click(margin.x + 8, box.y + box.height / 2);
}

const browser = await launchBrowser();
let consoleText = '';
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(stepTimeout);

  const ready = await check(page, 'workbench', () => openWorkbench(page));
  if (!ready) throw new Error('workbench did not load');

  await check(page, 'open-debug-spell', () => openFile(page, 'debug.lua', 'local function add'));

  await check(page, 'debug-lens', async () => {
    await page.locator('.editor-instance .codelens-decoration', { hasText: 'Run spell' }).first().waitFor();
    await page.locator('.editor-instance .codelens-decoration', { hasText: 'Debug spell' }).first().waitFor();
  });

  await check(page, 'breakpoint-in-gutter', async () => {
    await clickGutter(page, breakLine);
    const glyph = page.locator(`${editor} .codicon-debug-breakpoint`).first();
    await glyph.waitFor({ timeout: 10000 });
    return { line: breakLine };
  });

  const paused = await check(page, 'debug-lens-pauses-at-breakpoint', async () => {
    await page.locator('.editor-instance .codelens-decoration a', { hasText: 'Debug spell' }).first().click();
    await page.locator('.debug-toolbar').first().waitFor();
    await waitStoppedAt(page, breakLine);
    const stack = await waitRows(page, 'debug-call-stack',
      (r) => r.some((t) => t.includes('debug.lua') && t.includes(`${breakLine}:`)), `a call-stack frame debug.lua:${breakLine}`);
    return { stack: stack.slice(0, 4) };
  });

  if (paused) {
    await check(page, 'variables-view', async () => {
      const want = (r) => r.some((t) => /^sum\s*[:=]\s*42$/.test(t)) && r.some((t) => /^a\s*[:=]\s*41$/.test(t));
      let expandedBy = 'VS Code';
      const locals = page.locator('.debug-variables .monaco-list-row', { hasText: /^\s*Locals\s*$/ }).first();
      await locals.waitFor();
      if (!want(await waitRows(page, 'debug-variables', want, 'locals', 3000).catch(() => []))) {
        // VS Code left the scope collapsed: open it as a user would.
        if ((await locals.getAttribute('aria-expanded')) !== 'true') await locals.click();
        expandedBy = 'click';
      }
      const vars = await waitRows(page, 'debug-variables', want, 'the locals sum = 42 and a = 41 in the Variables view');
      return { variables: vars.slice(0, 10), expandedBy };
    });

    await check(page, 'evaluate-in-debug-console', async () => {
      // The Debug Console evaluates in the paused frame (the adapter's evaluate, context "repl").
      const panelOpen = await page.locator('.repl-input-wrapper').first().isVisible().catch(() => false);
      if (!panelOpen) await page.keyboard.press('Control+Shift+KeyY'); // View: Debug Console
      const input = page.locator('.repl-input-wrapper .monaco-editor').first();
      await input.waitFor();
      await input.click();
      await page.keyboard.type('a * 2 + b', { delay: 20 });
      await page.keyboard.press('Enter');
      const answer = page.locator('.repl .monaco-list-row', { hasText: /^\s*83\s*$/ }).first();
      await answer.waitFor();
      return { rows: (await page.locator('.repl .monaco-list-row').allTextContents()).slice(-3) };
    });

    await check(page, 'step-over', async () => {
      await page.keyboard.press('F10');
      await waitStoppedAt(page, breakLine + 1);
      const vars = await waitRows(page, 'debug-variables', (r) => r.some((t) => t.includes('label') && t.includes('sum of 41 and 1')),
        'the local label after the step');
      return { variables: vars.slice(0, 10) };
    });

    await check(page, 'continue-to-end', async () => {
      await page.locator('.debug-toolbar .action-item .codicon-debug-continue').first().click();
      await page.locator('.debug-toolbar').first().waitFor({ state: 'hidden' });
      // The spell's print arrives as a DAP output event in the Debug Console.
      const repl = page.locator('.repl .monaco-list-row', { hasText: 'total is 42' }).first();
      try {
        await repl.waitFor({ timeout: 5000 });
      } catch {
        await page.keyboard.press('Control+Shift+KeyY'); // View: Debug Console
        await repl.waitFor();
      }
      consoleText = (await page.locator('.repl .monaco-list-row').allTextContents()).join('\n');
      if (await stoppedLine(page) !== null) throw new Error('the stopped-line decoration is still shown after the end');
      await screenshot(page, 'debug-console');
      return { console: consoleText.slice(-400) };
    });

    await check(page, 'stop-on-hook-point', async () => {
      // Runtime-aware stops: tick the adapter's "Hook points" filter in the Breakpoints view and
      // debug spell.lua (it registers a BeforeAgentExecution hook and runs an agent).
      const t = Date.now();
      const times = {};
      const row = page.locator('.debug-breakpoints .monaco-list-row', { hasText: 'Hook points' }).first();
      await row.waitFor();
      // VS Code draws its own checkbox (role=checkbox, aria-checked), not an <input>.
      const box = row.locator('[role=checkbox], input[type=checkbox]').first();
      if ((await box.getAttribute('aria-checked')) !== 'true') await box.click();
      await page.waitForFunction((el) => el?.getAttribute('aria-checked') === 'true', await box.elementHandle(), { timeout: 5000 });
      times.filter = Date.now() - t;
      await openFile(page, 'spell.lua', 'Agent');
      await page.locator('.editor-instance .codelens-decoration a', { hasText: 'Debug spell' }).first().click();
      await page.locator('.debug-toolbar').first().waitFor();
      times.started = Date.now() - t;
      const stack = await waitRows(page, 'debug-call-stack', (r) => r.some((t) => t.includes('spell.lua')),
        'a call-stack frame in spell.lua');
      const vars = await waitRows(page, 'debug-variables', (r) => r.some((t) => t.startsWith('Hook context')),
        'the Hook context scope in the Variables view');
      times.paused = Date.now() - t;
      await page.locator('.debug-toolbar .action-item .codicon-debug-stop').first().click();
      await page.locator('.debug-toolbar').first().waitFor({ state: 'hidden' });
      times.stopped = Date.now() - t;
      await box.click(); // leave the filter off
      return { stack: stack.slice(0, 3), variables: vars.slice(0, 8), times };
    });
  }
} finally {
  await browser.close().catch(() => undefined);
}

finish({ console: consoleText });
