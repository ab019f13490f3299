// DynamoDbItemStore: the ItemStore port on one DynamoDB table.
//
//   DynamoDbItemStore store(*client, {.table = "orders"});
//   store.put(item, Condition::not_exists());          // the same port as SQLite
//
// Item layout: pk (S), sk (S), _version (N), _ttl (N, the table's TTL
// attribute), and each top-level attribute as a native value (S, N, BOOL,
// NULL, M, L), so the table reads naturally in the console. Attribute names
// beginning with '_' and the names pk and sk are reserved. Numbers keep their
// digits: 2^53+1 round-trips. An item whose _ttl has passed is absent to every
// read and condition, before DynamoDB's TTL process deletes it. Platform
// conditions become ConditionExpressions; a put without a condition reads the
// stored version and writes only if it is unchanged.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "orderly/adapters/aws/dynamodb_client.hpp"
#include "orderly/platform/clock.hpp"
#include "orderly/platform/error.hpp"
#include "orderly/platform/item_store.hpp"

namespace orderly::adapters::aws {

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
  // The UpdateTimeToLive request that lets DynamoDB's TTL process delete
  // expired items (the attribute the CDK app names as timeToLiveAttribute).
  static boost::json::object update_ttl_request(const std::string& table);

 private:
  platform::Result<std::optional<std::int64_t>> raw_version(const std::string& pk,
                                                            const std::string& sk);
  [[nodiscard]] std::int64_t now_s() const;
  DynamoDbClient& client_;
  DynamoDbStoreOptions options_;
};

}  // namespace orderly::adapters::aws
