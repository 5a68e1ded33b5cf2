#include "runtime/logs/relay.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/faults.h"

namespace tend::logs {
namespace {

using namespace std::chrono_literals;

// tend's stdout is a pipe the test reads, as a container runtime's log reader would.
class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = std::move(*loop::EventLoop::Create());
    int ends[2];
    ASSERT_EQ(pipe2(ends, O_CLOEXEC), 0);
    reader_ = ends[0];
    fcntl(reader_, F_SETFL, O_NONBLOCK);
    saved_stdout_ = dup(STDOUT_FILENO);
    dup2(ends[1], STDOUT_FILENO);
    close(ends[1]);
  }

  void TearDown() override {
    dup2(saved_stdout_, STDOUT_FILENO);
    close(saved_stdout_);
    close(reader_);
  }

  // What the reader can take now.
  std::string Read() {
    std::string taken;
    char buffer[65536];
    for (ssize_t n; (n = read(reader_, buffer, sizeof buffer)) > 0;) taken.append(buffer, n);
    return taken;
  }

  // Runs the loop, reading as it goes, until `done` holds for what was read; false after 5 s.
  bool ReadUntil(std::string* read, const std::function<bool(const std::string&)>& done) {
    bool met = false;
    auto poll = loop_->Every(5ms, [&] {
      *read += Read();
      if (done(*read)) {
        met = true;
        loop_->Stop();
      }
    });
    auto give_up = loop_->After(5s, [this] { loop_->Stop(); });
    return loop_->Run().ok() && met;
  }

  std::unique_ptr<loop::EventLoop> loop_;
  int reader_ = -1;
  int saved_stdout_ = -1;
};

const Source kApi{"api", 2, 1234};

TEST_F(RelayTest, FormatsLinesRawPrefixedOrAsJson) {
  {
    LogSink raw(*loop_, {});
    raw.Line(kApi, false, "hello");
    EXPECT_EQ(Read(), "hello\n");
  }
  {
    LogSink prefixed(*loop_, {{LineFormat::kPrefixed}});
    prefixed.Line(kApi, false, "hello");
    EXPECT_EQ(Read(), "api:2| hello\n");
  }
  {
    LogSink json(*loop_, {{LineFormat::kJson}});
    json.Line(kApi, false, "say \"hi\"\x01");
    nlohmann::json line = nlohmann::json::parse(Read());
    EXPECT_EQ(line["app"], "api");
    EXPECT_EQ(line["instance"], 2);
    EXPECT_EQ(line["pid"], 1234);
    EXPECT_EQ(line["stream"], "stdout");
    EXPECT_EQ(line["message"], "say \"hi\"\x01");
    EXPECT_EQ(line["timestamp"].get<std::string>().size(), 24u);  // 2026-11-22T04:39:14.123Z
  }
}

TEST_F(RelayTest, AnUnreadStdoutBoundsTheBufferAndCountsDrops) {
  fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 4096);
  LogSink::Options options;
  options.max_buffered_bytes = 8192;
  LogSink sink(*loop_, options);
  const std::string payload(99, 'x');
  for (int i = 0; i < 1000; ++i) sink.Line(kApi, false, absl::StrCat(i % 10, payload));
  EXPECT_EQ(sink.relayed() + sink.dropped(), 1000u);
  EXPECT_GT(sink.dropped(), 0u);
  EXPECT_LE(sink.relayed() * 101, 4096u + 8192u);

  // Once read, everything relayed arrives, in whole lines.
  std::string read;
  ASSERT_TRUE(
      ReadUntil(&read, [&](const std::string& r) { return r.size() == sink.relayed() * 101; }));
  std::vector<std::string> lines = absl::StrSplit(read, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), sink.relayed());
  for (const std::string& line : lines) EXPECT_EQ(line.substr(1), payload);
}

// A worker must never silently get tend's own stdout because its pipe could not be made.
TEST_F(RelayTest, NoPipeForAWorkerIsAnError) {
  LogSink sink(*loop_, {});
  testing::NoDescriptorsLeft exhausted;
  ASSERT_TRUE(exhausted.ok());
  auto pipe = OutputPipe::Create(*loop_, sink, kApi, false);
  ASSERT_FALSE(pipe.ok());
  EXPECT_NE(pipe.status().message().find("Too many open files"), std::string::npos);
}

TEST_F(RelayTest, OutputPipeJoinsPartialWritesAndSplitsOverlongLines) {
  LogSink sink(*loop_, {});
  std::string read;
  {
    auto created = OutputPipe::Create(*loop_, sink, kApi, false);
    ASSERT_TRUE(created.ok());
    OutputPipe& pipe = **created;
    ASSERT_EQ(write(pipe.write_end(), "ab", 2), 2);
    ASSERT_TRUE(ReadUntil(&read, [](const std::string&) { return true; }));
    ASSERT_EQ(write(pipe.write_end(), "c\n", 2), 2);
    ASSERT_TRUE(ReadUntil(&read, [](const std::string& r) { return r == "abc\n"; }));
    std::string huge(40000, 'y');
    huge += '\n';
    for (size_t at = 0; at < huge.size();) {
      ssize_t n = write(pipe.write_end(), huge.data() + at, huge.size() - at);
      ASSERT_GT(n, 0);
      at += n;
      ReadUntil(&read, [](const std::string&) { return true; });
    }
    // A last line without a newline is relayed when the worker's pipe closes.
    ASSERT_EQ(write(pipe.write_end(), "tail", 4), 4);
  }
  ASSERT_TRUE(ReadUntil(&read, [](const std::string& r) { return r.find("tail") != r.npos; }));
  std::vector<std::string> lines = absl::StrSplit(read, '\n', absl::SkipEmpty());
  const std::string marker(OutputPipe::kSplitMarker);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "abc");
  EXPECT_EQ(lines[1], std::string(16384, 'y') + marker);
  EXPECT_EQ(lines[2], std::string(16384, 'y') + marker);
  EXPECT_EQ(lines[3], std::string(40000 - 2 * 16384, 'y'));
  EXPECT_EQ(lines[4], "tail");
}

}  // namespace
}  // namespace tend::logs
