#pragma once

#include <string>
#include <vector>

namespace tend::probes {

// `tend probe [--control unix:PATH] live|ready`: asks the running tend over its control
// socket, prints one line, exits 0 (live, ready) or 1 (not, or tend unreachable); 2 for bad
// usage. For Kubernetes exec probes and Docker HEALTHCHECK in images without curl.
int RunProbe(const std::vector<std::string>& args);

}  // namespace tend::probes
