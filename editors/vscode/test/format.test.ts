import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compact, formatCost, formatDuration, formatEvent, formatFinished, formatHookResult, formatOutput,
  formatStarted, formatUsage, runIdOf, statusText, basename,
} from '../src/format.ts';

test('runIdOf accepts runId and run_id', () => {
  assert.equal(runIdOf({ runId: 'a1' }), 'a1');
  assert.equal(runIdOf({ run_id: 'b2' }), 'b2');
  assert.equal(runIdOf(undefined), '');
});

test('durations read naturally at each scale', () => {
  assert.equal(formatDuration(12.4), '12 ms');
  assert.equal(formatDuration(1234), '1.23 s');
  assert.equal(formatDuration(125_000), '2 min 5 s');
  assert.equal(formatDuration(undefined), '?');
});

test('costs keep sub-cent precision', () => {
  assert.equal(formatCost(0), '$0');
  assert.equal(formatCost(0.000012), '$0.000012');
  assert.equal(formatCost(1.5), '$1.5000');
  assert.equal(formatCost(null), '$0');
});

test('basename handles uris and percent-encoding', () => {
  assert.equal(basename('file:///tmp/my%20spell.lua'), 'my spell.lua');
  assert.equal(basename('/a/b/c.js'), 'c.js');
  assert.equal(basename(undefined), 'spell');
});

test('started line names the run and file', () => {
  const line = formatStarted({ runId: 'r1', uri: 'file:///w/spell.lua', language: 'lua' }, new Date(2026, 0, 1, 9, 5, 7));
  assert.equal(line, '── run r1: spell.lua (lua) started 09:05:07 ──');
});

test('stdout passes through; every stderr line is marked', () => {
  assert.equal(formatOutput({ stream: 'stdout', text: 'hi\n' }), 'hi\n');
  assert.equal(formatOutput({ stream: 'stderr', text: 'a\nb\n' }), '[stderr] a\n[stderr] b\n');
});

test('events show sequence, type and compact data', () => {
  assert.equal(formatEvent({ event_type: 'agent.created', sequence: 3, data: { name: 'w' } }), '[event] #3 agent.created {"name":"w"}');
  assert.equal(formatEvent({ event_type: 'x' }), '[event] x');
  assert.ok(compact('y'.repeat(500)).endsWith('…'));
  assert.equal(compact('y'.repeat(500)).length, 200);
});

test('hook results show point, hook, result and reason', () => {
  assert.equal(formatHookResult({ point: 'BeforeAgentExecution', hook: 'audit', result: 'continue' }), '[hook] BeforeAgentExecution audit → continue');
  assert.equal(formatHookResult({ point: 'BeforeToolExecution', hook: 'guard', result: 'cancel', reason: 'blocked', component: 'calculator' }),
    '[hook] BeforeToolExecution guard on calculator → cancel (blocked)');
});

test('usage prefers top-level cost and totals tokens', () => {
  assert.equal(formatUsage({ prompt_tokens: 10, completion_tokens: 5 }, 0.000012), 'tokens 15 (10 prompt + 5 completion) · cost $0.000012');
  assert.equal(formatUsage(null), 'tokens 0 (0 prompt + 0 completion) · cost $0');
  assert.equal(formatUsage({ total_tokens: 7, cost_usd: 0.5 }), 'tokens 7 (0 prompt + 0 completion) · cost $0.5000');
});

test('finished: success with result, error with file:line', () => {
  assert.deepEqual(formatFinished({ status: 'success', duration_ms: 1500, result: { ok: true },
    usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }, cost_usd: 0 }), [
    '✔ success in 1.50 s · tokens 3 (1 prompt + 2 completion) · cost $0',
    'result: {"ok":true}',
  ]);
  assert.deepEqual(formatFinished({ status: 'error', duration_ms: 5, error: { message: 'boom', file: '/w/s.lua', line: 4 } }), [
    '✖ error in 5 ms · tokens 0 (0 prompt + 0 completion) · cost $0',
    'error at s.lua:4: boom',
  ]);
  assert.equal(formatFinished({ status: 'error', error: { message: 's.lua:3: boom', file: '/w/s.lua', line: 3 } })[1],
    'error at s.lua:3: boom');
  assert.equal(formatFinished({ status: 'cancelled', duration_ms: 10 })[0].startsWith('■ cancelled'), true);
  assert.equal(statusText({ status: 'timeout', duration_ms: 2000 }), 'llmspell: timeout 2.00 s');
});
