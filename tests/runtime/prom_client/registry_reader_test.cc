// prom-client's registry JSON read in one streaming pass, within its bounds.
#include "runtime/prom_client/registry_reader.h"

#include <malloc.h>
#include <sys/resource.h>

#include <chrono>
#include <string>

#include "gtest/gtest.h"

namespace tend::prom_client {
namespace {

constexpr size_t kPlenty = size_t{1} << 30;

TEST(RegistryReaderTest, ReadsWhatPromClientWrites) {
  Registry registry;
  ASSERT_TRUE(ReadRegistry(R"([{"help":"Latency.","name":"latency_seconds","type":"histogram",
      "values":[{"labels":{"le":0.1,"route":"/","ok":true},"value":3,
                 "metricName":"latency_seconds_bucket"},
                {"labels":{},"value":null}],
      "aggregator":"sum"}, 7, {"name":"g","values":{}}])",
                           registry, kPlenty));
  ASSERT_EQ(registry.families.size(), 2u);
  const Family& family = registry.families[0];
  EXPECT_EQ(family.name, "latency_seconds");
  EXPECT_EQ(family.help, "Latency.");
  EXPECT_EQ(family.type, "histogram");
  EXPECT_EQ(family.aggregator, "sum");
  ASSERT_EQ(family.values.size(), 1u);  // a null value (NaN in prom-client) is no value
  EXPECT_EQ(family.values[0].sample, "latency_seconds_bucket");
  EXPECT_EQ(family.values[0].value, 3);
  ASSERT_EQ(family.values[0].labels.size(), 3u);
  EXPECT_EQ(family.values[0].labels[0], std::make_pair(std::string("le"), std::string("0.1")));
  EXPECT_EQ(family.values[0].labels[2].second, "true");
  EXPECT_FALSE(registry.families[1].has_values);  // values that are no list
  EXPECT_EQ(registry.invalid, 1u);                // 7, a family that is no object
}

TEST(RegistryReaderTest, WhatIsNoRegistryIsRefused) {
  for (const char* text : {"", "not json", R"({"an":"object"})", "[", "[1] x", "[\"\xff\"]",
                           "[\"\\ud800\"] trailing", "[\"a lead byte at the end \xf0"}) {
    Registry registry;
    const std::string exact(text);  // on the heap, sized exactly: ASan sees a read past it
    EXPECT_FALSE(ReadRegistry(exact, registry, kPlenty)) << text;
  }
}

// A worker that answers with one series of 300,000 labels: read in linear time, and the
// series is invalid past kMaxLabelsPerSeries (its other labels are not kept).
TEST(RegistryReaderTest, ASeriesWithTooManyLabelsIsInvalidInLinearTime) {
  std::string labels;
  for (int i = 0; i < 300000; ++i) labels += (i ? ",\"l" : "\"l") + std::to_string(i) + "\":\"\"";
  Registry registry;
  auto began = std::chrono::steady_clock::now();
  ASSERT_TRUE(ReadRegistry(
      R"([{"name":"g","type":"gauge","values":[{"value":1,"labels":{)" + labels + "}}]}]", registry,
      kPlenty));
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(2));
  ASSERT_EQ(registry.families[0].values.size(), 1u);
  EXPECT_TRUE(registry.families[0].values[0].invalid);
  EXPECT_EQ(registry.families[0].values[0].labels.size(), kMaxLabelsPerSeries);
}

// Nesting prom-client never writes, 4 MiB of '[': refused at once, with no document built.
TEST(RegistryReaderTest, DeepNestingIsRefusedWithoutBuildingADocument) {
  rusage before;
  getrusage(RUSAGE_SELF, &before);
  Registry registry;
  EXPECT_FALSE(ReadRegistry(std::string(4 << 20, '['), registry, kPlenty));
  EXPECT_FALSE(ReadRegistry(
      R"([{"name":"g","values":[{"value":1,"labels":)" + std::string(1000, '[') + "}]}]", registry,
      kPlenty));
  rusage after;
  getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 16 * 1024) << "KiB";
}

// Families past the bound are left out before their values are kept: however large, they
// cannot push the answer over its byte bound and lose the families that were kept.
TEST(RegistryReaderTest, FamiliesPastTheBoundCostNothing) {
  std::string families;
  for (size_t i = 0; i < kMaxFamilies; ++i) {
    families +=
        "{\"name\":\"f" + std::to_string(i) + R"(","type":"gauge","values":[{"value":1}]},)";
  }
  std::string values;
  for (int i = 0; i < 5000; ++i)
    values += std::string(i ? "," : "") + R"({"value":1,"labels":{"l":")" + std::string(40, 'x') +
              R"("}})";
  Registry kept;
  ASSERT_TRUE(ReadRegistry("[" + families.substr(0, families.size() - 1) + "]", kept, kPlenty));
  Registry registry;  // room for what was kept, and far less than the late family
  ASSERT_TRUE(
      ReadRegistry("[" + families + R"({"name":"late","type":"gauge","values":[)" + values + "]}]",
                   registry, kept.bytes + 64 * 1024));
  EXPECT_FALSE(registry.too_large);
  EXPECT_TRUE(registry.too_many);
  EXPECT_EQ(registry.families.size(), kMaxFamilies);
}

TEST(RegistryReaderTest, FamiliesPastTheBoundAreLeftOut) {
  std::string families;
  for (size_t i = 0; i < kMaxFamilies + 5; ++i) {
    families += (i ? ",{\"name\":\"f" : "{\"name\":\"f") + std::to_string(i) +
                R"(","type":"gauge","values":[{"value":1}]})";
  }
  Registry registry;
  ASSERT_TRUE(ReadRegistry("[" + families + "]", registry, kPlenty));
  EXPECT_EQ(registry.families.size(), kMaxFamilies);
  EXPECT_TRUE(registry.too_many);
}

// What is kept is counted in bytes, across the pieces of one answer; past the bound nothing
// is kept, and the rest is still read (the answer's end must be seen).
TEST(RegistryReaderTest, TheByteBoundCountsWhatIsKept) {
  std::string value = R"({"value":1,"labels":{"route":"/a/long/route/name"}})";
  std::string values;
  for (int i = 0; i < 100; ++i) values += (i ? "," : "") + value;
  std::string family = R"([{"name":"g","type":"gauge","values":[)" + values + "]}]";
  Registry one;
  ASSERT_TRUE(ReadRegistry(family, one, kPlenty));
  EXPECT_GT(one.bytes, 100 * (sizeof(Value) + sizeof(one.families[0].values[0].labels[0])));
  EXPECT_LT(one.bytes, 100 * (sizeof(Value) + 200));

  Registry bounded;
  ASSERT_TRUE(ReadRegistry(family, bounded, one.bytes * 3));
  EXPECT_FALSE(bounded.too_large);
  ASSERT_TRUE(ReadRegistry(family, bounded, one.bytes * 3));
  EXPECT_FALSE(bounded.too_large);
  EXPECT_EQ(bounded.families.size(), 1u);  // a family in parts is one
  EXPECT_EQ(bounded.families[0].values.size(), 200u);
  ASSERT_TRUE(ReadRegistry(family, bounded, one.bytes * 3));
  EXPECT_TRUE(bounded.too_large);
  EXPECT_TRUE(bounded.families.empty());
  EXPECT_TRUE(ReadRegistry(family, bounded, one.bytes * 3));
  EXPECT_TRUE(bounded.families.empty());
}

// The count is the heap what is kept takes (checked against malloc's own, where malloc is
// glibc's: not under a sanitizer's allocator), so the bound is the memory it claims.
TEST(RegistryReaderTest, TheByteCountIsTheHeapTaken) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitizer's allocator";
#endif
  std::string values;
  for (int i = 0; i < 20000; ++i) {
    values += (i ? "," : "") + std::string(R"({"value":1,"labels":{"route":"/r)") +
              std::to_string(i) + R"(","method":"GET","code":"200"}})";
  }
  const std::string json = R"([{"name":"requests","type":"counter","values":[)" + values + "]}]";
  auto heap = [] {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;  // large blocks are mmapped, outside uordblks
  };
  Registry registry;
  size_t before = heap();
  ASSERT_TRUE(ReadRegistry(json, registry, kPlenty));
  size_t taken = heap() - before;
  EXPECT_GE(registry.bytes, taken * 95 / 100) << taken;
  EXPECT_LE(registry.bytes, taken * 105 / 100) << taken;
}

// Parts of one family count once toward the families' bound (the preload splits a large
// family into parts of the same name); a family of another type is no part.
TEST(RegistryReaderTest, PartsOfOneFamilyAreOne) {
  std::string parts;
  for (size_t i = 0; i < kMaxFamilies + 5; ++i) {
    parts += R"({"name":"g","type":"gauge","values":[{"value":1,"labels":{"i":")" +
             std::to_string(i) + R"("}}]},)";
  }
  Registry registry;
  ASSERT_TRUE(ReadRegistry("[" + parts + R"({"name":"g","type":"counter","values":[]}])", registry,
                           kPlenty));
  EXPECT_FALSE(registry.too_many);
  ASSERT_EQ(registry.families.size(), 2u);
  EXPECT_EQ(registry.families[0].values.size(), kMaxFamilies + 5);
  EXPECT_EQ(registry.families[1].type, "counter");
}

// JSON may escape a lone low surrogate; UTF-8 cannot hold one, so it is kept as U+FFFD (a
// lone high one is RapidJSON's parse error).
TEST(RegistryReaderTest, LoneSurrogatesBecomeTheReplacementCharacter) {
  Registry registry;
  ASSERT_TRUE(ReadRegistry(
      R"([{"name":"g","help":"a\udc00b","type":"gauge","values":[{"value":1,"labels":{"l":"\udfff\ud83d\ude00"}}]}])",
      registry, kPlenty));
  EXPECT_EQ(registry.families[0].help,
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(registry.families[0].values[0].labels[0].second, "\xEF\xBF\xBD\xF0\x9F\x98\x80");
}

TEST(RegistryReaderTest, NumbersAsJavaScriptWritesThem) {
  EXPECT_EQ(FormatNumber(0.1), "0.1");
  EXPECT_EQ(FormatNumber(20), "20");
  EXPECT_EQ(FormatNumber(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatNumber(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatNumber(0.0 / 0.0), "NaN");
}

}  // namespace
}  // namespace tend::prom_client
