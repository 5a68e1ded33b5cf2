#include "probes/probe_command.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "runtime/config/endpoints.h"
#include "runtime/fd/unique_fd.h"

namespace tend::probes {
namespace {

using Clock = std::chrono::steady_clock;

// Within Kubernetes' default probe timeout (1 s).
constexpr std::chrono::milliseconds kDeadline{950};
constexpr size_t kMaxAnswer = 64 * 1024;

// Waits for `events` on `fd` until `deadline`; false when it passed.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  pollfd entry{fd, events, 0};
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    int ready = poll(&entry, 1, static_cast<int>(left.count()));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
}

// GET `path` over the Unix socket at `socket_path`: the raw answer, or why not.
bool Get(const std::string& socket_path, const std::string& path, std::string* answer) {
  Clock::time_point deadline = Clock::now() + kDeadline;
  sockaddr_un address{};
  if (socket_path.size() >= sizeof address.sun_path) {
    *answer = "path too long for a Unix socket";
    return false;
  }
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    *answer = absl::StrCat("socket: ", strerror(errno));
    return false;
  }
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path, socket_path.c_str(), socket_path.size());
  // A Unix socket connects at once or not at all: EAGAIN is a full backlog, not progress.
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    *answer = errno == EAGAIN ? "its backlog is full" : strerror(errno);
    return false;
  }
  std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: tend\r\nConnection: close\r\n\r\n");
  for (size_t sent = 0; sent < request.size();) {
    if (!WaitFor(fd.get(), POLLOUT, deadline)) {
      *answer = "no answer within 950 ms";
      return false;
    }
    ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      *answer = strerror(errno);
      return false;
    }
    if (n > 0) sent += n;
  }
  char buffer[4096];
  for (;;) {
    if (!WaitFor(fd.get(), POLLIN, deadline)) {
      *answer = "no answer within 950 ms";
      return false;
    }
    ssize_t n = read(fd.get(), buffer, sizeof buffer);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      *answer = strerror(errno);
      return false;
    }
    if (n > 0) answer->append(buffer, n);
    if (answer->size() > kMaxAnswer) {
      *answer = "an answer too long";
      return false;
    }
  }
}

}  // namespace

int RunProbe(const std::vector<std::string>& args) {
  std::string socket = config::kDefaultControl;
  std::string which;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--control" && i + 1 < args.size()) {
      socket = args[++i];
    } else if (absl::ConsumePrefix(&arg, "--control=")) {
      socket = std::string(arg);
    } else if (which.empty() && (arg == "live" || arg == "ready")) {
      which = args[i];
    } else {
      std::fprintf(stderr,
                   "tend probe: unexpected '%s'\nUsage: tend probe "
                   "[--control unix:PATH] live|ready\n",
                   args[i].c_str());
      return 2;
    }
  }
  if (which.empty()) {
    std::fputs("Usage: tend probe [--control unix:PATH] live|ready\n", stderr);
    return 2;
  }
  absl::string_view path = socket;
  absl::ConsumePrefix(&path, "unix:");
  std::string answer;
  if (!Get(std::string(path), which == "live" ? "/livez" : "/readyz", &answer)) {
    std::printf("not %s: cannot ask tend at unix:%s: %s\n", which.c_str(),
                std::string(path).c_str(), answer.c_str());
    return 1;
  }
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nBODY": the body is "ok", or the first failure's reason.
  size_t body = answer.find("\r\n\r\n");
  std::string reason(absl::StripAsciiWhitespace(
      body == std::string::npos ? "" : absl::string_view(answer).substr(body + 4)));
  if (absl::StartsWith(answer, "HTTP/1.1 200 ")) {
    std::printf("%s\n", which.c_str());
    return 0;
  }
  std::printf("not %s: %s\n", which.c_str(),
              reason.empty() ? "an answer that is not HTTP" : reason.c_str());
  return 1;
}

}  // namespace tend::probes
