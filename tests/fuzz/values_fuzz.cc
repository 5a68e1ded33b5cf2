// The small parsers behind flags and ecosystem fields: durations, sizes, [HOST:]PORT and
// signal names. Each takes any text without crashing or overflowing.
#include <cstdint>
#include <string>

#include "runtime/config/values.h"
#include "runtime/signals/signals.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)tend::config::ParseMillis(text);
  (void)tend::config::ParseSize(text);
  std::string host;
  uint32_t port;
  if (tend::config::ParseHostPort(text, &host, &port) && port > 65535) __builtin_trap();
  for (bool allow_zero : {false, true}) {
    std::optional<int> signo = tend::signals::ParseSignal(text, allow_zero);
    if (signo && (*signo < 0 || *signo > 64)) __builtin_trap();
    if (signo && *signo > 0) (void)tend::signals::SignalName(*signo);
  }
  return 0;
}
