// The apps' own metrics folded by prom-client's rules, from the JSON prom-client writes.
#include "runtime/metrics/app_metrics.h"

#include <chrono>

#include "gtest/gtest.h"
#include "runtime/metrics/exposition.h"

namespace tend::metrics {
namespace {

// A worker's answer as the collector passes it on: read (bounded far above what these tests
// send), and counted as invalid if it is not a registry.
void AddAnswer(AppAggregation& aggregation, int instance, const std::string& json) {
  prom_client::Registry registry;
  if (!prom_client::ReadRegistry(json, registry, size_t{1} << 30)) {
    aggregation.Drop(AppMetricsDrop::kInvalid);
    return;
  }
  aggregation.AddWorker(instance, registry);
}

// What getMetricsAsJSON() gave on a worker: a counter, a histogram and two gauges.
std::string Registry(double requests, double bucket, double heap, double lag) {
  return R"([
    {"name":"http_requests_total","help":"Requests.","type":"counter","aggregator":"sum",
     "values":[{"value":)" +
         std::to_string(requests) + R"(,"labels":{"route":"/"}}]},
    {"name":"latency_seconds","help":"Latency.","type":"histogram","aggregator":"sum",
     "values":[{"value":)" +
         std::to_string(bucket) + R"(,"metricName":"latency_seconds_bucket","labels":{"le":0.1}},
               {"value":)" +
         std::to_string(bucket) + R"(,"metricName":"latency_seconds_bucket","labels":{"le":"+Inf"}},
               {"value":0.5,"metricName":"latency_seconds_sum","labels":{}},
               {"value":)" +
         std::to_string(bucket) + R"(,"metricName":"latency_seconds_count","labels":{}}]},
    {"name":"heap_bytes","help":"Heap.","type":"gauge","aggregator":"max",
     "values":[{"value":)" +
         std::to_string(heap) + R"(,"labels":{}}]},
    {"name":"lag_seconds","help":"Lag.","type":"gauge","aggregator":"average",
     "values":[{"value":)" +
         std::to_string(lag) + R"(,"labels":{}}]},
    {"name":"skipped","help":"Omitted.","type":"gauge","aggregator":"omit",
     "values":[{"value":1,"labels":{}}]}
  ])";
}

TEST(AppAggregationTest, FollowsPromClientsAggregators) {
  AppAggregation aggregation("web", false);
  AddAnswer(aggregation, 0, Registry(3, 2, 100, 0.5));
  AddAnswer(aggregation, 1, Registry(4, 5, 300, 1.5));
  std::string text = AppExposition(aggregation.Take());
  EXPECT_NE(text.find("# TYPE http_requests_total counter\n"
                      "http_requests_total{app=\"web\",route=\"/\"} 7\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("latency_seconds_bucket{app=\"web\",le=\"0.1\"} 7\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{app=\"web\",le=\"+Inf\"} 7\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_sum{app=\"web\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("heap_bytes{app=\"web\"} 300\n"), std::string::npos);
  EXPECT_NE(text.find("lag_seconds{app=\"web\"} 1\n"), std::string::npos);
  EXPECT_EQ(text.find("skipped"), std::string::npos);
  EXPECT_TRUE(aggregation.drops().empty());
}

TEST(AppAggregationTest, PerWorkerKeepsEachWorkersSeries) {
  AppAggregation aggregation("web", true);
  AddAnswer(aggregation, 0, Registry(3, 2, 100, 0.5));
  AddAnswer(aggregation, 1, Registry(4, 5, 300, 1.5));
  std::string text = AppExposition(aggregation.Take());
  EXPECT_NE(text.find("http_requests_total{app=\"web\",app_instance=\"0\",route=\"/\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("http_requests_total{app=\"web\",app_instance=\"1\",route=\"/\"} 4\n"),
            std::string::npos);
  EXPECT_EQ(text.find("# TYPE http_requests_total"), text.rfind("# TYPE http_requests_total"));
  EXPECT_NE(text.find("skipped{app=\"web\",app_instance=\"1\"} 1\n"), std::string::npos);
}

TEST(AppAggregationTest, WhatCannotBeReadIsLeftOutAndCounted) {
  AppAggregation aggregation("web", false);
  AddAnswer(aggregation, 0, "not json");
  AddAnswer(aggregation, 0, R"({"an":"object"})");
  AddAnswer(aggregation, 0, R"([
    {"name":"bad name","type":"counter","values":[{"value":1}]},
    {"name":"ok","type":"mystery","values":[{"value":1}]},
    {"name":"ok","type":"gauge","aggregator":"median","values":[{"value":1}]},
    {"name":"h","type":"histogram","values":[{"value":1,"metricName":"other_bucket"}]},
    {"name":"g","type":"gauge","values":[{"value":1,"labels":{"__reserved":"x"}},
                                         {"value":2,"labels":{"fine":"y\"\n\\"}},
                                         {"value":null,"labels":{}}]},
    {"name":"c","type":"counter","values":[{"value":1,"labels":{"app":"theirs"}}]}
  ])");
  std::string text = AppExposition(aggregation.Take());
  EXPECT_EQ(text,
            "# HELP g \n# TYPE g gauge\ng{app=\"web\",fine=\"y\\\"\\n\\\\\"} 2\n"
            "# HELP c \n# TYPE c counter\nc{app=\"web\",exported_app=\"theirs\"} 1\n");
  EXPECT_EQ(aggregation.drops().at(AppMetricsDrop::kInvalid), 7u);
}

// A label value may hold any character: no value can make two series one.
TEST(AppAggregationTest, LabelValuesCannotMergeDifferentSeries) {
  AppAggregation aggregation("web", false);
  AddAnswer(aggregation, 0, R"([{"name":"g","type":"gauge","values":[
    {"value":1,"labels":{"a":"x\nb=y"}}, {"value":2,"labels":{"a":"x","b":"y"}}]}])");
  std::vector<AppFamily> families = aggregation.Take();
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].series.size(), 2u);
}

TEST(AppAggregationTest, SeriesPastTheBoundAreDropped) {
  std::string values;
  for (size_t i = 0; i < AppAggregation::kMaxSeries + 10; ++i) {
    values +=
        (i ? "," : "") + std::string(R"({"value":1,"labels":{"i":)") + std::to_string(i) + "}}";
  }
  AppAggregation aggregation("web", false);
  AddAnswer(aggregation, 0, R"([{"name":"many","type":"gauge","values":[)" + values + "]}]");
  std::vector<AppFamily> families = aggregation.Take();
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].series.size(), AppAggregation::kMaxSeries);
  EXPECT_EQ(aggregation.drops().at(AppMetricsDrop::kTooLarge), 1u);
}

// A worker that answers with one series of 300,000 labels (inside the 4 MiB a worker may
// send): the labels are checked in linear time, not pairwise (which froze tend's loop for
// seconds), and the series is refused for having more than kMaxLabelsPerSeries.
TEST(AppAggregationTest, ASeriesWithTooManyLabelsIsRefusedInLinearTime) {
  std::string labels;
  for (int i = 0; i < 300000; ++i) labels += (i ? ",\"l" : "\"l") + std::to_string(i) + "\":\"\"";
  AppAggregation aggregation("web", false);
  auto began = std::chrono::steady_clock::now();
  AddAnswer(aggregation, 0,
            R"([{"name":"g","type":"gauge","values":[{"value":1,"labels":{)" + labels +
                "}},{\"value\":2,\"labels\":{\"ok\":\"1\"}}]}]");
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(2));
  std::string text = AppExposition(aggregation.Take());
  EXPECT_EQ(text, "# HELP g \n# TYPE g gauge\ng{app=\"web\",ok=\"1\"} 2\n");
  EXPECT_EQ(aggregation.drops().at(AppMetricsDrop::kInvalid), 1u);
}

TEST(AppAggregationTest, FamiliesPastTheBoundOfOneAnswerAreDropped) {
  std::string families;
  for (size_t i = 0; i < prom_client::kMaxFamilies + 5; ++i) {
    families += (i ? ",{\"name\":\"f" : "{\"name\":\"f") + std::to_string(i) +
                R"(","type":"gauge","values":[{"value":1}]})";
  }
  AppAggregation aggregation("web", false);
  AddAnswer(aggregation, 0, "[" + families + "]");
  EXPECT_EQ(aggregation.Take().size(), prom_client::kMaxFamilies);
  EXPECT_EQ(aggregation.drops().at(AppMetricsDrop::kTooLarge), 1u);
}

// Workers may write a series' labels in any order: it is one series.
TEST(AppAggregationTest, LabelOrderDoesNotSplitASeries) {
  AppAggregation aggregation("web", false);
  AddAnswer(aggregation, 0, R"([{"name":"c","type":"counter","values":[
    {"value":1,"labels":{"a":"1","b":"2"}}],"aggregator":"sum"}])");
  AddAnswer(aggregation, 1, R"([{"name":"c","type":"counter","values":[
    {"labels":{"b":"2","a":"1"},"value":2}]}])");
  EXPECT_EQ(AppExposition(aggregation.Take()),
            "# HELP c \n# TYPE c counter\nc{app=\"web\",a=\"1\",b=\"2\"} 3\n");
}

// prom-client's default metrics share names with tend's own process_* families: those of the
// same kind join them; tend's namespace and other kinds are left out.
TEST(AppExpositionTest, AppFamiliesMeetTendsOwn) {
  std::map<std::string, AppMetricsCounts> counts;
  AppMetricsHarvest harvest;
  harvest.counts = &counts;
  AppSeries one{"", {{"app", "web"}}, 2};
  auto family = [&](std::string name, std::string type) {
    one.name = name;
    return AppFamily{name, "h", type, {one}};
  };
  harvest.families.push_back(
      {"web",
       {family("process_cpu_seconds_total", "counter"), family("process_open_fds", "counter"),
        family("tend_worker_up", "gauge"), family("shared", "gauge")}});
  harvest.families.push_back({"api", {family("shared", "counter")}});
  std::string text = Exposition({}, {}, &harvest);
  EXPECT_NE(text.find("process_cpu_seconds_total{app=\"web\"} 2"), std::string::npos) << text;
  EXPECT_EQ(text.find("process_open_fds{app"), std::string::npos);
  EXPECT_EQ(text.find("tend_worker_up{app"), std::string::npos);
  EXPECT_NE(text.find("# TYPE shared gauge"), std::string::npos);
  EXPECT_EQ(text.find("# TYPE shared counter"), std::string::npos);
  EXPECT_NE(text.find("tend_app_metrics_dropped_total{app=\"web\",reason=\"name_clash\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("tend_app_metrics_dropped_total{app=\"api\",reason=\"name_clash\"} 1"),
            std::string::npos);
}

// Two apps' families of one name are served as one, and every scrape that joined a
// collection is answered from the same harvest: the second exposition equals the first.
TEST(AppExpositionTest, AppsShareAFamilyAndScrapesShareTheHarvest) {
  std::map<std::string, AppMetricsCounts> counts;
  AppMetricsHarvest harvest;
  harvest.counts = &counts;
  harvest.families.push_back(
      {"web",
       {AppFamily{"served_total", "h", "counter", {{"served_total", {{"app", "web"}}, 3}}}}});
  harvest.families.push_back(
      {"api",
       {AppFamily{"served_total", "h", "counter", {{"served_total", {{"app", "api"}}, 4}}}}});
  std::string text = Exposition({}, {}, &harvest);
  size_t header = text.find("# TYPE served_total counter\n");
  ASSERT_NE(header, std::string::npos) << text;
  EXPECT_EQ(text.find("# TYPE served_total", header + 1), std::string::npos) << text;
  EXPECT_NE(text.find("served_total{app=\"web\"} 3\nserved_total{app=\"api\"} 4\n", header),
            std::string::npos)
      << text;
  // (Only the apps' part: tend's own process figures move between two calls.)
  std::string again = Exposition({}, {}, &harvest);
  EXPECT_EQ(again.substr(again.find("# HELP served_total")),
            text.substr(text.find("# HELP served_total")));
}

}  // namespace
}  // namespace tend::metrics
