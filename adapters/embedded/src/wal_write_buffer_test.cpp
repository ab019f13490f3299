// The WAL write-gathering shim: one write per transaction, and never a frame
// that another connection could miss or that could land over another's.
#include "wal_write_buffer.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "db_test_support.hpp"
#include "orderly/adapters/embedded/sqlite.hpp"
#include "support/temp_dir.hpp"

namespace orderly::adapters::embedded {
namespace {

// A default VFS over the real one that counts the writes to each WAL file,
// the way the shim's own file sees them (a double: what is tested is the shim
// above it). Installed for one test and removed after.
struct Counting {
  sqlite3_file base;
  sqlite3_file* real;
  bool wal;
  char wal_path[512];  // database files: their WAL's path
  bool writing;        // holds the WAL's write lock: its barriers publish
};
sqlite3_vfs* g_real = nullptr;
std::atomic<int> g_wal_writes{0};
std::function<void()> g_on_wal_sync;  // a test's hook, inside a WAL's xSync
std::atomic<int> g_published{0};      // barriers at which the header named a frame
std::atomic<int> g_unwritten{0};      // ... that the WAL file did not hold yet

// At a barrier, the header's second copy is what SQLite is about to publish
// (it writes that copy, then the barrier, then the first). The last frame it
// names must already be in the WAL file, with the header's salt: a frame left
// from an earlier pass over the file, or none, fails.
void check_published_frames(Counting* f) {
  // Another connection's barrier may fall between the writer's two copies;
  // it sees them differ and reads nothing, so only the writer's are checked.
  if (!f->writing) return;
  void volatile* region = nullptr;
  if (f->real->pMethods->xShmMap(f->real, 0, 32768, 0, &region) != SQLITE_OK || !region) return;
  unsigned char hdr[48];
  std::memcpy(hdr, static_cast<const unsigned char*>(const_cast<const void*>(region)) + 48,
              sizeof hdr);
  std::uint32_t max_frame = 0;
  std::uint16_t page_field = 0;
  std::memcpy(&max_frame, hdr + 16, 4);
  std::memcpy(&page_field, hdr + 14, 2);
  if (max_frame == 0 || hdr[12] == 0) return;  // empty WAL, or no header yet
  const long page = page_field == 1 ? 65536 : page_field;
  ++g_published;
  unsigned char frame[24] = {};
  const int fd = ::open(f->wal_path, O_RDONLY);
  const auto got = fd < 0 ? -1
                          : ::pread(fd, frame, sizeof frame,
                                    32 + static_cast<off_t>(max_frame - 1) * (page + 24));
  if (fd >= 0) ::close(fd);
  if (got != static_cast<ssize_t>(sizeof frame) || std::memcmp(frame + 8, hdr + 32, 8) != 0)
    ++g_unwritten;
}

sqlite3_file* real_of(sqlite3_file* p) {
  return reinterpret_cast<Counting*>(p)->real;
}

const sqlite3_io_methods kCountingIo = {
    2,
    [](sqlite3_file* p) {
      auto* f = reinterpret_cast<Counting*>(p);
      const int rc = f->real->pMethods->xClose(f->real);
      sqlite3_free(f->real);
      return rc;
    },
    [](sqlite3_file* p, void* b, int n, sqlite3_int64 o) {
      return real_of(p)->pMethods->xRead(real_of(p), b, n, o);
    },
    [](sqlite3_file* p, const void* b, int n, sqlite3_int64 o) {
      if (reinterpret_cast<Counting*>(p)->wal) ++g_wal_writes;
      return real_of(p)->pMethods->xWrite(real_of(p), b, n, o);
    },
    [](sqlite3_file* p, sqlite3_int64 s) { return real_of(p)->pMethods->xTruncate(real_of(p), s); },
    [](sqlite3_file* p, int f) {
      if (reinterpret_cast<Counting*>(p)->wal && g_on_wal_sync) g_on_wal_sync();
      return real_of(p)->pMethods->xSync(real_of(p), f);
    },
    [](sqlite3_file* p, sqlite3_int64* s) {
      return real_of(p)->pMethods->xFileSize(real_of(p), s);
    },
    [](sqlite3_file* p, int l) { return real_of(p)->pMethods->xLock(real_of(p), l); },
    [](sqlite3_file* p, int l) { return real_of(p)->pMethods->xUnlock(real_of(p), l); },
    [](sqlite3_file* p, int* o) { return real_of(p)->pMethods->xCheckReservedLock(real_of(p), o); },
    [](sqlite3_file* p, int op, void* a) {
      return real_of(p)->pMethods->xFileControl(real_of(p), op, a);
    },
    [](sqlite3_file* p) { return real_of(p)->pMethods->xSectorSize(real_of(p)); },
    [](sqlite3_file* p) { return real_of(p)->pMethods->xDeviceCharacteristics(real_of(p)); },
    [](sqlite3_file* p, int pg, int sz, int ext, void volatile** out) {
      return real_of(p)->pMethods->xShmMap(real_of(p), pg, sz, ext, out);
    },
    [](sqlite3_file* p, int off, int n, int fl) {
      const int rc = real_of(p)->pMethods->xShmLock(real_of(p), off, n, fl);
      if (off == 0 && rc == SQLITE_OK && (fl & SQLITE_SHM_EXCLUSIVE))
        reinterpret_cast<Counting*>(p)->writing = (fl & SQLITE_SHM_LOCK) != 0;
      return rc;
    },
    [](sqlite3_file* p) {
      check_published_frames(reinterpret_cast<Counting*>(p));
      real_of(p)->pMethods->xShmBarrier(real_of(p));
    },
    [](sqlite3_file* p, int del) { return real_of(p)->pMethods->xShmUnmap(real_of(p), del); },
    nullptr,
    nullptr,
};

class CountingVfs {
 public:
  CountingVfs() {
    g_real = sqlite3_vfs_find(nullptr);
    vfs_ = *g_real;
    vfs_.zName = "orderly-test-counting";
    vfs_.pNext = nullptr;
    vfs_.szOsFile = static_cast<int>(sizeof(Counting));
    vfs_.xOpen = [](sqlite3_vfs*, sqlite3_filename name, sqlite3_file* p, int flags, int* out) {
      auto* f = reinterpret_cast<Counting*>(p);
      f->base.pMethods = nullptr;
      f->wal = (flags & SQLITE_OPEN_WAL) != 0;
      f->writing = false;
      std::snprintf(f->wal_path, sizeof f->wal_path, "%s-wal", name ? name : "");
      f->real = static_cast<sqlite3_file*>(sqlite3_malloc(g_real->szOsFile));
      std::memset(f->real, 0, static_cast<std::size_t>(g_real->szOsFile));
      const int rc = g_real->xOpen(g_real, name, f->real, flags, out);
      if (f->real->pMethods) {
        f->base.pMethods = &kCountingIo;
      } else {
        sqlite3_free(f->real);
      }
      return rc;
    };
    EXPECT_EQ(sqlite3_vfs_register(&vfs_, 1), SQLITE_OK);
  }
  ~CountingVfs() {
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(g_real, 1);
  }

 private:
  sqlite3_vfs vfs_;
};

using test_support::must;
using test_support::open_db;

void insert_rows(Db& db, int from, int n, std::size_t bytes) {
  auto tx = Transaction::begin(db);
  ASSERT_TRUE(tx);
  auto st = db.prepare("INSERT INTO t(k, v) VALUES (?1, ?2)");
  ASSERT_TRUE(st);
  for (int i = from; i < from + n; ++i) {
    StmtGuard g(**st);
    g->bind(1, std::int64_t{i});
    g->bind(2, std::string(bytes, static_cast<char>('a' + i % 26)));
    ASSERT_TRUE(g->run());
  }
  ASSERT_TRUE(tx->commit());
}

// A table t whose WAL grew by `rows` rows of `bytes` (writes that extend the
// file go through at once) and was then copied into the database file, so the
// next transaction starts the WAL over inside the size it has.
std::unique_ptr<Db> db_with_a_copied_wal(const std::string& path, int rows, std::size_t bytes) {
  auto db = open_db(path);
  must(db->exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)"));
  insert_rows(*db, 0, rows, bytes);
  if (auto n = db->checkpoint_passive(); !n) throw std::runtime_error(n.error().message);
  return db;
}

TEST(WalWriteBuffer, ATransactionOfManyPagesIsOneWriteToTheWal) {
  CountingVfs counting;
  orderly::testing::TempDir dir;
  auto db = db_with_a_copied_wal(dir.file("a.db"), 260, 3000);
  const int at_restart = g_wal_writes.load();
  insert_rows(*db, 5000, 2, 10);
  // The WAL's new header is synced on its own before the frames.
  EXPECT_EQ(g_wal_writes.load() - at_restart, 2)
      << "WAL writes for the transaction that restarts it";

  const int before = g_wal_writes.load();
  insert_rows(*db, 300, 15, 1000);  // about 5 pages: 10 writes without the shim
  EXPECT_EQ(g_wal_writes.load() - before, 1) << "WAL writes for one transaction";

  // A transaction too large for one write goes in as few as fit (31 frames each).
  const int before_large = g_wal_writes.load();
  insert_rows(*db, 2000, 100, 3000);  // about 100 pages: 200 writes without the shim
  const int large = g_wal_writes.load() - before_large;
  EXPECT_GE(large, 3);
  EXPECT_LE(large, 5) << "WAL writes for a transaction of about 100 pages";

  auto st = db->prepare("SELECT COUNT(*), SUM(LENGTH(v)) FROM t");
  ASSERT_TRUE(st);
  StmtGuard g(**st);
  ASSERT_TRUE(*g->step());
  EXPECT_EQ(g->column_int64(0), 260 + 2 + 15 + 100);
  EXPECT_EQ(g->column_int64(1), 260 * 3000 + 2 * 10 + 15 * 1000 + 100 * 3000);
}

// The relay makes a store's commits durable from its own thread (Db::sync_to)
// while the store's writers go on: a slow fsync must not hold up the
// connection's writes, as it did not without the shim.
TEST(WalWriteBuffer, AnFsyncFromAnotherThreadDoesNotHoldUpTheConnectionsWrites) {
  CountingVfs counting;
  orderly::testing::TempDir dir;
  auto db = db_with_a_copied_wal(dir.file("s.db"), 60, 1000);
  insert_rows(*db, 100, 5, 1000);  // starts the WAL over: later writes are gathered
  auto point = db->sync_point();
  ASSERT_TRUE(point && *point);

  std::mutex mu;
  std::condition_variable cv;
  bool in_sync = false, release = false;
  g_on_wal_sync = [&] {
    std::unique_lock lk(mu);
    in_sync = true;
    cv.notify_all();
    cv.wait(lk, [&] { return release; });
  };
  std::thread syncer([&] { EXPECT_TRUE(db->sync_to(**point)); });
  {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return in_sync; });
  }
  g_on_wal_sync = nullptr;  // the syncer is inside it already
  auto writer = std::async(std::launch::async, [&] { insert_rows(*db, 200, 15, 1000); });
  const bool finished = writer.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  {
    std::lock_guard lk(mu);
    release = true;
  }
  cv.notify_all();
  syncer.join();
  writer.get();
  EXPECT_TRUE(finished) << "a commit waited for another thread's fsync of its WAL";
}

// A reader on another connection, and a checkpointer, see each commit whole
// the moment it is published: the frames are in the file before the header
// that names them. A writer moves money between rows big enough to span
// pages; the total never changes, and SQLite never reads a page it cannot use.
TEST(WalWriteBuffer, OtherConnectionsSeeEveryCommitWholeWhileItIsWritten) {
  CountingVfs checking;  // checks each commit's frames at its barrier
  const int published_before = g_published.load(), unwritten_before = g_unwritten.load();
  orderly::testing::TempDir dir;
  const std::string path = dir.file("bank.db");
  auto writer = open_db(path);
  must(writer->hand_over_checkpoints());
  must(writer->exec(
      "CREATE TABLE acct(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL, pad TEXT NOT NULL)"));
  constexpr int kAccounts = 40;
  constexpr std::int64_t kTotal = kAccounts * 1000;
  {
    auto tx = Transaction::begin(*writer);
    ASSERT_TRUE(tx);
    for (int i = 0; i < kAccounts; ++i)
      must(writer->exec(
          fmt::format("INSERT INTO acct VALUES ({}, 1000, '{}')", i, std::string(1500, 'p'))));
    ASSERT_TRUE(tx->commit());
  }
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::mutex mu;
  std::vector<std::string> problems;
  auto problem = [&](std::string p) {
    std::lock_guard lk(mu);
    if (problems.size() < 5) problems.push_back(std::move(p));
  };
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r)
    readers.emplace_back([&] {
      auto db = open_db(path);
      auto st = db->prepare("SELECT SUM(balance), COUNT(*), SUM(LENGTH(pad)) FROM acct");
      if (!st) return problem(st.error().message);
      while (!done.load()) {
        StmtGuard g(**st);
        auto row = g->step();
        if (!row || !*row) return problem(row ? "no row" : row.error().message);
        if (g->column_int64(0) != kTotal || g->column_int64(1) != kAccounts ||
            g->column_int64(2) != kAccounts * 1500)
          problem(
              fmt::format("saw total {} over {} accounts", g->column_int64(0), g->column_int64(1)));
        ++reads;
      }
    });
  std::thread checkpointer([&] {
    auto db = open_db(path);
    while (!done.load())
      if (auto n = db->checkpoint_passive(); !n) problem("checkpoint: " + n.error().message);
  });
  for (int i = 0; i < 3000; ++i) {
    const int from = i % kAccounts, to = (i * 7 + 3) % kAccounts;
    if (from == to) continue;
    auto tx = Transaction::begin(*writer);
    ASSERT_TRUE(tx);
    must(writer->exec(fmt::format(
        "UPDATE acct SET balance = balance - 5, pad = '{0}' WHERE id = {1}; UPDATE acct SET "
        "balance = balance + 5, pad = '{0}' WHERE id = {2}",
        std::string(1500, static_cast<char>('a' + i % 26)), from, to)));
    ASSERT_TRUE(tx->commit());
  }
  done = true;
  for (auto& t : readers) t.join();
  checkpointer.join();
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_GT(reads.load(), 100);
  EXPECT_GE(g_published.load() - published_before, 2900) << "barriers checked";
  EXPECT_EQ(g_unwritten.load() - unwritten_before, 0)
      << "headers published before the frames they name were in the file";
  auto st = writer->prepare("PRAGMA integrity_check");
  ASSERT_TRUE(st);
  StmtGuard g(**st);
  ASSERT_TRUE(*g->step());
  EXPECT_EQ(g->column_text(0), "ok");
}

// A transaction larger than its page cache spills frames into the WAL before
// it commits. When it rolls back, the frames it gathered must not wait in
// memory: another connection takes the write lock and commits frames at the
// same offsets, and the first connection's next read would write the stale
// ones over them.
TEST(WalWriteBuffer, FramesOfARolledBackTransactionNeverLandOverAnotherConnections) {
  orderly::testing::TempDir dir;
  const std::string path = dir.file("spill.db");
  auto a = open_db(path);
  auto b = open_db(path);
  must(a->exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)"));
  insert_rows(*a, 0, 200, 2000);  // the WAL's size, for later transactions to fit in
  ASSERT_TRUE(a->checkpoint_passive());
  must(a->exec("PRAGMA cache_size=10"));
  must(a->exec("BEGIN IMMEDIATE"));
  for (int i = 0; i < 40; ++i)
    must(a->exec(fmt::format("UPDATE t SET v = '{}' WHERE k = {}", std::string(2000, 'X'), i)));
  must(a->exec("ROLLBACK"));

  insert_rows(*b, 1000, 120, 2000);  // commits frames where the spilled ones were
  auto count = [](Db& db, const char* sql) {
    auto st = db.prepare(sql);
    if (!st) throw std::runtime_error(st.error().message);
    StmtGuard g(**st);
    auto row = g->step();
    if (!row) throw std::runtime_error(row.error().message);
    if (!*row) throw std::runtime_error("no row");
    return g->column_int64(0);
  };
  EXPECT_EQ(count(*a, "SELECT COUNT(*) FROM t WHERE v GLOB 'X*'"), 0);
  EXPECT_EQ(count(*b, "SELECT COUNT(*) FROM t WHERE k >= 1000"), 120);
  auto st = b->prepare("PRAGMA integrity_check");
  ASSERT_TRUE(st);
  StmtGuard g(**st);
  ASSERT_TRUE(*g->step());
  EXPECT_EQ(g->column_text(0), "ok");
  // A third connection, from the file alone, agrees.
  auto c = open_db(path);
  EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM t"), 320);
  EXPECT_EQ(count(*c, "SELECT COUNT(*) FROM t WHERE v GLOB 'X*'"), 0);
}

}  // namespace
}  // namespace orderly::adapters::embedded
