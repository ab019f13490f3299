// DynamoDbClient without a DynamoDB: the error mapping on the bodies DynamoDB
// documents, and the retry policy against a local HTTP server answering as
// DynamoDB does under load (a test double: no real DynamoDB throttles on
// demand). The client against DynamoDB Local is in dynamodb_test.cpp.
#include "orderly/adapters/aws/dynamodb_client.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "orderly/adapters/http/server.hpp"

namespace orderly::adapters::aws {
namespace {

using platform::ErrorKind;

DynamoDbOptions options_for(const std::string& endpoint) {
  DynamoDbOptions o;
  o.endpoint = endpoint;
  o.region = "eu-west-1";
  o.credentials = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", std::nullopt};
  return o;
}

// ---- error mapping (bodies as DynamoDB documents them) ----

TEST(DynamoDbErrors, MapOntoPlatformKinds) {
  auto kind = [](unsigned status, const char* type) {
    return dynamodb_error(
               status,
               fmt::format(R"({{"__type":"com.amazonaws.dynamodb.v20120810#{}","message":"m"}})",
                           type))
        .kind;
  };
  EXPECT_EQ(kind(400, "ConditionalCheckFailedException"), ErrorKind::conflict);
  EXPECT_EQ(kind(400, "ValidationException"), ErrorKind::invalid_input);
  EXPECT_EQ(kind(400, "ResourceNotFoundException"), ErrorKind::failed_precondition);
  EXPECT_EQ(kind(400, "UnrecognizedClientException"), ErrorKind::unauthorized);
  EXPECT_EQ(kind(400, "AccessDeniedException"), ErrorKind::forbidden);
  EXPECT_EQ(kind(400, "ThrottlingException"), ErrorKind::transient);
  EXPECT_EQ(kind(400, "ProvisionedThroughputExceededException"), ErrorKind::transient);
  EXPECT_EQ(kind(500, "InternalServerError"), ErrorKind::transient);
  EXPECT_EQ(kind(400, "ItemCollectionSizeLimitExceededException"), ErrorKind::permanent);
  EXPECT_EQ(dynamodb_error(503, "<html>").kind, ErrorKind::transient);
  EXPECT_EQ(dynamodb_error(400, "not json").kind, ErrorKind::permanent);
  EXPECT_TRUE(dynamodb_retryable(400, R"({"__type":"x#ThrottlingException"})"));
  EXPECT_TRUE(dynamodb_retryable(500, "{}"));
  EXPECT_FALSE(dynamodb_retryable(400, R"({"__type":"x#ConditionalCheckFailedException"})"));
}

TEST(DynamoDbErrors, RetryableIsTheRetryActionOfTheMappedKind) {
  const std::vector<std::pair<unsigned, std::string>> answers = {
      {400, R"({"__type":"x#ThrottlingException"})"},
      {400, R"({"__type":"x#ConditionalCheckFailedException"})"},
      {400, R"({"__type":"x#ValidationException"})"},
      {400, R"({"__type":"x#TransactionConflictException"})"},
      {400, "not json"},
      {429, ""},
      {500, "{}"},
      {503, R"({"__type":"x#ValidationException"})"}};
  for (const auto& [status, body] : answers)
    EXPECT_EQ(dynamodb_retryable(status, body),
              platform::retry_action(dynamodb_error(status, body).kind) ==
                  platform::RetryAction::retry_call)
        << status << " " << body;
  EXPECT_EQ(dynamodb_error(429, "").kind, ErrorKind::transient);
  EXPECT_TRUE(dynamodb_retryable(429, ""));
}

TEST(DynamoDbErrors, TransactionCanceledNamesTheFailedOperation) {
  const auto e = dynamodb_error(
      400, R"({"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
    "Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, None, ConditionalCheckFailed]",
    "CancellationReasons":[{"Code":"None"},{"Code":"None"},{"Code":"ConditionalCheckFailed","Message":"The conditional request failed"}]})");
  EXPECT_EQ(e.kind, ErrorKind::conflict);
  EXPECT_NE(e.message.find("op 2: ConditionalCheckFailed"), std::string::npos) << e.message;
  const auto busy = dynamodb_error(400, R"({"__type":"x#TransactionCanceledException","Message":"m",
    "CancellationReasons":[{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"},{"Code":"None"}]})");
  EXPECT_EQ(busy.kind, ErrorKind::transient) << busy.message;
  const auto invalid =
      dynamodb_error(400, R"({"__type":"x#TransactionCanceledException","Message":"m",
    "CancellationReasons":[{"Code":"None"},{"Code":"ValidationError","Message":"Item size has exceeded"}]})");
  EXPECT_EQ(invalid.kind, ErrorKind::invalid_input);
  EXPECT_NE(invalid.message.find("op 1"), std::string::npos);
}

// ---- retries: a local server answering as DynamoDB does under load ----

struct ScriptedDynamo {
  std::mutex mu;
  std::vector<std::pair<unsigned, std::string>> script;  // answers, in order; then 200 {}
  std::vector<std::string> targets;
  std::unique_ptr<http::HttpServer> server;
  ScriptedDynamo() {
    server = std::move(*http::HttpServer::start({.port = 0}, [this](platform::http::Request& r) {
      std::lock_guard lk(mu);
      auto t = r.headers.find("x-amz-target");
      targets.push_back(t == r.headers.end() ? std::string() : t->second);
      platform::http::Response res;
      res.headers.emplace_back("Content-Type", "application/x-amz-json-1.0");
      if (targets.size() <= script.size()) {
        res.status = script[targets.size() - 1].first;
        res.body = script[targets.size() - 1].second;
      } else {
        res.status = 200;
        res.body = R"({"TableNames":[]})";
      }
      return res;
    }));
  }
  std::string endpoint() const { return fmt::format("http://127.0.0.1:{}", server->port()); }
};

TEST(DynamoDbClient, RetriesThrottlingAnd5xxWithFullJitter) {
  ScriptedDynamo fake;
  fake.script = {
      {400,
       R"({"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"})"},
      {500, R"({"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError"})"},
      {503, "Service Unavailable"}};
  auto o = options_for(fake.endpoint());
  std::vector<platform::Millis> sleeps;
  o.sleep = [&](platform::Millis d) { sleeps.push_back(d); };
  auto client = *DynamoDbClient::create(o);
  auto r = client->call("ListTables", {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(client->stats().attempts, 4u);
  EXPECT_EQ(client->stats().retries, 3u);
  ASSERT_EQ(sleeps.size(), 3u);
  for (std::size_t i = 0; i < sleeps.size(); ++i)
    EXPECT_LE(sleeps[i], o.backoff.ceiling(static_cast<int>(i) + 1));  // full jitter: [0, ceiling]
  for (const auto& t : fake.targets) EXPECT_EQ(t, "DynamoDB_20120810.ListTables");
}

TEST(DynamoDbClient, GivesUpAfterMaxAttemptsAndNeverRetriesAConditionFailure) {
  ScriptedDynamo fake;
  for (int i = 0; i < 10; ++i)
    fake.script.emplace_back(400, R"({"__type":"x#ProvisionedThroughputExceededException"})");
  auto o = options_for(fake.endpoint());
  o.max_attempts = 3;
  o.sleep = [](platform::Millis) {};
  auto client = *DynamoDbClient::create(o);
  auto r = client->call("GetItem", {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::transient);
  EXPECT_NE(r.error().message.find("after 3 attempts"), std::string::npos) << r.error().message;

  ScriptedDynamo conflict;
  conflict.script = {
      {400,
       R"({"__type":"x#ConditionalCheckFailedException","message":"The conditional request failed"})"}};
  auto c2 = *DynamoDbClient::create(options_for(conflict.endpoint()));
  auto r2 = c2->call("PutItem", {});
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().kind, ErrorKind::conflict);
  EXPECT_EQ(conflict.targets.size(), 1u);
}

TEST(DynamoDbClient, AnUnreachableEndpointIsTransientAfterRetries) {
  // A port nobody listens on: bind one, close it.
  std::uint16_t port = 0;
  {
    ScriptedDynamo gone;
    port = gone.server->port();
    gone.server->stop();
  }
  auto o = options_for(fmt::format("http://127.0.0.1:{}", port));
  o.max_attempts = 2;
  o.sleep = [](platform::Millis) {};
  auto r = (*DynamoDbClient::create(o))->call("ListTables", {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::transient) << r.error().message;
}

TEST(DynamoDbOptions, FromEnvironment) {
  ::setenv("AWS_REGION", "eu-central-1", 1);
  ::setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
  ::setenv("AWS_SESSION_TOKEN", "token", 1);
  ::unsetenv("ORDERLY_DYNAMODB_ENDPOINT");
  auto o = dynamodb_options_from_env();
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->endpoint, "https://dynamodb.eu-central-1.amazonaws.com");
  EXPECT_EQ(o->credentials.session_token, "token");
  ::setenv("ORDERLY_DYNAMODB_ENDPOINT", "http://127.0.0.1:8000", 1);
  EXPECT_EQ(dynamodb_options_from_env()->endpoint, "http://127.0.0.1:8000");
  ::unsetenv("AWS_REGION");
  ::unsetenv("AWS_DEFAULT_REGION");
  EXPECT_EQ(dynamodb_options_from_env().error().kind, ErrorKind::invalid_input);
}

}  // namespace
}  // namespace orderly::adapters::aws
