// hello.js: your first JavaScript spell. Run it with:  llmspell-ls --run examples/hello.js -- --name Ada
// Everything runs offline on the built-in scripted provider; pass --model openai/gpt-4o-mini for a real one.
// The globals (Agent, Tool, Workflow, Hook, Event, State, ...) are always there, top-level `await`
// works, console.log/console.error are captured, and `return` gives the run's result.
const name = ARGS.name || "world";
console.log(`Hello, ${name}!`);

// an agent: builder steps and build() are plain calls; execute() waits on the model, so await it
const agent = Agent.builder()
  .name("greeter")
  .model("offline/scripted")
  .systemPrompt("You greet people warmly.")
  .build();

const reply = await agent.execute({ text: "Say hello to " + name });
console.log("Agent says: " + reply.text);

// the returned object is the run's result (shown after the output)
return { greeted: name };
