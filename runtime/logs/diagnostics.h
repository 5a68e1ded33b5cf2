#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "absl/strings/string_view.h"

namespace tend::logs {

// tend's own one-line messages on stderr, "tend: ..." like any Unix tool's. Each line goes out
// in one write(2), so it never interleaves with a worker's output, and none ever blocks: a
// stalled log collector must not stall PID 1. What the reader has not taken waits, up to
// kMaxWaitingDiagnosticBytes; a line past that is dropped. Past kDiagnosticsBurst lines in a
// row at more than kDiagnosticsPerSecond, lines are dropped too (never errors, which are few
// and say why tend stops), and the next line that goes out, or the last at exit, says how
// many were. Every dropped line is counted.
void Info(absl::string_view message);
void Warn(absl::string_view message);   // "tend: warning: ..."
void Error(absl::string_view message);  // "tend: error: ..."

constexpr size_t kMaxWaitingDiagnosticBytes = 64 * 1024;
constexpr int kDiagnosticsBurst = 200;
constexpr int kDiagnosticsPerSecond = 20;

// tend's own lines dropped so far, for either reason.
uint64_t DroppedDiagnostics();

// The event loop's side. `wake` is called, on the thread whose line had to wait, once each
// time lines begin to wait: the loop should then call FlushDiagnostics() whenever
// DiagnosticsFd() is writable, until it returns true (nothing waits any more). Without a
// wake, or where tend's stderr could not be reopened for tend's lines alone, waiting lines
// go out with the next line, or at FinalFlushDiagnostics.
void SetDiagnosticsWake(std::function<void()> wake);
int DiagnosticsFd();
bool FlushDiagnostics();
// At exit: what still waits gets up to `budget` for the reader to take it.
void FinalFlushDiagnostics(std::chrono::milliseconds budget);

}  // namespace tend::logs
