// Pure mapping from the extension's settings to (a) the server's command line and (b) its
// initializationOptions, whose keys are those of llmspell.config.RuntimeConfig. Kept free of the
// `vscode` module so it is unit-tested with node:test.

import * as path from 'node:path';

/** Reads one setting below `llmspell.` (e.g. "security.networkAllow"); undefined when unset. */
export type SettingGetter = (key: string) => unknown;

export interface ServerCommand { command: string; args: string[]; description: string }
export interface ServerCommandError { error: string }

function str(v: unknown): string { return typeof v === 'string' ? v.trim() : ''; }
function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.trim() !== '').map((x) => x.trim()) : [];
}
function num(v: unknown): number | undefined { return typeof v === 'number' && Number.isFinite(v) ? v : undefined; }

/**
 * Settings -> initializationOptions. Only values the user actually set are sent, so that
 * llmspell.toml and LLMSPELL_* keep working for everything the editor does not override
 * (the server merges: defaults < llmspell.toml < environment < initializationOptions).
 */
export function buildInitOptions(get: SettingGetter): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const model = str(get('defaultModel'));
  if (model) out.default_model = model;

  const security: Record<string, unknown> = {};
  const allowed = strList(get('security.allowedPaths'));
  if (allowed.length) security.allowed_paths = allowed;
  const net = strList(get('security.networkAllow'));
  if (net.length) security.network_allow = net;
  if (get('security.allowPrivateNetwork') === true) security.allow_private_network = true;
  const proc = strList(get('security.processAllow'));
  if (proc.length) security.process_allow = proc;
  if (Object.keys(security).length) out.security = security;

  const limits: Record<string, unknown> = {};
  // 0 means "the server's default" for these two (a zero limit would stop every run at once).
  const wall = num(get('limits.wallTimeSeconds'));
  if (wall !== undefined && wall > 0) limits.wall_time_s = wall;
  const mem = num(get('limits.maxMemoryMb'));
  if (mem !== undefined && mem > 0) limits.max_memory_mb = Math.round(mem);
  const budget = num(get('limits.instructionBudget'));
  if (budget !== undefined) limits.instruction_budget = Math.round(budget);
  if (Object.keys(limits).length) out.limits = limits;
  return out;
}

/** First match of `name` in the PATH-like string, using `exists` to test candidates. */
export function findOnPath(name: string, pathEnv: string | undefined, exists: (p: string) => boolean,
  platform: string = process.platform): string | undefined {
  const exts = platform === 'win32' ? ['.exe', '.cmd', '.bat', ''] : [''];
  for (const dir of (pathEnv ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      if (exists(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * Which process to start: `llmspell.server.path` if set; else `<pythonPath> -m llmspell_ls`;
 * else `llmspell-ls` found on PATH. Returns an error text that tells the user what to set
 * when nothing usable is found (the extension shows it instead of a cryptic spawn failure).
 */
export function resolveServerCommand(get: SettingGetter, env: { PATH?: string }, exists: (p: string) => boolean,
  expandHome: (p: string) => string = (p) => p): ServerCommand | ServerCommandError {
  const extra = strList(get('server.args'));
  const serverPath = expandHome(str(get('server.path')));
  if (serverPath) {
    const resolved = serverPath.includes('/') || serverPath.includes('\\') ? serverPath : findOnPath(serverPath, env.PATH, exists);
    if (!resolved || !exists(resolved)) {
      return { error: `llmspell-ls was not found at "${serverPath}" (setting llmspell.server.path). Install it with "pip install llmspell-ls" or fix the setting.` };
    }
    return { command: resolved, args: extra, description: resolved };
  }
  const python = expandHome(str(get('server.pythonPath')));
  if (python) {
    const resolved = python.includes('/') || python.includes('\\') ? python : findOnPath(python, env.PATH, exists);
    if (!resolved || !exists(resolved)) {
      return { error: `The Python interpreter "${python}" (setting llmspell.server.pythonPath) does not exist.` };
    }
    return { command: resolved, args: ['-m', 'llmspell_ls', ...extra], description: `${resolved} -m llmspell_ls` };
  }
  const onPath = findOnPath('llmspell-ls', env.PATH, exists);
  if (!onPath) {
    return { error: 'llmspell-ls was not found on PATH. Install it with "pip install llmspell-ls", or set llmspell.server.path (the llmspell-ls executable) or llmspell.server.pythonPath (a Python that has it installed).' };
  }
  return { command: onPath, args: extra, description: onPath };
}

export function isServerCommandError(x: ServerCommand | ServerCommandError): x is ServerCommandError {
  return (x as ServerCommandError).error !== undefined;
}
