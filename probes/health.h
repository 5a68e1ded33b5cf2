#pragma once

#include <string>
#include <vector>

#include "runtime/supervise/status.h"

namespace tend::probes {

// One named check of a probe, as Kubernetes' own components list them.
struct Check {
  std::string name;
  bool ok;
  std::string reason;  // why not, when !ok
};

// Ready: tend is not shutting down, and every app has at least its minimum of ready
// workers and is not errored.
std::vector<Check> ReadinessChecks(const std::vector<supervise::AppStatus>& apps, bool stopping);

struct Verdict {
  bool ok;
  std::string body;  // plain text
};

// "ok" when every check passed; otherwise the first failure's reason. `verbose` lists every
// check, "[+]name ok" or "[-]name failed: reason", then "<probe> check passed|failed".
Verdict Judge(const std::string& probe, const std::vector<Check>& checks, bool verbose);

}  // namespace tend::probes
