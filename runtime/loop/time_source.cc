#include "runtime/loop/time_source.h"

namespace tend::loop {
namespace {

class MonotonicTime : public TimeSource {
 public:
  Clock::time_point Now() const override { return Clock::now(); }
};

}  // namespace

TimeSource& RealTime() {
  static MonotonicTime* const time = new MonotonicTime;  // never destroyed: no exit-time order
  return *time;
}

}  // namespace tend::loop
