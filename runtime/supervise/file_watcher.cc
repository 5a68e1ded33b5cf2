#include "runtime/supervise/file_watcher.h"

#include <dirent.h>
#include <fnmatch.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "runtime/errors/errno_status.h"
#include "runtime/logs/diagnostics.h"

namespace tend::supervise {
namespace {

constexpr uint32_t kEvents =
    IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY;

bool NeverWatched(const std::string& name) { return name == "node_modules" || name == ".git"; }

}  // namespace

absl::StatusOr<std::unique_ptr<FileWatcher>> FileWatcher::Create(
    loop::EventLoop& loop, const std::vector<std::string>& roots, std::vector<std::string> ignore,
    std::chrono::milliseconds delay, std::function<void(const std::string&)> on_change) {
  UniqueFd fd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) return errors::FromErrno("inotify");
  std::unique_ptr<FileWatcher> watcher(new FileWatcher(loop, std::move(fd)));
  watcher->ignore_ = std::move(ignore);
  watcher->delay_ = delay;
  watcher->on_change_ = std::move(on_change);
  for (const std::string& root : roots) {
    // As pm2's watcher (chokidar) does: a path that is not there is passed over.
    if (access(root.c_str(), R_OK) != 0) {
      logs::Warn(errors::FromErrno(absl::StrCat("not watching ", root)).message());
      continue;
    }
    watcher->AddTree(root, "");
  }
  if (absl::Status watched =
          loop.Watch(watcher->fd_.get(), [raw = watcher.get()] { raw->OnReadable(); });
      !watched.ok()) {
    return watched;
  }
  return watcher;
}

FileWatcher::~FileWatcher() { loop_.Unwatch(fd_.get()); }

void FileWatcher::AddTree(const std::string& folder, const std::string& relative) {
  if (folders_.size() >= kMaxFolders) return;
  int wd = inotify_add_watch(fd_.get(), folder.c_str(), kEvents);
  if (wd < 0) return;  // a file, or gone: a root that is a file is watched by its folder
  folders_[wd] = {folder, relative};
  DIR* dir = opendir(folder.c_str());
  if (!dir) return;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (entry->d_type != DT_DIR || name == "." || name == ".." || NeverWatched(name)) continue;
    std::string below = relative.empty() ? name : absl::StrCat(relative, "/", name);
    if (!Ignored(below, name)) AddTree(absl::StrCat(folder, "/", name), below);
  }
  closedir(dir);
}

bool FileWatcher::Ignored(const std::string& relative, const std::string& name) const {
  for (const std::string& pattern : ignore_) {
    if (fnmatch(pattern.c_str(), relative.c_str(), 0) == 0 ||
        fnmatch(pattern.c_str(), name.c_str(), 0) == 0) {
      return true;
    }
  }
  return false;
}

void FileWatcher::OnReadable() {
  alignas(inotify_event) char buffer[16384];
  for (;;) {
    ssize_t n = read(fd_.get(), buffer, sizeof buffer);
    if (n <= 0) break;
    for (char* at = buffer; at < buffer + n;) {
      auto* event = reinterpret_cast<inotify_event*>(at);
      at += sizeof(inotify_event) + event->len;
      if (event->mask & IN_IGNORED) folders_.erase(event->wd);  // its folder is gone
      auto folder = folders_.find(event->wd);
      if (folder == folders_.end() || event->len == 0) continue;
      std::string name = event->name;
      std::string relative =
          folder->second.relative.empty() ? name : absl::StrCat(folder->second.relative, "/", name);
      if (NeverWatched(name) || Ignored(relative, name)) continue;
      if ((event->mask & IN_ISDIR) && (event->mask & (IN_CREATE | IN_MOVED_TO))) {
        AddTree(absl::StrCat(folder->second.path, "/", name), relative);
      }
      if (first_change_.empty()) first_change_ = relative;
      // Each change pushes the callback back: a burst (a build, a git checkout) is one.
      settle_ = loop_.After(delay_, [this] {
        std::string changed = std::move(first_change_);
        first_change_.clear();
        on_change_(changed);
      });
    }
  }
}

}  // namespace tend::supervise
