// Checkpointer: the writers hand their WAL checkpoints over, and the WAL stays
// short; an erasure's truncating checkpoint waits for a step instead of failing.
#include "orderly/adapters/embedded/checkpointer.hpp"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include "orderly/adapters/embedded/sqlite_item_store.hpp"
#include "support/temp_dir.hpp"

namespace orderly::adapters::embedded {
namespace {

using platform::Item;

std::unique_ptr<SqliteItemStore> open_store(const std::string& path) {
  auto s = SqliteItemStore::open(path);
  if (!s) throw std::runtime_error(s.error().message);
  return std::move(*s);
}

Item item(int i) {
  return Item{"P", fmt::format("k{}", i), 0,
              boost::json::object{{"text", std::string(1500, static_cast<char>('a' + i % 26))}},
              std::nullopt};
}

std::uintmax_t wal_pages(const std::string& db) {
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(db + "-wal", ec);
  return ec ? 0 : bytes / 4096;
}

// Each store commits 1500 items one by one, with its checkpoints handed over.
// Without a checkpointer its WAL grows past the 1000 pages at which SQLite
// would have checkpointed inside a commit: the writer no longer does. With
// one step every 50 commits, the WAL stays a small fraction of that.
TEST(Checkpointer, TheWriterNoLongerCheckpointsAndTheStepsKeepTheWalShort) {
  orderly::testing::TempDir dir;
  auto alone = open_store(dir.file("alone.db"));
  auto helped = open_store(dir.file("helped.db"));
  ASSERT_TRUE(alone->hand_over_checkpoints());
  ASSERT_TRUE(helped->hand_over_checkpoints());
  auto cp = Checkpointer::open({dir.file("helped.db")});
  ASSERT_TRUE(cp) << cp.error().message;
  std::size_t copied = 0;
  for (int i = 0; i < 1500; ++i) {
    ASSERT_TRUE(alone->put(item(i), {}));
    ASSERT_TRUE(helped->put(item(i), {}));
    if (i % 50 == 49) {
      auto n = (*cp)->run_once();
      ASSERT_TRUE(n) << n.error().message;
      copied += *n;
    }
  }
  EXPECT_GT(wal_pages(dir.file("alone.db")), 1000u);
  EXPECT_LT(wal_pages(dir.file("helped.db")), 400u);
  // Each step found the WAL started over and holding the commits since the
  // last one: at least a page for each of the 1500.
  EXPECT_GE(copied, 1500u);
  // What was checkpointed is readable from a fresh connection.
  helped.reset();
  auto again = open_store(dir.file("helped.db"));
  auto got = again->get("P", "k1499");
  ASSERT_TRUE(got && *got);
}

// An erasure's TRUNCATE checkpoint races the checkpointer's thread, which
// steps without pause while a writer commits: SQLite answers a checkpoint that
// meets a running one BUSY at once, and the erasure must wait for the step,
// not fail.
TEST(Checkpointer, ATruncatingCheckpointWaitsForARunningStep) {
  orderly::testing::TempDir dir;
  auto store = open_store(dir.file("s.db"));
  ASSERT_TRUE(store->hand_over_checkpoints());
  auto cp = Checkpointer::open({dir.file("s.db")}, {.every = platform::Millis{0}});
  ASSERT_TRUE(cp) << cp.error().message;
  (*cp)->start();
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; !done; ++i) (void)store->put(item(i % 500), {});
  });
  int failed = 0;
  std::string last_error;
  for (int i = 0; i < 200; ++i) {
    if (auto s = store->purge_overwritten(); !s) {
      ++failed;
      last_error = s.error().message;
    }
  }
  done = true;
  writer.join();
  (*cp)->stop();
  EXPECT_EQ(failed, 0) << last_error;
}

}  // namespace
}  // namespace orderly::adapters::embedded
