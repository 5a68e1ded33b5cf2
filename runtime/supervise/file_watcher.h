#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/fd/unique_fd.h"
#include "runtime/loop/event_loop.h"

namespace tend::supervise {

// pm2's watch, for development: inotify on folders and everything below them (new folders
// too; never node_modules or .git), calling back once changes have settled for `delay`.
// `ignore` holds glob patterns (fnmatch) matched against each changed path relative to its
// watched root and against its file name.
class FileWatcher {
 public:
  // How many folders one watcher follows at most: a huge tree cannot bloat tend.
  static constexpr size_t kMaxFolders = 8192;

  static absl::StatusOr<std::unique_ptr<FileWatcher>> Create(
      loop::EventLoop& loop, const std::vector<std::string>& roots, std::vector<std::string> ignore,
      std::chrono::milliseconds delay, std::function<void(const std::string& changed)> on_change);
  ~FileWatcher();

 private:
  FileWatcher(loop::EventLoop& loop, UniqueFd fd) : loop_(loop), fd_(std::move(fd)) {}
  void AddTree(const std::string& folder, const std::string& relative);
  void OnReadable();
  bool Ignored(const std::string& relative, const std::string& name) const;

  struct Folder {
    std::string path;
    std::string relative;  // to its root
  };

  loop::EventLoop& loop_;
  const UniqueFd fd_;
  std::vector<std::string> ignore_;
  std::chrono::milliseconds delay_{0};
  std::function<void(const std::string&)> on_change_;
  std::map<int, Folder> folders_;  // by watch descriptor
  std::string first_change_;
  std::unique_ptr<loop::Timer> settle_;
};

}  // namespace tend::supervise
