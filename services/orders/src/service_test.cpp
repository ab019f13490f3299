// OrdersService and its routes over an in-memory store that can fail reads
// or lose races on demand: store errors reach the caller as what they are.
#include "orderly/services/orders/service.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <map>
#include <set>

#include "orderly/platform/id.hpp"
#include "orderly/services/orders/api.hpp"

namespace orderly::services::orders {
namespace {

namespace json = boost::json;
namespace ph = platform::http;
using platform::Condition;
using platform::Error;
using platform::ErrorKind;
using platform::Item;

// get, put, query and transact_write with conditions and versions. Reads of a
// partition in `failing_pks` fail as a busy store does; the next `conflicts`
// transactions fail their condition.
class MemoryStore final : public platform::ItemStore {
 public:
  std::set<std::string> failing_pks;
  int conflicts = 0;

  Result<std::optional<Item>> get(const std::string& pk, const std::string& sk) override {
    if (failing_pks.count(pk)) return platform::fail(ErrorKind::transient, "store busy");
    auto it = items_.find({pk, sk});
    if (it == items_.end()) return std::optional<Item>{};
    return std::optional<Item>{it->second};
  }
  Result<std::int64_t> put(const Item& item, Condition c) override {
    if (auto s = transact_write({platform::Put{item, c}}); !s) return tl::unexpected(s.error());
    return items_.at({item.pk, item.sk}).version;
  }
  Result<std::int64_t> update(const platform::Update&) override { return unsupported(); }
  platform::Status remove(const std::string&, const std::string&, Condition) override {
    return unsupported();
  }
  Result<platform::Page> query(const std::string& pk, const platform::QueryOptions&) override {
    platform::Page page;
    for (const auto& [key, item] : items_)
      if (key.first == pk) page.items.push_back(item);
    return page;
  }
  platform::Status transact_write(const std::vector<platform::WriteOp>& ops) override {
    if (conflicts > 0) {
      --conflicts;
      return platform::fail(ErrorKind::conflict, "condition failed on op 0");
    }
    for (const auto& op : ops) {
      const auto& p = std::get<platform::Put>(op);  // orders only puts
      auto it = items_.find({p.item.pk, p.item.sk});
      const bool ok = p.condition.kind == Condition::Kind::none ||
                      (p.condition.kind == Condition::Kind::not_exists && it == items_.end()) ||
                      (p.condition.kind == Condition::Kind::version_is && it != items_.end() &&
                       it->second.version == p.condition.version);
      if (!ok) return platform::fail(ErrorKind::conflict, "condition failed on {}", p.item.pk);
    }
    for (const auto& op : ops) {
      auto item = std::get<platform::Put>(op).item;
      auto it = items_.find({item.pk, item.sk});
      item.version = it == items_.end() ? 1 : it->second.version + 1;
      items_[{item.pk, item.sk}] = std::move(item);
    }
    return {};
  }

 private:
  static tl::unexpected<Error> unsupported() {
    return platform::fail(ErrorKind::permanent, "not in this fake");
  }
  std::map<std::pair<std::string, std::string>, Item> items_;
};

class OrdersServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.put(Item{"PRODUCT",
                                "SKU-A",
                                0,
                                {{"sku", "SKU-A"},
                                 {"name", "Alpha"},
                                 {"price", {{"amount", 1'250}, {"currency", "GBP"}}},
                                 {"updatedAt", "2026-01-01T00:00:00.000Z"}},
                                std::nullopt},
                           Condition::not_exists()));
    add_routes(router_, orders_);
  }

  static PlaceOrder command(std::string sku) {
    return {platform::new_uuid_v7(),
            "customer-1",
            {{std::move(sku), 2}},
            "tok_ok",
            contracts::Address{"Ada", "1 Loop Rd", std::nullopt, "Leeds", "LS1 1AA", "GB"},
            {}};
  }

  ph::Response post_order(const std::string& sku, std::optional<std::string> key = {}) {
    ph::Request req;
    req.method = "POST";
    req.path = req.target = "/v1/orders";
    req.headers["content-type"] = "application/json";
    if (key) req.headers["idempotency-key"] = *key;
    req.body = json::serialize(
        json::object{{"items", json::array{json::object{{"sku", sku}, {"quantity", 1}}}},
                     {"paymentToken", "tok_ok"},
                     {"shippingAddress",
                      {{"name", "Ada"},
                       {"line1", "1 Loop Rd"},
                       {"city", "Leeds"},
                       {"postalCode", "LS1 1AA"},
                       {"country", "GB"}}}});
    req.identity = ph::Identity{"customer-1", {"orders:write", "orders:read"}};
    return router_.handle(req);
  }

  platform::ManualClock clock_;
  MemoryStore store_;
  OrdersService orders_{store_, clock_};
  ph::Router router_;
};

TEST_F(OrdersServiceTest, AFailingCatalogueReadIsTransientNotAnUnknownSku) {
  store_.failing_pks = {"PRODUCT"};
  auto placed = orders_.place_order(command("SKU-A"));
  ASSERT_FALSE(placed);
  EXPECT_EQ(placed.error().kind, ErrorKind::transient);
  EXPECT_TRUE(placed.error().fields.empty());
  EXPECT_EQ(orders_.catalogue_entry("SKU-A").error().kind, ErrorKind::transient);
}

TEST_F(OrdersServiceTest, UnknownSkusAreFieldErrorsAndUnreadableEntriesAreNot) {
  auto placed = orders_.place_order(command("NOPE-1"));
  ASSERT_FALSE(placed);
  EXPECT_EQ(placed.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(placed.error().fields,
            (std::vector<platform::FieldError>{{"$.items[0].sku", "unknown sku NOPE-1"}}));
  EXPECT_EQ(orders_.catalogue_entry("NOPE-1").error().kind, ErrorKind::not_found);

  ASSERT_TRUE(store_.put(Item{"PRODUCT", "SKU-BAD", 0, {{"sku", "SKU-BAD"}}, std::nullopt}, {}));
  EXPECT_EQ(orders_.catalogue_entry("SKU-BAD").error().kind, ErrorKind::permanent);
  EXPECT_EQ(orders_.place_order(command("SKU-BAD")).error().kind, ErrorKind::permanent);
}

TEST_F(OrdersServiceTest, PostOrderAnswers503WithRetryAfterWhenTheStoreIsBusy) {
  store_.failing_pks = {"PRODUCT"};
  auto res = post_order("SKU-A");
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.header("Retry-After"), "1");
  EXPECT_EQ(res.header("Content-Type"), "application/problem+json");
  EXPECT_EQ(json::parse(res.body).at("type"), "https://orderly.dev/problems/unavailable");
}

TEST_F(OrdersServiceTest, PostOrderListsUnknownSkusInErrors) {
  auto res = post_order("NOPE-1");
  EXPECT_EQ(res.status, 422);
  auto body = json::parse(res.body).as_object();
  EXPECT_EQ(body.at("type"), "https://orderly.dev/problems/validation");
  EXPECT_EQ(body.at("detail"), "1 field is invalid");
  EXPECT_EQ(body.at("errors"),
            json::parse(R"([{"path":"$.items[0].sku","message":"unknown sku NOPE-1"}])"));
}

TEST_F(OrdersServiceTest, IdempotencyKeyRepeatsTheOrderAndRefusesAnotherBody) {
  auto a = post_order("SKU-A", "key-1");
  ASSERT_EQ(a.status, 202) << a.body;
  auto b = post_order("SKU-A", "key-1");
  EXPECT_EQ(b.status, 202);
  EXPECT_EQ(b.body, a.body);
  auto record = store_.get("IDEMPOTENCY#10:customer-1#key-1", "KEY");
  ASSERT_TRUE(record && *record);
  EXPECT_EQ((*record)->attrs.at("orderId"), json::parse(a.body).at("orderId"));
  ASSERT_TRUE((*record)->ttl);
  EXPECT_EQ(*(*record)->ttl, platform::to_unix_ms(clock_.now()) / 1000 + 24 * 3600);

  auto c = post_order("NOPE-1", "key-1");
  EXPECT_EQ(c.status, 422);
  EXPECT_EQ(json::parse(c.body).at("type"), "https://orderly.dev/problems/idempotency-key-reused");
}

TEST_F(OrdersServiceTest, CancelRetriesLostRacesThenGivesUpAsTransient) {
  auto placed = orders_.place_order(command("SKU-A"));
  ASSERT_TRUE(placed) << placed.error().message;
  store_.conflicts = 3;
  auto cancelled = orders_.cancel_order(placed->id);
  ASSERT_TRUE(cancelled) << cancelled.error().message;
  EXPECT_EQ(cancelled->status, Status::cancelled);

  auto again = orders_.place_order(command("SKU-A"));
  ASSERT_TRUE(again);
  store_.conflicts = 8;
  auto gave_up = orders_.cancel_order(again->id);
  ASSERT_FALSE(gave_up);
  EXPECT_EQ(gave_up.error(), (Error{ErrorKind::transient,
                                    "order " + again->id + " is changing too fast; try again"}));
}

}  // namespace
}  // namespace orderly::services::orders
