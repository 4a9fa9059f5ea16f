// local_llm.js: local model servers (Ollama, llama.cpp, vLLM, LM Studio) configured in llmspell.toml:
//
//   [local_llm.backends.ollama]
//   base_url = "http://localhost:11434"
//
// Without that section this spell still runs: status() says why nothing is running, list() is empty,
// and a local agent (model "local/<name>") fails at build with the configuration to add (never a
// canned offline reply; only rs-llmspell-style "ollama/..." names on a runtime configured for no
// real model at all are answered offline, marked "[offline ...]").
const status = await LocalLLM.status();
for (const name of ["ollama", "candle"]) {
  const b = status[name];
  const up = b.running || b.ready;
  console.log(`${name}:`, up ? "running" : "not running", `models: ${b.models}`);
  if (b.reason) console.log("  why:", b.reason.slice(0, 60) + "...");
}

const models = await LocalLLM.list();
console.log("local models:", models.length);
for (const m of models) {
  console.log(`  ${m.id} (${m.backend}) ${(m.size_bytes / 1048576).toFixed(1)} MB ${m.quantization || ""}`);
}

if (status.ollama.running && status.ollama.models > 0) {
  // a backend answers: chat with its first model through an ordinary agent
  const first = models[0];
  const info = await LocalLLM.info(`${first.id}@${first.backend}`);
  console.log("model:", info.id, info.format, info.parameter_count ?? "?", "parameters");
  const agent = Agent.builder().name("local-chat").model(`local/${first.id}@${first.backend}`).build();
  let text = "";
  for await (const chunk of agent.stream({ text: "Say hello in five words." })) text += chunk.text;
  console.log("answer:", text);
  return { backend: first.backend, models: models.length };
}

// no backend: the error says what to configure
try {
  Agent.builder().name("local-chat").model("local/llama3.1:8b").build();
  console.log("local agent built:", true);
} catch (e) {
  console.log("local agent built:", false);
  console.log("error kind:", e.kind);
  console.log("mentions the config:", e.message.includes("[local_llm.backends.ollama]"));
}
return { backend: null, models: models.length };
