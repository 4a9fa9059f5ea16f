import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTimeline, categoryOf, formatMs, renderTraceHtml, tokensText, type OtlpSpan } from '../src/traceModel.ts';
import { RunRegistry } from '../src/runs.ts';

const T0 = 1_796_000_000_000_000_000n;
function span(id: string, name: string, parent: string | undefined, startMs: number, endMs: number,
  attrs: Record<string, string | number> = {}, extra: Partial<OtlpSpan> = {}): OtlpSpan {
  return {
    traceId: 'a'.repeat(32), spanId: id, ...(parent ? { parentSpanId: parent } : {}), name,
    startTimeUnixNano: String(T0 + BigInt(Math.round(startMs * 1e6))), endTimeUnixNano: String(T0 + BigInt(Math.round(endMs * 1e6))),
    attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: typeof v === 'number' ? { intValue: String(v) } : { stringValue: v } })),
    ...extra,
  };
}

const trace = {
  resourceSpans: [{ scopeSpans: [{ spans: [
    span('0000000000000003', 'execute_tool calculator', '0000000000000002', 3, 4, { 'gen_ai.operation.name': 'execute_tool' }, {
      events: [{ timeUnixNano: String(T0 + 3_100_000n), name: 'hook BeforeToolExecution',
        attributes: [{ key: 'llmspell.hook.name', value: { stringValue: 'spell.lua:2' } }, { key: 'llmspell.hook.result', value: { stringValue: 'continue' } }] }],
    }),
    span('0000000000000001', 'run spell.lua', undefined, 0, 100, { 'llmspell.run.status': 'success' }),
    span('0000000000000002', 'invoke_agent helper', '0000000000000001', 1, 10, { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.usage.input_tokens': 84, 'gen_ai.usage.output_tokens': 29 }),
    span('0000000000000004', 'chat scripted', '0000000000000002', 1.5, 2.5, { 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': 19, 'gen_ai.usage.output_tokens': 12 }),
    span('0000000000000005', 'invoke_workflow wf', '0000000000000001', 20, 60, { 'gen_ai.operation.name': 'invoke_workflow' }),
    span('0000000000000006', 'step hash', '0000000000000005', 21, 59, { 'llmspell.workflow.step.name': 'hash' },
      { status: { code: 2, message: 'tool failed <badly>' } }),
  ] }] }],
};

test('rows follow the call tree, children by start time', () => {
  const tl = buildTimeline(trace);
  assert.deepEqual(tl.rows.map((r) => [r.name, r.depth, r.category]), [
    ['run spell.lua', 0, 'run'], ['invoke_agent helper', 1, 'agent'], ['chat scripted', 2, 'llm'],
    ['execute_tool calculator', 2, 'tool'], ['invoke_workflow wf', 1, 'workflow'], ['step hash', 2, 'step'],
  ]);
  assert.equal(tl.totalMs, 100);
  assert.equal(tl.rows[3].startMs, 3);
  assert.equal(tl.rows[3].durationMs, 1);
  assert.deepEqual([tl.llmCalls, tl.toolCalls, tl.inputTokens, tl.outputTokens, tl.errors], [1, 1, 19, 12, 1]);
  assert.equal(tl.rows[1].inputTokens, 84);
  assert.equal(tl.rows[3].markers[0].detail, 'spell.lua:2 → continue');
  assert.equal(tl.rows[5].error, 'tool failed <badly>');
});

test('categories come from the GenAI operation name', () => {
  assert.equal(categoryOf('x', { 'gen_ai.operation.name': 'chat' }, false), 'llm');
  assert.equal(categoryOf('step a', {}, false), 'step');
  assert.equal(categoryOf('whatever', {}, true), 'run');
  assert.equal(categoryOf('whatever', {}, false), 'other');
});

test('durations and tokens read naturally', () => {
  assert.equal(formatMs(0.5), '0.50 ms');
  assert.equal(formatMs(12.34), '12.3 ms');
  assert.equal(formatMs(1500), '1.50 s');
  assert.equal(tokensText({ inputTokens: 84, outputTokens: 29 }), '84 in / 29 out tokens');
  assert.equal(tokensText({}), '');
});

test('the page is static, escaped and carries the numbers', () => {
  const html = renderTraceHtml(buildTimeline(trace), { title: 'spell<1>.lua', cspSource: 'vscode-webview:', status: 'success' });
  assert.match(html, /script-src 'none'/);
  assert.doesNotMatch(html, /<script/);
  assert.match(html, /Trace: spell&lt;1&gt;\.lua/);
  assert.match(html, /tool failed &lt;badly&gt;/);
  assert.match(html, /data-category="llm" data-duration-ms="1\.000" data-input-tokens="19" data-output-tokens="12"/);
  assert.match(html, /<span class="span-tokens">84 in \/ 29 out tokens<\/span>/);
  assert.match(html, /var\(--vscode-charts-blue, #3794ff\)/);
  assert.equal((html.match(/class="row/g) ?? []).length, 6);
});

test('malformed input gives an empty timeline, not an exception', () => {
  assert.deepEqual(buildTimeline(undefined).rows, []);
  assert.deepEqual(buildTimeline({ resourceSpans: [{}] }).rows, []);
});

test('Show Trace picks the newest traced run, preferring the active document', () => {
  let now = 0;
  const reg = new RunRegistry(() => ++now);
  reg.touch('a', { uri: 'file:///a.lua', traceSpans: 3 });
  reg.finish('a', 'success');
  reg.touch('b', { uri: 'file:///b.lua', traceSpans: 5 });
  reg.finish('b', 'success');
  reg.touch('c', { uri: 'file:///a.lua' });
  assert.equal(reg.traceTarget('file:///a.lua')?.runId, 'a');
  assert.equal(reg.traceTarget()?.runId, 'b');
  assert.equal(reg.traceTarget('file:///none.lua')?.runId, 'b');
});
