// A thin RAII layer over the SQLite C API: connections with WAL and a chosen
// durability, cached prepared statements, and SQLite result codes turned into
// platform errors with retry meaning (BUSY/LOCKED are transient, CONSTRAINT
// is a conflict, everything else permanent).
//
//   auto db = Db::open(dir / "orders.db", Durability::normal);
//   Stmt& s = db->prepare("SELECT v FROM t WHERE k = ?");
//   s.bind(1, key);
//   while (*s.step()) use(s.column_int64(0));
//   s.reset();
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "orderly/platform/error.hpp"
#include "orderly/platform/metrics.hpp"

namespace orderly::adapters::embedded {

using platform::Result;
using platform::Status;

// normal: WAL + synchronous=NORMAL. A commit survives the process being killed
//         (kill -9); the last commits before an OS crash or power loss may be lost.
//         Across files the order still holds: before anything a commit caused
//         leaves its file (an event relayed to the bus, a message acknowledged),
//         the bus makes it durable with Db::sync(). So a power loss loses a
//         suffix of the work (a just-acknowledged order with nothing done for
//         it yet), never the middle of a saga.
// full:   WAL + synchronous=FULL. Every commit is fsynced; survives power loss.
enum class Durability { normal, full };

Result<Durability> parse_durability(std::string_view s);
std::string_view to_string(Durability d);

platform::Error sqlite_error(int code, std::string_view what, sqlite3* db = nullptr);

class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  void bind(int i, std::string_view v);
  void bind(int i, std::int64_t v);
  void bind_null(int i);
  // true while a row is available; false when done.
  Result<bool> step();
  // Runs to completion, expecting no rows.
  Status run();
  void reset();

  [[nodiscard]] std::int64_t column_int64(int i) const;
  [[nodiscard]] std::string_view column_text(int i) const;
  [[nodiscard]] bool column_is_null(int i) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
};

// RAII reset of a statement borrowed from the cache.
class StmtGuard {
 public:
  explicit StmtGuard(Stmt& s) : s_(s) {}
  ~StmtGuard() { s_.reset(); }
  StmtGuard(const StmtGuard&) = delete;
  StmtGuard& operator=(const StmtGuard&) = delete;
  Stmt* operator->() { return &s_; }
  Stmt& operator*() { return s_; }

 private:
  Stmt& s_;
};

class Db {
 public:
  static Result<std::unique_ptr<Db>> open(const std::string& path, Durability d,
                                          int busy_timeout_ms = 5000);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  Status exec(std::string_view sql);
  // Cached by SQL text; the statement lives as long as the Db.
  Result<Stmt*> prepare(const std::string& sql);
  [[nodiscard]] sqlite3* raw() const { return db_; }
  [[nodiscard]] std::int64_t changes() const { return sqlite3_changes64(db_); }
  // The rowid of the last successful INSERT on this connection (0 if none).
  [[nodiscard]] std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  [[nodiscard]] const std::string& path() const { return path_; }

  // Makes every commit so far durable (durability normal defers the fsync to
  // the next checkpoint): one xSync of the WAL, through SQLite's VFS. A no-op
  // with durability full, and when this connection wrote nothing since the
  // last call. Call it outside a transaction.
  Status sync();
  // sync() in two halves, for a caller that serialises the connection with its
  // own lock: take the point under that lock, then fsync outside it, so that
  // the connection is not held for the fsync. Concurrent sync_to() calls are
  // serialised, and one whose point an earlier fsync covered returns at once.
  struct SyncPoint {
    sqlite3_file* wal = nullptr;
    std::int64_t written = 0;  // total changes on this connection when taken
  };
  Result<std::optional<SyncPoint>> sync_point();  // nullopt: nothing to sync
  Status sync_to(const SyncPoint& p);

  // Copies the whole WAL into the database file and truncates the WAL to zero
  // bytes (wal_checkpoint(TRUNCATE)), so that no older version of a page is
  // left in either file: with secure_delete (on for every file), bytes an
  // erasure overwrote or deleted are then gone from disk. transient if a
  // reader kept it from finishing. Call it outside a transaction.
  Status checkpoint_truncate();

  // What an erasure calls: checkpoint_truncate(), and on this connection's
  // first call a scrub of the whole file. secure_delete zeroes a deleted cell
  // and a freed page, but when SQLite rebuilds a page (rebuildPage, as a
  // rebalance does) the bytes between its cell pointer array and its new
  // content area are left as they were, and can hold a copy of a cell that
  // has since moved, been changed or been erased (docs/adr/0017). Every page a
  // checkpoint writes into the file through this adapter's VFS has those bytes
  // zeroed (page_scrub.hpp), so the file's pages are clean once the WAL is
  // checkpointed; the first scrub covers pages written before (by another
  // program or an older version). The scrub runs in a write transaction with
  // the WAL empty, so no page changes under it, writes only bytes no cell
  // owns (what any connection reads is unchanged), and reads every b-tree page
  // (dbstat): a pass over the file, once per connection. Left: fragments of at
  // most 3 bytes between cells, and the unused tail of an overflow chain's
  // last page (zeroed when its page was freed). transient if a reader or a
  // writer kept it from finishing within the busy timeout. Call it outside a
  // transaction.
  struct PurgeReport {
    std::int64_t pages = 0;      // b-tree pages read
    std::int64_t rewritten = 0;  // of them, pages that had bytes to zero
  };
  Result<PurgeReport> purge_erased();
  // The scrub alone, over the whole file, whether or not it ran before (tests).
  Result<PurgeReport> scrub_all();

  // Hands this file's checkpoints to another connection (a Checkpointer):
  // the commits of this one then no longer copy the WAL into the database
  // file and fsync it, which SQLite's automatic checkpoint does inside the
  // commit that crosses 1000 pages. `backstop_pages` keeps the automatic one
  // for a WAL that still grows that long (the other connection stalled).
  Status hand_over_checkpoints(int backstop_pages = 10'000);
  // One small step from a connection that does nothing else: a PASSIVE
  // checkpoint, which copies what no reader needs and never waits for a
  // writer. Returns the WAL's frames and how many of them are now in the
  // database file, counted from the WAL's start (both 0 when another
  // checkpoint was running). When the two are equal, the next write
  // transaction starts the WAL over from its first frame.
  struct CheckpointStep {
    int wal_frames = 0;
    int checkpointed = 0;
  };
  Result<CheckpointStep> checkpoint_passive();

 private:
  Db(sqlite3* db, std::string path, Durability d)
      : db_(db), path_(std::move(path)), durability_(d) {}
  // One scrub attempt; nullopt when the WAL was not empty (a commit came
  // between the checkpoint and the scrub's transaction).
  Result<std::optional<PurgeReport>> scrub_free_space();
  sqlite3* db_;
  std::string path_;
  Durability durability_;
  int busy_timeout_ms_ = 5000;
  bool scrubbed_ = false;  // purge_erased() scrubbed the whole file once
  std::atomic<std::int64_t> synced_changes_{0};
  // orderly_sqlite_commits_total and _rows_written_total for this file, kept
  // by a commit hook (on the connection's thread).
  platform::metrics::Counter* commits_ = nullptr;
  platform::metrics::Counter* rows_ = nullptr;
  std::int64_t counted_changes_ = 0;
  std::mutex sync_mu_;  // serialises sync_to()
  std::unordered_map<std::string, std::unique_ptr<Stmt>> cache_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless commit() succeeded.
class Transaction {
 public:
  static Result<Transaction> begin(Db& db);
  Transaction(Transaction&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();
  Status commit();

 private:
  explicit Transaction(Db& db) : db_(&db) {}
  Db* db_;
};

}  // namespace orderly::adapters::embedded
