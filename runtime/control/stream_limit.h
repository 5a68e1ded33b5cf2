#pragma once

#include <atomic>
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

}  // namespace tend::control
