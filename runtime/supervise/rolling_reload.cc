#include "runtime/supervise/rolling_reload.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tend::supervise {

RollingReload::RollingReload(ReloadTarget& target, Plan plan)
    : target_(target),
      queue_(std::move(plan.instances)),
      surge_(std::max<size_t>(1, plan.surge)),
      stop_first_(plan.stop_first) {}

void RollingReload::Begin() {
  Busy busy(busy_);
  Advance();
}

bool RollingReload::done() const { return queue_.empty() && UnderWay() == 0; }

size_t RollingReload::UnderWay() const {
  return beside_old_.size() + stopping_.size() + in_place_.size();
}

void RollingReload::Advance() {
  while (!queue_.empty() && UnderWay() < surge_) {
    size_t index = queue_.front();
    queue_.pop_front();
    if (!target_.Runs(index)) continue;  // nothing runs to replace
    if (stop_first_) {
      stopping_[target_.StopFirst(index)] = index;
      continue;
    }
    std::string why;
    switch (target_.StartNextTo(index, &why)) {
      case ReloadTarget::Started::kFailed:
        Fail(why);
        return;
      case ReloadTarget::Started::kReady:
        target_.Promote(index);
        target_.Replaced(index);
        break;
      case ReloadTarget::Started::kStarting:
        beside_old_.insert(index);
        break;
    }
  }
}

// The instances under way finish; no more are begun.
void RollingReload::Fail(const std::string& why) {
  target_.Failed(why);
  failed_ = true;
  queue_.clear();
}

bool RollingReload::OnReplacementReady(size_t index) {
  if (busy_) return false;
  Busy busy(busy_);
  if (!beside_old_.erase(index)) return false;
  target_.Promote(index);
  target_.Replaced(index);
  Advance();
  return true;
}

bool RollingReload::OnReplacementExited(size_t index, const std::string& why) {
  if (busy_) return false;
  Busy busy(busy_);
  if (!beside_old_.erase(index)) return false;
  Fail(why);
  return true;
}

bool RollingReload::OnStoppedExited(pid_t pid) {
  if (busy_) return false;
  Busy busy(busy_);
  auto stopped = stopping_.find(pid);
  if (stopped == stopping_.end()) return false;
  size_t index = stopped->second;
  stopping_.erase(stopped);
  switch (target_.StartInPlace(index)) {
    case ReloadTarget::Started::kFailed:
      Fail(absl::StrCat("the new worker for instance ", index, " could not start"));
      break;
    case ReloadTarget::Started::kReady:
      target_.Replaced(index);
      Advance();
      break;
    case ReloadTarget::Started::kStarting:
      in_place_.insert(index);
      break;
  }
  return true;
}

bool RollingReload::OnInstanceReady(size_t index) {
  if (busy_) return false;
  Busy busy(busy_);
  if (!in_place_.erase(index)) return false;
  target_.Replaced(index);
  Advance();
  return true;
}

bool RollingReload::OnInstanceExited(size_t index) {
  if (busy_) return false;
  Busy busy(busy_);
  if (!in_place_.erase(index)) return false;
  Fail(absl::StrCat("the new worker for instance ", index, " exited before it was ready"));
  return true;
}

void RollingReload::Abort() {
  queue_.clear();
  beside_old_.clear();
  stopping_.clear();
  in_place_.clear();
}

}  // namespace tend::supervise
