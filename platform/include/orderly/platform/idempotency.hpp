// Idempotency-Key for HTTP commands: the record of the first request (its
// canonical body and what it created), written in the command's own unit of
// work, so a retried request is answered as the first one was.
//
//   const IdempotencyRecords records{"orderId"};         // attribute of the result id
//   auto key = http::idempotency_key(req);                // 400 if malformed
//   if (!key) return std::move(key.error());
//   if (*key) {
//     ORDERLY_TRY(seen, records.find(store, customer, **key));   // (in a Result function)
//     switch (judge(*seen, canonical_body)) {
//       case IdempotencyVerdict::first: break;                      // run the command
//       case IdempotencyVerdict::repeat: return answer_for((*seen)->result_id);
//       case IdempotencyVerdict::reused: return http::idempotency_key_reused(req);
//     }
//   }
//   uow.put(records.item(customer, {**key, canonical_body, order.id}, clock),
//           Condition::not_exists());  // a concurrent twin fails with a conflict
//
// The record is IDEMPOTENCY#<length of owner>:<owner>#<key> / KEY, kept 24 h
// (item TTL). It keeps the SHA-256 of the body, never the body: a body holds a
// payment token and an address, and records cannot be found by customer to be
// erased (docs/adr/0017). A key is 1 to 128 characters of [A-Za-z0-9._:-]; anything else
// is a 400 problem (bad-idempotency-key).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "orderly/platform/clock.hpp"
#include "orderly/platform/error.hpp"
#include "orderly/platform/http.hpp"
#include "orderly/platform/item_store.hpp"

namespace orderly::platform {

inline constexpr std::int64_t kIdempotencyTtlSeconds = 24 * 3600;
inline constexpr std::size_t kIdempotencyKeyMax = 128;
inline constexpr std::string_view kIdempotencySk = "KEY";

// What an Idempotency-Key remembers.
struct IdempotencyRecord {
  std::string key;  // the Idempotency-Key header
  // The canonical (re-serialised) body of the first request; as read back from
  // the store, its request_digest().
  std::string request;
  std::string result_id;  // what the first request created, e.g. an order id
  friend bool operator==(const IdempotencyRecord&, const IdempotencyRecord&) = default;
};

// "sha256:<hex>" of a canonical request body: what a record keeps of it.
std::string request_digest(std::string_view request);

// The partition key of a record: keys are scoped to their owner (the caller),
// whose length prefixes it so that no two (owner, key) pairs collide.
std::string idempotency_pk(std::string_view owner, std::string_view key);

// The records of one command; `result_attr` is the item attribute that holds
// the result id ("orderId").
class IdempotencyRecords {
 public:
  explicit IdempotencyRecords(std::string result_attr) : result_attr_(std::move(result_attr)) {}

  // The record, if the key was used; permanent if the item is unreadable.
  [[nodiscard]] Result<std::optional<IdempotencyRecord>> find(ItemStore& store,
                                                              std::string_view owner,
                                                              const std::string& key) const;
  // The item to put, with Condition::not_exists(), in the command's unit of
  // work; it expires kIdempotencyTtlSeconds after `clock`'s now.
  [[nodiscard]] Item item(std::string_view owner, const IdempotencyRecord& r,
                          const Clock& clock) const;

 private:
  std::string result_attr_;
};

// first: the key is new, run the command. repeat: same body, answer as the
// first request did. reused: another body, refuse (idempotency_key_reused).
enum class IdempotencyVerdict { first, repeat, reused };
IdempotencyVerdict judge(const std::optional<IdempotencyRecord>& seen, std::string_view request);

namespace http {
// The Idempotency-Key header: nullopt when absent; a 422 naming the header
// when it is not 1 to kIdempotencyKeyMax characters.
tl::expected<std::optional<std::string>, Response> idempotency_key(const Request& req);
// 422 idempotency-key-reused: the key came with a different body.
Response idempotency_key_reused(const Request& req);
}  // namespace http

}  // namespace orderly::platform
