#pragma once

#include <string>

namespace tend::process {

// The CPUs this process may really use: its affinity mask, capped by the cgroup's CPU quota
// (v2 cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us), rounded down, at least 1. Never
// the host's core count: a 2-CPU container on a 48-core host gets 2.
int AvailableCpus(const std::string& cgroup_root = "/sys/fs/cgroup");

// The quota alone, in CPUs rounded down (at least 1), or 0 when there is none.
int CgroupCpuLimit(const std::string& cgroup_root);

}  // namespace tend::process
