// Server-initiated work-done progress shown in the notification area with a working Cancel.
// vscode-languageclient 11 shows `$/progress` only in the status bar (ProgressLocation.Window),
// where `cancellable` has no button. We take over `window/workDoneProgress/create` and render
// each token as a notification; Cancel sends `window/workDoneProgress/cancel` (and the caller's
// onCancel hook, which asks the server to cancel the run explicitly as well).

import * as vscode from 'vscode';
import {
  type LanguageClient,
  WorkDoneProgress,
  type WorkDoneProgressBegin,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressCreateRequest,
  type WorkDoneProgressReport,
  type ProgressToken,
} from 'vscode-languageclient/node';

export function registerNotificationProgress(client: LanguageClient, onCancel: (token: ProgressToken) => void): vscode.Disposable {
  const parts = new Set<vscode.Disposable>();
  const handler = client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
    let report: vscode.Progress<{ message?: string; increment?: number }> | undefined;
    let lastPct = 0;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => { done = resolve; });
    const pending: Array<WorkDoneProgressReport> = [];
    const apply = (v: WorkDoneProgressBegin | WorkDoneProgressReport): void => {
      if (!report) { pending.push(v as WorkDoneProgressReport); return; }
      const increment = typeof v.percentage === 'number' ? Math.max(0, v.percentage - lastPct) : undefined;
      if (typeof v.percentage === 'number') lastPct = v.percentage;
      report.report({ message: v.message, increment });
    };
    const sub = client.onProgress(WorkDoneProgress.type, token, (value) => {
      if (value.kind === 'begin') {
        void vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: value.title, cancellable: value.cancellable === true },
          async (progress, ct) => {
            report = progress;
            ct.onCancellationRequested(() => {
              void client.sendNotification(WorkDoneProgressCancelNotification.type, { token });
              onCancel(token);
            });
            apply(value);
            for (const p of pending.splice(0)) apply(p);
            await finished;
          });
      } else if (value.kind === 'report') {
        apply(value);
      } else if (value.kind === 'end') {
        done();
        sub.dispose();
        parts.delete(sub);
      }
    });
    parts.add(sub);
  });
  return new vscode.Disposable(() => {
    handler.dispose();
    for (const p of parts) p.dispose();
    parts.clear();
  });
}
