// The OTLP exporter against a local HTTP server standing in for an
// OpenTelemetry collector (a test double: no collector is installed here). It
// checks what the OTLP/HTTP JSON encoding specifies: POST /v1/traces, JSON
// body, hex ids, int64 nanoseconds as decimal strings, SpanKind numbers,
// resource service.name, status on errors.
#include "orderly/adapters/http/otlp.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <mutex>

#include "orderly/adapters/http/server.hpp"
#include "orderly/platform/log.hpp"

namespace orderly::adapters::http {
namespace {

namespace json = boost::json;

struct Collector {
  std::mutex mu;
  std::vector<std::pair<std::string, json::value>> posts;  // path, body
  int status = 200;
  std::unique_ptr<HttpServer> server;
  Collector() {
    server = std::move(*HttpServer::start({.port = 0}, [this](platform::http::Request& r) {
      std::lock_guard lk(mu);
      boost::system::error_code ec;
      const auto type = r.headers.find("content-type");
      posts.emplace_back(
          r.method + " " + r.path + " " + (type == r.headers.end() ? std::string() : type->second),
          json::parse(r.body, ec));
      platform::http::Response res;
      res.status = status;
      res.body = "{}";
      return res.with("Content-Type", "application/json");
    }));
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }
};

TEST(Otlp, SpansFromTheTracingApiArriveAsOtlpJson) {
  Collector collector;
  platform::log::configure({.spans = false}, false);
  auto exporter = OtlpExporter::start({.endpoint = collector.url(), .service = "orders"});
  ASSERT_TRUE(exporter) << exporter.error().message;
  platform::set_span_exporter([&](const platform::SpanRecord& s) { (*exporter)->enqueue(s); });
  const auto parent =
      platform::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  {
    platform::Span server("POST /v1/orders", parent,
                          {{"kind", "server"}, {"http.status", 202}, {"token", "tok_secret"}});
    platform::Span consumer("handle x", server.context(), {{"kind", "consumer"}});
    consumer.set_error("boom");
  }
  platform::set_span_exporter({});
  (*exporter)->stop();
  platform::log::configure({}, false);
  EXPECT_EQ((*exporter)->stats().exported, 2u);

  std::lock_guard lk(collector.mu);
  ASSERT_EQ(collector.posts.size(), 1u);
  EXPECT_EQ(collector.posts[0].first, "POST /v1/traces application/json");
  const auto& body = collector.posts[0].second;
  const auto& rs = body.at("resourceSpans").at(0);
  EXPECT_EQ(rs.at("resource").at("attributes").at(0).at("key"), "service.name");
  EXPECT_EQ(rs.at("resource").at("attributes").at(0).at("value").at("stringValue"), "orders");
  const auto& spans = rs.at("scopeSpans").at(0).at("spans").as_array();
  ASSERT_EQ(spans.size(), 2u);
  const auto& consumer = spans[0].as_object();  // ended first
  const auto& server = spans[1].as_object();
  EXPECT_EQ(server.at("traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(server.at("parentSpanId"), "00f067aa0ba902b7");
  EXPECT_EQ(server.at("kind"), 2);
  EXPECT_EQ(consumer.at("kind"), 5);
  EXPECT_EQ(consumer.at("parentSpanId"), server.at("spanId"));
  EXPECT_EQ(consumer.at("status").at("code"), 2);
  EXPECT_EQ(consumer.at("status").at("message"), "boom");
  for (const auto* s : {&server, &consumer}) {
    EXPECT_EQ(s->at("spanId").as_string().size(), 16u);
    const std::string start(s->at("startTimeUnixNano").as_string());
    const std::string end(s->at("endTimeUnixNano").as_string());
    EXPECT_GT(std::stoll(start), 1'600'000'000'000'000'000LL);
    EXPECT_GE(std::stoll(end), std::stoll(start));
  }
  bool saw_status = false;
  for (const auto& a : server.at("attributes").as_array()) {
    if (a.at("key") == "http.status") {
      EXPECT_EQ(a.at("value").at("intValue"), "202");
      saw_status = true;
    }
    if (a.at("key") == "token") {
      EXPECT_EQ(a.at("value").at("stringValue"), "[REDACTED]");
    }
  }
  EXPECT_TRUE(saw_status);
}

TEST(Otlp, AFailingCollectorDropsTheBatchAndCountsIt) {
  Collector collector;
  collector.status = 503;
  auto exporter = OtlpExporter::start({.endpoint = collector.url() + "/otel/", .batch = 2});
  ASSERT_TRUE(exporter);
  platform::SpanRecord s{
      "x",         "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "", 1, 2, "internal", {},
      std::nullopt};
  for (int i = 0; i < 4; ++i) (*exporter)->enqueue(s);
  (*exporter)->stop();
  EXPECT_EQ((*exporter)->stats().exported, 0u);
  EXPECT_EQ((*exporter)->stats().failed_batches, 2u);
  std::lock_guard lk(collector.mu);
  ASSERT_FALSE(collector.posts.empty());
  EXPECT_EQ(collector.posts[0].first, "POST /otel/v1/traces application/json");
}

TEST(Otlp, ABadEndpointIsRefusedAtStart) {
  EXPECT_FALSE(OtlpExporter::start({.endpoint = "ftp://x"}));
}

}  // namespace
}  // namespace orderly::adapters::http
