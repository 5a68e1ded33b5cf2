#include "runtime/control/plane.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace tend::control {

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  // A token is short; a path to something else (a log, /dev/zero) must not fill memory.
  std::string content(kMaxTokenBytes + 1, '\0');
  file.read(content.data(), static_cast<std::streamsize>(content.size()));
  content.resize(static_cast<size_t>(file.gcount()));
  if (content.size() > kMaxTokenBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds more than ", kMaxTokenBytes, " bytes: not a token"));
  }
  std::string token(absl::StripAsciiWhitespace(content));
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " is empty"));
  return token;
}

Plane::Plane(loop::CrossThread& bridge, supervise::Supervisor& supervisor, const v1::Config& config,
             const std::function<bool()>& stopping, const std::string& token)
    : supervisor_(supervisor),
      unix_control_(bridge, supervisor, config, stopping, Authorization::Open(), streams_),
      tcp_control_(bridge, supervisor, config, stopping, Authorization::Token(token), streams_),
      plaintext_control_(bridge, supervisor, config, stopping,
                         Authorization::Closed("Control over --grpc needs TLS: plaintext "
                                               "connections get health alone"),
                         streams_) {}

absl::StatusOr<std::unique_ptr<Plane>> Plane::Start(
    loop::EventLoop& loop, loop::CrossThread& bridge, supervise::Supervisor& supervisor,
    const v1::Config& config, std::function<bool()> stopping, const Listeners& listeners,
    const std::string& token) {
  std::unique_ptr<Plane> plane(new Plane(bridge, supervisor, config, stopping, token));
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(
      loop, listeners, &plane->unix_control_, &plane->tcp_control_, &plane->plaintext_control_);
  if (!server.ok()) return server.status();
  plane->server_ = std::move(*server);
  plane->health_ = std::make_unique<HealthPublisher>(supervisor, stopping, *plane->server_);
  supervisor.AddListener(plane->health_.get());
  plane->health_->Publish();
  return plane;
}

Plane::~Plane() {
  if (health_) supervisor_.RemoveListener(health_.get());
}

}  // namespace tend::control
