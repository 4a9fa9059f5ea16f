// The llmspell VS Code extension: starts llmspell-ls for Lua and JavaScript spells, shows a run
// live in the "llmspell Run" output channel (printed output, events, hook results, the final
// status with duration, tokens and cost), a status-bar item while a spell runs, and the run's
// progress as a notification with a working Cancel. Code lenses come from the server; clicking
// "Run spell" executes the server's llmspell.runSpell through vscode-languageclient.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as vscode from 'vscode';
import {
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
} from 'vscode-languageclient/node';
import {
  type EventParams,
  formatEvent,
  formatFinished,
  formatHookResult,
  formatOutput,
  formatStarted,
  type HookResultParams,
  type OutputParams,
  type RunFinishedParams,
  runIdOf,
  type RunStartedParams,
  statusText,
  basename,
} from './format.ts';
import { debugLensFeature, registerDebugging } from './debug.ts';
import { registerNotificationProgress } from './progress.ts';
import { RunRegistry } from './runs.ts';
import { buildInitOptions, isServerCommandError, resolveServerCommand } from './settings.ts';
import { SHOW_TRACE_COMMAND, TraceViewer } from './trace.ts';

const RUN_COMMAND = 'llmspell.runSpell';
const CANCEL_COMMAND = 'llmspell.cancelSpell';
const GET_TRACE_COMMAND = 'llmspell.getTrace';

export interface LlmspellApi {
  readonly runs: RunRegistry;
  client(): LanguageClient | undefined;
  /** Lines written to the run channel (for tests and other extensions). */
  readonly transcript: string[];
}

let client: LanguageClient | undefined;
/** Settles when the current (re)start attempt is over, so commands issued meanwhile wait for it. */
let starting: Promise<void> = Promise.resolve();
let clientDisposables: vscode.Disposable[] = [];
let runChannel: vscode.OutputChannel;
let logChannel: vscode.LogOutputChannel;
let statusItem: vscode.StatusBarItem;
let statusTimer: NodeJS.Timeout | undefined;
const runs = new RunRegistry();
const transcript: string[] = [];
let traceViewer: TraceViewer | undefined;

function cfg(): vscode.WorkspaceConfiguration { return vscode.workspace.getConfiguration('llmspell'); }

/** Settings getter that returns only values set by the user/workspace (not package.json defaults). */
function userSetting(key: string): unknown {
  const i = cfg().inspect(key);
  return i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
}

function write(text: string): void {
  runChannel.append(text);
  transcript.push(text);
  if (transcript.length > 5000) transcript.splice(0, transcript.length - 5000);
}
function writeLine(line: string): void { write(line + '\n'); }

function expandHome(p: string): string { return p.startsWith('~/') ? os.homedir() + p.slice(1) : p; }

function showStatus(text: string, tooltip: string, busy: boolean): void {
  if (statusTimer) { clearTimeout(statusTimer); statusTimer = undefined; }
  statusItem.text = busy ? `$(sync~spin) ${text}` : text;
  statusItem.tooltip = tooltip;
  statusItem.command = busy ? 'llmspell.cancel' : 'llmspell.showOutput';
  statusItem.show();
  void vscode.commands.executeCommand('setContext', 'llmspell.running', busy);
}

function refreshStatus(): void {
  const active = runs.active();
  if (active.length) {
    const label = active.length === 1 ? `llmspell: running ${active[0].name ?? 'spell'}` : `llmspell: ${active.length} runs`;
    showStatus(label, 'A spell is running. Click to cancel it.', true);
  }
}

function onRunStarted(p: RunStartedParams): void {
  const id = runIdOf(p);
  const name = basename((p.file as string | undefined) ?? p.uri);
  runs.touch(id, { uri: p.uri, name });
  if (cfg().get<boolean>('output.revealOnRun', true)) runChannel.show(true);
  writeLine(formatStarted(p));
  refreshStatus();
}

function onRunFinished(p: RunFinishedParams): void {
  const id = runIdOf(p);
  const info = runs.finish(id, p.status ?? 'unknown');
  for (const line of formatFinished(p)) writeLine(line);
  const traced = info.traceSpans !== undefined;
  if (traced) writeLine(`Trace: ${info.traceSpans} spans · "llmspell: Show Trace" opens the timeline`);
  writeLine('');
  if (runs.active().length) { refreshStatus(); return; }
  const icon = p.status === 'success' ? '$(check)' : p.status === 'cancelled' ? '$(debug-stop)' : '$(error)';
  showStatus(`${icon} ${statusText(p)}`, `Last run: ${info.name ?? id}. Click to show the output.`, false);
  statusTimer = setTimeout(() => statusItem.hide(), 15_000);
  if (p.status && p.status !== 'success' && p.status !== 'cancelled') {
    const where = p.error?.line ? ` (line ${p.error.line})` : '';
    const buttons = traced ? ['Show Output', 'Show Trace'] : ['Show Output'];
    void vscode.window.showErrorMessage(`llmspell: ${info.name ?? 'spell'} ${p.status}${where}: ${p.error?.message ?? ''}`, ...buttons)
      .then((choice) => {
        if (choice === 'Show Trace') void vscode.commands.executeCommand(SHOW_TRACE_COMMAND, id);
        else if (choice) runChannel.show(true);
      });
  } else if (traced && cfg().get<boolean>('trace.notify', false)) {
    void vscode.window.showInformationMessage(`llmspell: ${info.name ?? 'spell'} ${p.status ?? 'finished'} · ${info.traceSpans} spans traced`, 'Show Trace')
      .then((choice) => { if (choice) void vscode.commands.executeCommand(SHOW_TRACE_COMMAND, id); });
  }
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  const resolved = resolveServerCommand(userSetting, { PATH: process.env.PATH }, (p) => {
    try { return fs.statSync(p).isFile(); } catch { return false; }
  }, expandHome);
  if (isServerCommandError(resolved)) {
    logChannel.error(resolved.error);
    statusItem.text = '$(error) llmspell-ls missing';
    statusItem.tooltip = resolved.error;
    statusItem.command = 'llmspell.openSettings';
    statusItem.show();
    void vscode.window.showErrorMessage(`llmspell: ${resolved.error}`, 'Open Settings').then((c) => {
      if (c) void vscode.commands.executeCommand('workbench.action.openSettings', 'llmspell.server');
    });
    return;
  }
  logChannel.info(`starting ${resolved.description}`);
  const serverOptions: ServerOptions = { command: resolved.command, args: resolved.args };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'lua' }, { scheme: 'file', language: 'javascript' },
      { scheme: 'untitled', language: 'lua' }, { scheme: 'untitled', language: 'javascript' },
    ],
    outputChannel: logChannel,
    initializationOptions: buildInitOptions(userSetting),
    middleware: {
      executeCommand: async (command, args, next) => {
        if (command !== RUN_COMMAND) return next(command, args);
        const first = args[0] as unknown;
        const uri = typeof first === 'string' ? first
          : (first && typeof first === 'object' && typeof (first as { uri?: unknown }).uri === 'string')
            ? (first as { uri: string }).uri
            : vscode.window.activeTextEditor?.document.uri.toString();
        const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
        if (doc?.isDirty && !doc.isUntitled) await doc.save();
        const res = await next(command, typeof first === 'object' && first !== null ? args : uri ? [uri] : args);
        const runId = runIdOf(res as { runId?: string });
        if (runId) {
          runs.touch(runId, { uri, name: basename(uri) });
          refreshStatus();
        }
        return res;
      },
    },
  };
  const c = new LanguageClient('llmspell', 'llmspell', serverOptions, clientOptions);
  c.registerFeature(debugLensFeature());
  client = c;
  clientDisposables = [
    c.onNotification('llmspell/runStarted', onRunStarted),
    c.onNotification('llmspell/output', (p: OutputParams) => { runs.touch(runIdOf(p)); write(formatOutput(p)); }),
    c.onNotification('llmspell/event', (p: EventParams) => {
      if (cfg().get<boolean>('output.showEvents', true)) writeLine(formatEvent(p));
    }),
    c.onNotification('llmspell/hookResult', (p: HookResultParams) => writeLine(formatHookResult(p))),
    c.onNotification('llmspell/trace', (p: { runId?: string; uri?: string; spans?: number }) => {
      runs.touch(runIdOf(p), { uri: p.uri, traceSpans: p.spans ?? 0 });
    }),
    c.onNotification('llmspell/runFinished', onRunFinished),
    c.onDidChangeState((e) => {
      // A server that stops mid-run never sends runFinished: close those runs so nothing spins forever.
      if (e.newState !== State.Stopped) return;
      for (const run of runs.active()) {
        onRunFinished({ runId: run.runId, status: 'error', error: { message: 'llmspell-ls stopped during the run' } });
      }
    }),
  ];
  try {
    await c.start();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    logChannel.error(`llmspell-ls failed to start: ${msg}`);
    void vscode.window.showErrorMessage(
      `llmspell: the language server (${resolved.description}) failed to start: ${msg}. See the "llmspell" output for details.`,
      'Show Log').then((x) => { if (x) logChannel.show(); });
    return;
  }
  clientDisposables.push(registerNotificationProgress(c, () => {
    // The progress Cancel already sent window/workDoneProgress/cancel; also cancel the run explicitly
    // when exactly one is active, so a server that only honours llmspell.cancelSpell stops too.
    const active = runs.active();
    if (active.length === 1) void cancelRun(active[0].runId);
  }));
  context.subscriptions.push(...clientDisposables);
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  for (const d of clientDisposables) d.dispose();
  clientDisposables = [];
  if (c && c.state !== State.Stopped) await c.stop().catch(() => undefined);
}

async function cancelRun(runId: string): Promise<void> {
  if (!client) return;
  await client.sendRequest(ExecuteCommandRequest.type, { command: CANCEL_COMMAND, arguments: [runId] });
}

export async function activate(context: vscode.ExtensionContext): Promise<LlmspellApi> {
  logChannel = vscode.window.createOutputChannel('llmspell', { log: true });
  runChannel = vscode.window.createOutputChannel('llmspell Run');
  statusItem = vscode.window.createStatusBarItem('llmspell.status', vscode.StatusBarAlignment.Left, 50);
  statusItem.name = 'llmspell';
  context.subscriptions.push(logChannel, runChannel, statusItem);
  traceViewer = new TraceViewer(async (runId) => {
    if (!client) throw new Error('the language server is not running');
    return client.sendRequest(ExecuteCommandRequest.type, { command: GET_TRACE_COMMAND, arguments: [runId] });
  });
  context.subscriptions.push(traceViewer);

  context.subscriptions.push(
    vscode.commands.registerCommand('llmspell.run', async (uri?: vscode.Uri | string) => {
      const target = typeof uri === 'string' ? uri : uri?.toString() ?? vscode.window.activeTextEditor?.document.uri.toString();
      if (!target) { void vscode.window.showWarningMessage('llmspell: open a spell (.lua or .js) to run it.'); return; }
      await Promise.race([starting, new Promise((r) => setTimeout(r, 15_000))]);
      if (!client || client.state !== State.Running) {
        void vscode.window.showErrorMessage('llmspell: the language server is not running. See the "llmspell" output.');
        return;
      }
      await vscode.commands.executeCommand(RUN_COMMAND, target);
    }),
    vscode.commands.registerCommand('llmspell.cancel', async () => {
      const target = runs.cancelTarget(vscode.window.activeTextEditor?.document.uri.toString());
      if (!target) { void vscode.window.showInformationMessage('llmspell: no spell is running.'); return; }
      writeLine(`(cancelling run ${target.runId})`);
      await cancelRun(target.runId);
    }),
    vscode.commands.registerCommand('llmspell.showOutput', () => runChannel.show(false)),
    vscode.commands.registerCommand(SHOW_TRACE_COMMAND, async (runId?: string) => {
      const target = typeof runId === 'string' ? runs.get(runId) ?? runs.touch(runId)
        : runs.traceTarget(vscode.window.activeTextEditor?.document.uri.toString());
      if (!target || (typeof runId !== 'string' && target.traceSpans === undefined)) {
        void vscode.window.showInformationMessage('llmspell: no traced run yet. Run a spell first ("llmspell: Run Spell").');
        return;
      }
      try {
        await traceViewer?.show(target.runId, target.name ?? target.runId, target.status);
      } catch (e) {
        void vscode.window.showErrorMessage(`llmspell: cannot show the trace: ${e instanceof Error ? e.message : String(e)}`);
      }
    }),
    vscode.commands.registerCommand('llmspell.openSettings', () =>
      vscode.commands.executeCommand('workbench.action.openSettings', 'llmspell')),
    vscode.commands.registerCommand('llmspell.restartServer', () => restart(context)),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration('llmspell.server') || e.affectsConfiguration('llmspell.defaultModel')
        || e.affectsConfiguration('llmspell.security') || e.affectsConfiguration('llmspell.limits')) {
        logChannel.info('settings changed; restarting llmspell-ls');
        await restart(context);
      }
    }),
  );
  registerDebugging(context, { setting: userSetting, expandHome, log: logChannel });
  await restart(context);
  return { runs, client: () => client, transcript };
}

function restart(context: vscode.ExtensionContext): Promise<void> {
  starting = starting.catch(() => undefined).then(async () => {
    await stopClient();
    await startClient(context);
  });
  return starting;
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
