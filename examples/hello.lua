-- hello.lua: your first spell. Run it with:  llmspell-ls --run examples/hello.lua -- --name Ada
-- Everything runs offline on the built-in scripted provider; pass --model openai/gpt-4o-mini for a real one.

local name = (ARGS and ARGS.name) or "world"
print("Hello, " .. name .. "!")

-- an agent: builders use colon calls, exactly as in rs-llmspell
local agent = Agent.builder()
  :name("greeter")
  :model("offline/scripted")
  :system_prompt("You greet people warmly.")
  :build()

local reply = agent:execute({text = "Say hello to " .. name})
print("Agent says: " .. reply.text)

-- the returned table is the run's result (shown after the output)
return {greeted = name}
