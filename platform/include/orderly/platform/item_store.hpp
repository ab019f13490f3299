// ItemStore: the storage port, a DynamoDB single-table model.
//
//   Item order{.pk = "ORDER#42", .sk = "ORDER", .attrs = {{"status", "PENDING"}}};
//   auto v = store.put(order, Condition::not_exists());      // v == 1
//   auto got = store.get("ORDER#42", "ORDER");                // optional<Item>
//   store.put(updated, Condition::version_is(got->version));  // optimistic concurrency
//   store.transact_write({Put{...}, Delete{...}, Check{...}}); // all or nothing
//
// Items are keyed by (pk, sk), carry a version the store increments on every
// write, JSON attributes and an optional TTL (unix seconds). An item whose TTL
// has passed is treated as absent by every read and condition; a sweep (SQLite)
// or DynamoDB's TTL process removes it later. A failed condition is
// ErrorKind::conflict; a missing item on get is an empty optional, not an error.
// Sort keys compare as bytes (UTF-8), as in DynamoDB.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "orderly/platform/error.hpp"

namespace orderly::platform {

inline constexpr std::size_t kMaxTransactItems = 100;

struct Item {
  std::string pk;
  std::string sk;
  std::int64_t version = 0;  // set by the store; ignored on input
  boost::json::object attrs;
  std::optional<std::int64_t> ttl;  // unix seconds

  friend bool operator==(const Item&, const Item&) = default;
};

struct Condition {
  enum class Kind { none, not_exists, exists, version_is };
  Kind kind = Kind::none;
  std::int64_t version = 0;

  static Condition none() { return {}; }
  static Condition not_exists() { return {Kind::not_exists, 0}; }
  static Condition exists() { return {Kind::exists, 0}; }
  static Condition version_is(std::int64_t v) { return {Kind::version_is, v}; }
};

// Sort-key selection for query().
struct SkRange {
  enum class Kind { all, prefix, between };
  Kind kind = Kind::all;
  std::string a, b;  // prefix in a; between is inclusive [a, b]

  static SkRange any() { return {}; }
  static SkRange prefix(std::string p) { return {Kind::prefix, std::move(p), {}}; }
  static SkRange between(std::string lo, std::string hi) {
    return {Kind::between, std::move(lo), std::move(hi)};
  }
};

struct QueryOptions {
  SkRange sk = SkRange::any();
  std::size_t limit = 100;
  std::optional<std::string> cursor;  // from Page::next_cursor
  bool forward = true;
};

struct Page {
  std::vector<Item> items;
  std::optional<std::string> next_cursor;  // opaque; absent on the last page
};

// Operations of a transaction.
struct Put {
  Item item;
  Condition condition;
};
// Sets the listed top-level attributes and removes the named ones; the item must
// exist (an implicit `exists` condition) unless `upsert` is true.
struct Update {
  std::string pk, sk;
  boost::json::object set;
  std::vector<std::string> remove;
  Condition condition;
  bool upsert = false;
  std::optional<std::int64_t> ttl;
};
struct Delete {
  std::string pk, sk;
  Condition condition;
};
struct Check {
  std::string pk, sk;
  Condition condition;
};
using WriteOp = std::variant<Put, Update, Delete, Check>;

class ItemStore {
 public:
  virtual ~ItemStore() = default;

  virtual Result<std::optional<Item>> get(const std::string& pk, const std::string& sk) = 0;
  // Returns the new version.
  virtual Result<std::int64_t> put(const Item& item, Condition c = {}) = 0;
  virtual Result<std::int64_t> update(const Update& u) = 0;
  virtual Status remove(const std::string& pk, const std::string& sk, Condition c = {}) = 0;
  virtual Result<Page> query(const std::string& pk, const QueryOptions& q) = 0;
  // At most kMaxTransactItems operations on distinct keys, all or nothing.
  // A failed condition is a conflict whose message names the operation's index.
  virtual Status transact_write(const std::vector<WriteOp>& ops) = 0;
  // Makes what was overwritten or deleted so far unrecoverable from the
  // store's files, before an erasure is reported done (docs/adr/0017). SQLite:
  // a truncating WAL checkpoint. DynamoDB has no files of ours: nothing to do.
  virtual Status purge_overwritten() { return {}; }
};

// Validation shared by adapters: limits, distinct keys, non-empty keys.
Status validate_transaction(const std::vector<WriteOp>& ops);
const std::string& op_pk(const WriteOp& op);
const std::string& op_sk(const WriteOp& op);

}  // namespace orderly::platform
