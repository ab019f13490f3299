// DynamoDB: a JSON 1.0 protocol client (SigV4, HTTPS keep-alive, retries) and
// the ItemStore port on one table.
//
//   auto opts = dynamodb_options_from_env();          // AWS_REGION, credentials, endpoint
//   auto client = DynamoDbClient::create(*opts);
//   DynamoDbItemStore store(*client, {.table = "orders"});
//   store.put(item, Condition::not_exists());          // the same port as SQLite
//
// Client: POST / with X-Amz-Target DynamoDB_20120810.<Op>; throttling
// (ThrottlingException, ProvisionedThroughputExceeded, RequestLimitExceeded),
// 5xx and transport failures are retried with exponential backoff and full
// jitter; everything else is returned at once. Errors map onto the platform's
// kinds: ConditionalCheckFailed -> conflict; TransactionCanceled -> conflict
// naming the first failed operation ("op 3: ConditionalCheckFailed"), or
// transient when only conflicts/throttling cancelled it; Validation ->
// invalid_input; ResourceNotFound -> failed_precondition; auth -> unauthorized.
//
// Item layout: pk (S), sk (S), _version (N), _ttl (N, the table's TTL
// attribute), and each top-level attribute as a native value (S, N, BOOL,
// NULL, M, L), so the table reads naturally in the console. Attribute names
// beginning with '_' and the names pk and sk are reserved. Numbers keep their
// digits: 2^53+1 round-trips. An item whose _ttl has passed is absent to every
// read and condition, before DynamoDB's TTL process deletes it.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "orderly/adapters/aws/sigv4.hpp"
#include "orderly/adapters/http/client.hpp"
#include "orderly/platform/backoff.hpp"
#include "orderly/platform/clock.hpp"
#include "orderly/platform/error.hpp"
#include "orderly/platform/item_store.hpp"

namespace orderly::adapters::aws {

struct DynamoDbOptions {
  std::string endpoint;  // https://dynamodb.<region>.amazonaws.com, or a local one
  std::string region;
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

// The platform error for a DynamoDB error answer (status and JSON body).
platform::Error dynamodb_error(unsigned status, std::string_view body);
// Whether the answer is worth retrying (throttling, 5xx).
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

// AttributeValue conversions (DynamoDB JSON <-> plain JSON).
boost::json::object to_attribute_value(const boost::json::value& v);
platform::Result<boost::json::value> from_attribute_value(const boost::json::value& av);

struct DynamoDbStoreOptions {
  std::string table;
  const platform::Clock* clock = nullptr;  // reads of _ttl; default: system
  // Outbox items (pk OUTBOX) get this TTL when they have none: on AWS the pipe
  // forwards them from the stream and nothing else deletes them (ADR 0005).
  std::optional<platform::Millis> outbox_ttl = platform::Millis{7LL * 24 * 3600 * 1000};
  int put_retries = 8;  // read-then-write attempts of an unconditional put
};

class DynamoDbItemStore final : public platform::ItemStore {
 public:
  DynamoDbItemStore(DynamoDbClient& client, DynamoDbStoreOptions options);

  platform::Result<std::optional<platform::Item>> get(const std::string& pk,
                                                      const std::string& sk) override;
  platform::Result<std::int64_t> put(const platform::Item& item,
                                     platform::Condition c = {}) override;
  platform::Result<std::int64_t> update(const platform::Update& u) override;
  platform::Status remove(const std::string& pk, const std::string& sk,
                          platform::Condition c = {}) override;
  platform::Result<platform::Page> query(const std::string& pk,
                                         const platform::QueryOptions& q) override;
  platform::Status transact_write(const std::vector<platform::WriteOp>& ops) override;

  // The CreateTable request for this layout (tests, and `orderly` against a local endpoint).
  static boost::json::object create_table_request(const std::string& table);

 private:
  platform::Result<std::optional<std::int64_t>> raw_version(const std::string& pk,
                                                            const std::string& sk);
  [[nodiscard]] std::int64_t now_s() const;
  DynamoDbClient& client_;
  DynamoDbStoreOptions options_;
};

}  // namespace orderly::adapters::aws
