#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace tend::config {

// The file's content as JSON. JSON and YAML are parsed here (errors give the line); a
// JavaScript file (CommonJS or ESM) is evaluated by the container's own `node`, which prints
// what the module exports, and is cut off after `timeout_ms`.
absl::StatusOr<nlohmann::json> ReadEcosystemFile(const std::string& path, int timeout_ms = 10000);

}  // namespace tend::config
