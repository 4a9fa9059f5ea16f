-- logger_utils.lua: Logger writes levelled lines (with data) to the run's stderr; Utils has small helpers.
Logger.info("starting", {spell = "logger_utils.lua"})
Logger.debug("hidden: below the default level (info)")
Logger.set_level("debug")
Logger.debug("shown after set_level('debug')")

local id = Utils.uuid()
print("uuid:", #id, "characters")
print("sha256 of 'spell':", Utils.hash("spell"))
print("md5 of 'spell':", Utils.hash("spell", "md5"))
print("base64:", Utils.base64_encode("hello"), "->", Utils.base64_decode(Utils.base64_encode("hello")))
local settings = Utils.merge({retries = 3, http = {timeout = 10, verbose = false}}, {http = {verbose = true}})
print("merged:", settings.retries, settings.http.timeout, settings.http.verbose)
print("split:", table.concat(Utils.split("red, green ,blue", ","), "|"))
print("trim:", "[" .. Utils.trim("  padded  ") .. "]")

local t0 = Utils.timestamp()
Utils.sleep(0.05)
print("slept at least 50 ms:", Utils.timestamp() - t0 >= 0.045)
Logger.warn("done", {steps = 9})
return {uuid_length = #id}
