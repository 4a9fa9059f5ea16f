-- nvim-dap integration (optional): when mfussenegger/nvim-dap is installed, setup() registers the
-- spell debugger as `dap.adapters.llmspell` (the server command + `--dap`) and a "Debug spell"
-- entry in `dap.configurations.lua`, so :DapContinue, nvim-dap's UI and its keymaps debug spells.
-- Without nvim-dap, :LlmspellDebug uses the built-in client in llmspell/debug.lua.
local M = {}

M.CONFIG_NAME = 'Debug spell'

--- nvim-dap's module, or nil when it is not installed.
function M.nvim_dap()
  local ok, dap = pcall(require, 'dap')
  if ok and type(dap) == 'table' and type(dap.adapters) == 'table' then
    return dap
  end
  return nil
end

--- The debug adapter command: the language server's command with `--dap` appended.
function M.adapter_cmd(cfg)
  local cmd = vim.deepcopy(require('llmspell').resolve_cmd(cfg))
  table.insert(cmd, '--dap')
  return cmd
end

--- The launch configuration for one spell file (nvim-dap expands ${file} and ${workspaceFolder}
--- itself; the built-in client gets real paths).
function M.launch_config(program, cwd)
  return {
    type = 'llmspell',
    request = 'launch',
    name = M.CONFIG_NAME,
    program = program or '${file}',
    cwd = cwd or '${workspaceFolder}',
    stopOnEntry = false,
  }
end

--- Register the adapter and the configuration with nvim-dap. Idempotent: calling setup() again
--- replaces our entry instead of adding a second "Debug spell".
function M.register(dap, cfg)
  local cmd = M.adapter_cmd(cfg)
  dap.adapters.llmspell = {
    type = 'executable',
    command = cmd[1],
    args = vim.list_slice(cmd, 2),
    options = { detached = false },
  }
  dap.configurations = dap.configurations or {}
  local list = dap.configurations.lua or {}
  for i = #list, 1, -1 do
    if list[i].type == 'llmspell' and list[i].name == M.CONFIG_NAME then
      table.remove(list, i)
    end
  end
  table.insert(list, M.launch_config())
  dap.configurations.lua = list
  return dap.adapters.llmspell
end

return M
