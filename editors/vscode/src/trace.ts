// "Show trace": fetches a finished run's spans from the server (llmspell.getTrace) and shows them
// as a timeline in one reusable webview panel. The page is static HTML (no scripts; strict CSP)
// built by traceModel.ts from the OTLP JSON.

import * as vscode from 'vscode';
import { buildTimeline, renderTraceHtml } from './traceModel.ts';

export const SHOW_TRACE_COMMAND = 'llmspell.showTrace';

export class TraceViewer implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private readonly fetchTrace: (runId: string) => Promise<unknown>;

  constructor(fetchTrace: (runId: string) => Promise<unknown>) {
    this.fetchTrace = fetchTrace;
  }

  /** Open (or refresh) the timeline of run `runId`; `title` names the spell. */
  async show(runId: string, title: string, status?: string): Promise<void> {
    const otlp = await this.fetchTrace(runId);
    const timeline = buildTimeline(otlp);
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel('llmspell.trace', `Trace: ${title}`, vscode.ViewColumn.Active,
        { enableScripts: false, retainContextWhenHidden: false, enableFindWidget: true });
      this.panel.onDidDispose(() => { this.panel = undefined; });
    }
    this.panel.title = `Trace: ${title}`;
    this.panel.webview.html = renderTraceHtml(timeline, { title, cspSource: this.panel.webview.cspSource, status });
    this.panel.reveal(undefined, false);
  }

  dispose(): void {
    this.panel?.dispose();
  }
}
