// What a worker's preload answers for its app's metrics is untrusted JSON: any text, split
// between two workers, aggregates and renders without crashing, and every line of the
// exposition is a comment or a sample with a valid name.
#include <cstdint>
#include <string>

#include "absl/strings/str_split.h"
#include "runtime/metrics/app_metrics.h"
#include "runtime/prom_client/registry_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  for (bool per_worker : {false, true}) {
    tend::metrics::AppAggregation aggregation("app", per_worker);
    const std::string answers[] = {text, text.substr(0, size / 2), text};
    for (int instance = 0; instance < 3; ++instance) {
      tend::prom_client::Registry registry;
      if (tend::prom_client::ReadRegistry(answers[instance], registry, 1 << 20)) {
        aggregation.AddWorker(instance, registry);
      }
    }
    std::string exposition = tend::metrics::AppExposition(aggregation.Take());
    for (absl::string_view line : absl::StrSplit(exposition, '\n', absl::SkipEmpty())) {
      if (line.substr(0, 2) == "# ") continue;
      char letter = static_cast<char>(line[0] | 0x20);
      if (!(line[0] == '_' || line[0] == ':' || (letter >= 'a' && letter <= 'z'))) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
