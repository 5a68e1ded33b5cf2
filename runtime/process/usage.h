#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace tend::process {

// The fields of /proc/PID/stat that tend reads.
struct ProcStat {
  char state = '?';  // R, S, Z, ...
  pid_t ppid = 0;
  uint64_t user_ticks = 0;
  uint64_t system_ticks = 0;
  uint64_t start_ticks = 0;  // since boot
  uint64_t virtual_bytes = 0;
  int64_t resident_pages = 0;
};

// Read from `proc_root`/PID/stat; nullopt when the process is gone.
std::optional<ProcStat> ReadProcStat(pid_t pid, const std::string& proc_root = "/proc");

// What a process has used, as the kernel counts it.
struct Usage {
  uint64_t resident_bytes = 0;
  double cpu_seconds = 0;  // user + system
};

Usage UsageFrom(const ProcStat& stat);
std::optional<Usage> UsageOf(pid_t pid, const std::string& proc_root = "/proc");

}  // namespace tend::process
