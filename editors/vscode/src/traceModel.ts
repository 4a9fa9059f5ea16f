// A run's trace (OTLP JSON from the server's llmspell.getTrace) as a timeline: one row per span in
// call order (children under their parent), with its offset and duration from the run's start,
// token counts of model calls and agents, errors, and hook executions as markers. Rendered to a
// self-contained HTML page (no scripts) whose colours come from the VS Code theme, so the webview
// reads well in light, dark and high-contrast themes. Pure: unit-tested with node:test.

export interface OtlpValue {
  stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
}
export interface OtlpAttribute { key: string; value: OtlpValue }
export interface OtlpEvent { timeUnixNano: string; name: string; attributes?: OtlpAttribute[] }
export interface OtlpSpan {
  traceId: string; spanId: string; parentSpanId?: string; name: string; kind?: number;
  startTimeUnixNano: string; endTimeUnixNano: string;
  attributes?: OtlpAttribute[]; events?: OtlpEvent[]; status?: { code?: number; message?: string };
}
export interface OtlpTrace { resourceSpans?: { scopeSpans?: { spans?: OtlpSpan[] }[] }[] }

export type SpanCategory = 'run' | 'agent' | 'llm' | 'tool' | 'workflow' | 'step' | 'other';

export interface TimelineMarker { name: string; atMs: number; detail: string }

export interface TimelineRow {
  id: string;
  name: string;
  category: SpanCategory;
  depth: number;
  startMs: number;
  durationMs: number;
  inputTokens?: number;
  outputTokens?: number;
  error?: string;
  markers: TimelineMarker[];
  detail: string;
}

export interface Timeline {
  traceId: string;
  totalMs: number;
  rows: TimelineRow[];
  inputTokens: number;
  outputTokens: number;
  llmCalls: number;
  toolCalls: number;
  errors: number;
}

export const CATEGORY_LABELS: Record<SpanCategory, string> = {
  run: 'run', agent: 'agent', llm: 'LLM call', tool: 'tool', workflow: 'workflow', step: 'workflow step', other: 'other',
};

function valueOf(v: OtlpValue | undefined): string | number | boolean | undefined {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map((x) => String(valueOf(x))).join(', ');
  return undefined;
}

export function attributesOf(list: OtlpAttribute[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const a of list ?? []) {
    const v = valueOf(a.value);
    if (v !== undefined) out[a.key] = v;
  }
  return out;
}

export function spansOf(otlp: unknown): OtlpSpan[] {
  const t = (otlp ?? {}) as OtlpTrace;
  const out: OtlpSpan[] = [];
  for (const rs of t.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) out.push(...(ss.spans ?? []));
  return out;
}

export function categoryOf(name: string, attrs: Record<string, unknown>, isRoot: boolean): SpanCategory {
  switch (attrs['gen_ai.operation.name']) {
    case 'invoke_agent': return 'agent';
    case 'chat': case 'text_completion': case 'generate_content': return 'llm';
    case 'execute_tool': return 'tool';
    case 'invoke_workflow': return 'workflow';
  }
  if (attrs['llmspell.workflow.step.name'] !== undefined || name.startsWith('step ')) return 'step';
  if (isRoot || name.startsWith('run ')) return 'run';
  return 'other';
}

/** Nanoseconds (a decimal string) minus a base, in milliseconds, without losing precision. */
function msSince(ns: string, base: bigint): number {
  try { return Number(BigInt(ns) - base) / 1e6; } catch { return 0; }
}

function num(v: unknown): number | undefined { return typeof v === 'number' && Number.isFinite(v) ? v : undefined; }

export function buildTimeline(otlp: unknown): Timeline {
  const spans = spansOf(otlp);
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, OtlpSpan[]>();
  const roots: OtlpSpan[] = [];
  for (const s of spans) {
    if (s.parentSpanId && ids.has(s.parentSpanId)) {
      const list = children.get(s.parentSpanId) ?? [];
      list.push(s);
      children.set(s.parentSpanId, list);
    } else {
      roots.push(s);
    }
  }
  const byStart = (a: OtlpSpan, b: OtlpSpan): number => {
    try { const d = BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano); return d < 0n ? -1 : d > 0n ? 1 : 0; } catch { return 0; }
  };
  roots.sort(byStart);
  let base = 0n;
  let end = 0n;
  try {
    base = spans.length ? spans.map((s) => BigInt(s.startTimeUnixNano)).reduce((a, b) => (a < b ? a : b)) : 0n;
    end = spans.length ? spans.map((s) => BigInt(s.endTimeUnixNano)).reduce((a, b) => (a > b ? a : b)) : 0n;
  } catch { /* malformed times: everything at 0 */ }
  const tl: Timeline = {
    traceId: spans[0]?.traceId ?? '', totalMs: Math.max(0, Number(end - base) / 1e6), rows: [],
    inputTokens: 0, outputTokens: 0, llmCalls: 0, toolCalls: 0, errors: 0,
  };
  const visit = (s: OtlpSpan, depth: number, isRoot: boolean): void => {
    const attrs = attributesOf(s.attributes);
    const category = categoryOf(s.name, attrs, isRoot);
    const startMs = msSince(s.startTimeUnixNano, base);
    const row: TimelineRow = {
      id: s.spanId, name: s.name, category, depth, startMs,
      durationMs: Math.max(0, msSince(s.endTimeUnixNano, base) - startMs),
      markers: (s.events ?? []).map((e) => {
        const ea = attributesOf(e.attributes);
        const detail = e.name.startsWith('hook ')
          ? `${ea['llmspell.hook.name'] ?? ''} → ${ea['llmspell.hook.result'] ?? ''}${ea['llmspell.hook.reason'] ? ` (${ea['llmspell.hook.reason']})` : ''}`
          : String(ea['llmspell.event.data'] ?? ea['exception.message'] ?? '');
        return { name: e.name, atMs: msSince(e.timeUnixNano, base), detail };
      }),
      detail: Object.entries(attrs).map(([k, v]) => `${k} = ${v}`).join('\n'),
    };
    const inTok = num(attrs['gen_ai.usage.input_tokens']);
    const outTok = num(attrs['gen_ai.usage.output_tokens']);
    if (inTok !== undefined) row.inputTokens = inTok;
    if (outTok !== undefined) row.outputTokens = outTok;
    if (s.status?.code === 2) {
      row.error = s.status.message || String(attrs['error.type'] ?? 'error');
      tl.errors += 1;
    }
    if (category === 'llm') {
      tl.llmCalls += 1;
      tl.inputTokens += inTok ?? 0;
      tl.outputTokens += outTok ?? 0;
    }
    if (category === 'tool') tl.toolCalls += 1;
    tl.rows.push(row);
    for (const c of (children.get(s.spanId) ?? []).sort(byStart)) visit(c, depth + 1, false);
  };
  for (const r of roots) visit(r, 0, true);
  return tl;
}

export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function tokensText(row: { inputTokens?: number; outputTokens?: number }): string {
  if (row.inputTokens === undefined && row.outputTokens === undefined) return '';
  return `${row.inputTokens ?? 0} in / ${row.outputTokens ?? 0} out tokens`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Theme colours per category (VS Code's chart palette, with fallbacks outside VS Code). */
export const CATEGORY_COLORS: Record<SpanCategory, string> = {
  run: 'var(--vscode-charts-foreground, #cccccc)',
  agent: 'var(--vscode-charts-purple, #b180d7)',
  llm: 'var(--vscode-charts-blue, #3794ff)',
  tool: 'var(--vscode-charts-orange, #d18616)',
  workflow: 'var(--vscode-charts-green, #89d185)',
  step: 'var(--vscode-charts-yellow, #cca700)',
  other: 'var(--vscode-descriptionForeground, #999999)',
};

export interface RenderOptions { title: string; cspSource?: string; status?: string }

export function renderTraceHtml(tl: Timeline, opts: RenderOptions): string {
  const total = tl.totalMs > 0 ? tl.totalMs : 1;
  const pct = (ms: number): string => `${Math.max(0, Math.min(100, (100 * ms) / total)).toFixed(3)}%`;
  const used = [...new Set(tl.rows.map((r) => r.category))];
  const legend = used.map((c) => `<span class="legend-item"><span class="swatch cat-${c}"></span>${esc(CATEGORY_LABELS[c])}</span>`).join('');
  const rows = tl.rows.map((r) => {
    const tokens = tokensText(r);
    const markers = r.markers.map((m) => `<span class="marker${m.name.startsWith('hook ') ? ' hook' : ''}" style="left:${pct(m.atMs)}" title="${esc(`${m.name}: ${m.detail}`)}"></span>`).join('');
    return `<div class="row${r.error ? ' failed' : ''}" data-span-id="${esc(r.id)}" data-category="${r.category}" data-duration-ms="${r.durationMs.toFixed(3)}"`
      + `${r.inputTokens !== undefined ? ` data-input-tokens="${r.inputTokens}"` : ''}${r.outputTokens !== undefined ? ` data-output-tokens="${r.outputTokens}"` : ''} title="${esc(r.detail)}">`
      + `<div class="label" style="padding-left:${8 + r.depth * 14}px"><span class="swatch cat-${r.category}"></span>`
      + `<span class="span-label">${esc(r.name)}</span></div>`
      + `<div class="span-info"><span class="span-duration">${esc(formatMs(r.durationMs))}</span>`
      + `${tokens ? `<span class="span-tokens">${esc(tokens)}</span>` : ''}${r.error ? `<span class="span-error">${esc(r.error)}</span>` : ''}</div>`
      + `<div class="track"><div class="bar cat-${r.category}" style="left:${pct(r.startMs)};width:max(3px, ${pct(r.durationMs)})"></div>${markers}</div>`
      + '</div>';
  }).join('\n');
  const csp = `default-src 'none'; style-src ${opts.cspSource ? esc(opts.cspSource) + ' ' : ''}'unsafe-inline'; img-src 'none'; script-src 'none';`;
  const summary = [
    `<span class="total-duration">${esc(formatMs(tl.totalMs))}</span>`,
    `<span class="span-count">${tl.rows.length} spans</span>`,
    `<span class="llm-calls">${tl.llmCalls} LLM calls</span>`,
    `<span class="tool-calls">${tl.toolCalls} tool calls</span>`,
    `<span class="total-tokens">${tl.inputTokens} in / ${tl.outputTokens} out tokens</span>`,
    tl.errors ? `<span class="error-count">${tl.errors} failed</span>` : '',
    opts.status ? `<span class="run-status">${esc(opts.status)}</span>` : '',
  ].filter(Boolean).join(' · ');
  const colors = Object.entries(CATEGORY_COLORS).map(([c, v]) => `.cat-${c} { background: ${v}; }`).join('\n');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(opts.title)}</title>
<style>
body { margin: 0; padding: 12px 16px; color: var(--vscode-foreground, #ccc); background: var(--vscode-editor-background, #1e1e1e);
  font-family: var(--vscode-font-family, sans-serif); font-size: var(--vscode-font-size, 13px); }
h1 { font-size: 1.15em; font-weight: 600; margin: 0 0 4px; }
.summary { color: var(--vscode-descriptionForeground, #999); margin-bottom: 8px; }
.legend { display: flex; gap: 14px; flex-wrap: wrap; margin-bottom: 10px; color: var(--vscode-descriptionForeground, #999); }
.legend-item { display: inline-flex; align-items: center; gap: 5px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; flex: none; }
.timeline { border-top: 1px solid var(--vscode-panel-border, #444); }
.row { display: grid; grid-template-columns: minmax(16em, 30%) 16em 1fr; align-items: center; min-height: 24px;
  border-bottom: 1px solid var(--vscode-editorGroup-border, rgba(128,128,128,0.2)); }
.row:hover { background: var(--vscode-list-hoverBackground, rgba(128,128,128,0.1)); }
.label { display: flex; align-items: center; gap: 6px; overflow: hidden; white-space: nowrap; text-overflow: ellipsis;
  font-family: var(--vscode-editor-font-family, monospace); }
.span-label { overflow: hidden; text-overflow: ellipsis; }
.track { position: relative; height: 24px; margin-right: 8px; }
.bar { position: absolute; top: 5px; height: 14px; border-radius: 3px; min-width: 3px; }
.row.failed .bar { outline: 2px solid var(--vscode-charts-red, #f14c4c); outline-offset: 1px; }
.row.failed .span-label, .span-error { color: var(--vscode-errorForeground, #f14c4c); }
.marker { position: absolute; top: 2px; width: 2px; height: 20px; background: var(--vscode-textLink-foreground, #3794ff); opacity: 0.85; }
.marker.hook { background: var(--vscode-charts-foreground, #ccc); }
.span-info { display: flex; gap: 8px; padding: 0 8px; white-space: nowrap; overflow: hidden; font-size: 0.92em;
  color: var(--vscode-descriptionForeground, #999); font-variant-numeric: tabular-nums; }
.span-duration { min-width: 5em; text-align: right; }
.span-error { overflow: hidden; text-overflow: ellipsis; }
${colors}
</style></head>
<body>
<h1>Trace: ${esc(opts.title)}</h1>
<div class="summary">${summary}</div>
<div class="legend">${legend}<span class="legend-item"><span class="swatch" style="background: var(--vscode-charts-foreground, #ccc); width: 2px"></span>hook</span><span class="legend-item"><span class="swatch" style="background: var(--vscode-textLink-foreground, #3794ff); width: 2px"></span>event</span></div>
<div class="timeline" role="list">
${rows}
</div>
</body></html>`;
}
