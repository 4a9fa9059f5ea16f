import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildInitOptions, findOnPath, isServerCommandError, resolveServerCommand } from '../src/settings.ts';

const getter = (values: Record<string, unknown>) => (k: string) => values[k];

test('no settings -> empty options, so llmspell.toml and LLMSPELL_* apply', () => {
  assert.deepEqual(buildInitOptions(getter({})), {});
});

test('settings map to RuntimeConfig keys', () => {
  const opts = buildInitOptions(getter({
    defaultModel: ' openai/gpt-4o-mini ',
    'security.allowedPaths': ['/data', ''],
    'security.networkAllow': ['*.example.com'],
    'security.allowPrivateNetwork': true,
    'security.processAllow': ['git'],
    'limits.wallTimeSeconds': 30,
    'limits.maxMemoryMb': 128.4,
    'limits.instructionBudget': 0,
  }));
  assert.deepEqual(opts, {
    default_model: 'openai/gpt-4o-mini',
    security: { allowed_paths: ['/data'], network_allow: ['*.example.com'], allow_private_network: true, process_allow: ['git'] },
    limits: { wall_time_s: 30, max_memory_mb: 128, instruction_budget: 0 },
  });
});

test('invalid values are dropped, not sent', () => {
  assert.deepEqual(buildInitOptions(getter({ 'limits.wallTimeSeconds': 'x', 'security.networkAllow': 'host', defaultModel: 3 })), {});
});

test('zero wall time / memory mean the server default; a zero instruction budget is sent', () => {
  assert.deepEqual(buildInitOptions(getter({ 'limits.wallTimeSeconds': 0, 'limits.maxMemoryMb': 0, 'limits.instructionBudget': 0 })),
    { limits: { instruction_budget: 0 } });
});

const files = new Set(['/venv/bin/python', '/usr/local/bin/llmspell-ls', '/opt/ls']);
const exists = (p: string) => files.has(p);

test('server.path wins, with extra args', () => {
  const r = resolveServerCommand(getter({ 'server.path': '/opt/ls', 'server.args': ['--log-file', '/tmp/x'] }), { PATH: '' }, exists);
  assert.deepEqual(r, { command: '/opt/ls', args: ['--log-file', '/tmp/x'], description: '/opt/ls' });
});

test('pythonPath runs the module', () => {
  const r = resolveServerCommand(getter({ 'server.pythonPath': '/venv/bin/python' }), { PATH: '' }, exists);
  assert.deepEqual(r, { command: '/venv/bin/python', args: ['-m', 'llmspell_ls'], description: '/venv/bin/python -m llmspell_ls' });
});

test('falls back to llmspell-ls on PATH', () => {
  const r = resolveServerCommand(getter({}), { PATH: '/usr/bin:/usr/local/bin' }, exists, (p) => p);
  assert.ok(!isServerCommandError(r));
  assert.equal(r.command, '/usr/local/bin/llmspell-ls');
  assert.equal(findOnPath('nope', '/usr/local/bin', exists, 'linux'), undefined);
});

test('missing server gives an actionable message', () => {
  const r = resolveServerCommand(getter({}), { PATH: '/usr/bin' }, exists);
  assert.ok(isServerCommandError(r));
  assert.match(r.error, /not found on PATH.*pip install llmspell-ls.*llmspell\.server\.path/);
  const bad = resolveServerCommand(getter({ 'server.path': '/nope/llmspell-ls' }), { PATH: '' }, exists);
  assert.ok(isServerCommandError(bad) && bad.error.includes('/nope/llmspell-ls'));
  const badPy = resolveServerCommand(getter({ 'server.pythonPath': '/nope/python' }), { PATH: '' }, exists);
  assert.ok(isServerCommandError(badPy) && badPy.error.includes('llmspell.server.pythonPath'));
});
