#include "runtime/logs/diagnostics.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"

namespace tend::logs {
namespace {

class DiagnosticsWriter {
 public:
  static DiagnosticsWriter& Get() {
    static DiagnosticsWriter* writer = new DiagnosticsWriter();  // lives until _exit
    return *writer;
  }

  void Write(absl::string_view level, absl::string_view message, bool always) {
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // Errors are few and say why tend stops: never rate-limited.
      if (!always && !Admit()) return;
      std::string line;
      if (suppressed_ > 0) {
        absl::StrAppend(&line, "tend: warning: ", suppressed_,
                        " of tend's own lines dropped (more "
                        "than ",
                        kDiagnosticsPerSecond, " a second)\n");
        dropped_ += suppressed_;
        suppressed_ = 0;
      }
      absl::StrAppend(&line, "tend: ", level, message, "\n");
      bool was_waiting = !waiting_.empty();
      Flush();  // what waited goes first, so the order holds
      if (waiting_.empty()) {
        ssize_t n = WriteSome(line);
        if (n == static_cast<ssize_t>(line.size())) return;
        if (n > 0) line.erase(0, static_cast<size_t>(n));
      }
      if (waiting_.size() + line.size() > kMaxWaitingDiagnosticBytes) {
        ++dropped_;
        return;
      }
      waiting_ += line;
      // Watched only on a descriptor of its own: tend's stderr itself may be the relay's.
      if (!was_waiting && !shared_) wake = wake_;
    }
    if (wake) wake();
  }

  // A line at a time, so that a partial write never leaves half a line for a worker's to
  // follow.
  bool Flush() {
    if (fd_ < 0) Open();
    while (!waiting_.empty()) {
      size_t line = waiting_.find('\n') + 1;  // every waiting line ends with one
      ssize_t n = WriteSome(absl::string_view(waiting_).substr(0, line));
      if (n <= 0) break;
      waiting_.erase(0, static_cast<size_t>(n));
    }
    return waiting_.empty();
  }

  bool FlushLocked() {
    std::lock_guard<std::mutex> lock(mutex_);
    return Flush();
  }

  void FinalFlush(std::chrono::milliseconds budget) {
    auto deadline = std::chrono::steady_clock::now() + budget;
    std::lock_guard<std::mutex> lock(mutex_);
    if (suppressed_ > 0) {
      waiting_ += absl::StrCat("tend: warning: ", suppressed_,
                               " of tend's own lines dropped (more "
                               "than ",
                               kDiagnosticsPerSecond, " a second)\n");
      dropped_ += suppressed_;
      suppressed_ = 0;
    }
    while (!Flush() && std::chrono::steady_clock::now() < deadline) {
      pollfd writable{fd_, POLLOUT, 0};
      if (poll(&writable, 1, 10) < 0 && errno != EINTR) break;
    }
  }

  void SetWake(std::function<void()> wake) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_ = std::move(wake);
  }

  int fd() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (fd_ < 0) Open();
    return fd_;
  }

  uint64_t dropped() {
    std::lock_guard<std::mutex> lock(mutex_);
    return dropped_ + suppressed_;
  }

 private:
  // A non-blocking copy of stderr: reopening a pipe or terminal makes an open file
  // description of tend's own, so the flag does not reach whoever shares tend's stderr. A
  // regular file never blocks and keeps its shared offset (dup). Where neither can be made
  // (a socket, no descriptors left), tend's own stderr is used, polled for room first.
  void Open() {
    struct stat about;
    int copy = -1;
    if (fstat(STDERR_FILENO, &about) != 0) return;  // no stderr at all: lines are dropped
    if (S_ISREG(about.st_mode)) {
      copy = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    } else {
      copy = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    }
    fd_ = copy >= 0 ? copy : STDERR_FILENO;
    shared_ = copy < 0;
  }

  // Bytes written, 0 when the reader has no room, -1 when it is gone (then all is dropped).
  ssize_t WriteSome(absl::string_view text) {
    if (fd_ < 0) Open();
    if (fd_ < 0) {
      DropWaiting();
      return -1;
    }
    if (shared_) {  // a blocking descriptor: only write when there is room
      pollfd writable{fd_, POLLOUT, 0};
      if (poll(&writable, 1, 0) <= 0) return 0;
    }
    ssize_t n;
    do {
      // At most PIPE_BUF at a time on a blocking descriptor: atomic on a pipe, so a write
      // that poll found room for cannot block.
      n = write(fd_, text.data(), shared_ ? std::min<size_t>(text.size(), PIPE_BUF) : text.size());
    } while (n < 0 && errno == EINTR);
    if (n >= 0) return n;
    if (errno == EAGAIN) return 0;
    DropWaiting();  // EPIPE, EBADF, ...: nothing more can be delivered
    return -1;
  }

  void DropWaiting() {
    dropped_ += static_cast<uint64_t>(std::count(waiting_.begin(), waiting_.end(), '\n'));
    waiting_.clear();
  }

  // A token bucket: bursts of kDiagnosticsBurst, kDiagnosticsPerSecond sustained.
  bool Admit() {
    auto now = std::chrono::steady_clock::now();
    double refill = std::chrono::duration<double>(now - refilled_).count() * kDiagnosticsPerSecond;
    tokens_ = std::min<double>(kDiagnosticsBurst, tokens_ + refill);
    refilled_ = now;
    if (tokens_ < 1) {
      ++suppressed_;
      return false;
    }
    tokens_ -= 1;
    return true;
  }

  std::mutex mutex_;  // a line may come from any thread
  int fd_ ABSL_GUARDED_BY(mutex_) = -1;
  bool shared_ ABSL_GUARDED_BY(mutex_) = false;
  std::string waiting_ ABSL_GUARDED_BY(mutex_);
  std::function<void()> wake_ ABSL_GUARDED_BY(mutex_);
  uint64_t dropped_ ABSL_GUARDED_BY(mutex_) = 0;
  // Over the rate since the last line that went out.
  uint64_t suppressed_ ABSL_GUARDED_BY(mutex_) = 0;
  double tokens_ ABSL_GUARDED_BY(mutex_) = kDiagnosticsBurst;
  std::chrono::steady_clock::time_point refilled_ ABSL_GUARDED_BY(mutex_) =
      std::chrono::steady_clock::now();
};

}  // namespace

void Info(absl::string_view message) { DiagnosticsWriter::Get().Write("", message, false); }
void Warn(absl::string_view message) {
  DiagnosticsWriter::Get().Write("warning: ", message, false);
}
void Error(absl::string_view message) { DiagnosticsWriter::Get().Write("error: ", message, true); }

uint64_t DroppedDiagnostics() { return DiagnosticsWriter::Get().dropped(); }
void SetDiagnosticsWake(std::function<void()> wake) {
  DiagnosticsWriter::Get().SetWake(std::move(wake));
}
int DiagnosticsFd() { return DiagnosticsWriter::Get().fd(); }
bool FlushDiagnostics() { return DiagnosticsWriter::Get().FlushLocked(); }
void FinalFlushDiagnostics(std::chrono::milliseconds budget) {
  DiagnosticsWriter::Get().FinalFlush(budget);
}

}  // namespace tend::logs
