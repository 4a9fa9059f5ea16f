// first_agent.js: build an agent, talk to it twice (it remembers the conversation).
const agent = Agent.builder()
  .name("tutor")
  .model("offline/scripted")
  .systemPrompt("You are a patient tutor.")
  .temperature(0.2)
  .build();

console.log("agent:", agent.name);
const first = await agent.execute({ text: "What is a spell?" });
console.log("first:", first.text);
const second = await agent.execute({ text: "And what is a hook?" });
console.log("second:", second.text);
console.log("model used:", second.metadata.model);
return { turns: 2 };
