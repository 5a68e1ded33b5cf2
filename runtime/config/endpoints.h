#pragma once

#include <string_view>

namespace tend::config {

// Where tend serves by default, and where its clients (`tend ctl`, `tend probe`) look: a
// leaf, so that the clients need not link the configuration.
inline constexpr char kDefaultHttp[] = "0.0.0.0:9615";  // pm2's old web port
inline constexpr char kDefaultControl[] = "/run/tend/control.sock";

// The rule for an endpoint that cannot start (its port is taken, /run is read-only): when
// the user asked for it, tend stops with an error; when it was only the default, tend goes
// on without it, with a warning. The control socket counts as asked for once --grpc is set,
// because gRPC on TCP is served by the same control plane.
inline bool HttpIsOnlyTheDefault(std::string_view http) { return http == kDefaultHttp; }
inline bool ControlIsOnlyTheDefault(std::string_view control, std::string_view grpc) {
  return control == kDefaultControl && grpc.empty();
}

// Whether "ADDR:PORT" (as the flags store it) listens on loopback only: a token sent there
// never crosses a network.
inline bool IsLoopback(std::string_view address) {
  return address.rfind("127.", 0) == 0 || address.rfind("[::1]:", 0) == 0;
}

}  // namespace tend::config
