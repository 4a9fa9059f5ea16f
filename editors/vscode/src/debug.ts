// The spell debugger in VS Code: a DebugAdapterDescriptorFactory that starts the language server's
// executable in DAP mode (`llmspell-ls --dap`, resolved from the same settings as the language
// server), a configuration provider (F5 without launch.json debugs the active spell), the
// "Debug spell" command that the server's code lens and the editor title use, and the client
// capability that asks the server for that lens.

import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { StaticFeature } from 'vscode-languageclient/node';
import {
  completeLaunchConfig,
  DEBUG_COMMAND,
  DEBUG_TYPE,
  isLaunchError,
  launchConfigFor,
  type LaunchConfig,
  resolveDapCommand,
} from './debugconfig.ts';
import { isServerCommandError, type SettingGetter } from './settings.ts';

export interface DebugDeps {
  /** Settings below `llmspell.` that the user set (undefined otherwise). */
  setting: SettingGetter;
  expandHome: (p: string) => string;
  log: vscode.LogOutputChannel;
}

function isFile(p: string): boolean {
  try { return fs.statSync(p).isFile(); } catch { return false; }
}

/** Declares `experimental.llmspell.debugSpell`, so the server adds the "Debug spell" lens. */
export function debugLensFeature(): StaticFeature {
  return {
    fillClientCapabilities(caps) {
      const experimental = (caps.experimental ?? {}) as Record<string, unknown>;
      const ours = (experimental.llmspell ?? {}) as Record<string, unknown>;
      caps.experimental = { ...experimental, llmspell: { ...ours, debugSpell: true } };
    },
    initialize() { /* nothing to set up: the lens command is registered in registerDebugging */ },
    getState() { return { kind: 'static' }; },
    clear() { /* nothing to clear */ },
  };
}

function folderOf(uri: vscode.Uri): string | undefined {
  return vscode.workspace.getWorkspaceFolder(uri)?.uri.fsPath;
}

async function debugSpell(arg: vscode.Uri | string | undefined): Promise<boolean> {
  const uri = typeof arg === 'string' ? vscode.Uri.parse(arg) : arg ?? vscode.window.activeTextEditor?.document.uri;
  if (!uri || uri.scheme !== 'file') {
    void vscode.window.showWarningMessage('llmspell: open a saved Lua spell (.lua) to debug it.');
    return false;
  }
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (doc?.isDirty) await doc.save();
  const folder = vscode.workspace.getWorkspaceFolder(uri);
  return vscode.debug.startDebugging(folder, launchConfigFor(uri.fsPath, folder?.uri.fsPath));
}

export function registerDebugging(context: vscode.ExtensionContext, deps: DebugDeps): void {
  const factory: vscode.DebugAdapterDescriptorFactory = {
    createDebugAdapterDescriptor(session) {
      const resolved = resolveDapCommand(deps.setting, { PATH: process.env.PATH }, isFile, deps.expandHome);
      if (isServerCommandError(resolved)) {
        deps.log.error(`debug adapter: ${resolved.error}`);
        void vscode.window.showErrorMessage(`llmspell: cannot start the spell debugger: ${resolved.error}`, 'Open Settings')
          .then((c) => { if (c) void vscode.commands.executeCommand('workbench.action.openSettings', 'llmspell.server'); });
        throw new Error(resolved.error);
      }
      deps.log.info(`debug session "${session.name}": starting ${resolved.description}`);
      const cwd = typeof session.configuration.cwd === 'string' ? session.configuration.cwd : session.workspaceFolder?.uri.fsPath;
      return new vscode.DebugAdapterExecutable(resolved.command, resolved.args, cwd ? { cwd } : undefined);
    },
  };
  const provider: vscode.DebugConfigurationProvider = {
    provideDebugConfigurations(folder) {
      return [{ type: DEBUG_TYPE, request: 'launch', name: 'Debug spell', program: '${file}', cwd: folder?.uri.fsPath ?? '${workspaceFolder}' }];
    },
    resolveDebugConfiguration(folder, config) {
      const editor = vscode.window.activeTextEditor;
      const active = editor && editor.document.uri.scheme === 'file'
        ? { path: editor.document.uri.fsPath, languageId: editor.document.languageId } : undefined;
      const done = completeLaunchConfig(config as Partial<LaunchConfig>, active,
        folder?.uri.fsPath ?? (editor ? folderOf(editor.document.uri) : undefined));
      if (isLaunchError(done)) {
        void vscode.window.showErrorMessage(`llmspell: ${done.error}`);
        return undefined; // cancels the launch
      }
      return done;
    },
  };
  context.subscriptions.push(
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, factory),
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, provider),
    vscode.commands.registerCommand(DEBUG_COMMAND, (arg?: vscode.Uri | string) => debugSpell(arg)),
  );
}
