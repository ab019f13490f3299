// DynamoDbClient: the DynamoDB JSON 1.0 protocol (SigV4, HTTPS keep-alive,
// retries), and DynamoDB's error answers mapped onto platform errors.
//
//   auto opts = dynamodb_options_from_env();   // AWS_REGION, credentials, endpoint
//   auto client = DynamoDbClient::create(*opts);
//   auto r = (*client)->call("GetItem", {{"TableName", "orders"}, {"Key", key}});
//
// POST / with X-Amz-Target DynamoDB_20120810.<Op>. An error answer becomes a
// platform::Error (dynamodb_error), and the call is retried, with exponential
// backoff and full jitter, exactly when platform::retry_action() says
// retry_call for its kind, i.e. when it is transient: throttling
// (ThrottlingException, ProvisionedThroughputExceeded, RequestLimitExceeded),
// 429, 5xx, transaction conflicts and transport failures. Everything else is
// returned at once. Kinds: ConditionalCheckFailed -> conflict;
// TransactionCanceled -> conflict naming the first failed operation
// ("op 3: ConditionalCheckFailed"), or transient when only conflicts/throttling
// cancelled it; Validation -> invalid_input; ResourceNotFound ->
// failed_precondition; auth -> unauthorized.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "orderly/adapters/aws/sigv4.hpp"
#include "orderly/adapters/http/client.hpp"
#include "orderly/platform/backoff.hpp"
#include "orderly/platform/clock.hpp"
#include "orderly/platform/error.hpp"

namespace orderly::adapters::aws {

struct DynamoDbOptions {
  std::string endpoint;  // https://dynamodb.<region>.amazonaws.com, or a local one
  std::string region;
  // The same JSON 1.0 protocol carries SQS (service "sqs", target "AmazonSQS"):
  // see sqs_options_from_env().
  std::string service = "dynamodb";                 // the SigV4 signing name
  std::string target_prefix = "DynamoDB_20120810";  // X-Amz-Target: <prefix>.<Op>
  Credentials credentials;
  int max_attempts = 6;  // the first try and five retries
  platform::Backoff backoff{platform::Millis{25}, platform::Millis{2'000}};
  http::ClientOptions http;
  const platform::Clock* clock = nullptr;       // signing time; default: system
  std::function<void(platform::Millis)> sleep;  // default: this_thread::sleep_for
  // Sees every request before it is signed (tests check the shapes against the model).
  std::function<void(std::string_view op, const boost::json::object&)> on_request;
};

// AWS_REGION (or AWS_DEFAULT_REGION), the credentials of Credentials::from_env(),
// and ORDERLY_DYNAMODB_ENDPOINT, else the regional endpoint.
platform::Result<DynamoDbOptions> dynamodb_options_from_env();

// SQS over its JSON 1.0 protocol: AWS_REGION, the credentials, and
// AWS_ENDPOINT_URL_SQS (the SDKs' variable), else the regional endpoint. Two
// attempts and short timeouts: its one use, setting a failed message's
// visibility, falls back to the queue's own timeout when it fails.
platform::Result<DynamoDbOptions> sqs_options_from_env();

// The platform error for a DynamoDB error answer (status and JSON body).
platform::Error dynamodb_error(unsigned status, std::string_view body);
// Whether the answer is worth retrying: retry_action() of dynamodb_error()'s
// kind is retry_call (throttling, 429, 5xx, transaction conflicts).
bool dynamodb_retryable(unsigned status, std::string_view body);

class DynamoDbClient {
 public:
  static platform::Result<std::unique_ptr<DynamoDbClient>> create(DynamoDbOptions options);
  ~DynamoDbClient();

  // One operation, e.g. call("GetItem", {{"TableName", "t"}, {"Key", ...}}).
  platform::Result<boost::json::object> call(std::string_view operation,
                                             const boost::json::object& request);

  struct Stats {
    std::uint64_t calls = 0, attempts = 0, retries = 0;
  };
  [[nodiscard]] Stats stats() const;
  [[nodiscard]] const DynamoDbOptions& options() const { return options_; }

 private:
  DynamoDbClient(DynamoDbOptions options, std::unique_ptr<http::HttpClient> http);
  DynamoDbOptions options_;
  std::unique_ptr<http::HttpClient> http_;
  std::atomic<std::uint64_t> calls_{0}, attempts_{0}, retries_{0};
};

}  // namespace orderly::adapters::aws
