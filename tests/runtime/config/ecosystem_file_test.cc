// A JavaScript ecosystem file is evaluated by a real node, cut off at its deadline.
#include "runtime/config/ecosystem_file.h"

#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace tend::config {
namespace {

std::string Write(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(EcosystemFileTest, AFileThatNeverFinishesIsCutOffAtTheDeadline) {
  std::string path = Write("hangs.config.mjs",
                           "await new Promise(() => setInterval(() => {}, 1000));\n"
                           "export default {};\n");
  absl::StatusOr<nlohmann::json> read = ReadEcosystemFile(path, 300);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(read.status().message(), path + ": did not finish evaluating within 300 ms");
}

TEST(EcosystemFileTest, AFileWhoseTimersKeepNodeAliveIsReadOnceItExports) {
  std::string path = Write("timer.config.js",
                           "setInterval(() => {}, 1000);\n"
                           "module.exports = {apps: [{name: 'api', script: 'app.js'}]};\n");
  absl::StatusOr<nlohmann::json> read = ReadEcosystemFile(path, 10000);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ((*read)["apps"][0]["name"], "api");
}

}  // namespace
}  // namespace tend::config
