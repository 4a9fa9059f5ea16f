-- Pure formatting of llmspell/* run notifications into run-buffer lines. Mirrors
-- editors/vscode/src/format.ts so both editors show a run the same way.
local M = {}

function M.run_id(p)
  return tostring((p and (p.runId or p.run_id)) or '')
end

local function is_nil(v)
  return v == nil or v == vim.NIL
end

function M.compact(value, max)
  max = max or 200
  if is_nil(value) then
    return ''
  end
  local ok, s = pcall(vim.json.encode, value)
  if not ok then
    s = tostring(value)
  end
  -- vim.json.encode escapes '/' as '\/'; undo that for readability.
  s = s:gsub('\\/', '/')
  if vim.fn.strchars(s) > max then
    s = vim.fn.strcharpart(s, 0, max - 1) .. '…'
  end
  return s
end

function M.duration(ms)
  if type(ms) ~= 'number' then
    return '?'
  end
  if ms < 1000 then
    return string.format('%d ms', math.floor(ms + 0.5))
  elseif ms < 60000 then
    return string.format('%.2f s', ms / 1000)
  end
  return string.format('%d min %d s', math.floor(ms / 60000), math.floor((ms % 60000) / 1000 + 0.5))
end

function M.cost(usd)
  if type(usd) ~= 'number' or usd == 0 then
    return '$0'
  end
  if usd < 0.01 then
    return string.format('$%.6f', usd)
  end
  return string.format('$%.4f', usd)
end

function M.basename(path_or_uri)
  if type(path_or_uri) ~= 'string' or path_or_uri == '' then
    return 'spell'
  end
  local clean = path_or_uri:gsub('[?#].*$', '')
  local name = clean:match('([^/\\]+)$') or clean
  return (name:gsub('%%(%x%x)', function(h)
    return string.char(tonumber(h, 16))
  end))
end

function M.started(p, when)
  local name = M.basename(p.file or p.uri)
  local lang = (type(p.language) == 'string' and p.language ~= '') and (' (' .. p.language .. ')') or ''
  return string.format('── run %s: %s%s started %s ──', M.run_id(p), name, lang, os.date('%H:%M:%S', when))
end

function M.event(p)
  local seq = is_nil(p.sequence) and '' or ('#' .. tostring(p.sequence) .. ' ')
  local data = M.compact(p.data)
  return string.format('[event] %s%s%s', seq, tostring(p.event_type or '?'), data ~= '' and (' ' .. data) or '')
end

function M.hook_result(p)
  local reason = (type(p.reason) == 'string' and p.reason ~= '') and (' (' .. p.reason .. ')') or ''
  local comp = (type(p.component) == 'string' and p.component ~= '') and (' on ' .. p.component) or ''
  return string.format('[hook] %s %s%s → %s%s', tostring(p.point or '?'), tostring(p.hook or '?'), comp,
    tostring(p.result or '?'), reason)
end

function M.usage(usage, cost)
  usage = type(usage) == 'table' and usage or {}
  local prompt = type(usage.prompt_tokens) == 'number' and usage.prompt_tokens or 0
  local completion = type(usage.completion_tokens) == 'number' and usage.completion_tokens or 0
  local total = type(usage.total_tokens) == 'number' and usage.total_tokens or (prompt + completion)
  local usd = type(cost) == 'number' and cost or usage.cost_usd
  return string.format('tokens %d (%d prompt + %d completion) · cost %s', total, prompt, completion, M.cost(usd))
end

--- Lines that close a run: the status line, then the result or the error.
function M.finished(p)
  local status = type(p.status) == 'string' and p.status or 'unknown'
  local mark = status == 'success' and '✔' or (status == 'cancelled' and '■' or '✖')
  local lines = {
    string.format('%s %s in %s · %s', mark, status, M.duration(p.duration_ms), M.usage(p.usage, p.cost_usd)),
  }
  local err = p.error
  if type(err) == 'table' and (not is_nil(err.message) or not is_nil(err.file)) then
    local loc = ''
    if type(err.file) == 'string' then
      loc = M.basename(err.file) .. (type(err.line) == 'number' and (':' .. err.line) or '')
    end
    local message = is_nil(err.message) and '' or tostring(err.message)
    -- Lua messages often start with the same "file:line: " already; don't say it twice.
    if loc ~= '' and vim.startswith(message, loc .. ': ') then
      message = message:sub(#loc + 3)
    end
    table.insert(lines, string.format('error%s: %s', loc ~= '' and (' at ' .. loc) or '', message))
  elseif not is_nil(p.result) then
    table.insert(lines, 'result: ' .. M.compact(p.result, 500))
  end
  return lines
end

return M
