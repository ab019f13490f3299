// The mappers against AWS's own sample events (../shared/fixtures/aws-events)
// and against events in our format.
#include "orderly/adapters/aws/mappers.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <sstream>

namespace orderly::adapters::aws {
namespace {

namespace json = boost::json;
namespace ph = platform::http;

json::value fixture(const std::string& name) {
  std::ifstream in(std::string(ORDERLY_FIXTURES_DIR) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

ph::Router echo_router() {
  ph::Router r;
  for (const char* path : {"/my/path", "/"})
    for (const char* method : {"GET", "POST"})
      r.add(method, path, "", [](ph::Request& req) {
        json::object o{{"method", req.method},
                       {"path", req.path},
                       {"body", req.body},
                       {"subject", req.identity ? req.identity->subject : ""}};
        json::array scopes;
        if (req.identity)
          for (const auto& s : req.identity->scopes) scopes.emplace_back(s);
        o["scopes"] = scopes;
        o["param"] = req.query_param("parameter1").value_or("");
        return ph::Response::json(200, o);
      });
  return r;
}

TEST(ApiGatewayV2, AcceptsEveryAwsSample) {
  auto router = echo_router();
  for (const char* name :
       {"powertools.apiGatewayProxyV2Event.json", "lambda-go.apigw-v2-request-jwt-authorizer.json",
        "lambda-go.apigw-v2-request-no-authorizer.json"}) {
    const auto event = fixture(name);
    auto res = handle_apigw_v2(event, [&](ph::Request& r) { return router.handle(r); });
    EXPECT_EQ(res.at("statusCode"), 200) << name << ": " << json::serialize(res);
    EXPECT_EQ(res.at("isBase64Encoded"), false);
    auto body = json::parse(res.at("body").as_string()).as_object();
    EXPECT_EQ(body.at("path"), event.at("rawPath")) << name;
    EXPECT_EQ(body.at("method"), event.at("requestContext").at("http").at("method")) << name;
  }
  // The authorizer's scopes become the identity's (claims without sub give no identity).
  auto jwt = fixture("lambda-go.apigw-v2-request-jwt-authorizer.json");
  jwt.as_object()["requestContext"]
      .as_object()["authorizer"]
      .as_object()["jwt"]
      .as_object()["claims"]
      .as_object()["sub"] = "alice";
  jwt.as_object()["requestContext"]
      .as_object()["authorizer"]
      .as_object()["jwt"]
      .as_object()["claims"]
      .as_object()["scope"] = "orderly/orders:read";
  auto req = request_from_apigw_v2(jwt);
  ASSERT_TRUE(req);
  ASSERT_TRUE(req->identity);
  EXPECT_EQ(req->identity->subject, "alice");
  EXPECT_TRUE(req->identity->has("orders:read"));
  EXPECT_TRUE(req->identity->has("scope1"));
  auto pt = request_from_apigw_v2(fixture("powertools.apiGatewayProxyV2Event.json"));
  ASSERT_TRUE(pt);
  EXPECT_EQ(pt->query_param("parameter1"), "value1");
  EXPECT_EQ(pt->header("header1"), "value1");
}

TEST(ApiGatewayV2, MalformedEventsGetA400ProblemAndBase64BodiesAreDecoded) {
  auto router = echo_router();
  for (
      const char* text :
      {"[]", R"({"version":"1.0"})", R"({"version":"2.0","rawPath":"/"})",
       R"({"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"GET"}},"isBase64Encoded":true,"body":"***"})"}) {
    auto res = handle_apigw_v2(json::parse(text), [&](ph::Request& r) { return router.handle(r); });
    EXPECT_EQ(res.at("statusCode"), 400) << text;
    EXPECT_EQ(res.at("headers").at("Content-Type"), "application/problem+json");
  }
  auto ok = handle_apigw_v2(
      json::parse(
          R"({"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"POST"}},"isBase64Encoded":true,"body":"aGVsbG8="})"),
      [&](ph::Request& r) { return router.handle(r); });
  EXPECT_EQ(json::parse(ok.at("body").as_string()).at("body"), "hello");
}

std::string cloud_event(int n) {
  return json::serialize(platform::to_json_object(
      platform::make_event("orderly.test", "orderly.test.Thing.v1", "s", {{"n", n}},
                           platform::from_unix_ms(1'767'225'600'000))));
}

TEST(SqsBatch, AwsSamplesAreAcceptedAndUnreadableBodiesAreReportedNotLost) {
  platform::BatchHandler never = [](const std::vector<platform::Delivery>& b) {
    ADD_FAILURE() << "no sample body is one of our events";
    return std::vector<platform::DeliveryResult>(b.size());
  };
  for (const char* name : {"lambda-go.sqs-event.json", "powertools.sqsEvent.json",
                           "powertools.sqsDlqTriggerEvent.json"}) {
    const auto event = fixture(name);
    auto out = handle_sqs_batch(event, never);
    ASSERT_TRUE(out) << name;
    EXPECT_EQ(out->at("batchItemFailures").as_array().size(), event.at("Records").as_array().size())
        << name;
  }
  EXPECT_FALSE(handle_sqs_batch(json::parse(R"({"nope":1})"), never));
}

TEST(SqsBatch, OnlyTheFailedMessagesAreListed) {
  json::array records;
  // EventBridge-wrapped, bare, EventBridge-wrapped that fails, and junk.
  records.push_back(
      json::object{{"messageId", "m1"},
                   {"body", json::serialize(json::object{{"detail-type", "orderly.test.Thing.v1"},
                                                         {"source", "orderly.test"},
                                                         {"detail", json::parse(cloud_event(1))}})},
                   {"attributes", {{"ApproximateReceiveCount", "3"}}}});
  records.push_back(json::object{{"messageId", "m2"}, {"body", cloud_event(2)}});
  records.push_back(
      json::object{{"messageId", "m3"},
                   {"body", json::serialize(json::object{
                                {"detail-type", "x"}, {"detail", json::parse(cloud_event(3))}})}});
  records.push_back(json::object{{"messageId", "m4"}, {"body", "{\"id\":\"half an event\"}"}});
  std::vector<platform::Delivery> seen;
  auto out = handle_sqs_batch(
      json::object{{"Records", records}}, [&](const std::vector<platform::Delivery>& b) {
        seen = b;
        std::vector<platform::DeliveryResult> r;
        for (const auto& d : b)
          r.push_back(d.event.data.at("n") == 3 ? platform::DeliveryResult::retry("down")
                                                : platform::DeliveryResult::ok());
        return r;
      });
  ASSERT_TRUE(out);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].receive_count, 3);
  EXPECT_EQ(seen[0].message_id, "m1");
  std::set<std::string> failed;
  for (const auto& f : out->at("batchItemFailures").as_array())
    failed.insert(std::string(f.at("itemIdentifier").as_string()));
  EXPECT_EQ(failed, (std::set<std::string>{"m3", "m4"}));
}

}  // namespace
}  // namespace orderly::adapters::aws

namespace orderly::adapters::aws {
namespace {

// What the outbox pipe puts on the bus (ADR 0005): detail {"event": {"S": "<JSON text>"}}.
TEST(SqsBatch, AcceptsTheOutboxPipeShapeAndRejectsABrokenOne) {
  auto wrap = [](json::value detail) {
    return json::serialize(json::object{{"version", "0"},
                                        {"detail-type", "orderly.test.Thing.v1"},
                                        {"source", "orderly.test"},
                                        {"detail", std::move(detail)}});
  };
  json::array records;
  records.push_back(
      json::object{{"messageId", "pipe"},
                   {"body", wrap(json::object{{"event", json::object{{"S", cloud_event(1)}}}})}});
  records.push_back(
      json::object{{"messageId", "plain"}, {"body", wrap(json::parse(cloud_event(2)))}});
  records.push_back(json::object{
      {"messageId", "truncated"},
      {"body", wrap(json::object{{"event", json::object{{"S", cloud_event(3).substr(0, 20)}}}})}});
  records.push_back(json::object{
      {"messageId", "not-text"},
      {"body", wrap(json::object{{"event", json::object{{"S", json::parse(cloud_event(4))}}}})}});
  std::vector<platform::Delivery> seen;
  auto out = handle_sqs_batch(json::object{{"Records", records}},
                              [&](const std::vector<platform::Delivery>& b) {
                                seen = b;
                                return std::vector<platform::DeliveryResult>(b.size());
                              });
  ASSERT_TRUE(out);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].event.data.at("n"), 1);
  EXPECT_EQ(seen[1].event.data.at("n"), 2);
  const auto& failures = out->at("batchItemFailures").as_array();
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0].at("itemIdentifier"), "truncated");
  EXPECT_EQ(failures[1].at("itemIdentifier"), "not-text");
}

}  // namespace
}  // namespace orderly::adapters::aws
