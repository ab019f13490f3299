// Db::purge_erased and the VFS's checkpoint path: after an erasure, no byte
// of an erased or overwritten value is left in the file, including in the
// space that SQLite's page rebuilds leave as it was (docs/adr/0017), and
// nothing live changes.
#include "orderly/adapters/embedded/sqlite.hpp"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "db_test_support.hpp"
#include "support/temp_dir.hpp"

namespace orderly::adapters::embedded {
namespace {

using test_support::must;
using test_support::open_db;

// The items table's shape (a WITHOUT ROWID b-tree keyed by pk, sk), which is
// what the stores keep customers' data in.
constexpr const char* kTable =
    "CREATE TABLE items (pk TEXT NOT NULL, sk TEXT NOT NULL, attrs TEXT NOT NULL, "
    "PRIMARY KEY (pk, sk)) WITHOUT ROWID";

std::string integrity(Db& db) {
  auto st = db.prepare("PRAGMA integrity_check");
  if (!st) return st.error().message;
  StmtGuard g(**st);
  auto row = g->step();
  return row && *row ? std::string(g->column_text(0)) : "no answer";
}

std::map<std::string, std::string> rows(Db& db) {
  std::map<std::string, std::string> out;
  auto st = db.prepare("SELECT pk, attrs FROM items");
  if (!st) throw std::runtime_error(st.error().message);
  StmtGuard g(**st);
  for (;;) {
    auto row = g->step();
    if (!row) throw std::runtime_error(row.error().message);
    if (!*row) break;
    out.emplace(std::string(g->column_text(0)), std::string(g->column_text(1)));
  }
  return out;
}

// Runs one statement with text parameters on a raw connection.
void run_sql(sqlite3* db, const char* sql, const std::vector<std::string>& args) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK)
    throw std::runtime_error(sqlite3_errmsg(db));
  for (std::size_t i = 0; i < args.size(); ++i)
    sqlite3_bind_text(st, static_cast<int>(i + 1), args[i].data(), static_cast<int>(args[i].size()),
                      SQLITE_TRANSIENT);
  const int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db));
}

// A seeded mix of inserts, size-changing updates and deletes, one commit
// each. Every value is one unique marker repeated (1 to 60 times), so a
// marker found in the file is a copy of that value. `erased` gets each
// marker whose value was overwritten or deleted.
class Workload {
 public:
  Workload(sqlite3* db, unsigned seed) : db_(db), rng_(seed) {}

  void run(int ops, std::vector<std::string>& erased) {
    for (int i = 0; i < ops; ++i) {
      const double op = std::uniform_real_distribution<>(0, 1)(rng_);
      if (op < 0.5 || live_.empty()) {
        const std::string key = fmt::format("k{:06}", pick(1'000'000));
        if (auto it = live_.find(key); it != live_.end()) erased.push_back(it->second);
        put(key);
      } else if (op < 0.8) {
        const std::string key = any_live();
        erased.push_back(live_[key]);
        put(key);
      } else {
        const std::string key = any_live();
        erased.push_back(live_[key]);
        live_.erase(key);
        run_sql(db_, "DELETE FROM items WHERE pk = ?1 AND sk = 's'", {key});
      }
    }
  }

  [[nodiscard]] std::map<std::string, std::string> expected() const {
    std::map<std::string, std::string> out;
    for (const auto& [key, marker] : live_) out.emplace(key, values_.at(marker));
    return out;
  }

 private:
  int pick(int n) { return std::uniform_int_distribution<>(0, n - 1)(rng_); }
  std::string any_live() {
    auto it = live_.begin();
    std::advance(it, pick(static_cast<int>(live_.size())));
    return it->first;
  }
  void put(const std::string& key) {
    const std::string marker = fmt::format("MARK{:07}|", ++n_);
    std::string value;
    for (int r = 1 + pick(60); r > 0; --r) value += marker;
    values_[marker] = value;
    live_[key] = marker;
    run_sql(db_,
            "INSERT INTO items (pk, sk, attrs) VALUES (?1, 's', ?2) "
            "ON CONFLICT (pk, sk) DO UPDATE SET attrs = excluded.attrs",
            {key, value});
  }

  sqlite3* db_;
  std::mt19937 rng_;
  int n_ = 0;
  std::map<std::string, std::string> live_;  // key -> its value's marker
  std::map<std::string, std::string> values_;
};

std::vector<std::string> found(const std::string& path, const std::vector<std::string>& markers) {
  const std::string bytes = orderly::testing::sqlite_file_bytes(path);
  std::vector<std::string> out;
  for (const auto& m : markers)
    if (bytes.find(m) != std::string::npos) out.push_back(m);
  return out;
}

// The failure the simulator found (seeds 590 and 1225 on a rowid layout),
// reproduced on the items table by SQLite alone (its own VFS, secure_delete
// on, the WAL truncated): copies of erased values are still in the file, in
// the unallocated space of pages a rebalance rebuilt. A store that opens such
// a file scrubs it at its first purge: none is left, and nothing live
// changed. Its cache held the pages as they were before the scrub: changing
// every row in place then brings none back.
TEST(SqlitePurge, TheFirstPurgeScrubsWhatSqliteAloneLeftInTheFile) {
  std::size_t left_by_sqlite = 0;
  for (unsigned seed = 1; seed <= 4; ++seed) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    orderly::testing::TempDir dir;
    const std::string path = dir.file("t.db");
    std::vector<std::string> erased;
    std::map<std::string, std::string> live;
    {
      sqlite3* raw = nullptr;
      ASSERT_EQ(
          sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
          SQLITE_OK);
      for (const char* q : {"PRAGMA journal_mode=WAL", "PRAGMA secure_delete=ON", kTable})
        ASSERT_EQ(sqlite3_exec(raw, q, nullptr, nullptr, nullptr), SQLITE_OK) << q;
      Workload w(raw, seed);
      w.run(4000, erased);
      live = w.expected();
      ASSERT_EQ(
          sqlite3_wal_checkpoint_v2(raw, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr),
          SQLITE_OK);
      sqlite3_close(raw);
    }
    left_by_sqlite += found(path, erased).size();

    auto db = open_db(path);
    EXPECT_EQ(rows(*db), live);  // the cache now holds every page
    auto report = db->purge_erased();
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_GT(report->pages, 0);
    EXPECT_EQ(found(path, erased), std::vector<std::string>{});
    EXPECT_EQ(integrity(*db), "ok");
    EXPECT_EQ(rows(*db), live);
    auto other = open_db(path);  // a connection with no cache of its own
    EXPECT_EQ(rows(*other), live);

    must(db->exec("UPDATE items SET attrs = replace(attrs, 'MARK', 'mark')"));
    must(db->checkpoint_truncate());
    EXPECT_EQ(found(path, erased), std::vector<std::string>{});
    EXPECT_EQ(integrity(*db), "ok");
    for (auto& [key, attrs] : live)
      for (std::size_t at = attrs.find("MARK"); at != std::string::npos;
           at = attrs.find("MARK", at))
        attrs.replace(at, 4, "mark");
    EXPECT_EQ(rows(*db), live);
  }
  // The workload must still make SQLite leave such copies, or this test no
  // longer shows that the scrub removes them.
  EXPECT_GT(left_by_sqlite, 0U)
      << "SQLite left no erased value in the file: make the workload harsher";
}

// The same workload through Db: every page a checkpoint writes into the file
// goes through the adapter's VFS, which zeroes the bytes no cell owns, so a
// plain truncating checkpoint, with no scrub, leaves no erased value.
TEST(SqlitePurge, CheckpointsWriteNoErasedValueIntoTheFile) {
  for (unsigned seed = 1; seed <= 4; ++seed) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    orderly::testing::TempDir dir;
    const std::string path = dir.file("t.db");
    auto db = open_db(path);
    must(db->exec(kTable));
    Workload w(db->raw(), seed);
    std::vector<std::string> erased;
    w.run(4000, erased);
    must(db->checkpoint_truncate());
    EXPECT_EQ(found(path, erased), std::vector<std::string>{});
    EXPECT_EQ(integrity(*db), "ok");
    EXPECT_EQ(rows(*db), w.expected());
    auto other = open_db(path);
    EXPECT_EQ(rows(*other), w.expected());
  }
}

// Concurrency: a writer commits (through one connection, under a lock, as a
// store does), a reader on a second connection reads every row, and scrubs of
// the whole file run between the writer's commits. Each row's
// value is its key's marker repeated, so a reader that saw a page while the
// scrub rewrote it would see a value that does not match; none does, no
// commit is lost, and the file stays sound.
TEST(SqlitePurge, ReadersAndTheWriterGoOnWhileScrubsRun) {
  orderly::testing::TempDir dir;
  const std::string path = dir.file("t.db");
  auto db = open_db(path);
  must(db->exec(kTable));
  std::mutex write_mu;  // the store's lock: one writer at a time on `db`
  std::atomic<bool> done{false};
  std::atomic<int> committed{0};
  std::atomic<int> scrubs{0};
  std::atomic<int> bad_reads{0};
  std::atomic<int> reads{0};
  std::string error;
  std::mutex error_mu;
  auto fail = [&](const std::string& e) {
    std::lock_guard lk(error_mu);
    if (error.empty()) error = e;
  };
  auto value = [](int key, int version) {
    std::string v;
    for (int r = 0; r < 1 + (key * 7 + version) % 40; ++r)
      v += fmt::format("K{:05}V{:05}|", key, version);
    return v;
  };

  std::thread writer([&] {
    std::mt19937 rng(7);
    for (int i = 0; i < 3000; ++i) {
      const int key = std::uniform_int_distribution<>(0, 299)(rng);
      std::lock_guard lk(write_mu);
      auto st = db->prepare(
          "INSERT INTO items (pk, sk, attrs) VALUES (?1, 's', ?2) "
          "ON CONFLICT (pk, sk) DO UPDATE SET attrs = excluded.attrs");
      if (!st) return fail(st.error().message);
      StmtGuard g(**st);
      g->bind(1, fmt::format("k{:05}", key));
      g->bind(2, value(key, i));
      if (auto s = g->run(); !s) return fail(s.error().message);
      ++committed;
    }
  });
  std::thread reader([&] {
    auto r = open_db(path);
    while (!done) {
      try {
        for (const auto& [key, attrs] : rows(*r)) {
          // "K00042V00017|" repeated, as value() made it for that key
          const std::string unit = attrs.substr(0, 13);
          bool ok =
              attrs.size() % 13 == 0 && unit.size() == 13 && key.substr(1) == unit.substr(1, 5);
          for (std::size_t at = 0; ok && at < attrs.size(); at += 13)
            ok = attrs.compare(at, 13, unit) == 0;
          if (!ok) ++bad_reads;
        }
        ++reads;
      } catch (const std::exception& e) {
        // a reader may be told BUSY while a checkpoint truncates: not a bad read
        if (std::string(e.what()).find("busy") == std::string::npos &&
            std::string(e.what()).find("locked") == std::string::npos)
          fail(e.what());
      }
    }
  });
  std::thread purger([&] {
    while (!done) {
      {
        std::lock_guard lk(write_mu);
        auto r = db->scrub_all();
        if (r)
          ++scrubs;
        else if (r.error().kind != platform::ErrorKind::transient)
          fail(r.error().message);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  writer.join();
  done = true;
  reader.join();
  purger.join();
  ASSERT_EQ(error, "");
  EXPECT_EQ(committed.load(), 3000);
  EXPECT_GT(scrubs.load(), 5) << "the scrubs did not interleave with the writes";
  EXPECT_GT(reads.load(), 5) << "the reader did not interleave with the scrubs";
  EXPECT_EQ(bad_reads.load(), 0);
  EXPECT_EQ(integrity(*db), "ok");
  // Replaying the writer's choices gives every key's last version.
  std::mt19937 rng(7);
  std::map<std::string, std::string> want;
  for (int i = 0; i < 3000; ++i) {
    const int key = std::uniform_int_distribution<>(0, 299)(rng);
    want[fmt::format("k{:05}", key)] = value(key, i);
  }
  EXPECT_EQ(rows(*db), want);
}

}  // namespace
}  // namespace orderly::adapters::embedded
