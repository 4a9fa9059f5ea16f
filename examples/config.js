// config.js: read the effective configuration (secrets are never visible) and ask the real policy
// what this spell may touch. A spell can narrow its own sandbox, never widen it.
console.log("default engine:", Config.getDefaultEngine());
console.log("providers:", Config.listProviders().join(", "));
console.log("wall time limit (s):", Config.get("limits.wall_time_s"));

console.log("file access to notes/todo.txt:", Config.isFileAccessAllowed("notes/todo.txt"));
console.log("file access to /etc/passwd:", Config.isFileAccessAllowed("/etc/passwd"));
console.log("network access to api.example.com:", Config.isNetworkAccessAllowed("api.example.com"));
console.log("network access to 127.0.0.1:", Config.isNetworkAccessAllowed("127.0.0.1"));

const perms = Config.getPermissions();
console.log("may widen security:", perms.modify_security, "narrowing only:", perms.narrowing_only);

// widening is refused, naming the llmspell.toml key a person would set
try {
  await Config.addAllowedPath("/opt/data");
} catch (e) {
  console.log("addAllowedPath(/opt/data):", false, e.kind, e.message.match(/set (security\.allowed_paths)/)[1]);
}

// narrowing works for the rest of this run
const snap = Config.snapshot();
await Config.setSecurity({ network_allow: ["api.example.com"] });
console.log("after narrowing, other.org:", Config.isNetworkAccessAllowed("other.org"),
  "api.example.com:", Config.isNetworkAccessAllowed("api.example.com"));
await Config.restoreSnapshot(snap);
console.log("after restoreSnapshot, other.org:", Config.isNetworkAccessAllowed("other.org"));
return { engine: Config.getDefaultEngine(), narrowed: true };
