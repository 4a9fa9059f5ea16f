-- local_llm.lua: local model servers (Ollama, llama.cpp, vLLM, LM Studio) configured in llmspell.toml:
--
--   [local_llm.backends.ollama]
--   base_url = "http://localhost:11434"
--
-- Without that section this spell still runs: status() says why nothing is running, list() is empty,
-- and a local agent (model "local/<name>") fails at build with the configuration to add (never a
-- canned offline reply; only rs-llmspell-style "ollama/..." names on a runtime configured for no
-- real model at all are answered offline, marked "[offline ...]").
local status = LocalLLM.status()
for _, name in ipairs({"ollama", "candle"}) do
  local b = status[name]
  local up = b.running or b.ready
  print(name .. ":", up and "running" or "not running", "models: " .. b.models)
  if b.reason then print("  why:", b.reason:sub(1, 60) .. "...") end
end

local models = LocalLLM.list()
print("local models:", #models)
for _, m in ipairs(models) do
  print(string.format("  %s (%s) %.1f MB %s", m.id, m.backend, m.size_bytes / 1048576, m.quantization or ""))
end

if status.ollama.running and status.ollama.models > 0 then
  -- a backend answers: chat with its first model through an ordinary agent
  local first = models[1]
  local info = LocalLLM.info(first.id .. "@" .. first.backend)
  print("model:", info.id, info.format, info.parameter_count or "?", "parameters")
  local agent = Agent.builder():name("local-chat"):model("local/" .. first.id .. "@" .. first.backend):build()
  print("answer:", agent:execute({text = "Say hello in five words."}).text)
  return {backend = first.backend, models = #models}
end

-- no backend: the error says what to configure
local ok, err = pcall(function()
  return Agent.builder():name("local-chat"):model("local/llama3.1:8b"):build()
end)
print("local agent built:", ok)
print("error kind:", err.kind)
print("mentions the config:", tostring(err):find("[local_llm.backends.ollama]", 1, true) ~= nil)
return {backend = nil, models = #models}
