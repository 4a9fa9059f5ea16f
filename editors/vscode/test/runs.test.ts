import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunRegistry } from '../src/runs.ts';

test('runs are created by whichever message comes first and finish once', () => {
  let t = 0;
  const r = new RunRegistry(() => ++t);
  r.touch('a', { uri: 'file:///x.lua', name: 'x.lua' });
  r.touch('a', { uri: undefined });
  assert.equal(r.get('a')?.uri, 'file:///x.lua');
  r.touch('b', { uri: 'file:///y.lua' });
  assert.deepEqual(r.active().map((x) => x.runId), ['b', 'a']);
  r.finish('b', 'success');
  assert.deepEqual(r.active().map((x) => x.runId), ['a']);
  assert.equal(r.get('b')?.status, 'success');
});

test('cancel target prefers the active document, then the newest run', () => {
  const r = new RunRegistry();
  r.touch('a', { uri: 'u1' });
  r.touch('b', { uri: 'u2' });
  assert.equal(r.cancelTarget('u1')?.runId, 'a');
  assert.equal(r.cancelTarget('u3')?.runId, 'b');
  assert.equal(r.cancelTarget()?.runId, 'b');
  r.finish('a', 'cancelled'); r.finish('b', 'success');
  assert.equal(r.cancelTarget('u1'), undefined);
});

test('old finished runs are forgotten, active ones kept', () => {
  const r = new RunRegistry(Date.now, 3);
  r.touch('live');
  for (const id of ['f1', 'f2', 'f3', 'f4']) { r.touch(id); r.finish(id, 'success'); }
  assert.ok(r.get('live'));
  assert.equal(r.get('f1'), undefined);
  assert.ok(r.get('f4'));
});
