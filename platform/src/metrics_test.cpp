// Metrics: Prometheus exposition byte for byte, EMF shape, label bounds.
#include "orderly/platform/metrics.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <thread>

namespace orderly::platform::metrics {
namespace {

namespace json = boost::json;

TEST(Prometheus, TextExpositionOfEachType) {
  Registry r;
  r.counter("orderly_orders_total", "Orders by status", {"status", "reason"})
      .with({"placed", "none"})
      .inc(3);
  r.gauge("orderly_queue_depth", "Queue depth", {"rule"}).with({"a\"b\\c\nd"}).set(2.5);
  auto& h = r.histogram("orderly_x_seconds", "X", {"rule"}, {0.1, 1}).with({"r"});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(7);
  EXPECT_EQ(r.prometheus(),
            "# HELP orderly_orders_total Orders by status\n"
            "# TYPE orderly_orders_total counter\n"
            "orderly_orders_total{status=\"placed\",reason=\"none\"} 3\n"
            "# HELP orderly_queue_depth Queue depth\n"
            "# TYPE orderly_queue_depth gauge\n"
            "orderly_queue_depth{rule=\"a\\\"b\\\\c\\nd\"} 2.5\n"
            "# HELP orderly_x_seconds X\n"
            "# TYPE orderly_x_seconds histogram\n"
            "orderly_x_seconds_bucket{rule=\"r\",le=\"0.1\"} 1\n"
            "orderly_x_seconds_bucket{rule=\"r\",le=\"1\"} 2\n"
            "orderly_x_seconds_bucket{rule=\"r\",le=\"+Inf\"} 3\n"
            "orderly_x_seconds_sum{rule=\"r\"} 7.55\n"
            "orderly_x_seconds_count{rule=\"r\"} 3\n");
}

TEST(Prometheus, CollectorsRunBeforeEachExportAndCanBeRemoved) {
  Registry r;
  auto& g = r.gauge("orderly_g", "g");
  int runs = 0;
  const auto id = r.add_collector([&] { g.with({}).set(++runs); });
  EXPECT_NE(r.prometheus().find("orderly_g 1\n"), std::string::npos);
  EXPECT_NE(r.prometheus().find("orderly_g 2\n"), std::string::npos);
  r.remove_collector(id);
  EXPECT_NE(r.prometheus().find("orderly_g 2\n"), std::string::npos);
}

TEST(Prometheus, ConcurrentIncrementsAreAllCounted) {
  Registry r;
  auto& c = r.counter("orderly_c", "c", {"k"});
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) c.with({"same"}).inc();
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(c.with({"same"}).value(), 40'000u);
}

// The Embedded Metric Format as AWS documents it: a root "_aws" member with
// Timestamp (ms) and CloudWatchMetrics [{Namespace, Dimensions: [[names]],
// Metrics: [{Name, Unit}]}]; every dimension name and metric name is a member
// of the root object.
void expect_emf(const json::object& o, std::string_view metric, std::string_view unit) {
  const auto& aws = o.at("_aws").as_object();
  EXPECT_EQ(aws.at("Timestamp"), 1'700'000'000'000);
  const auto& directive = aws.at("CloudWatchMetrics").as_array().at(0).as_object();
  EXPECT_EQ(directive.at("Namespace"), "Orderly");
  const auto& dims = directive.at("Dimensions").as_array();
  ASSERT_EQ(dims.size(), 1u);
  ASSERT_LE(dims[0].as_array().size(), 30u);  // CloudWatch's limit per dimension set
  for (const auto& d : dims[0].as_array()) {
    ASSERT_TRUE(d.is_string());
    EXPECT_TRUE(o.at(d.as_string()).is_string()) << d;  // a dimension's value is a string member
  }
  const auto& m = directive.at("Metrics").as_array().at(0).as_object();
  EXPECT_EQ(m.at("Name").as_string(), metric);
  EXPECT_EQ(m.at("Unit").as_string(), unit);
  ASSERT_TRUE(o.contains(metric));
}

TEST(Emf, CountersReportTheirIncreaseAndUnchangedOnesNothing) {
  Registry r;
  auto& c = r.counter("orderly_orders_total", "o", {"status", "reason"});
  c.with({"placed", "none"}).inc(2);
  auto lines = r.emf("Orderly", {{"service", "orders"}}, 1'700'000'000'000);
  ASSERT_EQ(lines.size(), 1u);
  auto o = json::parse(lines[0]).as_object();
  expect_emf(o, "orders_total", "Count");
  EXPECT_EQ(o.at("orders_total"), 2);
  EXPECT_EQ(o.at("service"), "orders");
  EXPECT_EQ(o.at("status"), "placed");
  EXPECT_EQ(o.at("reason"), "none");
  const auto& dims = o.at("_aws").at("CloudWatchMetrics").at(0).at("Dimensions").at(0).as_array();
  EXPECT_EQ(dims, (json::array{"service", "status", "reason"}));
  EXPECT_TRUE(r.emf("Orderly", {{"service", "orders"}}, 1'700'000'000'000).empty());
  c.with({"placed", "none"}).inc();
  auto again = r.emf("Orderly", {{"service", "orders"}}, 1'700'000'000'000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(json::parse(again[0]).at("orders_total"), 1);
}

TEST(Emf, ADimensionSetCanRollALabelUp) {
  Registry r;
  r.counter("orderly_events_consumed_total", "c", {"rule", "type", "outcome"})
      .with({"orders.saga", "orderly.a.A.v1", "ok"})
      .inc();
  r.set_emf_dimensions("orderly_events_consumed_total", {{"rule", "outcome"}});
  auto lines = r.emf("Orderly", {{"service", "orders"}}, 1'700'000'000'000);
  ASSERT_EQ(lines.size(), 1u);
  auto o = json::parse(lines[0]).as_object();
  expect_emf(o, "events_consumed_total", "Count");
  EXPECT_EQ(o.at("_aws").at("CloudWatchMetrics").at(0).at("Dimensions"),
            (json::array{json::array{"service", "rule", "outcome"}}));
  EXPECT_EQ(o.at("type"), "orderly.a.A.v1");  // still in the record, for Logs Insights
}

TEST(Emf, HistogramsSendTheirValuesInSecondsAtMostAHundredALine) {
  Registry r;
  auto& h = r.histogram("orderly_event_handler_duration_seconds", "d", {"rule"}).with({"x"});
  for (int i = 0; i < 150; ++i) h.observe(0.001 * i);
  auto lines = r.emf("Orderly", {{"service", "orders"}}, 1'700'000'000'000);
  ASSERT_EQ(lines.size(), 1u);
  auto o = json::parse(lines[0]).as_object();
  expect_emf(o, "event_handler_duration_seconds", "Seconds");
  const auto& values = o.at("event_handler_duration_seconds").as_array();
  EXPECT_EQ(values.size(), 100u);  // EMF accepts at most 100 values per metric
  EXPECT_TRUE(r.emf("Orderly", {{"service", "orders"}}, 1'700'000'000'000).empty());
  // The Prometheus side still counts them all.
  EXPECT_EQ(h.snapshot().count, 150u);
}

}  // namespace
}  // namespace orderly::platform::metrics
