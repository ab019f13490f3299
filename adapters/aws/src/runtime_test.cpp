// The Runtime API client against a local implementation of the documented
// protocol (a test double: there is no AWS here). The double is our own HTTP
// server answering /2018-06-01/runtime/invocation/next, .../response,
// .../error, exactly as the Lambda Runtime API documents them.
#include "orderly/adapters/aws/runtime.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <deque>
#include <mutex>

#include "orderly/adapters/http/server.hpp"

namespace orderly::adapters::aws {
namespace {

namespace ph = platform::http;

struct FakeRuntimeApi {
  struct Event {
    std::string id, body, trace;
  };
  std::mutex mu;
  std::deque<Event> events;
  std::map<std::string, std::string> responses, errors, error_types;
  std::unique_ptr<http::HttpServer> server;

  FakeRuntimeApi() {
    auto s = http::HttpServer::start({.port = 0, .threads = 1, .body_limit = 8 * 1024 * 1024},
                                     [this](ph::Request& r) { return handle(r); });
    if (s) server = std::move(*s);
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(server->port()); }

  ph::Response handle(ph::Request& r) {
    std::lock_guard lk(mu);
    if (r.method == "GET" && r.path == "/2018-06-01/runtime/invocation/next") {
      if (events.empty()) return ph::problem(500, "no-more", "No more events", "test over", r);
      auto e = events.front();
      events.pop_front();
      ph::Response res;
      res.status = 200;
      res.body = e.body;
      res.with("Lambda-Runtime-Aws-Request-Id", e.id)
          .with("Lambda-Runtime-Deadline-Ms", "1767225600123")
          .with("Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:eu-west-1:123456789012:function:orders-api");
      if (!e.trace.empty()) res.with("Lambda-Runtime-Trace-Id", e.trace);
      return res;
    }
    const std::string prefix = "/2018-06-01/runtime/invocation/";
    if (r.method == "POST" && r.path.rfind(prefix, 0) == 0) {
      auto rest = r.path.substr(prefix.size());
      auto slash = rest.find('/');
      auto id = rest.substr(0, slash);
      if (rest.substr(slash + 1) == "response")
        responses[id] = r.body;
      else {
        errors[id] = r.body;
        error_types[id] = r.header("lambda-runtime-function-error-type").value_or("");
      }
      ph::Response res;
      res.status = 202;
      res.body = R"({"status":"OK"})";
      return res;
    }
    return ph::problem(404, "nope", "Not found", r.path, r);
  }
};

TEST(RuntimeApi, ServesResponsesErrorsAndExceptionsWithContext) {
  FakeRuntimeApi api;
  ASSERT_TRUE(api.server);
  api.events = {{"req-1", R"({"n":1})",
                 "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"},
                {"req-2", R"({"n":2})", ""},
                {"req-3", R"({"n":3})", ""}};
  std::vector<Invocation> seen;
  const int rc = run_handler(
      [&](const Invocation& inv) -> platform::Result<std::string> {
        seen.push_back(inv);
        if (inv.request_id == "req-2")
          return platform::make_error(platform::ErrorKind::invalid_input, "bad order");
        if (inv.request_id == "req-3") throw std::runtime_error("boom");
        const char* env = std::getenv("_X_AMZN_TRACE_ID");
        return std::string(R"({"trace":")") + (env ? env : "") + "\"}";
      },
      {.endpoint = api.endpoint(), .max_invocations = 3});
  EXPECT_EQ(rc, 0);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].payload, R"({"n":1})");
  EXPECT_EQ(seen[0].deadline_ms.count(), 1767225600123);
  EXPECT_EQ(seen[0].function_arn, "arn:aws:lambda:eu-west-1:123456789012:function:orders-api");
  EXPECT_EQ(seen[0].traceparent, "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01");
  EXPECT_FALSE(seen[1].traceparent);
  EXPECT_EQ(
      api.responses["req-1"],
      R"({"trace":"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"})");
  auto e2 = boost::json::parse(api.errors["req-2"]).as_object();
  EXPECT_EQ(e2.at("errorType"), "Orderly.invalid_input");
  EXPECT_EQ(e2.at("errorMessage"), "bad order");
  EXPECT_EQ(api.error_types["req-2"], "Orderly.invalid_input");
  auto e3 = boost::json::parse(api.errors["req-3"]).as_object();
  EXPECT_EQ(e3.at("errorMessage"), "unhandled exception: boom");
  EXPECT_EQ(std::getenv("_X_AMZN_TRACE_ID"), nullptr);  // cleared for an untraced invocation
}

TEST(RuntimeApi, CarriesSixMegabytePayloadsAndRefusesLargerResponses) {
  FakeRuntimeApi api;
  ASSERT_TRUE(api.server);
  const std::string big(6 * 1024 * 1024 - 64, 'x');
  api.events = {{"big-1", big, ""}, {"big-2", "{}", ""}};
  const int rc = run_handler(
      [&](const Invocation& inv) -> platform::Result<std::string> {
        if (inv.request_id == "big-1") return std::to_string(inv.payload.size());
        return std::string(7 * 1024 * 1024, 'y');
      },
      {.endpoint = api.endpoint(), .max_invocations = 2});
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(api.responses["big-1"], std::to_string(big.size()));
  EXPECT_NE(api.errors["big-2"].find("over the"), std::string::npos);
}

TEST(RuntimeApi, StopsCleanlyAndFailsWithoutAnEndpoint) {
  FakeRuntimeApi api;
  std::atomic<bool> stop{true};  // as set by a SIGTERM handler
  EXPECT_EQ(run_handler([](const Invocation&) { return platform::Result<std::string>{"{}"}; },
                        {.endpoint = api.endpoint(), .stop = &stop}),
            0);
  EXPECT_EQ(run_handler([](const Invocation&) { return platform::Result<std::string>{"{}"}; },
                        {.endpoint = "127.0.0.1:1", .max_invocations = 1}),
            1);
}

TEST(RuntimeApi, XrayHeaderMapsToTraceparent) {
  EXPECT_EQ(xray_to_traceparent(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"),
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00");
  EXPECT_FALSE(xray_to_traceparent("Root=1-5759e988-bd862e3fe1be46a994272793"));  // no parent
  EXPECT_FALSE(xray_to_traceparent("garbage"));
  EXPECT_FALSE(
      xray_to_traceparent("Root=1-zz59e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8"));
}

}  // namespace
}  // namespace orderly::adapters::aws
