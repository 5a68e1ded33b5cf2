#include "runtime/control/authorization.h"

#include <algorithm>

#include "absl/strings/strip.h"

namespace tend::control {

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  size_t length = std::max(a.size(), b.size());
  unsigned char differ = a.size() != b.size();
  for (size_t i = 0; i < length; ++i) {
    unsigned char x = i < a.size() ? a[i] : 0;
    unsigned char y = i < b.size() ? b[i] : 0;
    differ |= x ^ y;
  }
  return differ == 0;
}

std::string Authorization::Check(absl::string_view header) const {
  if (open_) return "";
  if (!closed_.empty()) return closed_;
  if (token_.empty()) {
    return "Control over TCP is off: start tend with --control-token-file, or use the Unix "
           "control socket";
  }
  absl::string_view presented = header;
  if (!absl::ConsumePrefix(&presented, "Bearer ")) {
    return "missing 'authorization: Bearer TOKEN' metadata";
  }
  if (!ConstantTimeEquals(presented, token_)) return "wrong bearer token";
  return "";
}

}  // namespace tend::control
