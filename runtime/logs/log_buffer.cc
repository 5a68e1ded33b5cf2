#include "runtime/logs/log_buffer.h"

#include <algorithm>

namespace tend::logs {

void LogBuffer::Add(const Source& source, bool is_stderr, absl::string_view text, int64_t unix_ms) {
  if (max_lines_ == 0 && followers_.empty()) return;  // the relay's hot path: no copy
  KeptLine line{unix_ms, source, is_stderr, std::string(text)};
  for (const auto& [id, follower] : followers_) follower(line);
  size_t size = Cost(line);
  if (max_lines_ == 0 || size > max_bytes_) return;
  AppLines& app = apps_[source.app];
  while (!app.lines.empty() && (app.lines.size() >= max_lines_ || app.bytes + size > max_bytes_)) {
    app.bytes -= Cost(app.lines.front().second);
    app.lines.pop_front();
  }
  app.bytes += size;
  app.lines.emplace_back(next_order_++, std::move(line));
}

std::vector<KeptLine> LogBuffer::Last(const std::string& app, std::optional<int> instance,
                                      size_t count) const {
  // The last `count` of each app that matches, then the last `count` of those in order.
  std::vector<const std::pair<uint64_t, KeptLine>*> picked;
  for (const auto& [name, lines] : apps_) {
    if (!app.empty() && name != app) continue;
    size_t taken = 0;
    for (auto it = lines.lines.rbegin(); it != lines.lines.rend() && taken < count; ++it) {
      if (instance && it->second.source.instance != *instance) continue;
      picked.push_back(&*it);
      ++taken;
    }
  }
  std::sort(picked.begin(), picked.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  size_t skip = picked.size() > count ? picked.size() - count : 0;
  std::vector<KeptLine> last;
  last.reserve(picked.size() - skip);
  for (size_t i = skip; i < picked.size(); ++i) last.push_back(picked[i]->second);
  return last;
}

uint64_t LogBuffer::Follow(Follower follower) {
  uint64_t id = next_follower_++;
  followers_.emplace(id, std::move(follower));
  return id;
}

size_t LogBuffer::bytes(const std::string& app) const {
  auto it = apps_.find(app);
  return it == apps_.end() ? 0 : it->second.bytes;
}

}  // namespace tend::logs
