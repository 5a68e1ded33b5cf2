// An ecosystem file as a careless or hostile author writes it: parsed as JSON or YAML (the
// first byte chooses), then applied as tend applies a file it is given.
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/config/command_line.h"
#include "runtime/config/ecosystem.h"
#include "runtime/config/ecosystem_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string path = data[0] % 2 ? "fuzz.config.json" : "fuzz.config.yml";
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  absl::StatusOr<nlohmann::json> content = tend::config::ParseEcosystemText(path, text);
  if (!content.ok()) return 0;
  absl::StatusOr<tend::config::CommandLine> parsed =
      tend::config::ParseCommandLine({path}, /*available_cpus=*/2);
  if (!parsed.ok()) return 0;
  std::vector<std::string> warnings;
  (void)tend::config::ApplyEcosystem(path, *content, "production", {}, 2, *parsed, &warnings);
  return 0;
}
