#include "runtime/process/cpus.h"

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

namespace tend::process {
namespace {

// The cgroup paths of this process, from /proc/self/cgroup ("ID:CONTROLLERS:PATH"), for the
// hierarchies that carry the cpu controller (v1) or the unified one (v2: empty controllers).
std::vector<std::string> OwnCgroupPaths() {
  std::vector<std::string> paths;
  std::ifstream file("/proc/self/cgroup");
  std::string line;
  while (std::getline(file, line)) {
    size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    std::stringstream list(controllers);
    std::string controller;
    bool cpu = controllers.empty();
    while (std::getline(list, controller, ',')) cpu |= controller == "cpu";
    if (cpu && path != "/") paths.push_back(path);
  }
  return paths;
}

// CPUs from a quota and period in microseconds; 0 for no quota.
int FromQuota(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return 0;
  return std::max(1LL, quota / period);
}

int ReadV2(const std::string& dir) {
  std::ifstream file(dir + "/cpu.max");
  std::string quota;
  long long period = 0;
  if (!(file >> quota >> period) || quota == "max") return 0;
  return FromQuota(std::atoll(quota.c_str()), period);
}

int ReadV1(const std::string& dir) {
  std::ifstream quota_file(dir + "/cpu.cfs_quota_us"), period_file(dir + "/cpu.cfs_period_us");
  long long quota = 0, period = 0;
  if (!(quota_file >> quota) || !(period_file >> period)) return 0;
  return FromQuota(quota, period);
}

}  // namespace

int CgroupCpuLimit(const std::string& cgroup_root) {
  // Inside a container the cgroup is mounted at the root; on a host it sits at its path.
  const std::vector<std::string> bases = {cgroup_root, cgroup_root + "/cpu",
                                          cgroup_root + "/cpu,cpuacct"};
  std::vector<std::string> dirs = bases;
  for (const std::string& path : OwnCgroupPaths()) {
    for (const std::string& base : bases) dirs.push_back(base + path);
  }
  int limit = 0;
  for (const std::string& dir : dirs) {
    for (int cpus : {ReadV2(dir), ReadV1(dir)}) {
      if (cpus > 0) limit = limit == 0 ? cpus : std::min(limit, cpus);
    }
  }
  return limit;
}

int AvailableCpus(const std::string& cgroup_root) {
  cpu_set_t set;
  int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  int limit = CgroupCpuLimit(cgroup_root);
  if (limit > 0) cpus = std::min(cpus, limit);
  return std::max(1, cpus);
}

}  // namespace tend::process
