#pragma once

#include <string>
#include <vector>

namespace tend::control {

// `tend ctl [--control unix:PATH] [--json] COMMAND...`: the control client. Exits 0 when the
// call succeeded, 1 when tend refused or could not be reached, 2 for bad usage.
int RunCtl(const std::vector<std::string>& args);

}  // namespace tend::control
