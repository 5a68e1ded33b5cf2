// prom-client's registry JSON read in one streaming pass, within its bounds.
#include "runtime/prom_client/registry_reader.h"

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
  ASSERT_TRUE(ReadRegistry(R"([{"name":"g","type":"gauge","values":[{"value":1,"labels":{)" +
                               labels + "}}]}]",
                           registry, kPlenty));
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
  EXPECT_FALSE(ReadRegistry(R"([{"name":"g","values":[{"value":1,"labels":)" +
                                std::string(1000, '[') + "}]}]",
                            registry, kPlenty));
  rusage after;
  getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 16 * 1024) << "KiB";
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
  ASSERT_TRUE(ReadRegistry(family, bounded, one.bytes * 2));
  EXPECT_FALSE(bounded.too_large);
  ASSERT_TRUE(ReadRegistry(family, bounded, one.bytes * 2));
  EXPECT_FALSE(bounded.too_large);
  EXPECT_EQ(bounded.families.size(), 2u);  // a family in parts: the aggregation joins them
  ASSERT_TRUE(ReadRegistry(family, bounded, one.bytes * 2));
  EXPECT_TRUE(bounded.too_large);
  EXPECT_TRUE(bounded.families.empty());
  EXPECT_TRUE(ReadRegistry(family, bounded, one.bytes * 2));
  EXPECT_TRUE(bounded.families.empty());
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
