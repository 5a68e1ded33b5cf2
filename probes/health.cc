#include "probes/health.h"

#include "absl/strings/str_cat.h"

namespace tend::probes {

std::vector<Check> ReadinessChecks(const std::vector<supervise::AppStatus>& apps, bool stopping) {
  std::vector<Check> checks;
  checks.push_back({"shutdown", !stopping, "tend is shutting down"});
  for (const supervise::AppStatus& app : apps) {
    std::string name = absl::StrCat("app:", app.name);
    if (app.errored) {
      checks.push_back({name, false, absl::StrCat(app.name, " is errored (crash loop)")});
    } else {
      checks.push_back(
          {name, app.ready >= app.min_ready,
           absl::StrCat(app.name, ": ", app.ready, " ready workers, ", app.min_ready, " needed")});
    }
  }
  return checks;
}

Verdict Judge(const std::string& probe, const std::vector<Check>& checks, bool verbose) {
  Verdict verdict{true, ""};
  std::string first_failure;
  for (const Check& check : checks) {
    if (check.ok) {
      absl::StrAppend(&verdict.body, "[+]", check.name, " ok\n");
    } else {
      absl::StrAppend(&verdict.body, "[-]", check.name, " failed: ", check.reason, "\n");
      if (verdict.ok) first_failure = check.reason;
      verdict.ok = false;
    }
  }
  if (verbose) {
    absl::StrAppend(&verdict.body, probe, " check ", verdict.ok ? "passed" : "failed", "\n");
  } else {
    verdict.body = verdict.ok ? "ok\n" : first_failure + "\n";
  }
  return verdict;
}

}  // namespace tend::probes
