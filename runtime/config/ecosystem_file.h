#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace tend::config {

// The file's content as JSON. JSON and YAML are parsed here (errors give the line); a
// JavaScript file (CommonJS or ESM) is evaluated by the container's own `node`, which prints
// what the module exports, and is cut off after `timeout_ms`.
// Files over 4 MiB, nesting deeper than 64 levels and YAML that expands (through aliases)
// to more than 100,000 values are refused with an error naming the file.
absl::StatusOr<nlohmann::json> ReadEcosystemFile(const std::string& path, int timeout_ms = 10000);

// A JSON (`path` ends in .json) or YAML text, as read from `path`, with the same bounds.
absl::StatusOr<nlohmann::json> ParseEcosystemText(const std::string& path, const std::string& text);

}  // namespace tend::config
