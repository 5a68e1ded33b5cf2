#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace tend::config {

// An app of an ecosystem file, rewritten the way pm2 prepares one before it validates it
// (lib/Common.js verifyConfs and lib/tools/Config.js): the result holds pm2's canonical keys
// only, so one reader can check them.
//  - aliases: `cmd`, `command` and `exec` for `script`; `interpreter` for
//    `exec_interpreter`; `interpreter_args` for `node_args`; `cron` for `cron_restart`;
//    `user` for `uid`; and every key in camelCase (`maxMemoryRestart`);
//  - a script with a space (`"npm run start"`) runs as `bash -c SCRIPT` (`sh` where there is
//    no bash), named after the whole script when it has no name;
//  - `execute_command: true` is fork mode.
nlohmann::json NormalizeLikePm2(const nlohmann::json& app);

// How a script runs, as pm2's resolveInterpreter decides when no interpreter is given, with
// one difference: a text file whose `#!` line names another interpreter runs with that one
// (pm2 would run it under node). `path` is the script's file, found already.
//  - an extension pm2 maps: .js node, .sh bash, .py python (python3 where there is no
//    python), .rb ruby, .php php, .pl perl, .coffee coffee, .ls lsc, .ts and .tsx bun;
//  - otherwise a binary runs as it is ("none"), and a text file under node (`bin/www`, npm's
//    and ts-node's launchers), or under its `#!` interpreter when that is not node.
// Returns the interpreter and its arguments (from a `#!` line), or {"none"}.
std::vector<std::string> InterpreterFor(const std::string& path);

// `program` found on PATH, or empty.
std::string FindInPath(const std::string& program);

}  // namespace tend::config
