#include "runtime/fd/unique_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace tend {

void UniqueFd::reset(int fd) {
  // close() is not retried on EINTR: on Linux the descriptor is released regardless.
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

int MakePipe(Pipe* pipe, int flags) {
  int ends[2];
  if (pipe2(ends, O_CLOEXEC | flags) != 0) return errno;
  pipe->read_end.reset(ends[0]);
  pipe->write_end.reset(ends[1]);
  return 0;
}

}  // namespace tend
