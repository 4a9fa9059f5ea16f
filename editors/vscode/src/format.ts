// Pure formatting of the server's llmspell/* run notifications into output-channel text.
// No `vscode` import here, so `node --test` can exercise it directly. The Neovim plugin
// (editors/nvim/lua/llmspell/format.lua) renders the same lines, so both editors read alike.

export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  cost_usd?: number | null;
}

export interface RunError {
  message?: string;
  kind?: string;
  file?: string | null;
  line?: number | null;
  column?: number | null;
}

export interface RunStartedParams { runId?: string; run_id?: string; uri?: string; file?: string; language?: string; [k: string]: unknown }
export interface OutputParams { runId?: string; run_id?: string; stream?: string; text?: string }
export interface EventParams { runId?: string; run_id?: string; event_type?: string; data?: unknown; sequence?: number; source?: string | null }
export interface HookResultParams {
  runId?: string; run_id?: string; point?: string; hook?: string; result?: string; reason?: string | null;
  language?: string; component?: string; duration_us?: number;
}
export interface RunFinishedParams {
  runId?: string; run_id?: string;
  status?: string; exit_code?: number; result?: unknown; error?: RunError | null;
  duration_ms?: number; usage?: Usage | null; cost_usd?: number | null;
}

/** The run id of any llmspell/* notification (the protocol says `runId`; accept `run_id` too). */
export function runIdOf(p: { runId?: string; run_id?: string } | null | undefined): string {
  return String(p?.runId ?? p?.run_id ?? '');
}

/** Short, stable form of a value for one line of output (JSON, truncated). */
export function compact(value: unknown, max = 200): string {
  if (value === undefined || value === null) return '';
  let s: string;
  if (typeof value === 'string') s = JSON.stringify(value);
  else {
    try { s = JSON.stringify(value); } catch { s = String(value); }
  }
  if (s === undefined) s = String(value);
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

export function formatDuration(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '?';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m} min ${s} s`;
}

export function formatCost(usd: number | undefined | null): string {
  if (usd === undefined || usd === null || !Number.isFinite(usd)) return '$0';
  if (usd === 0) return '$0';
  if (usd < 0.01) return `$${usd.toFixed(6)}`;
  return `$${usd.toFixed(4)}`;
}

export function basename(pathOrUri: string | undefined): string {
  if (!pathOrUri) return 'spell';
  const clean = pathOrUri.replace(/[?#].*$/, '');
  const parts = clean.split(/[\\/]/);
  try { return decodeURIComponent(parts[parts.length - 1] || clean); } catch { return parts[parts.length - 1] || clean; }
}

export function formatStarted(p: RunStartedParams, when: Date = new Date()): string {
  const name = basename((p.file as string | undefined) ?? p.uri);
  const lang = p.language ? ` (${p.language})` : '';
  const hh = when.toTimeString().slice(0, 8);
  return `── run ${runIdOf(p)}: ${name}${lang} started ${hh} ──`;
}

/** Printed output: keep the text as printed; stderr lines get a marker. Returns text with no trailing newline handling. */
export function formatOutput(p: OutputParams): string {
  const text = p.text ?? '';
  if (p.stream === 'stderr') {
    return text.split(/(?<=\n)/).map((l) => (l.length ? `[stderr] ${l}` : l)).join('');
  }
  return text;
}

export function formatEvent(p: EventParams): string {
  const seq = p.sequence !== undefined && p.sequence !== null ? `#${p.sequence} ` : '';
  const data = compact(p.data);
  return `[event] ${seq}${p.event_type ?? '?'}${data ? ' ' + data : ''}`;
}

export function formatHookResult(p: HookResultParams): string {
  const reason = p.reason ? ` (${p.reason})` : '';
  const comp = p.component ? ` on ${p.component}` : '';
  return `[hook] ${p.point ?? '?'} ${p.hook ?? '?'}${comp} → ${p.result ?? '?'}${reason}`;
}

export function formatUsage(usage: Usage | null | undefined, cost?: number | null): string {
  const u = usage ?? {};
  const prompt = u.prompt_tokens ?? 0;
  const completion = u.completion_tokens ?? 0;
  const total = u.total_tokens ?? prompt + completion;
  const usd = cost ?? u.cost_usd ?? 0;
  return `tokens ${total} (${prompt} prompt + ${completion} completion) · cost ${formatCost(usd)}`;
}

/** Lines for the end of a run: the status line first, then the result or error. */
export function formatFinished(p: RunFinishedParams): string[] {
  const status = p.status ?? 'unknown';
  const mark = status === 'success' ? '✔' : status === 'cancelled' ? '■' : '✖';
  const lines = [`${mark} ${status} in ${formatDuration(p.duration_ms)} · ${formatUsage(p.usage, p.cost_usd)}`];
  if (p.error && (p.error.message || p.error.file)) {
    const loc = p.error.file ? `${basename(p.error.file)}${p.error.line ? ':' + p.error.line : ''}` : '';
    let message = p.error.message ?? '';
    // Lua messages often start with the same "file:line: " already; don't say it twice.
    if (loc && message.startsWith(loc + ': ')) message = message.slice(loc.length + 2);
    lines.push(`error${loc ? ' at ' + loc : ''}: ${message}`);
  } else if (p.result !== undefined && p.result !== null) {
    lines.push(`result: ${compact(p.result, 500)}`);
  }
  return lines;
}

/** Status-bar text for a finished run, e.g. "llmspell: success 1.20 s". */
export function statusText(p: RunFinishedParams): string {
  return `llmspell: ${p.status ?? 'done'} ${formatDuration(p.duration_ms)}`;
}
