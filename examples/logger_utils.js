// logger_utils.js: Logger writes levelled lines (with data) to the run's stderr; Utils has small helpers.
Logger.info("starting", { spell: "logger_utils.js" });
Logger.debug("hidden: below the default level (info)");
Logger.setLevel("debug");
Logger.debug("shown after setLevel('debug')");

const id = Utils.uuid();
console.log("uuid:", id.length, "characters");
console.log("sha256 of 'spell':", Utils.hash("spell"));
console.log("md5 of 'spell':", Utils.hash("spell", "md5"));
console.log("base64:", Utils.base64Encode("hello"), "->", Utils.base64Decode(Utils.base64Encode("hello")));
const settings = Utils.merge({ retries: 3, http: { timeout: 10, verbose: false } }, { http: { verbose: true } });
console.log("merged:", settings.retries, settings.http.timeout, settings.http.verbose);
console.log("split:", Utils.split("red, green ,blue", ",").join("|"));
console.log("trim:", "[" + Utils.trim("  padded  ") + "]");

const t0 = Utils.timestamp();
await Utils.sleep(0.05);
console.log("slept at least 50 ms:", Utils.timestamp() - t0 >= 0.045);
Logger.warn("done", { steps: 9 });
return { uuid_length: id.length };
