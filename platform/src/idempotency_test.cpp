// Idempotency-Key records: key, TTL, and first / repeat / reused.
#include "orderly/platform/idempotency.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <map>

namespace orderly::platform {
namespace {

// Gets and puts only; `down` makes every read fail as a busy store does.
class MapStore final : public ItemStore {
 public:
  bool down = false;
  Result<std::optional<Item>> get(const std::string& pk, const std::string& sk) override {
    if (down) return make_error(ErrorKind::transient, "store busy");
    auto it = items_.find({pk, sk});
    if (it == items_.end()) return std::optional<Item>{};
    return std::optional<Item>{it->second};
  }
  Result<std::int64_t> put(const Item& item, Condition) override {
    items_[{item.pk, item.sk}] = item;
    return 1;
  }
  Result<std::int64_t> update(const Update&) override { return unsupported(); }
  Status remove(const std::string&, const std::string&, Condition) override {
    return unsupported();
  }
  Result<Page> query(const std::string&, const QueryOptions&) override { return unsupported(); }
  Status transact_write(const std::vector<WriteOp>&) override { return unsupported(); }

 private:
  static tl::unexpected<Error> unsupported() {
    return make_error(ErrorKind::permanent, "not in this fake");
  }
  std::map<std::pair<std::string, std::string>, Item> items_;
};

TEST(Idempotency, TheRecordItemKeepsItsKeyFormatAttributesAndTtl) {
  ManualClock clock;
  const IdempotencyRecords records{"orderId"};
  auto item = records.item("cust-1", {"k-1", R"({"a":1})", "order-9"}, clock);
  EXPECT_EQ(item.pk, "IDEMPOTENCY#6:cust-1#k-1");
  EXPECT_EQ(item.sk, "KEY");
  EXPECT_EQ(item.attrs, (boost::json::object{{"request", request_digest(R"({"a":1})")},
                                             {"orderId", "order-9"}}));
  EXPECT_EQ(item.ttl, to_unix_ms(clock.now()) / 1000 + 24 * 3600);
}

TEST(Idempotency, FindReadsBackWhatWasWrittenAndPassesStoreErrorsOn) {
  ManualClock clock;
  MapStore store;
  const IdempotencyRecords records{"orderId"};
  auto none = records.find(store, "cust-1", "k-1");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  const std::string body = R"({"paymentToken":"tok_ok","shippingAddress":{"name":"Ada"}})";
  const IdempotencyRecord r{"k-1", body, "order-9"};
  const auto item = records.item("cust-1", r, clock);
  // The record keeps the body's digest, never the body (a token, an address).
  EXPECT_EQ(boost::json::serialize(item.attrs).find("tok_ok"), std::string::npos);
  EXPECT_EQ(boost::json::serialize(item.attrs).find("Ada"), std::string::npos);
  ASSERT_TRUE(store.put(item, Condition::not_exists()));
  const auto found = records.find(store, "cust-1", "k-1").value();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->request, request_digest(body));
  EXPECT_EQ(found->result_id, "order-9");
  EXPECT_EQ(judge(found, body), IdempotencyVerdict::repeat);
  EXPECT_EQ(judge(found, R"({"paymentToken":"tok_other"})"), IdempotencyVerdict::reused);
  EXPECT_FALSE(*records.find(store, "cust-2", "k-1"));  // keys are per owner
  store.down = true;
  EXPECT_EQ(records.find(store, "cust-1", "k-1").error().kind, ErrorKind::transient);
  store.down = false;
  ASSERT_TRUE(store.put(Item{idempotency_pk("cust-1", "bad"), "KEY", 0, {{"request", 1}}, {}}, {}));
  EXPECT_EQ(records.find(store, "cust-1", "bad").error().kind, ErrorKind::permanent);
}

TEST(Idempotency, SameKeyAndBodyRepeatsAnotherBodyIsReuse) {
  const IdempotencyRecord r{"k-1", R"({"a":1})", "order-9"};
  EXPECT_EQ(judge(std::nullopt, R"({"a":1})"), IdempotencyVerdict::first);
  EXPECT_EQ(judge(r, R"({"a":1})"), IdempotencyVerdict::repeat);
  EXPECT_EQ(judge(r, R"({"a":2})"), IdempotencyVerdict::reused);
  // As read back from the store: the digest.
  const IdempotencyRecord stored{"k-1", request_digest(R"({"a":1})"), "order-9"};
  EXPECT_EQ(judge(stored, R"({"a":1})"), IdempotencyVerdict::repeat);
  EXPECT_EQ(judge(stored, R"({"a":2})"), IdempotencyVerdict::reused);
  EXPECT_EQ(request_digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Idempotency, HeaderIsOptionalBoundedAndOfASafeAlphabet) {
  http::Request req;
  EXPECT_EQ(http::idempotency_key(req).value(), std::optional<std::string>{});
  for (std::string good :
       {std::string("k-1"), std::string(128, 'k'),
        std::string("5b0e1c7e-3f7d-4a51-9a7e-2d1c4b6f9e10"), std::string("order:2026.12_02")}) {
    req.headers["idempotency-key"] = good;
    EXPECT_EQ(http::idempotency_key(req).value(), std::optional<std::string>{good});
  }
  // '#' would let (customer, key) pairs collide in the old record key; the
  // alphabet keeps keys printable and unambiguous anywhere they are written.
  for (std::string bad :
       {std::string(), std::string(129, 'k'), std::string("k#1"), std::string("a b"),
        std::string("k/1"), std::string("k\n1"), std::string("caf\xc3\xa9")}) {
    req.headers["idempotency-key"] = bad;
    auto res = http::idempotency_key(req);
    ASSERT_FALSE(res) << bad;
    EXPECT_EQ(res.error().status, 400);
    const auto body = boost::json::parse(res.error().body).as_object();
    EXPECT_EQ(body.at("type"), "https://orderly.dev/problems/bad-idempotency-key");
  }
  EXPECT_EQ(http::idempotency_key_reused(req).status, 422);
}

// Issue 11, hole 2: no two (owner, key) pairs share a record.
TEST(Idempotency, NoTwoOwnerKeyPairsShareARecord) {
  EXPECT_NE(idempotency_pk("alice", "k#1"), idempotency_pk("alice#k", "1"));
  EXPECT_NE(idempotency_pk("a", "b:c"), idempotency_pk("a:b", "c"));
  EXPECT_NE(idempotency_pk("1:a", "b"), idempotency_pk("1", "a#b"));
  EXPECT_EQ(idempotency_pk("alice", "k-1"), "IDEMPOTENCY#5:alice#k-1");
}

}  // namespace
}  // namespace orderly::platform
