#include "runtime/process/usage.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace tend::process {

std::optional<Usage> UsageOf(pid_t pid, const std::string& proc_root) {
  std::ifstream file(absl::StrCat(proc_root, "/", pid, "/stat"));
  std::string line;
  if (!std::getline(file, line)) return std::nullopt;
  // Fields after the command name, which may hold spaces and ')': state is field 3.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 2));
  std::string skip;
  uint64_t utime = 0, stime = 0;
  int64_t rss_pages = 0;
  for (int field = 3; field <= 24 && fields; ++field) {
    if (field == 14) {
      fields >> utime;
    } else if (field == 15) {
      fields >> stime;
    } else if (field == 24) {
      fields >> rss_pages;
    } else {
      fields >> skip;
    }
  }
  if (!fields) return std::nullopt;
  static const long kTicks = sysconf(_SC_CLK_TCK);
  static const long kPage = sysconf(_SC_PAGESIZE);
  Usage usage;
  usage.resident_bytes = static_cast<uint64_t>(rss_pages > 0 ? rss_pages : 0) * kPage;
  usage.cpu_seconds = static_cast<double>(utime + stime) / kTicks;
  return usage;
}

}  // namespace tend::process
