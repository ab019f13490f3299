// The mappers against AWS events: the repository's own, written from AWS's
// documented formats (tests/fixtures/aws-events, always), and AWS's published
// samples (../shared/fixtures/aws-events, an extra oracle run when present and
// skipped with the reason when not); and against events in our format.
#include "orderly/adapters/aws/mappers.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace orderly::adapters::aws {
namespace {

namespace json = boost::json;
namespace ph = platform::http;

json::value fixture(const std::string& dir, const std::string& name) {
  const auto path = dir + "/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read fixture " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

// Why the shared oracle is skipped, or empty when it is there to run.
std::string shared_skip_reason() {
  const std::string dir = ORDERLY_SHARED_FIXTURES_DIR;
  if (std::filesystem::is_directory(dir)) return {};
  return "AWS's published sample events are not present at " + dir +
         " (a clone without the sibling ../shared folder); the repository's own events in " +
         ORDERLY_FIXTURES_DIR + " ran instead";
}

ph::Router echo_router() {
  ph::Router r;
  for (const char* path :
       {"/my/path", "/", "/v1/catalogue/products", "/v1/carts/c-5b2f9e/items", "/v1/stock-alerts"})
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

// One set of API Gateway v2 events and what its samples must map to.
struct ApiGatewaySet {
  std::string dir;
  std::vector<std::string> names;  // every HTTP API (payload 2.0) event of the set
  std::string jwt;                 // the one with a JWT authorizer and route scopes
  std::string route_scope;  // a scope its authorizer lists (requestContext.authorizer.jwt.scopes)
  std::string with_query;   // one with a repeated query parameter and headers
  std::string query_name, query_first_value, header_name, header_value;
};

void check_apigw_set(const ApiGatewaySet& set) {
  auto router = echo_router();
  for (const auto& name : set.names) {
    const auto event = fixture(set.dir, name);
    auto res = handle_apigw_v2(event, [&](ph::Request& r) { return router.handle(r); });
    EXPECT_EQ(res.at("statusCode"), 200) << name << ": " << json::serialize(res);
    EXPECT_EQ(res.at("isBase64Encoded"), false);
    auto body = json::parse(res.at("body").as_string()).as_object();
    EXPECT_EQ(body.at("path"), event.at("rawPath")) << name;
    EXPECT_EQ(body.at("method"), event.at("requestContext").at("http").at("method")) << name;
  }
  // The authorizer's scopes become the identity's, beside the scope claim (the sub and
  // scope claims are set here: AWS's samples have none).
  auto jwt = fixture(set.dir, set.jwt);
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
  EXPECT_TRUE(req->identity->has(set.route_scope));
  auto pt = request_from_apigw_v2(fixture(set.dir, set.with_query));
  ASSERT_TRUE(pt);
  EXPECT_EQ(pt->query_param(set.query_name), set.query_first_value);
  EXPECT_EQ(pt->header(set.header_name), set.header_value);
}

TEST(ApiGatewayV2, AcceptsEveryEventOfTheRepository) {
  check_apigw_set({.dir = ORDERLY_FIXTURES_DIR,
                   .names = {"apigw-v2-jwt-authorizer.json", "apigw-v2-no-authorizer.json",
                             "apigw-v2-lambda-authorizer-mtls.json",
                             "apigw-v2-iam-authorizer-base64-body.json"},
                   .jwt = "apigw-v2-jwt-authorizer.json",
                   .route_scope = "catalogue:read",
                   .with_query = "apigw-v2-lambda-authorizer-mtls.json",
                   .query_name = "notify",
                   .query_first_value = "email",
                   .header_name = "x-client-version",
                   .header_value = "web/4.12.0"});
  // A form body arrives base64-encoded and reaches the handler decoded.
  auto form = request_from_apigw_v2(
      fixture(ORDERLY_FIXTURES_DIR, "apigw-v2-iam-authorizer-base64-body.json"));
  ASSERT_TRUE(form);
  EXPECT_EQ(form->body, "email=ada%40example.com&sku=BK-0451-PB&channel=email");
  EXPECT_FALSE(form->identity) << "an IAM authorizer carries no JWT claims";
}

TEST(ApiGatewayV2, AcceptsEveryAwsSample) {
  if (const auto why = shared_skip_reason(); !why.empty()) GTEST_SKIP() << why;
  check_apigw_set({.dir = ORDERLY_SHARED_FIXTURES_DIR,
                   .names = {"powertools.apiGatewayProxyV2Event.json",
                             "lambda-go.apigw-v2-request-jwt-authorizer.json",
                             "lambda-go.apigw-v2-request-no-authorizer.json"},
                   .jwt = "lambda-go.apigw-v2-request-jwt-authorizer.json",
                   .route_scope = "scope1",
                   .with_query = "powertools.apiGatewayProxyV2Event.json",
                   .query_name = "parameter1",
                   .query_first_value = "value1",
                   .header_name = "header1",
                   .header_value = "value1"});
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

void check_sqs_set(const std::string& dir, const std::vector<std::string>& names) {
  platform::BatchHandler never = [](const std::vector<platform::Delivery>& b) {
    ADD_FAILURE() << "no sample body is one of our events";
    return std::vector<platform::DeliveryResult>(b.size());
  };
  for (const auto& name : names) {
    const auto event = fixture(dir, name);
    auto out = handle_sqs_batch(event, never);
    ASSERT_TRUE(out) << name;
    EXPECT_EQ(out->at("batchItemFailures").as_array().size(), event.at("Records").as_array().size())
        << name;
  }
  EXPECT_FALSE(handle_sqs_batch(json::parse(R"({"nope":1})"), never));
}

TEST(SqsBatch, RepositoryEventsAreAcceptedAndUnreadableBodiesAreReportedNotLost) {
  check_sqs_set(ORDERLY_FIXTURES_DIR, {"sqs.json", "sqs-fifo.json", "sqs-dlq-redrive.json"});
}

TEST(SqsBatch, AwsSamplesAreAcceptedAndUnreadableBodiesAreReportedNotLost) {
  if (const auto why = shared_skip_reason(); !why.empty()) GTEST_SKIP() << why;
  check_sqs_set(ORDERLY_SHARED_FIXTURES_DIR,
                {"lambda-go.sqs-event.json", "powertools.sqsEvent.json",
                 "powertools.sqsDlqTriggerEvent.json"});
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

// What the Lambda host needs to set each failed record's visibility: its
// receipt handle, queue and receive count, and whether it is poison.
TEST(SqsBatch, FailedRecordsCarryTheirReceiptHandleQueueAndKind) {
  const std::string arn = "arn:aws:sqs:eu-west-1:123456789012:orderly-dev-payments-saga";
  auto record = [&](const char* id, std::string body, const char* receives) {
    return json::object{{"messageId", id},
                        {"receiptHandle", std::string("rh-") + id},
                        {"eventSourceARN", arn},
                        {"body", std::move(body)},
                        {"attributes", {{"ApproximateReceiveCount", receives}}}};
  };
  json::array records{record("ok", cloud_event(1), "1"), record("again", cloud_event(2), "4"),
                      record("bad", cloud_event(3), "2"), record("junk", "not json", "7")};
  std::vector<FailedRecord> failed;
  auto out = handle_sqs_batch(
      json::object{{"Records", records}},
      [](const std::vector<platform::Delivery>& b) {
        std::vector<platform::DeliveryResult> r;
        for (const auto& d : b) {
          const auto n = d.event.data.at("n").as_int64();
          r.push_back(n == 1   ? platform::DeliveryResult::ok()
                      : n == 2 ? platform::DeliveryResult::retry("store busy")
                               : platform::DeliveryResult::fail("refused"));
        }
        return r;
      },
      &failed);
  ASSERT_TRUE(out);
  ASSERT_EQ(failed.size(), 3u);
  ASSERT_EQ(out->at("batchItemFailures").as_array().size(), 3u);
  std::map<std::string, FailedRecord> by_id;
  for (const auto& f : failed) by_id[f.message_id] = f;
  EXPECT_EQ(by_id.at("again").receipt_handle, "rh-again");
  EXPECT_EQ(by_id.at("again").event_source_arn, arn);
  EXPECT_EQ(by_id.at("again").receive_count, 4);
  EXPECT_FALSE(by_id.at("again").poison);
  EXPECT_TRUE(by_id.at("bad").poison);
  EXPECT_TRUE(by_id.at("junk").poison);
  EXPECT_EQ(by_id.at("junk").receive_count, 7);
  EXPECT_FALSE(by_id.count("ok"));
}

TEST(SqsBatch, QueueUrlOfAnArn) {
  EXPECT_EQ(queue_url_of("arn:aws:sqs:eu-west-1:123456789012:q-1"),
            "https://sqs.eu-west-1.amazonaws.com/123456789012/q-1");
  EXPECT_EQ(queue_url_of("arn:aws-cn:sqs:cn-north-1:123456789012:q"),
            "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q");
  for (const char* bad : {"", "arn:aws:sns:eu-west-1:1:t", "arn:aws:sqs:eu-west-1:1",
                          "arn:aws:sqs::1:q", "arn:aws:sqs:eu-west-1:1:q:extra"})
    EXPECT_EQ(queue_url_of(bad), "") << bad;
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
