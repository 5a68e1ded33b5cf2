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
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/stderr";
  int file = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(file, 0);
  ASSERT_EQ(dup2(file, STDERR_FILENO), STDERR_FILENO);  // before tend's first line
  close(file);

  for (int i = 0; i < kDiagnosticsBurst + 100; ++i) Warn("burst");
  Error("an error past the rate");
  std::string text = Read(path);
  EXPECT_EQ(Count(text, "tend: warning: burst"), kDiagnosticsBurst);
  // The error goes out all the same, after the line that says what was dropped.
  EXPECT_TRUE(absl::EndsWith(text, "tend: warning: 100 of tend's own lines dropped (more than "
                                   "20 a second)\ntend: error: an error past the rate\n"))
      << text;
  EXPECT_EQ(DroppedDiagnostics(), 100u);

  // A second later, about a second's worth goes out again.
  std::this_thread::sleep_for(1s);
  for (int i = 0; i < 100; ++i) Warn("later");
  text = Read(path);
  int later = Count(text, "tend: warning: later");
  EXPECT_GE(later, kDiagnosticsPerSecond - 1);
  EXPECT_LE(later, kDiagnosticsPerSecond + 2);
  // At exit, the last line says how many were dropped since.
  FinalFlushDiagnostics(100ms);
  text = Read(path);
  EXPECT_TRUE(absl::EndsWith(text, absl::StrCat("tend: warning: ", 100 - later, " of tend's own "
                                                 "lines dropped (more than 20 a second)\n")))
      << text;
  EXPECT_EQ(DroppedDiagnostics(), 100u + 100 - later);
}

}  // namespace
}  // namespace tend::logs
