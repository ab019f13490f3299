// The Lambda host: what every service's bootstrap shares. A service's main()
// names its entry of the service table, nothing more:
//
//   int main() { return orderly::apps::lambda::serve(orderly::hosts::orders_service()); }
//
// serve() picks the handler kind named by _HANDLER (api or events, as the
// entry exposes them), opens the store (DynamoDB table $ORDERLY_TABLE through
// $AWS_REGION and the function's credentials, or $ORDERLY_DYNAMODB_ENDPOINT
// such as DynamoDB Local under `orderly invoke`), builds the service from its ports once (init),
// and runs the Runtime API loop until SIGTERM. An init failure is reported to
// /init/error, as the protocol asks.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "orderly/adapters/aws/mappers.hpp"
#include "orderly/adapters/aws/runtime.hpp"
#include "orderly/hosts/service_table.hpp"
#include "orderly/platform/backoff.hpp"
#include "orderly/platform/bus.hpp"
#include "orderly/platform/clock.hpp"
#include "orderly/platform/http.hpp"
#include "orderly/platform/item_store.hpp"

namespace orderly::apps::lambda {

int serve(const hosts::ServiceSpec& service);

// A Secrets Manager secret's SecretString, read through the AWS Parameters and
// Secrets Lambda Extension: GET localhost:$PARAMETERS_SECRETS_EXTENSION_HTTP_PORT
// (default 2773)/secretsmanager/get?secretId=..., authenticated by the header
// X-Aws-Parameters-Secrets-Token: $AWS_SESSION_TOKEN. Never logged.
platform::Result<std::string> read_secret(const std::string& secret_id);

// API Gateway HTTP API (payload 2.0) onto the routes add_routes registers.
adapters::aws::InvocationHandler api(
    const std::function<void(platform::http::Router&)>& add_routes);

// SQS batches onto the service's rules: each message goes to the rule whose
// pattern matches its event (a service's rules receive disjoint types); the
// answer lists exactly the messages that did not settle ok. With a `sweep`,
// the scheduled invocation whose payload is the JSON of hosts::kSweepInput runs it
// instead and answers {"done": n}; a failed sweep fails the invocation
// (EventBridge retries it). Anything else that is not an SQS batch is refused.
adapters::aws::InvocationHandler events(
    std::vector<platform::Rule> rules,
    std::function<platform::Result<std::size_t>()> sweep = nullptr);

// When a failed SQS record should come back: ChangeMessageVisibility's
// VisibilityTimeout, in seconds, on its receipt handle. A retry waits the
// embedded bus's backoff for its receive count (full jitter, rounded up to
// whole seconds); poison comes back at once, so that it reaches the DLQ after
// maxReceiveCount quick receives. Records with no receipt handle or queue ARN
// are left to the queue's visibility timeout.
struct VisibilityChange {
  std::string queue_url, message_id, receipt_handle;
  int seconds = 0;
};
std::vector<VisibilityChange> retry_visibility(
    const std::vector<adapters::aws::FailedRecord>& failed, const platform::Backoff& backoff,
    std::minstd_rand& rng);

// The ChangeMessageVisibilityBatch requests for these changes: one per queue
// and 10 entries (SQS's limit per call).
std::vector<boost::json::object> visibility_batch_requests(
    const std::vector<VisibilityChange>& changes);

// The rules as one batch handler (exposed for tests).
platform::BatchHandler route_by_rule(std::vector<platform::Rule> rules);

}  // namespace orderly::apps::lambda
