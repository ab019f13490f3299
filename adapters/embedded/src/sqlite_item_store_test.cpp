// SqliteItemStore specifics beyond the shared conformance suite: reopen, durability, open errors,
// observers.
#include "orderly/adapters/embedded/sqlite_item_store.hpp"

#include <gtest/gtest.h>

#include "conformance/item_store_conformance.hpp"
#include "support/temp_dir.hpp"

namespace orderly::adapters::embedded {
namespace {

using conformance::StoreFactory;
using conformance::StoreUnderTest;
using platform::Condition;
using platform::Item;

StoreUnderTest make_sqlite() {
  auto dir = std::make_shared<orderly::testing::TempDir>();
  auto clock = std::make_shared<platform::ManualClock>();
  const auto path = dir->file("items.db");
  auto open = [dir, clock, path]() -> std::shared_ptr<SqliteItemStore> {
    auto s = SqliteItemStore::open(path, {.durability = Durability::normal, .clock = clock.get()});
    if (!s) throw std::runtime_error(s.error().message);
    // Keep the directory alive as long as any handle.
    return std::shared_ptr<SqliteItemStore>(s->release(), [dir](SqliteItemStore* p) { delete p; });
  };
  auto store = open();
  // SQLite has no TTL process: the store sweeps expired rows itself.
  auto check = [store](const Item& expiring, const Item& forever) {
    auto swept = store->sweep_expired();
    ASSERT_TRUE(swept) << swept.error().message;
    EXPECT_EQ(*swept, 1u);  // the expiring item; the one without a TTL stays
    EXPECT_EQ(*store->sweep_expired(), 0u);
    EXPECT_FALSE(*store->get(expiring.pk, expiring.sk));
    EXPECT_TRUE(*store->get(forever.pk, forever.sk));
  };
  return StoreUnderTest{store, clock, check, open};
}

using conformance::ItemStoreConformance;
INSTANTIATE_TEST_SUITE_P(Sqlite, ItemStoreConformance,
                         ::testing::Values(StoreFactory{"sqlite", make_sqlite, ""}),
                         [](const auto&) { return std::string("sqlite"); });

TEST(SqliteItemStore, DataSurvivesReopenInBothDurabilityModes) {
  for (auto d : {Durability::normal, Durability::full}) {
    orderly::testing::TempDir dir;
    {
      auto s = SqliteItemStore::open(dir.file("a.db"), {.durability = d});
      ASSERT_TRUE(s);
      ASSERT_TRUE((*s)->put(Item{"K", "S", 0, {{"v", 1}}, std::nullopt}, Condition::not_exists()));
    }
    auto s = SqliteItemStore::open(dir.file("a.db"), {.durability = d});
    ASSERT_TRUE(s);
    auto got = (*s)->get("K", "S");
    ASSERT_TRUE(got && *got);
    EXPECT_EQ((**got).attrs.at("v"), 1);
  }
}

TEST(SqliteItemStore, ParsesDurabilitySetting) {
  EXPECT_EQ(*parse_durability("normal"), Durability::normal);
  EXPECT_EQ(*parse_durability("full"), Durability::full);
  auto bad = parse_durability("fsync-sometimes");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, platform::ErrorKind::invalid_input);
}

TEST(SqliteItemStore, OpenFailureIsAnErrorNotACrash) {
  auto s = SqliteItemStore::open("/nonexistent-dir/x/y.db");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("open"), std::string::npos);
}

TEST(SqliteItemStore, CommitObserversRunAfterWritesOnly) {
  orderly::testing::TempDir dir;
  auto s = SqliteItemStore::open(dir.file("a.db"));
  ASSERT_TRUE(s);
  int calls = 0;
  const auto token = (*s)->on_commit([&] { ++calls; });
  ASSERT_TRUE((*s)->put(Item{"K", "S", 0, {}, std::nullopt}, Condition::not_exists()));
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE((*s)->put(Item{"K", "S", 0, {}, std::nullopt}, Condition::not_exists()));
  EXPECT_EQ(calls, 1);  // a failed condition commits nothing
  (void)(*s)->get("K", "S");
  EXPECT_EQ(calls, 1);
  (*s)->remove_observer(token);
  ASSERT_TRUE((*s)->remove("K", "S", Condition::exists()));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace orderly::adapters::embedded
