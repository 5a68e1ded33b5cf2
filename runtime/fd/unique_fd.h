#pragma once

#include <utility>

namespace tend {

// Owns one file descriptor and closes it when destroyed: every descriptor tend opens is
// held by one of these, so no error path can leak it. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  // Gives the descriptor up without closing it.
  int release() { return std::exchange(fd_, -1); }
  // Closes the descriptor held, if any, and holds `fd` instead.
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Both ends of a new pipe (O_CLOEXEC plus `flags`), or the errno of pipe2().
struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};
int MakePipe(Pipe* pipe, int flags = 0);

}  // namespace tend
