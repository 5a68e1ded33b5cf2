#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace tend::testing {

// While it lives, this process can open no new descriptor (EMFILE): RLIMIT_NOFILE's soft
// limit is lowered to just above the highest descriptor open now, the free numbers below it
// are taken, and both are given back after.
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
    for (int fd; ok_ && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) {
      fillers_.push_back(fd);
    }
  }
  ~NoDescriptorsLeft() {
    for (int fd : fillers_) close(fd);
    setrlimit(RLIMIT_NOFILE, &saved_);
  }
  NoDescriptorsLeft(const NoDescriptorsLeft&) = delete;
  NoDescriptorsLeft& operator=(const NoDescriptorsLeft&) = delete;

  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
  std::vector<int> fillers_;
};

// Puts /dev/null where this process's only epoll instance (an event loop's) was, so that
// the loop's next epoll_wait or epoll_ctl fails with EINVAL. False when there is none.
inline bool BreakTheEpollInstance() {
  for (int fd = 0; fd < 4096; ++fd) {
    char target[64] = {};
    std::string link = "/proc/self/fd/" + std::to_string(fd);
    if (readlink(link.c_str(), target, sizeof target - 1) <= 0 ||
        std::string(target) != "anon_inode:[eventpoll]") {
      continue;
    }
    int not_epoll = open("/dev/null", O_RDONLY | O_CLOEXEC);
    bool replaced = not_epoll >= 0 && dup2(not_epoll, fd) == fd;
    close(not_epoll);
    return replaced;
  }
  return false;
}

}  // namespace tend::testing
