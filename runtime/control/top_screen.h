#pragma once

#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tend/v1/control.pb.h"

namespace tend::control {

// A duration as ctl shows it: 42s, 5m, 3h, 2d.
std::string ShortDuration(double seconds);

// What `tend ctl top` shows in one frame.
struct TopView {
  v1::ListWorkersResponse list;
  // CPU use of each worker since the frame before, in percent of one CPU, by (app, instance).
  std::map<std::pair<std::string, int>, double> cpu_percent;
  std::deque<std::string> events;  // the latest, described, oldest first
  std::string clock;               // local time of the frame: "12:34:56"
  int64_t now_unix_ms = 0;
};

// The frame's lines, each cut to `width` columns; at most `height` lines (0: all of them).
// Workers come first; past the height, the last line says how many were left out, and the
// events get what room is left.
std::vector<std::string> RenderTop(const TopView& view, size_t width, size_t height);

}  // namespace tend::control
