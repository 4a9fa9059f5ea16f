// Pure pieces of the spell debugger wiring (no `vscode` import, so node:test covers them): which
// process is the debug adapter, and how a launch configuration is completed when the user presses
// F5 without a launch.json or clicks the "Debug spell" lens.

import * as path from 'node:path';
import {
  isServerCommandError,
  resolveServerCommand,
  type ServerCommand,
  type ServerCommandError,
  type SettingGetter,
} from './settings.ts';

export const DEBUG_TYPE = 'llmspell';
/** The lens command the server sends (features/lens.py DEBUG_COMMAND); also in the command palette. */
export const DEBUG_COMMAND = 'llmspell.debugSpell';
/** Languages the adapter debugs (the breakpoints contribution in package.json matches it). */
export const DEBUG_LANGUAGES: readonly string[] = ['lua'];

export interface LaunchConfig {
  type: string;
  request: string;
  name: string;
  program?: string;
  args?: string[];
  cwd?: string;
  stopOnEntry?: boolean;
  /** Workspace root with llmspell.toml (the adapter defaults to the spell's folder). */
  workspace?: string;
  model?: string;
  noDebug?: boolean;
  [key: string]: unknown;
}

/**
 * The debug adapter is the language server's own executable in DAP mode: the same
 * `llmspell.server.path` / `llmspell.server.pythonPath` / PATH lookup as the language server,
 * plus `--dap`. `llmspell.server.args` are left out: they are language-server options
 * (e.g. `--tcp`, `--log-file`) that would change how the adapter talks or logs.
 */
export function resolveDapCommand(get: SettingGetter, env: { PATH?: string }, exists: (p: string) => boolean,
  expandHome: (p: string) => string = (p) => p): ServerCommand | ServerCommandError {
  const resolved = resolveServerCommand((k) => (k === 'server.args' ? undefined : get(k)), env, exists, expandHome);
  if (isServerCommandError(resolved)) return resolved;
  return { command: resolved.command, args: [...resolved.args, '--dap'], description: `${resolved.description} --dap` };
}

/**
 * The configuration the "Debug spell" lens and command start for one spell file: the workspace
 * folder is both the working directory and the llmspell.toml root, as for "Run spell". A
 * JavaScript spell is passed on too: the adapter answers with a clear "not supported yet".
 */
export function launchConfigFor(program: string, folder?: string): LaunchConfig {
  const cfg: LaunchConfig = { type: DEBUG_TYPE, request: 'launch', name: `Debug ${path.basename(program)}`, program };
  if (folder) { cfg.cwd = folder; cfg.workspace = folder; }
  return cfg;
}

/**
 * What VS Code's resolveDebugConfiguration gets: an empty object when there is no launch.json (F5),
 * or the user's configuration. Fills the active spell as `program` when it is missing and checks
 * the types of the attributes, so a typo is reported by name instead of failing in the adapter.
 */
export function completeLaunchConfig(config: Partial<LaunchConfig>, activeFile: { path: string; languageId: string } | undefined,
  workspaceFolder: string | undefined): LaunchConfig | { error: string } {
  const spell = activeFile && DEBUG_LANGUAGES.includes(activeFile.languageId) ? activeFile.path : undefined;
  if (!config.type && !config.request && !config.name) {
    if (!spell) return { error: 'open a Lua spell to debug it, or add an "llmspell" configuration to launch.json' };
    return launchConfigFor(spell, workspaceFolder);
  }
  const out: LaunchConfig = {
    ...config,
    type: config.type ?? DEBUG_TYPE,
    request: config.request ?? 'launch',
    name: config.name ?? 'Debug spell',
  };
  if (out.request !== 'launch') return { error: `request "${out.request}" is not supported: llmspell debugs spells it launches ("request": "launch")` };
  if (out.program === undefined || out.program === '') {
    if (!spell) return { error: 'the launch configuration has no "program" and no Lua spell is open' };
    out.program = spell;
  }
  if (typeof out.program !== 'string') return { error: '"program" must be the path of a spell file (a string)' };
  if (out.args !== undefined && !(Array.isArray(out.args) && out.args.every((a) => typeof a === 'string'))) {
    return { error: '"args" must be a list of strings' };
  }
  if (out.cwd !== undefined && typeof out.cwd !== 'string') return { error: '"cwd" must be a directory path (a string)' };
  for (const key of ['stopOnEntry', 'noDebug'] as const) {
    if (out[key] !== undefined && typeof out[key] !== 'boolean') return { error: `"${key}" must be true or false` };
  }
  for (const key of ['workspace', 'model'] as const) {
    if (out[key] !== undefined && typeof out[key] !== 'string') return { error: `"${key}" must be a string` };
  }
  if (out.cwd === undefined && workspaceFolder) out.cwd = workspaceFolder;
  return out;
}

export function isLaunchError(x: LaunchConfig | { error: string }): x is { error: string } {
  return typeof (x as { error?: unknown }).error === 'string';
}
