#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace tend::control {

// Who may call Control. A peer on the Unix socket passed the socket file's permissions
// (0600), so it may. A TCP peer must send "authorization: Bearer TOKEN" with the token of
// --control-token-file; with no token configured, no TCP peer may.
class Authorization {
 public:
  explicit Authorization(std::string token) : token_(std::move(token)) {}

  // `peer` as gRPC names it ("unix:...", "fd:N" for a connection tend accepted on the Unix
  // socket, "ipv4:...", "ipv6:..."); `header` the
  // authorization metadata, empty when absent. The empty string when allowed, otherwise
  // why not.
  std::string Check(absl::string_view peer, absl::string_view header) const;

 private:
  std::string token_;
};

// Whether `a` equals `b`, taking as long whatever differs (no early exit on a mismatch).
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace tend::control
