// The ItemStore conformance suite, written once and run against every adapter.
//
//   // in an adapter's test file:
//   #include "conformance/item_store_conformance.hpp"
//   INSTANTIATE_TEST_SUITE_P(Sqlite, ItemStoreConformance,
//       ::testing::Values(StoreFactory{"sqlite", make_sqlite_store}));
//
// Include it from exactly one translation unit per test binary.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "orderly/platform/clock.hpp"
#include "orderly/platform/item_store.hpp"

namespace orderly::conformance {

using namespace orderly::platform;

struct StoreUnderTest {
  std::shared_ptr<ItemStore> store;
  std::shared_ptr<ManualClock> clock;  // the clock the store reads for TTLs
  // Physical deletion of expired items, as the backing service does it. An
  // adapter that deletes them itself sweeps here; one whose service deletes
  // them (DynamoDB's TTL process, which no local engine runs) checks what that
  // process needs: TTL enabled on the table, and the item's expiry stored where
  // it looks, in epoch seconds. Every adapter must say which; none is skipped.
  std::function<void(const Item& expiring, const Item& forever)> check_ttl_deletion;
  std::function<std::shared_ptr<ItemStore>()> second_handle;  // another connection to the same data
};

struct StoreFactory {
  std::string name;
  std::function<StoreUnderTest()> make;
  // Adapters whose backing service lacks a feature say so here; the affected
  // tests then report GTEST_SKIP with this reason instead of passing silently.
  std::string no_transactions_reason;
};

inline std::string PrintToString(const StoreFactory& f) {
  return f.name;
}

// GTEST_SKIP returns from the function it is in, so this must be a macro: a
// helper function would skip nothing and the test would run on.
#define ORDERLY_REQUIRE_TRANSACTIONS() \
  if (!GetParam().no_transactions_reason.empty()) GTEST_SKIP() << GetParam().no_transactions_reason

class ItemStoreConformance : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override { sut_ = GetParam().make(); }
  ItemStore& store() { return *sut_.store; }
  static Item item(std::string pk, std::string sk, boost::json::object attrs = {}) {
    return Item{std::move(pk), std::move(sk), 0, std::move(attrs), std::nullopt};
  }
  StoreUnderTest sut_;
};

TEST_P(ItemStoreConformance, GetOfAMissingItemIsEmptyNotAnError) {
  auto r = store().get("nope", "nope");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->has_value());
}

TEST_P(ItemStoreConformance, PutAssignsIncreasingVersionsAndKeepsAttributes) {
  boost::json::object attrs{{"s", "héllo ✓"},
                            {"n", 9007199254740993LL},
                            {"neg", -5},
                            {"f", 1.5},
                            {"b", true},
                            {"nil", nullptr},
                            {"nested", {{"list", {1, "two", {{"three", 3}}}}}}};
  auto v1 = store().put(item("P#1", "A", attrs), Condition::none());
  ASSERT_TRUE(v1) << v1.error().message;
  EXPECT_EQ(*v1, 1);
  auto v2 = store().put(item("P#1", "A", attrs), Condition::none());
  ASSERT_TRUE(v2);
  EXPECT_EQ(*v2, 2);
  auto got = store().get("P#1", "A");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->version, 2);
  EXPECT_EQ((*got)->attrs, attrs);
}

TEST_P(ItemStoreConformance, PutIfNotExistsConflictsWhenPresent) {
  ASSERT_TRUE(store().put(item("P#1", "A", {{"v", 1}}), Condition::not_exists()));
  auto again = store().put(item("P#1", "A", {{"v", 2}}), Condition::not_exists());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::conflict);
  EXPECT_EQ((*store().get("P#1", "A"))->attrs.at("v"), 1);  // unchanged
}

TEST_P(ItemStoreConformance, OptimisticConcurrencyRejectsAStaleVersion) {
  ASSERT_TRUE(store().put(item("P#1", "A"), Condition::not_exists()));
  auto v2 = store().put(item("P#1", "A", {{"who", "first"}}), Condition::version_is(1));
  ASSERT_TRUE(v2);
  auto stale = store().put(item("P#1", "A", {{"who", "second"}}), Condition::version_is(1));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().kind, ErrorKind::conflict);
  EXPECT_EQ((*store().get("P#1", "A"))->attrs.at("who"), "first");
  // version_is on a missing item is a conflict too.
  EXPECT_EQ(store().put(item("P#2", "A"), Condition::version_is(1)).error().kind,
            ErrorKind::conflict);
  EXPECT_EQ(store().put(item("P#2", "A"), Condition::exists()).error().kind, ErrorKind::conflict);
}

TEST_P(ItemStoreConformance, UpdateSetsAndRemovesTopLevelAttributes) {
  ASSERT_TRUE(store().put(item("P#1", "A", {{"a", 1}, {"b", 2}}), Condition::not_exists()));
  Update u{"P#1", "A", {{"c", 3}, {"a", 10}}, {"b"}, Condition::version_is(1), false, std::nullopt};
  auto v = store().update(u);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(*v, 2);
  auto got = store().get("P#1", "A");
  EXPECT_EQ((*got)->attrs, (boost::json::object{{"a", 10}, {"c", 3}}));
  // The same update again fails its version condition.
  EXPECT_EQ(store().update(u).error().kind, ErrorKind::conflict);
}

TEST_P(ItemStoreConformance, UpdateOfAMissingItemConflictsUnlessUpsert) {
  Update u{"P#9", "A", {{"x", 1}}, {}, Condition::none(), false, std::nullopt};
  auto r = store().update(u);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::conflict);
  EXPECT_FALSE(*store().get("P#9", "A"));
  u.upsert = true;
  auto v = store().update(u);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(*v, 1);
  EXPECT_EQ((*store().get("P#9", "A"))->attrs.at("x"), 1);
}

TEST_P(ItemStoreConformance, ConditionalDelete) {
  ASSERT_TRUE(store().put(item("P#1", "A"), Condition::not_exists()));
  EXPECT_EQ(store().remove("P#1", "A", Condition::version_is(7)).error().kind, ErrorKind::conflict);
  EXPECT_TRUE(*store().get("P#1", "A"));
  EXPECT_TRUE(store().remove("P#1", "A", Condition::version_is(1)));
  EXPECT_FALSE(*store().get("P#1", "A"));
  EXPECT_TRUE(store().remove("P#1", "A", Condition::none()));  // deleting nothing is fine
  EXPECT_EQ(store().remove("P#1", "A", Condition::exists()).error().kind, ErrorKind::conflict);
}

TEST_P(ItemStoreConformance, QueryByPrefixRangeAndDirection) {
  for (const char* sk : {"ITEM#001", "ITEM#002", "ITEM#010", "LINE#1", "META", "a", "Z"})
    ASSERT_TRUE(store().put(item("Q", sk), Condition::not_exists()));
  ASSERT_TRUE(store().put(item("OTHER", "ITEM#001"), Condition::not_exists()));
  auto sks = [&](QueryOptions q) {
    std::vector<std::string> out;
    auto page = store().query("Q", q);
    EXPECT_TRUE(page) << page.error().message;
    if (page)
      for (auto& it : page->items) out.push_back(it.sk);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(sks({SkRange::prefix("ITEM#"), 100, {}, true}),
            (V{"ITEM#001", "ITEM#002", "ITEM#010"}));
  EXPECT_EQ(sks({SkRange::prefix("ITEM#0"), 100, {}, false}),
            (V{"ITEM#010", "ITEM#002", "ITEM#001"}));
  EXPECT_EQ(sks({SkRange::between("ITEM#002", "META"), 100, {}, true}),
            (V{"ITEM#002", "ITEM#010", "LINE#1", "META"}));
  // Byte order: upper case sorts before lower case.
  EXPECT_EQ(sks({SkRange::any(), 100, {}, true}),
            (V{"ITEM#001", "ITEM#002", "ITEM#010", "LINE#1", "META", "Z", "a"}));
  EXPECT_TRUE(sks({SkRange::prefix("NOPE"), 100, {}, true}).empty());
}

TEST_P(ItemStoreConformance, PaginationVisitsEveryItemOnceInBothDirections) {
  constexpr int kItems = 57;
  for (int i = 0; i < kItems; ++i)
    ASSERT_TRUE(
        store().put(item("PAGE", fmt::format("K#{:03}", i), {{"i", i}}), Condition::none()));
  for (bool forward : {true, false}) {
    std::vector<std::string> seen;
    std::optional<std::string> cursor;
    int pages = 0;
    do {
      auto page = store().query("PAGE", {SkRange::prefix("K#"), 10, cursor, forward});
      ASSERT_TRUE(page) << page.error().message;
      ASSERT_LE(page->items.size(), 10u);
      for (auto& it : page->items) seen.push_back(it.sk);
      cursor = page->next_cursor;
      ASSERT_LT(++pages, 20);
    } while (cursor);
    ASSERT_EQ(seen.size(), static_cast<std::size_t>(kItems));
    for (std::size_t i = 1; i < seen.size(); ++i)
      EXPECT_TRUE(forward ? seen[i - 1] < seen[i] : seen[i - 1] > seen[i]);
  }
}

TEST_P(ItemStoreConformance, QueryRejectsACursorFromAnotherPartition) {
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(store().put(item("A", std::to_string(i)), Condition::none()));
  auto page = store().query("A", {SkRange::any(), 1, std::nullopt, true});
  ASSERT_TRUE(page && page->next_cursor);
  auto other = store().query("B", {SkRange::any(), 1, page->next_cursor, true});
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().kind, ErrorKind::invalid_input);
  auto junk = store().query("A", {SkRange::any(), 1, std::string("zz-not-a-cursor"), true});
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.error().kind, ErrorKind::invalid_input);
}

TEST_P(ItemStoreConformance, TransactionCommitsEveryOperationTogether) {
  ORDERLY_REQUIRE_TRANSACTIONS();
  ASSERT_TRUE(store().put(item("T", "old"), Condition::not_exists()));
  ASSERT_TRUE(store().put(item("T", "counter", {{"n", 1}}), Condition::not_exists()));
  auto s = store().transact_write({
      Put{item("T", "new", {{"x", 1}}), Condition::not_exists()},
      Delete{"T", "old", Condition::version_is(1)},
      Update{"T", "counter", {{"n", 2}}, {}, Condition::version_is(1), false, std::nullopt},
      Check{"T", "counter-twin", Condition::not_exists()},
  });
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(*store().get("T", "new"));
  EXPECT_FALSE(*store().get("T", "old"));
  EXPECT_EQ((*store().get("T", "counter"))->attrs.at("n"), 2);
}

TEST_P(ItemStoreConformance, TransactionRollsBackAsAWholeAndNamesTheFailedOperation) {
  ORDERLY_REQUIRE_TRANSACTIONS();
  ASSERT_TRUE(store().put(item("T", "taken"), Condition::not_exists()));
  ASSERT_TRUE(store().put(item("T", "victim", {{"v", "before"}}), Condition::not_exists()));
  auto s = store().transact_write({
      Put{item("T", "fresh"), Condition::not_exists()},
      Put{item("T", "victim", {{"v", "after"}}), Condition::none()},
      Delete{"T", "gone", Condition::none()},
      Put{item("T", "taken"), Condition::not_exists()},  // fails
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::conflict);
  EXPECT_NE(s.error().message.find("op 3"), std::string::npos) << s.error().message;
  EXPECT_FALSE(*store().get("T", "fresh"));
  EXPECT_EQ((*store().get("T", "victim"))->attrs.at("v"), "before");
  EXPECT_EQ((*store().get("T", "victim"))->version, 1);
  // A failed Check also cancels the transaction.
  auto c = store().transact_write(
      {Put{item("T", "fresh"), {}}, Check{"T", "absent", Condition::exists()}});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::conflict);
  EXPECT_FALSE(*store().get("T", "fresh"));
}

TEST_P(ItemStoreConformance, TransactionLimitsAreEnforced) {
  ORDERLY_REQUIRE_TRANSACTIONS();
  std::vector<WriteOp> ops;
  for (int i = 0; i < 101; ++i) ops.emplace_back(Put{item("T", std::to_string(i)), {}});
  EXPECT_EQ(store().transact_write(ops).error().kind, ErrorKind::invalid_input);
  ops.resize(100);
  ASSERT_TRUE(store().transact_write(ops));
  EXPECT_EQ(store().transact_write({Put{item("T", "d"), {}}, Delete{"T", "d", {}}}).error().kind,
            ErrorKind::invalid_input);
  auto page = store().query("T", {SkRange::any(), 1000, {}, true});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->items.size(), 100u);
}

TEST_P(ItemStoreConformance, ExpiredItemsAreAbsentAndLeftForDeletion) {
  const std::int64_t now_s = to_unix_ms(sut_.clock->now()) / 1000;
  auto short_lived = item("TTL", "short", {{"k", 1}});
  short_lived.ttl = now_s + 60;
  auto long_lived = item("TTL", "long");
  long_lived.ttl = now_s + 3600;
  ASSERT_TRUE(store().put(short_lived, Condition::not_exists()));
  ASSERT_TRUE(store().put(long_lived, Condition::not_exists()));
  ASSERT_TRUE(store().put(item("TTL", "forever"), Condition::not_exists()));
  EXPECT_EQ((*store().get("TTL", "short"))->ttl, now_s + 60);

  sut_.clock->advance(Millis{61'000});
  EXPECT_FALSE(*store().get("TTL", "short"));
  auto page = store().query("TTL", {});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->items.size(), 2u);
  // An expired item does not block a not_exists condition, and the new one starts at version 1.
  auto again = item("TTL", "short");
  auto v = store().put(again, Condition::not_exists());
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(*v, 1);

  ASSERT_TRUE(sut_.check_ttl_deletion) << GetParam().name << " does not say how expired items go";
  sut_.clock->advance(Millis{3'600'000});
  sut_.check_ttl_deletion(long_lived, item("TTL", "forever"));
}

// N writers race to move one item from the same version: exactly one wins each round.
TEST_P(ItemStoreConformance, ConcurrentWritersOnOneItemExactlyOneWins) {
  ASSERT_TRUE(store().put(item("RACE", "x", {{"winner", -1}}), Condition::not_exists()));
  constexpr int kThreads = 8;
  constexpr int kRounds = 25;
  std::vector<std::shared_ptr<ItemStore>> handles;
  for (int t = 0; t < kThreads; ++t)
    handles.push_back(sut_.second_handle ? sut_.second_handle() : sut_.store);
  for (int round = 0; round < kRounds; ++round) {
    const auto version = (*store().get("RACE", "x"))->version;
    std::atomic<int> wins{0}, conflicts{0}, other{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
      ts.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        auto r =
            handles[t]->put(item("RACE", "x", {{"winner", t}}), Condition::version_is(version));
        if (r)
          ++wins;
        else if (r.error().kind == ErrorKind::conflict)
          ++conflicts;
        else
          ++other;
      });
    go = true;
    for (auto& th : ts) th.join();
    ASSERT_EQ(wins.load(), 1) << "round " << round;
    ASSERT_EQ(conflicts.load(), kThreads - 1);
    ASSERT_EQ(other.load(), 0);
    ASSERT_EQ((*store().get("RACE", "x"))->version, version + 1);
  }
}

// Read-modify-write with retry on conflict loses no increment.
TEST_P(ItemStoreConformance, OptimisticRetryLoopLosesNoUpdate) {
  ASSERT_TRUE(store().put(item("CTR", "c", {{"n", 0}}), Condition::not_exists()));
  constexpr int kThreads = 4;
  constexpr int kIncrements = 50;
  std::vector<std::thread> ts;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&] {
      auto h = sut_.second_handle ? sut_.second_handle() : sut_.store;
      for (int i = 0; i < kIncrements; ++i) {
        for (;;) {
          auto cur = h->get("CTR", "c");
          if (!cur || !*cur) {
            ++failures;
            return;
          }
          auto next = (*cur)->attrs;
          next["n"] = next.at("n").as_int64() + 1;
          auto r = h->put(Item{"CTR", "c", 0, next, std::nullopt},
                          Condition::version_is((*cur)->version));
          if (r) break;
          if (r.error().kind != ErrorKind::conflict && r.error().kind != ErrorKind::transient) {
            ++failures;
            return;
          }
        }
      }
    });
  for (auto& th : ts) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ((*store().get("CTR", "c"))->attrs.at("n"), kThreads * kIncrements);
}

TEST_P(ItemStoreConformance, RejectsEmptyKeysAndBadLimits) {
  EXPECT_EQ(store().put(item("", "x"), {}).error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(store().put(item("x", ""), {}).error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(store().query("x", {SkRange::any(), 0, {}, true}).error().kind,
            ErrorKind::invalid_input);
}

}  // namespace orderly::conformance
