import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completeLaunchConfig, isLaunchError, launchConfigFor, resolveDapCommand } from '../src/debugconfig.ts';
import { isServerCommandError } from '../src/settings.ts';

const getter = (values: Record<string, unknown>) => (k: string) => values[k];
const files = (...paths: string[]) => (p: string) => paths.includes(p);

test('the adapter is the server executable with --dap; server.args stay with the language server', () => {
  const r = resolveDapCommand(getter({ 'server.path': '/opt/bin/llmspell-ls', 'server.args': ['--log-file', '/tmp/x'] }),
    {}, files('/opt/bin/llmspell-ls'));
  assert.deepEqual(r, { command: '/opt/bin/llmspell-ls', args: ['--dap'], description: '/opt/bin/llmspell-ls --dap' });
});

test('with a Python interpreter the adapter is python -m llmspell_ls --dap', () => {
  const r = resolveDapCommand(getter({ 'server.pythonPath': '/venv/bin/python' }), {}, files('/venv/bin/python'));
  assert.ok(!isServerCommandError(r));
  assert.deepEqual([r.command, ...r.args], ['/venv/bin/python', '-m', 'llmspell_ls', '--dap']);
});

test('on PATH, and a clear error when nothing is found', () => {
  const ok = resolveDapCommand(getter({}), { PATH: '/a:/b' }, files('/b/llmspell-ls'));
  assert.ok(!isServerCommandError(ok));
  assert.deepEqual([ok.command, ...ok.args], ['/b/llmspell-ls', '--dap']);
  const missing = resolveDapCommand(getter({ 'server.path': '/nope/llmspell-ls' }), {}, files());
  assert.ok(isServerCommandError(missing));
  assert.match(missing.error, /not found at "\/nope\/llmspell-ls".*llmspell\.server\.path/);
});

test('the lens launches the spell with the workspace as cwd', () => {
  assert.deepEqual(launchConfigFor('/w/spells/a.lua', '/w'),
    { type: 'llmspell', request: 'launch', name: 'Debug a.lua', program: '/w/spells/a.lua', cwd: '/w', workspace: '/w' });
});

test('F5 without launch.json debugs the active Lua spell', () => {
  const r = completeLaunchConfig({}, { path: '/w/s.lua', languageId: 'lua' }, '/w');
  assert.deepEqual(r, { type: 'llmspell', request: 'launch', name: 'Debug s.lua', program: '/w/s.lua', cwd: '/w', workspace: '/w' });
  const none = completeLaunchConfig({}, { path: '/w/notes.md', languageId: 'markdown' }, '/w');
  assert.ok(isLaunchError(none));
  assert.match(none.error, /open a Lua spell/);
});

test('a launch.json configuration keeps its values; a missing program is the active spell', () => {
  const r = completeLaunchConfig({ type: 'llmspell', request: 'launch', name: 'mine', args: ['x'], stopOnEntry: true, cwd: '/c' },
    { path: '/w/s.lua', languageId: 'lua' }, '/w');
  assert.deepEqual(r, { type: 'llmspell', request: 'launch', name: 'mine', program: '/w/s.lua', args: ['x'], stopOnEntry: true, cwd: '/c' });
});

test('wrong attribute types are named, not passed to the adapter', () => {
  const base = { type: 'llmspell', request: 'launch', name: 'n', program: '/w/s.lua' };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ args: 'a b' }, /"args" must be a list of strings/],
    [{ stopOnEntry: 'yes' }, /"stopOnEntry" must be true or false/],
    [{ noDebug: 1 }, /"noDebug" must be true or false/],
    [{ model: ['a'] }, /"model" must be a string/],
    [{ cwd: 3 }, /"cwd" must be a directory path/],
    [{ program: 5 }, /"program" must be the path/],
    [{ request: 'attach' }, /request "attach" is not supported/],
  ];
  for (const [extra, re] of cases) {
    const r = completeLaunchConfig({ ...base, ...extra } as never, undefined, '/w');
    assert.ok(isLaunchError(r), JSON.stringify(extra));
    assert.match(r.error, re);
  }
});
