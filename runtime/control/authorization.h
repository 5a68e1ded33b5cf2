#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace tend::control {

// Who may call Control on one listener. On the Unix socket, anyone who could open it: the
// socket file's permissions (0600) decided already. On TCP, a caller must send
// "authorization: Bearer TOKEN" with the token of --control-token-file; with no token
// configured, no TCP caller may.
class Authorization {
 public:
  static Authorization Open() { return Authorization(true, ""); }
  static Authorization Token(std::string token) { return Authorization(false, std::move(token)); }
  // Nobody, for `why` (Control on plaintext TCP once TLS is on).
  static Authorization Closed(std::string why) { return Authorization(false, "", std::move(why)); }

  // `header`: the authorization metadata, empty when absent. The empty string when allowed,
  // otherwise why not.
  std::string Check(absl::string_view header) const;

 private:
  Authorization(bool open, std::string token, std::string closed = "")
      : open_(open), token_(std::move(token)), closed_(std::move(closed)) {}
  bool open_;
  std::string token_;
  std::string closed_;  // set: every call is refused, for this reason
};

// Whether `a` equals `b`, taking as long whatever differs (no early exit on a mismatch).
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace tend::control
