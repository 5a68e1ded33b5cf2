#include "runtime/logs/relay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "runtime/errors/errno_status.h"

namespace tend::logs {
namespace {

// A non-blocking copy of tend's own fd: reopening a pipe or terminal makes a new open file
// description, so the flag does not leak to whoever else shares tend's stdout. A regular
// file never blocks, and must keep its shared offset: it is duplicated. Where reopening
// cannot be done (a socket), writes fall back to the shared descriptor.
// When no copy can be made at all (descriptors ran out), lines go to tend's own descriptor.
void OpenStream(int fd, UniqueFd* copy, int* target) {
  struct stat about;
  if (fstat(fd, &about) == 0 && S_ISREG(about.st_mode)) {
    copy->reset(fcntl(fd, F_DUPFD_CLOEXEC, 0));
  } else {
    copy->reset(
        open(absl::StrCat("/proc/self/fd/", fd).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!*copy) copy->reset(fcntl(fd, F_DUPFD_CLOEXEC, 0));
  }
  *target = copy->valid() ? copy->get() : fd;
}

}  // namespace

LogSink::LogSink(loop::EventLoop& loop, Options options, LogBuffer* buffer)
    : loop_(loop), options_(options), buffer_(buffer) {
  OpenStream(STDOUT_FILENO, &out_.copy, &out_.fd);
  OpenStream(STDERR_FILENO, &err_.copy, &err_.fd);
}

LogSink::~LogSink() {
  // tend is exiting: give the reader a last, bounded chance at what is still buffered.
  constexpr int kFinalFlushMs = 1000;
  for (Stream* stream : {&out_, &err_}) {
    loop_.Unwatch(stream->fd);
    for (int waited = 0; !stream->pending.empty() && waited < kFinalFlushMs; waited += 10) {
      pollfd writable{stream->fd, POLLOUT, 0};
      if (poll(&writable, 1, 10) > 0) Flush(*stream);
    }
    loop_.Unwatch(stream->fd);
  }
}

void LogSink::Line(const Source& source, bool is_stderr, absl::string_view text) {
  int64_t now = NowUnixMs();
  if (buffer_) buffer_->Add(source, is_stderr, text, now);
  Stream& stream = is_stderr ? err_ : out_;
  std::string line = FormatLine(options_.format, source, is_stderr, text, now);
  if (stream.pending_bytes + line.size() > options_.max_buffered_bytes) {
    ++dropped_;
    return;
  }
  ++relayed_;
  stream.pending_bytes += line.size();
  stream.pending.push_back(std::move(line));
  Flush(stream);
}

void LogSink::Flush(Stream& stream) {
  while (!stream.pending.empty()) {
    std::string& line = stream.pending.front();
    ssize_t n = write(stream.fd, line.data(), line.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {  // the reader is gone: nothing more can be delivered
      dropped_ += stream.pending.size();
      stream.pending.clear();
      stream.pending_bytes = 0;
      break;
    }
    if (n < 0) break;
    stream.pending_bytes -= n;
    if (static_cast<size_t>(n) < line.size()) {
      line.erase(0, n);
      break;
    }
    stream.pending.pop_front();
  }
  if (stream.pending.empty()) {
    loop_.Unwatch(stream.fd);
    return;
  }
  // Errors and hang-ups arrive as readability: the next write sees them and gives up.
  absl::Status watched = loop_.Watch(stream.fd, [this, &stream] { Flush(stream); });
  if (watched.ok()) watched = loop_.WatchWritable(stream.fd, [this, &stream] { Flush(stream); });
  if (!watched.ok()) {  // nothing would ever wake the flush again: drop, counted
    loop_.Unwatch(stream.fd);
    dropped_ += stream.pending.size();
    stream.pending.clear();
    stream.pending_bytes = 0;
  }
}

absl::StatusOr<std::unique_ptr<OutputPipe>> OutputPipe::Create(loop::EventLoop& loop, LogSink& sink,
                                                               Source source, bool is_stderr) {
  Pipe pipe;
  if (int error = MakePipe(&pipe); error != 0) {
    return errors::FromErrno(
        absl::StrCat("pipe for the worker's ", is_stderr ? "stderr" : "stdout"), error);
  }
  if (fcntl(pipe.read_end.get(), F_SETFL, O_NONBLOCK) != 0) {
    return errors::FromErrno("fcntl(O_NONBLOCK)");
  }
  std::unique_ptr<OutputPipe> output(
      new OutputPipe(loop, sink, std::move(source), is_stderr, std::move(pipe)));
  OutputPipe* raw = output.get();
  absl::Status watched = loop.Watch(raw->read_end_.get(), [raw] { raw->OnReadable(); });
  if (!watched.ok()) return watched;
  raw->watched_ = true;
  return output;
}

OutputPipe::OutputPipe(loop::EventLoop& loop, LogSink& sink, Source source, bool is_stderr,
                       Pipe pipe)
    : loop_(loop),
      sink_(sink),
      source_(std::move(source)),
      is_stderr_(is_stderr),
      read_end_(std::move(pipe.read_end)),
      write_end_(std::move(pipe.write_end)) {}

OutputPipe::~OutputPipe() {
  CloseWriteEnd();
  if (!watched_) return;
  OnReadable();
  if (!partial_.empty()) Emit(partial_);
  loop_.Unwatch(read_end_.get());
}

void OutputPipe::CloseWriteEnd() { write_end_.reset(); }

void OutputPipe::OnReadable() {
  char buffer[16384];
  // Bounded per call: a chatty worker cannot hold the loop.
  for (int reads = 0; reads < 16; ++reads) {
    ssize_t n = read(read_end_.get(), buffer, sizeof buffer);
    if (n <= 0) {
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) loop_.Unwatch(read_end_.get());
      return;
    }
    partial_.append(buffer, n);
    size_t start = 0, newline;
    while ((newline = partial_.find('\n', start)) != std::string::npos) {
      Emit(absl::string_view(partial_).substr(start, newline - start));
      start = newline + 1;
    }
    partial_.erase(0, start);
    while (partial_.size() > kMaxLineBytes) {
      sink_.Line(source_, is_stderr_,
                 absl::StrCat(absl::string_view(partial_).substr(0, kMaxLineBytes), kSplitMarker));
      partial_.erase(0, kMaxLineBytes);
    }
  }
}

void OutputPipe::Emit(absl::string_view text) {
  while (text.size() > kMaxLineBytes) {
    sink_.Line(source_, is_stderr_, absl::StrCat(text.substr(0, kMaxLineBytes), kSplitMarker));
    text.remove_prefix(kMaxLineBytes);
  }
  sink_.Line(source_, is_stderr_, text);
}

}  // namespace tend::logs
