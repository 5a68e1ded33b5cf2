#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/status.h"

namespace tend::control {

// A bound on the streams of one kind open at once, across every connection. The stream
// over the bound is refused with RESOURCE_EXHAUSTED naming the bound; others go on.
class StreamLimit {
 public:
  StreamLimit(int max, std::string what) : max_(max), what_(std::move(what)) {}

  // Any thread. True: the caller holds a slot until it calls Give().
  bool Take() {
    int open = open_.load();
    while (open < max_) {
      if (open_.compare_exchange_weak(open, open + 1)) return true;
    }
    return false;
  }
  void Give() { open_.fetch_sub(1); }

  grpc::Status Refusal() const {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("tend serves at most ", max_, " ", what_, " at once"));
  }

 private:
  const int max_;
  const std::string what_;
  std::atomic<int> open_{0};
};

// The bytes that the streams of one kind may hold queued for slow clients, all of them
// together: what one stream may not take, it does not queue. Any thread.
class ByteBudget {
 public:
  explicit ByteBudget(size_t max) : max_(max) {}

  bool Take(size_t bytes) {
    size_t used = used_.load();
    while (used + bytes <= max_) {
      if (used_.compare_exchange_weak(used, used + bytes)) return true;
    }
    return false;
  }
  void Give(size_t bytes) { used_.fetch_sub(bytes); }
  size_t used() const { return used_.load(); }

 private:
  const size_t max_;
  std::atomic<size_t> used_{0};
};

// What one stream may hold queued for a slow client: messages and bytes, its own and out of
// a budget it shares with the streams of its kind (none: null).
struct QueueBounds {
  size_t messages;
  size_t bytes;
  // Shared: an outbox can outlive the service that made it (a follower's last lines at
  // shutdown).
  std::shared_ptr<ByteBudget> shared;
  // The first bytes a stream holds that it need not take from `shared`.
  size_t own = 0;
};

}  // namespace tend::control
