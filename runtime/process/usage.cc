#include "runtime/process/usage.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace tend::process {

std::optional<ProcStat> ReadProcStat(pid_t pid, const std::string& proc_root) {
  std::ifstream file(absl::StrCat(proc_root, "/", pid, "/stat"));
  std::string line;
  if (!std::getline(file, line)) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and ')', so fields are counted from
  // the last ')'; state is field 3.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 1));
  ProcStat stat;
  std::string skip;
  for (int field = 3; field <= 24 && fields; ++field) {
    switch (field) {
      case 3:
        fields >> stat.state;
        break;
      case 4:
        fields >> stat.ppid;
        break;
      case 14:
        fields >> stat.user_ticks;
        break;
      case 15:
        fields >> stat.system_ticks;
        break;
      case 22:
        fields >> stat.start_ticks;
        break;
      case 23:
        fields >> stat.virtual_bytes;
        break;
      case 24:
        fields >> stat.resident_pages;
        break;
      default:
        fields >> skip;
    }
  }
  if (!fields) return std::nullopt;
  return stat;
}

Usage UsageFrom(const ProcStat& stat) {
  static const long kTicks = sysconf(_SC_CLK_TCK);
  static const long kPage = sysconf(_SC_PAGESIZE);
  Usage usage;
  usage.resident_bytes = static_cast<uint64_t>(std::max<int64_t>(0, stat.resident_pages)) * kPage;
  usage.cpu_seconds = static_cast<double>(stat.user_ticks + stat.system_ticks) / kTicks;
  return usage;
}

std::optional<Usage> UsageOf(pid_t pid, const std::string& proc_root) {
  std::optional<ProcStat> stat = ReadProcStat(pid, proc_root);
  if (!stat) return std::nullopt;
  return UsageFrom(*stat);
}

}  // namespace tend::process
