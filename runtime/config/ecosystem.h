#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "runtime/config/command_line.h"

namespace tend::config {

// Fills `parsed.config.apps` from a pm2 ecosystem file's content (`{apps: [...]}`, a list
// of apps, or one app), with pm2's option names and meanings. `parsed.worker` (pm2's
// defaults and the worker flags of the command line) is what an app starts from; the file's
// options win. `env_name` merges env_<env_name> over env; `only` keeps the apps named. An
// error names the file, the app and the field. Options that mean nothing in a container are
// accepted with one warning each, in `warnings`.
absl::Status ApplyEcosystem(const std::string& path, const nlohmann::json& content,
                            const std::string& env_name, const std::vector<std::string>& only,
                            const CpuCount& available_cpus, CommandLine& parsed,
                            std::vector<std::string>* warnings);

// Everything tend's arguments say: the command line, and the ecosystem file it names (read
// and applied). Warnings (the command line's and the file's) are in `warnings`. A command-line
// error is InvalidArgument; a file's is FailedPrecondition; each message is one line.
absl::StatusOr<CommandLine> LoadConfiguration(const std::vector<std::string>& args,
                                              const CpuCount& available_cpus);

}  // namespace tend::config
