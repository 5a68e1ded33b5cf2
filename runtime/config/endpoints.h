#pragma once

namespace tend::config {

// Where tend serves by default, and where its clients (`tend ctl`, `tend probe`) look: a
// leaf, so that the clients need not link the configuration.
inline constexpr char kDefaultHttp[] = "0.0.0.0:9615";  // pm2's old web port
inline constexpr char kDefaultControl[] = "/run/tend/control.sock";

}  // namespace tend::config
