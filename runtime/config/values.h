#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace tend::config {

// A whole number from 0 to `max`, digits only (no sign, no space).
std::optional<uint64_t> ParseCount(absl::string_view digits, uint64_t max);

// pm2's sizes: a number of bytes, or of K, M or G (1024-based): "200M", "1G", "512k".
std::optional<uint64_t> ParseSize(absl::string_view text);

// [HOST:]PORT, with an IPv6 HOST in brackets ([::1]:8080); HOST is empty when left out.
bool ParseHostPort(absl::string_view text, std::string* host, uint32_t* port);

// Milliseconds, up to a day: "1500", or with a unit: "500ms", "10s", "2m", "1h". The command
// line and ecosystem files take the same forms, and refuse others with NotADuration(shown).
std::optional<uint32_t> ParseMillis(absl::string_view text);
std::string NotADuration(absl::string_view shown);

// One of a fixed set of words (--app-metrics per-worker): its position in `choices`. The
// command line and ecosystem files refuse others with NotAChoice(shown, choices).
std::optional<size_t> ParseChoice(absl::string_view text,
                                  std::initializer_list<absl::string_view> choices);
std::string NotAChoice(absl::string_view shown, std::initializer_list<absl::string_view> choices);

// The name pm2 gives an app without one (renderApplicationName): the script's file name
// without its last extension ("server.prod.js": "server.prod").
std::string NameFromScript(const std::string& script);

}  // namespace tend::config
