#include "runtime/supervise/memory_limit.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tend::supervise {
namespace {

constexpr std::chrono::milliseconds kCheckPeriod{2000};

std::string Mib(uint64_t bytes) { return absl::StrCat(bytes / (1024 * 1024), " MiB"); }

}  // namespace

MemoryLimit::MemoryLimit(loop::EventLoop& loop, uint64_t limit_bytes,
                         std::function<std::vector<Candidate>()> candidates,
                         std::function<void(size_t, std::string)> over)
    : limit_bytes_(limit_bytes), candidates_(std::move(candidates)), over_(std::move(over)) {
  timer_ = loop.Every(kCheckPeriod, [this] { Check(); });
}

void MemoryLimit::Check() {
  for (const Candidate& candidate : candidates_()) {
    std::optional<process::Usage> usage = candidate.usage();
    if (!usage || usage->resident_bytes <= limit_bytes_) continue;
    over_(candidate.instance,
          absl::StrCat("pid ", candidate.pid, " uses ", Mib(usage->resident_bytes), ", over the ",
                       Mib(limit_bytes_), " limit"));
    return;
  }
}

}  // namespace tend::supervise
