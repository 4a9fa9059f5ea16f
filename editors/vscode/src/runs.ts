// Pure bookkeeping of spell runs: which are active, for which document, in what order they
// finished. Notifications may arrive before the `{runId}` reply of llmspell.runSpell is
// processed, so runs are created by whichever comes first.

export interface RunInfo {
  runId: string;
  uri?: string;
  name?: string;
  startedAt: number;
  finished: boolean;
  status?: string;
  lines: number;
  /** Spans the server traced for this run (llmspell/trace); "Show Trace" needs them. */
  traceSpans?: number;
}

export class RunRegistry {
  private readonly runs = new Map<string, RunInfo>();
  private order: string[] = [];

  private readonly now: () => number;
  private readonly keep: number;

  constructor(now: () => number = Date.now, keep = 50) {
    this.now = now;
    this.keep = keep;
  }

  /** Get or create the record for a run id. */
  touch(runId: string, patch: Partial<Omit<RunInfo, 'runId'>> = {}): RunInfo {
    let r = this.runs.get(runId);
    if (!r) {
      r = { runId, startedAt: this.now(), finished: false, lines: 0 };
      this.runs.set(runId, r);
      this.order.push(runId);
      this.trim();
    }
    for (const [k, v] of Object.entries(patch)) {
      if (v !== undefined) (r as unknown as Record<string, unknown>)[k] = v;
    }
    return r;
  }

  get(runId: string): RunInfo | undefined { return this.runs.get(runId); }

  finish(runId: string, status: string): RunInfo {
    return this.touch(runId, { finished: true, status });
  }

  /** Active runs, most recent first; optionally only those of one document. */
  active(uri?: string): RunInfo[] {
    return this.order.map((id) => this.runs.get(id)!).filter((r) => r && !r.finished && (uri === undefined || r.uri === uri)).reverse();
  }

  /** The run that "Cancel Run" should stop: the newest active run of `uri`, else the newest active run. */
  cancelTarget(uri?: string): RunInfo | undefined {
    return (uri !== undefined ? this.active(uri)[0] : undefined) ?? this.active()[0];
  }

  /** The run "Show Trace" opens: the newest traced run of `uri`, else the newest traced run. */
  traceTarget(uri?: string): RunInfo | undefined {
    const traced = this.order.map((id) => this.runs.get(id)!).filter((r) => r && r.traceSpans !== undefined).reverse();
    return (uri !== undefined ? traced.find((r) => r.uri === uri) : undefined) ?? traced[0];
  }

  private trim(): void {
    while (this.order.length > this.keep) {
      const idx = this.order.findIndex((id) => this.runs.get(id)?.finished);
      if (idx < 0) break;
      this.runs.delete(this.order[idx]);
      this.order.splice(idx, 1);
    }
  }
}
