-- config.lua: read the effective configuration (secrets are never visible) and ask the real policy
-- what this spell may touch. A spell can narrow its own sandbox, never widen it.
print("default engine:", Config.getDefaultEngine())
print("providers:", table.concat(Config.listProviders(), ", "))
print("wall time limit (s):", Config.get("limits.wall_time_s"))

print("file access to notes/todo.txt:", Config.isFileAccessAllowed("notes/todo.txt"))
print("file access to /etc/passwd:", Config.isFileAccessAllowed("/etc/passwd"))
print("network access to api.example.com:", Config.isNetworkAccessAllowed("api.example.com"))
print("network access to 127.0.0.1:", Config.isNetworkAccessAllowed("127.0.0.1"))

local perms = Config.getPermissions()
print("may widen security:", perms.modify_security, "narrowing only:", perms.narrowing_only)

-- widening is refused, naming the llmspell.toml key a person would set
local ok, err = pcall(Config.addAllowedPath, "/opt/data")
print("addAllowedPath(/opt/data):", ok, err.kind, err.message:match("set (security%.allowed_paths)"))

-- narrowing works for the rest of this run
local snap = Config.snapshot()
Config.setSecurity({network_allow = {"api.example.com"}})
print("after narrowing, other.org:", Config.isNetworkAccessAllowed("other.org"),
      "api.example.com:", Config.isNetworkAccessAllowed("api.example.com"))
Config.restoreSnapshot(snap)
print("after restoreSnapshot, other.org:", Config.isNetworkAccessAllowed("other.org"))
return {engine = Config.getDefaultEngine(), narrowed = true}
