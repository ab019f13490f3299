// Idempotency-Key records: key, TTL, and first / repeat / reused.
#include "orderly/platform/idempotency.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
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
  EXPECT_EQ(item.pk, "IDEMPOTENCY#cust-1#k-1");
  EXPECT_EQ(item.sk, "KEY");
  EXPECT_EQ(item.attrs, (boost::json::object{{"request", R"({"a":1})"}, {"orderId", "order-9"}}));
  EXPECT_EQ(item.ttl, to_unix_ms(clock.now()) / 1000 + 24 * 3600);
}

TEST(Idempotency, FindReadsBackWhatWasWrittenAndPassesStoreErrorsOn) {
  ManualClock clock;
  MapStore store;
  const IdempotencyRecords records{"orderId"};
  auto none = records.find(store, "cust-1", "k-1");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  const IdempotencyRecord r{"k-1", R"({"a":1})", "order-9"};
  ASSERT_TRUE(store.put(records.item("cust-1", r, clock), Condition::not_exists()));
  EXPECT_EQ(records.find(store, "cust-1", "k-1").value(), std::optional<IdempotencyRecord>{r});
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
}

TEST(Idempotency, HeaderIsOptionalAndBounded) {
  http::Request req;
  EXPECT_EQ(http::idempotency_key(req).value(), std::optional<std::string>{});
  req.headers["idempotency-key"] = "k-1";
  EXPECT_EQ(http::idempotency_key(req).value(), std::optional<std::string>{"k-1"});
  for (std::string bad : {std::string(), std::string(129, 'k')}) {
    req.headers["idempotency-key"] = bad;
    auto res = http::idempotency_key(req);
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().status, 422);
    EXPECT_EQ(boost::json::parse(res.error().body).at("errors"),
              boost::json::parse(
                  R"([{"path":"Idempotency-Key","message":"must be 1 to 128 characters"}])"));
  }
  EXPECT_EQ(http::idempotency_key_reused(req).status, 422);
}

}  // namespace
}  // namespace orderly::platform
