// SqliteItemStore specifics beyond the shared conformance suite: reopen, durability, open errors,
// observers.
#include "orderly/adapters/embedded/sqlite_item_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

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

// Erasure (docs/adr/0017): after purge_overwritten(), what was deleted or
// overwritten is in neither file, while the store is still open (a close
// checkpoints anyway). Without secure_delete the deleted cell stays in the
// page's free space and the overwritten version in the WAL.
TEST(SqliteItemStoreErasure, PurgeLeavesNoDeletedOrOverwrittenBytesInTheFiles) {
  orderly::testing::TempDir dir;
  const auto path = dir.file("erase.db");
  auto s = SqliteItemStore::open(path, {});
  ASSERT_TRUE(s);
  auto& store = **s;
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(store.put(Item{"KEEP", "K" + std::to_string(i), 0, {{"who", "Keeper Kate"}}, {}},
                          Condition::not_exists()));
  ASSERT_TRUE(store.put(Item{"GONE", "1", 0, {{"who", "Deleted Dora 4711"}}, {}}, {}));
  ASSERT_TRUE(store.put(Item{"EDIT", "1", 0, {{"who", "Overwritten Olga 4711"}}, {}}, {}));
  ASSERT_TRUE(store.purge_overwritten());  // both in the database file now
  ASSERT_NE(orderly::testing::sqlite_file_bytes(path).find("Deleted Dora 4711"), std::string::npos);
  ASSERT_TRUE(store.remove("GONE", "1", {}));
  ASSERT_TRUE(store.put(Item{"EDIT", "1", 0, {{"who", "[erased]"}}, {}}, {}));
  ASSERT_TRUE(store.purge_overwritten());
  const auto bytes = orderly::testing::sqlite_file_bytes(path);
  EXPECT_EQ(bytes.find("Deleted Dora 4711"), std::string::npos);
  EXPECT_EQ(bytes.find("Overwritten Olga 4711"), std::string::npos);
  EXPECT_NE(bytes.find("Keeper Kate"), std::string::npos);  // the search finds what is there
  EXPECT_EQ(*store.get("EDIT", "1"), (Item{"EDIT", "1", 2, {{"who", "[erased]"}}, {}}));
}

// Inside a group (a handler under group commit) the purge waits for the
// group's commit, and runs before the lock is released.
TEST(SqliteItemStoreErasure, PurgeInsideAGroupRunsWhenTheGroupCommits) {
  orderly::testing::TempDir dir;
  const auto path = dir.file("group.db");
  auto s = SqliteItemStore::open(path, {});
  ASSERT_TRUE(s);
  auto& store = **s;
  ASSERT_TRUE(store.put(Item{"EDIT", "1", 0, {{"who", "Grouped Greta 4711"}}, {}}, {}));
  ASSERT_TRUE(store.purge_overwritten());
  ASSERT_TRUE(store.begin_group());
  ASSERT_TRUE(store.put(Item{"EDIT", "1", 0, {{"who", "[erased]"}}, {}}, {}));
  ASSERT_TRUE(store.purge_overwritten());  // deferred: the write is not committed yet
  ASSERT_TRUE(store.end_group());
  EXPECT_EQ(orderly::testing::sqlite_file_bytes(path).find("Grouped Greta 4711"),
            std::string::npos);
}

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

// Group commit (issue 12): the bus runs a batch's units of work in one
// transaction, each under its own savepoint.
TEST(SqliteItemStoreGroup, EachWriteIsASavepointAndTheGroupCommitsThemTogether) {
  orderly::testing::TempDir dir;
  auto s = SqliteItemStore::open(dir.file("g.db"));
  ASSERT_TRUE(s);
  auto& store = **s;
  ASSERT_TRUE(store.put(Item{"B", "S", 0, {{"v", 0}}, std::nullopt}, Condition::not_exists()));
  ASSERT_TRUE(store.begin_group());
  ASSERT_TRUE(store.put(Item{"A", "S", 0, {{"v", 1}}, std::nullopt}, Condition::not_exists()));
  // A unit of work whose condition fails: its first write must not survive.
  auto failed = store.transact_write(
      {platform::Put{Item{"C", "S", 0, {{"v", 1}}, std::nullopt}, Condition::not_exists()},
       platform::Put{Item{"B", "S", 0, {{"v", 9}}, std::nullopt}, Condition::not_exists()}});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind, platform::ErrorKind::conflict);
  ASSERT_TRUE(store.update(platform::Update{"B", "S", {{"v", 2}}, {}, Condition::exists()}));
  EXPECT_TRUE(*store.get("A", "S"));  // the group reads its own writes
  ASSERT_TRUE(store.end_group());
  EXPECT_TRUE(*store.get("A", "S"));
  EXPECT_FALSE(*store.get("C", "S"));
  EXPECT_EQ((*store.get("B", "S"))->attrs.at("v"), 2);
}

TEST(SqliteItemStoreGroup, AnotherThreadWaitsForTheGroupThenBothWritesLand) {
  orderly::testing::TempDir dir;
  auto s = SqliteItemStore::open(dir.file("g.db"));
  ASSERT_TRUE(s);
  auto& store = **s;
  ASSERT_TRUE(store.begin_group());
  ASSERT_TRUE(store.put(Item{"A", "S", 0, {}, std::nullopt}, Condition::not_exists()));
  std::atomic<bool> saw_a{false}, done{false};
  std::thread other([&] {
    saw_a = static_cast<bool>(*store.get("A", "S"));  // waits for the group
    EXPECT_TRUE(store.put(Item{"X", "S", 0, {}, std::nullopt}, Condition::not_exists()));
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(done.load());  // blocked: the group holds the store
  ASSERT_TRUE(store.end_group());
  other.join();
  EXPECT_TRUE(saw_a.load());  // it read after the commit, never a half-done group
  EXPECT_TRUE(*store.get("X", "S"));
  EXPECT_TRUE(*store.get("A", "S"));
}

TEST(SqliteItemStoreGroup, OnlyItsThreadEndsItAndObserversHearOnceAtTheEnd) {
  orderly::testing::TempDir dir;
  auto s = SqliteItemStore::open(dir.file("g.db"));
  ASSERT_TRUE(s);
  auto& store = **s;
  std::atomic<int> heard{0};
  store.on_commit([&] { ++heard; });
  EXPECT_FALSE(store.end_group());  // none open
  ASSERT_TRUE(store.begin_group());
  EXPECT_FALSE(store.begin_group());  // not nested
  ASSERT_TRUE(store.put(Item{"A", "S", 0, {}, std::nullopt}, {}));
  ASSERT_TRUE(store.put(Item{"B", "S", 0, {}, std::nullopt}, {}));
  std::thread other([&] { EXPECT_FALSE(store.end_group()); });
  other.join();
  EXPECT_EQ(heard.load(), 0);
  ASSERT_TRUE(store.end_group());
  EXPECT_EQ(heard.load(), 1);
  ASSERT_TRUE(store.begin_group());
  ASSERT_TRUE(store.end_group());  // nothing written: nobody woken
  EXPECT_EQ(heard.load(), 1);
}

}  // namespace
}  // namespace orderly::adapters::embedded
