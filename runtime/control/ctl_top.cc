// `tend ctl top`: a live view of the workers, like pm2 monit, in plain VT100/ANSI sequences
// (no terminfo: distroless and Alpine images have none), as docker stats draws.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "runtime/control/ctl_commands.h"
#include "runtime/control/top_screen.h"

namespace tend::control {
namespace {

constexpr auto kRefresh = std::chrono::seconds(1);
constexpr size_t kKeptEvents = 50;

// Written by the signal handler: quit (INT, TERM, HUP) or redraw at the new size (WINCH).
int wake_pipe[2] = {-1, -1};
void OnSignal(int signo) {
  char byte = static_cast<char>(signo);
  (void)!write(wake_pipe[1], &byte, 1);
}

// The terminal as top found it, given back however top ends.
class Screen {
 public:
  bool Enter() {
    if (tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      raw.c_lflag &= ~(ICANON | ECHO | ISIG);  // keys one by one; Ctrl-C read as a key
      raw.c_cc[VMIN] = 1;
      raw.c_cc[VTIME] = 0;
      raw_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    // The alternate screen, cursor hidden: the shell's screen comes back untouched.
    return Write("\x1b[?1049h\x1b[?25l");
  }
  ~Screen() {
    Write("\x1b[?25h\x1b[?1049l");
    if (raw_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  static bool Write(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = write(STDOUT_FILENO, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += n;
    }
    return true;
  }

 private:
  termios saved_{};
  bool raw_ = false;
};

// The latest events, from a StreamEvents call on a thread of its own.
class EventTail {
 public:
  explicit EventTail(v1::Control::Stub& stub)
      : thread_([this, &stub] {
          auto reader = stub.StreamEvents(&context_, {});
          v1::Event event;
          while (reader->Read(&event)) {
            std::lock_guard<std::mutex> lock(mutex_);
            events_.push_back(
                absl::StrCat(Clock(event.unix_ms() / 1000), " ", DescribeEvent(event)));
            if (events_.size() > kKeptEvents) events_.pop_front();
          }
          (void)reader->Finish();
        }) {}
  ~EventTail() {
    context_.TryCancel();
    thread_.join();
  }
  std::deque<std::string> Latest() {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }
  static std::string Clock(time_t when) {
    tm local;
    localtime_r(&when, &local);
    char text[16];
    strftime(text, sizeof text, "%H:%M:%S", &local);
    return text;
  }

 private:
  grpc::ClientContext context_;
  std::mutex mutex_;
  std::deque<std::string> events_ ABSL_GUARDED_BY(mutex_);
  std::thread thread_;  // last: starts once the rest is built
};

// CPU percent of each worker from the change in its CPU time between frames (the first
// frame: its average since it started).
class CpuMeter {
 public:
  std::map<std::pair<std::string, int>, double> Measure(const v1::ListWorkersResponse& list) {
    auto now = std::chrono::steady_clock::now();
    std::map<std::pair<std::string, int>, double> percent;
    std::map<std::pair<std::string, int>, Sample> samples;
    for (const v1::AppState& app : list.apps()) {
      for (const v1::WorkerState& worker : app.workers()) {
        if (worker.pid() == 0) continue;
        std::pair<std::string, int> key{app.name(), worker.instance()};
        Sample sample{worker.pid(), worker.cpu_seconds(), now};
        auto before = samples_.find(key);
        double wall, cpu;
        if (before != samples_.end() && before->second.pid == worker.pid()) {
          wall = std::chrono::duration<double>(now - before->second.at).count();
          cpu = worker.cpu_seconds() - before->second.cpu_seconds;
        } else {
          wall = worker.uptime_seconds();
          cpu = worker.cpu_seconds();
        }
        percent[key] = wall > 0 ? 100 * cpu / wall : 0;
        samples[key] = sample;
      }
    }
    samples_ = std::move(samples);
    return percent;
  }

 private:
  struct Sample {
    int pid;
    double cpu_seconds;
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::pair<std::string, int>, Sample> samples_;
};

grpc::Status Fetch(v1::Control::Stub& stub, CpuMeter& meter, TopView* view) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  view->list.Clear();
  grpc::Status status = stub.ListWorkers(&context, {}, &view->list);
  if (!status.ok()) return status;
  view->cpu_percent = meter.Measure(view->list);
  view->now_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  view->clock = EventTail::Clock(view->now_unix_ms / 1000);
  return grpc::Status::OK;
}

// One plain snapshot: no terminal, or --once.
int Snapshot(v1::Control::Stub& stub) {
  TopView view;
  CpuMeter meter;
  if (grpc::Status status = Fetch(stub, meter, &view); !status.ok()) return CtlFailed(status);
  for (const std::string& line : RenderTop(view, 1000, 0)) std::puts(line.c_str());
  return 0;
}

bool TerminalSize(size_t* width, size_t* height) {
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_col == 0) return false;
  *width = size.ws_col;
  *height = size.ws_row;
  return true;
}

}  // namespace

int RunTop(v1::Control::Stub& stub, const std::vector<std::string>& args) {
  bool once = false;
  for (const std::string& arg : args) {
    if (arg != "--once") return CtlUsage(absl::StrCat("top: unexpected '", arg, "'"));
    once = true;
  }
  size_t width, height;
  if (once || !isatty(STDOUT_FILENO) || !TerminalSize(&width, &height)) return Snapshot(stub);

  if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    std::perror("tend ctl top: pipe");
    return kCtlFailed;
  }
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  for (int signo : {SIGINT, SIGTERM, SIGHUP, SIGWINCH}) sigaction(signo, &action, nullptr);

  EventTail events(stub);
  CpuMeter meter;
  std::optional<Screen> screen(std::in_place);
  if (!screen->Enter()) return kCtlFailed;
  const bool keys = isatty(STDIN_FILENO);
  int code = 0;
  for (bool quit = false; !quit;) {
    TopView view;
    if (grpc::Status status = Fetch(stub, meter, &view); !status.ok()) {
      screen.reset();  // the error goes to the shell's screen, not the alternate one
      code = CtlFailed(status);
      break;
    }
    view.events = events.Latest();
    TerminalSize(&width, &height);
    std::string frame = "\x1b[H";  // home; each line clears its own rest
    for (const std::string& line : RenderTop(view, width, height)) {
      absl::StrAppend(&frame, line, "\x1b[K\r\n");
    }
    frame.resize(frame.size() - 2);  // no newline after the last: it would scroll
    frame += "\x1b[J";               // and nothing below it
    if (!Screen::Write(frame)) break;

    auto next = std::chrono::steady_clock::now() + kRefresh;
    while (!quit) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          next - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd ready[2] = {{keys ? STDIN_FILENO : -1, POLLIN, 0}, {wake_pipe[0], POLLIN, 0}};
      if (poll(ready, 2, static_cast<int>(left.count())) <= 0) continue;
      char byte;
      if (ready[1].revents & POLLIN) {
        while (read(wake_pipe[0], &byte, 1) == 1) quit |= byte != SIGWINCH;
        break;  // a resize redraws at once
      }
      if (ready[0].revents & (POLLIN | POLLHUP)) {
        ssize_t n = read(STDIN_FILENO, &byte, 1);
        quit = n <= 0 || byte == 'q' || byte == 'Q' || byte == 3;  // 3: Ctrl-C
      }
    }
  }
  return code;
}

}  // namespace tend::control
