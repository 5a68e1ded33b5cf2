#pragma once

namespace tend::startup {

// Runs, once and in link order, the static initializers that libraries.ld set aside: gRPC's,
// protobuf's (but its empty string) and its generated files' descriptors, prometheus-cpp's.
// Call it before anything uses those libraries. In a binary linked without the script (unit
// tests, sanitizer builds) there are none to run: the initializers ran before main as usual.
void RunDeferredInitializers();

}  // namespace tend::startup
