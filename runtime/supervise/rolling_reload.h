#pragma once

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <map>
#include <set>
#include <string>

namespace tend::supervise {

// What a rolling reload asks of the app whose workers it replaces (App, or a fake in tests).
// What a start did comes back as its result. A call that reaches back into the reload (App
// announces a worker ready at once) is ignored there: the reload waits for no event of a
// step it is still taking.
class ReloadTarget {
 public:
  enum class Started { kStarting, kReady, kFailed };
  virtual ~ReloadTarget() = default;

  // Whether the instance runs a worker to replace (it may have exited, or been scaled away).
  virtual bool Runs(size_t index) const = 0;
  // Starts a replacement next to the instance's worker (they share tend's socket); on
  // kFailed, `why` says why.
  virtual Started StartNextTo(size_t index, std::string* why) = 0;
  // The instance's replacement is ready: it serves, and the old worker drains and stops.
  virtual void Promote(size_t index) = 0;
  // Stop first (the old worker must free its port): the old worker stops; its pid.
  virtual pid_t StopFirst(size_t index) = 0;
  // The old worker is gone: the instance's new worker starts in its place.
  virtual Started StartInPlace(size_t index) = 0;
  // One more instance runs a new worker.
  virtual void Replaced(size_t index) = 0;
  // A step failed: no more instances are begun, and those under way finish.
  virtual void Failed(const std::string& why) = 0;
};

// One rolling reload: replaces the listed instances' workers, at most `surge` under way at a
// time, and ends when each was replaced, skipped or cut short by a failure. Its state is
// which instances wait and which are under way, and in what phase; the target does the work.
//
// Every event method returns whether the reload waited for that event. An event it did not
// wait for (another instance, a pid it never stopped) changes nothing.
class RollingReload {
 public:
  struct Plan {
    std::deque<size_t> instances;  // in the order they are replaced
    size_t surge = 1;
    bool stop_first = false;  // old worker stops before its replacement starts
  };

  RollingReload(ReloadTarget& target, Plan plan);

  // Begins the first `surge` instances.
  void Begin();
  // A replacement started next to the old worker is ready.
  bool OnReplacementReady(size_t index);
  // A replacement started next to the old worker exited before it was ready.
  bool OnReplacementExited(size_t index, const std::string& why);
  // A process exited: for a worker stopped first, its new one starts.
  bool OnStoppedExited(pid_t pid);
  // The instance's own worker (started in place) is ready, or exited before it was.
  bool OnInstanceReady(size_t index);
  bool OnInstanceExited(size_t index);
  // tend stops: nothing more is begun or waited for. Replacements the target started stay
  // the target's to stop.
  void Abort();

  bool done() const;
  bool failed() const { return failed_; }

 private:
  // Set while a method runs: an event that arrives meanwhile (from a target call) is ignored.
  class Busy {
   public:
    explicit Busy(bool& busy) : busy_(busy) { busy_ = true; }
    ~Busy() { busy_ = false; }

   private:
    bool& busy_;
  };

  size_t UnderWay() const;
  void Advance();
  void Fail(const std::string& why);

  ReloadTarget& target_;
  std::deque<size_t> queue_;
  const size_t surge_;
  const bool stop_first_;
  std::set<size_t> beside_old_;       // replacement starting next to the old worker
  std::map<pid_t, size_t> stopping_;  // stopped first: the old worker's pid, until it exits
  std::set<size_t> in_place_;         // new worker started in place, not yet ready
  bool failed_ = false;
  bool busy_ = false;
};

}  // namespace tend::supervise
