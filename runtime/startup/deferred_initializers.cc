#include "runtime/startup/deferred_initializers.h"

extern "C" {
using Initializer = void (*)();
// The bounds of the section that libraries.ld makes; weak, so that without the script both
// are null and there is nothing to run.
extern const Initializer __tend_deferred_init_start[] __attribute__((weak));
extern const Initializer __tend_deferred_init_end[] __attribute__((weak));
}

namespace tend::startup {

void RunDeferredInitializers() {
  static bool ran = false;  // called from main's thread only, before any other thread exists
  if (ran) return;
  ran = true;
  for (const Initializer* initializer = __tend_deferred_init_start;
       initializer != __tend_deferred_init_end; ++initializer) {
    (*initializer)();
  }
}

}  // namespace tend::startup
