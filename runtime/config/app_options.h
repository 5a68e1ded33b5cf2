#pragma once

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tend/v1/config.pb.h"

namespace tend::config {

// The options of an app that the command line and ecosystem files both set, modelled once:
// each has one parser and validator, used for `--FLAG VALUE` and for `key: value` alike, so
// both take the same forms and refuse others in the same words.
struct AppOption {
  const char* flag;  // on the command line, without "--"
  const char* key;   // in an ecosystem file
  // Without a value: a flag that means `switch_value` on its own (--wait-ready: "true");
  // null for a flag that takes a value.
  const char* switch_value;
  // Sets the option from its text (from a file: strings as they are, numbers and booleans
  // as JSON writes them, a list joined with commas). An error names the problem with
  // `shown`, the value as the user wrote it: "'25h' is not a duration (...)".
  absl::Status (*apply)(absl::string_view text, absl::string_view shown, v1::App& app);
};

const std::vector<AppOption>& AppOptions();
// The option an ecosystem key or flag names, or null.
const AppOption* FindAppOption(absl::string_view key_or_flag);

}  // namespace tend::config
