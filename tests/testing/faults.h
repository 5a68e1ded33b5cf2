#pragma once

#include <fcntl.h>
#include <sys/resource.h>

namespace tend::testing {

// While it lives, this process can open no new descriptor (EMFILE): RLIMIT_NOFILE's soft
// limit is lowered to just above the highest descriptor open now, and restored after.
class NoDescriptorsLeft {
 public:
  NoDescriptorsLeft() {
    getrlimit(RLIMIT_NOFILE, &saved_);
    int highest = 0;
    for (int fd = 0; fd < 4096; ++fd) {
      if (fcntl(fd, F_GETFD) >= 0) highest = fd;
    }
    rlimit tight = saved_;
    tight.rlim_cur = highest + 1;
    ok_ = setrlimit(RLIMIT_NOFILE, &tight) == 0;
  }
  ~NoDescriptorsLeft() { setrlimit(RLIMIT_NOFILE, &saved_); }
  NoDescriptorsLeft(const NoDescriptorsLeft&) = delete;
  NoDescriptorsLeft& operator=(const NoDescriptorsLeft&) = delete;

  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

}  // namespace tend::testing
