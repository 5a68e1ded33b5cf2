#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "runtime/logs/line_format.h"

namespace tend::logs {

// A worker's line as kept for `tend ctl logs`.
struct KeptLine {
  int64_t unix_ms = 0;
  Source source;
  bool is_stderr = false;
  std::string text;
};

// The last lines of each app's output, for `tend ctl logs` (pm2 logs): per app at most
// `max_lines` lines and `max_bytes` bytes (each line's text and app name, plus what holds
// them: Cost()), the oldest going first. Followers are told of each line as it comes.
// Loop's thread only.
class LogBuffer {
 public:
  // The bytes one kept line counts for.
  static size_t Cost(const KeptLine& line) {
    return sizeof(std::pair<uint64_t, KeptLine>) + line.text.size() + line.source.app.size();
  }

  LogBuffer(size_t max_lines, size_t max_bytes) : max_lines_(max_lines), max_bytes_(max_bytes) {}

  void Add(const Source& source, bool is_stderr, absl::string_view text, int64_t unix_ms);
  // The last `count` lines of app `app` (empty: every app) and `instance` (none: every one),
  // oldest first.
  std::vector<KeptLine> Last(const std::string& app, std::optional<int> instance,
                             size_t count) const;

  using Follower = std::function<void(const KeptLine&)>;
  // Tells `follower` of every line from now on, until Unfollow(the id returned).
  uint64_t Follow(Follower follower);
  void Unfollow(uint64_t id) { followers_.erase(id); }

  size_t bytes(const std::string& app) const;

 private:
  struct AppLines {
    std::deque<std::pair<uint64_t, KeptLine>> lines;  // with the order they came in
    size_t bytes = 0;
  };
  const size_t max_lines_;
  const size_t max_bytes_;
  uint64_t next_order_ = 0;
  std::map<std::string, AppLines> apps_;
  uint64_t next_follower_ = 0;
  std::map<uint64_t, Follower> followers_;
};

}  // namespace tend::logs
