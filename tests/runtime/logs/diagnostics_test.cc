// tend's own lines: a burst of kDiagnosticsBurst, then kDiagnosticsPerSecond; what is
// dropped is counted and said, and errors are never dropped. (A process of its own: the
// writer is one for the process, and its rate is real time.)
#include "runtime/logs/diagnostics.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace tend::logs {
namespace {

using namespace std::chrono_literals;

std::string Read(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

int Count(const std::string& text, const std::string& line) {
  int count = 0;
  for (absl::string_view each : absl::StrSplit(text, '\n')) count += each == line;
  return count;
}

TEST(DiagnosticsTest, ABurstPastTheRateIsCutCountedAndSaid) {
  const std::string path = ::testing::TempDir() + "/stderr";
  int file = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(file, 0);
  ASSERT_EQ(dup2(file, STDERR_FILENO), STDERR_FILENO);  // before tend's first line
  close(file);

  for (int i = 0; i < kDiagnosticsBurst + 100; ++i) Warn("burst");
  Error("an error past the rate");
  std::string text = Read(path);
  // (A token more may come back while the burst is written, on a slow machine.)
  int burst = Count(text, "tend: warning: burst");
  EXPECT_GE(burst, kDiagnosticsBurst);
  EXPECT_LE(burst, kDiagnosticsBurst + 1);
  // The error goes out all the same, after the line that says what was dropped.
  const int dropped = kDiagnosticsBurst + 100 - burst;
  EXPECT_TRUE(absl::EndsWith(text, absl::StrCat("tend: warning: ", dropped,
                                                " of tend's own lines "
                                                "dropped (more than 20 a second)\ntend: error: "
                                                "an error past the rate\n")))
      << text;
  EXPECT_EQ(DroppedDiagnostics(), static_cast<uint64_t>(dropped));

  // A second later, about a second's worth goes out again.
  std::this_thread::sleep_for(1s);
  for (int i = 0; i < 100; ++i) Warn("later");
  text = Read(path);
  int later = Count(text, "tend: warning: later");
  EXPECT_GE(later, kDiagnosticsPerSecond);
  EXPECT_LE(later, kDiagnosticsPerSecond + 5);  // sleep_for may oversleep
  // At exit, the last line says how many were dropped since.
  FinalFlushDiagnostics(100ms);
  text = Read(path);
  EXPECT_TRUE(absl::EndsWith(text, absl::StrCat("tend: warning: ", 100 - later,
                                                " of tend's own "
                                                "lines dropped (more than 20 a second)\n")))
      << text;
  EXPECT_EQ(DroppedDiagnostics(), static_cast<uint64_t>(dropped + 100 - later));
}

}  // namespace
}  // namespace tend::logs
