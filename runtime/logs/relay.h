#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/fd/unique_fd.h"
#include "runtime/logs/line_format.h"
#include "runtime/logs/log_buffer.h"
#include "runtime/loop/event_loop.h"

namespace tend::logs {

// tend's stdout and stderr as the workers' output goes there: whole lines only, so lines of
// different workers never interleave; optionally prefixed, timestamped or as JSON. Writes
// never block the event loop: what the reader has not taken yet waits in a bounded buffer,
// and lines that do not fit are dropped and counted. Every line also goes to `buffer`, if
// any, for `tend ctl logs`.
class LogSink {
 public:
  struct Options {
    LineFormat format;
    size_t max_buffered_bytes = 1 << 20;
  };

  LogSink(loop::EventLoop& loop, Options options, LogBuffer* buffer = nullptr);
  ~LogSink();

  void Line(const Source& source, bool is_stderr, absl::string_view text);
  uint64_t relayed() const { return relayed_; }
  uint64_t dropped() const { return dropped_; }

 private:
  struct Stream {
    UniqueFd copy;  // tend's own non-blocking copy, when one could be made
    int fd = -1;    // where lines go: the copy, or tend's stream itself
    std::deque<std::string> pending;
    size_t pending_bytes = 0;
  };
  void Flush(Stream& stream);

  loop::EventLoop& loop_;
  Options options_;
  LogBuffer* buffer_;
  Stream out_, err_;
  uint64_t relayed_ = 0;
  uint64_t dropped_ = 0;
};

// One worker stream (stdout or stderr): a pipe whose write end the worker gets, read here and
// cut into lines for the sink. A line longer than kMaxLineBytes goes out in pieces, each but
// the last ending with a marker, so nothing is lost silently.
class OutputPipe {
 public:
  static constexpr size_t kMaxLineBytes = 16 * 1024;
  static constexpr absl::string_view kSplitMarker = " [tend: line continues]";

  // Fails when no pipe can be made or watched (descriptors ran out): the worker is then not
  // started, rather than silently inheriting tend's own stdout.
  static absl::StatusOr<std::unique_ptr<OutputPipe>> Create(loop::EventLoop& loop, LogSink& sink,
                                                            Source source, bool is_stderr);
  // Relays whatever the pipe still holds (the worker has usually exited by now).
  ~OutputPipe();

  int write_end() const { return write_end_.get(); }
  void CloseWriteEnd();
  void set_pid(pid_t pid) { source_.pid = pid; }

 private:
  OutputPipe(loop::EventLoop& loop, LogSink& sink, Source source, bool is_stderr, Pipe pipe);
  void OnReadable();
  void Emit(absl::string_view text);

  loop::EventLoop& loop_;
  LogSink& sink_;
  Source source_;
  bool is_stderr_;
  UniqueFd read_end_;
  UniqueFd write_end_;
  bool watched_ = false;
  std::string partial_;
};

}  // namespace tend::logs
