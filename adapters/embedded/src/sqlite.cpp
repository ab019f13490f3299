// SQLite RAII helpers and error mapping.
#include "orderly/adapters/embedded/sqlite.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "orderly/platform/metrics.hpp"
#include "page_scrub.hpp"
#include "sql_helpers.hpp"
#include "wal_write_buffer.hpp"

namespace orderly::adapters::embedded {

using platform::ErrorKind;

Result<Durability> parse_durability(std::string_view s) {
  if (s == "normal") return Durability::normal;
  if (s == "full") return Durability::full;
  return platform::fail(ErrorKind::invalid_input,
                        "durability must be \"normal\" or \"full\", got \"{}\"", s);
}

std::string_view to_string(Durability d) {
  return d == Durability::full ? "full" : "normal";
}

platform::Error sqlite_error(int code, std::string_view what, sqlite3* db) {
  const int primary = code & 0xff;
  ErrorKind kind = ErrorKind::permanent;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    kind = ErrorKind::transient;
  else if (primary == SQLITE_CONSTRAINT)
    kind = ErrorKind::conflict;
  else if (primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_NOMEM)
    kind = ErrorKind::transient;
  std::string msg = fmt::format("sqlite {}: {} ({})", what, sqlite3_errstr(code), code);
  if (db) msg += fmt::format(": {}", sqlite3_errmsg(db));
  return platform::Error{kind, std::move(msg)};
}

Stmt::~Stmt() {
  sqlite3_finalize(s_);
}

void Stmt::bind(int i, std::string_view v) {
  sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
void Stmt::bind(int i, std::int64_t v) {
  sqlite3_bind_int64(s_, i, v);
}
void Stmt::bind_null(int i) {
  sqlite3_bind_null(s_, i);
}

Result<bool> Stmt::step() {
  const int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return tl::unexpected(sqlite_error(rc, "step", db_));
}

Status Stmt::run() {
  auto r = step();
  if (!r) return tl::unexpected(r.error());
  return {};
}

void Stmt::reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

std::int64_t Stmt::column_int64(int i) const {
  return sqlite3_column_int64(s_, i);
}
std::string_view Stmt::column_text(int i) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, i));
  return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, i)))
           : std::string_view();
}
bool Stmt::column_is_null(int i) const {
  return sqlite3_column_type(s_, i) == SQLITE_NULL;
}

namespace {

// Before the first connection: SQLite's allocation statistics off. With them
// on (the default), every sqlite3_malloc and free takes one process-wide
// mutex, so the bus's and the stores' threads serialized on it, with a futex
// wake per contended call: 17% of `orderly up`'s CPU under load
// (bench/results/2026-12-03-e2e-memstatus.md). Nothing here reads
// sqlite3_memory_used(); RSS is what the docs and the benchmarks report.
void configure_sqlite_once() {
  static const int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)rc;  // SQLITE_MISUSE if SQLite was initialized before (a test's own connection): harmless
}

}  // namespace

Result<std::unique_ptr<Db>> Db::open(const std::string& path, Durability d, int busy_timeout_ms) {
  configure_sqlite_once();
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 wal_write_buffer_vfs());
  if (rc != SQLITE_OK) {
    auto err = sqlite_error(rc, "open " + path, raw);
    sqlite3_close(raw);
    return tl::unexpected(err);
  }
  std::unique_ptr<Db> db(new Db(raw, path, d));
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  db->busy_timeout_ms_ = busy_timeout_ms;
  // Transactions and rows written, per database file: what an order costs the
  // stores (bench/e2e.sh divides them by the orders).
  {
    static auto& commits = platform::metrics::registry().counter(
        "orderly_sqlite_commits_total", "SQLite transactions committed, by database file", {"db"});
    static auto& rows = platform::metrics::registry().counter(
        "orderly_sqlite_rows_written_total",
        "Rows inserted, updated or deleted in committed SQLite transactions, by database file",
        {"db"});
    const auto name = std::filesystem::path(path).filename().string();
    db->commits_ = &commits.with({name});
    db->rows_ = &rows.with({name});
    sqlite3_commit_hook(
        raw,
        [](void* self) -> int {
          auto* conn = static_cast<Db*>(self);
          const auto total = sqlite3_total_changes64(conn->db_);
          conn->commits_->inc();
          conn->rows_->inc(static_cast<std::uint64_t>(total - conn->counted_changes_));
          conn->counted_changes_ = total;
          return 0;  // let it commit
        },
        db.get());
  }
  // WAL is what makes a commit survive kill -9 without an fsync, and what
  // every durability claim here rests on: refuse to run without it (SQLite
  // keeps the old mode silently, e.g. on a file system without shared memory).
  {
    auto st = db->prepare("PRAGMA journal_mode=WAL");
    if (!st) return tl::unexpected(st.error());
    StmtGuard g(**st);
    auto row = g->step();
    if (!row) return tl::unexpected(row.error());
    const std::string mode = *row ? std::string(g->column_text(0)) : std::string();
    if (mode != "wal")
      return platform::fail(ErrorKind::failed_precondition,
                            "{}: journal_mode is \"{}\", not \"wal\": SQLite could not use a "
                            "write-ahead log here (a file system without shared memory?)",
                            path, mode);
  }
  const std::string sync = d == Durability::full ? "FULL" : "NORMAL";
  // A 2 MiB page cache per connection: orderly up opens seven files, and 8 MiB
  // each took its peak RSS past 64 MB under a backlog with no gain in
  // throughput (bench/results/2026-12-02-e2e-throughput.md); the WAL and the
  // OS page cache serve the rest.
  // secure_delete=ON: deleted and overwritten content is zeroed, in a page's
  // free space and in pages that go to the freelist, so an erased address does
  // not linger in the file (docs/adr/0017; checkpoint_truncate() clears the
  // WAL). FAST is not enough: it leaves freed pages as they were, and the
  // simulator found an outbox event with an address on one (seed 144).
  for (const std::string& pragma :
       {"PRAGMA synchronous=" + sync, std::string("PRAGMA temp_store=MEMORY"),
        std::string("PRAGMA cache_size=-2048"), std::string("PRAGMA secure_delete=ON")}) {
    if (auto s = db->exec(pragma); !s) return tl::unexpected(s.error());
  }
  return db;
}

Result<std::optional<Db::SyncPoint>> Db::sync_point() {
  // Rows written on this connection since the last sync: none, nothing to do.
  const std::int64_t written = sqlite3_total_changes64(db_);
  if (durability_ == Durability::full || written <= synced_changes_.load()) return std::nullopt;
  // The WAL's file handle, as SQLite's VFS opened it: syncing through it (not
  // a second descriptor) is what the VFS, and a test's power-loss VFS, sees.
  sqlite3_file* wal = nullptr;
  if (const int rc = sqlite3_file_control(db_, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal);
      rc != SQLITE_OK)
    return tl::unexpected(sqlite_error(rc, "sync " + path_, db_));
  return SyncPoint{wal, written};
}

Status Db::sync_to(const SyncPoint& p) {
  std::lock_guard lk(sync_mu_);
  // A concurrent caller's fsync, started after this point was taken, covered it.
  if (p.written <= synced_changes_.load()) return {};
  if (p.wal && p.wal->pMethods) {
    if (const int rc = p.wal->pMethods->xSync(p.wal, SQLITE_SYNC_NORMAL); rc != SQLITE_OK)
      return tl::unexpected(sqlite_error(rc, "fsync the WAL of " + path_));
  }
  synced_changes_.store(p.written);
  return {};
}

Status Db::sync() {
  auto p = sync_point();
  if (!p) return tl::unexpected(p.error());
  if (!*p) return {};
  return sync_to(**p);
}

Db::~Db() {
  cache_.clear();
  sqlite3_close(db_);
}

Status Db::checkpoint_truncate() {
  int log = 0, done = 0;
  int rc = SQLITE_BUSY;
  // Only one checkpoint runs at a time, and SQLite answers a second one BUSY at
  // once, without the busy handler: a Checkpointer's step is short, so wait for
  // it (up to the busy timeout) rather than fail the erasure that asked.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms_);
  for (;;) {
    rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    if (rc != SQLITE_BUSY || std::chrono::steady_clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (rc == SQLITE_BUSY)
    return platform::fail(ErrorKind::transient,
                          "{}: checkpoint kept from finishing by a reader or another checkpoint",
                          path_);
  if (rc != SQLITE_OK) return tl::unexpected(sqlite_error(rc, "wal_checkpoint(TRUNCATE)", db_));
  return {};
}

Result<std::optional<Db::PurgeReport>> Db::scrub_free_space() {
  // A write transaction: no other connection commits (so no checkpoint has
  // anything to copy into the file) until it ends.
  auto tx = Transaction::begin(*this);
  if (!tx) return tl::unexpected(tx.error());
  sqlite3_file* wal = nullptr;
  sqlite3_file* file = nullptr;
  if (const int rc = sqlite3_file_control(db_, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal);
      rc != SQLITE_OK)
    return tl::unexpected(sqlite_error(rc, "scrub " + path_, db_));
  if (const int rc = sqlite3_file_control(db_, "main", SQLITE_FCNTL_FILE_POINTER, &file);
      rc != SQLITE_OK || !file || !file->pMethods)
    return tl::unexpected(sqlite_error(rc == SQLITE_OK ? SQLITE_ERROR : rc, "scrub " + path_, db_));
  if (wal && wal->pMethods) {
    sqlite3_int64 size = 0;
    if (const int rc = wal->pMethods->xFileSize(wal, &size); rc != SQLITE_OK)
      return tl::unexpected(sqlite_error(rc, "scrub: size the WAL of " + path_));
    // Every page's last version must be the database file's.
    if (size != 0) return std::optional<PurgeReport>{};
  }
  auto page_size = sql::scalar(*this, "PRAGMA page_size");
  if (!page_size) return tl::unexpected(page_size.error());
  std::vector<std::int64_t> pages;
  {
    // dbstat walks every b-tree, so it names exactly their pages (not the
    // overflow, freelist or pointer-map pages, whose bytes mean other things).
    sqlite3_stmt* st = nullptr;
    const char* q = "SELECT pageno FROM dbstat WHERE pagetype IN ('internal', 'leaf')";
    if (const int rc = sqlite3_prepare_v2(db_, q, -1, &st, nullptr); rc != SQLITE_OK)
      return tl::unexpected(sqlite_error(rc, "scrub: list the b-tree pages (dbstat)", db_));
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) pages.push_back(sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
      return tl::unexpected(sqlite_error(rc, "scrub: list the b-tree pages (dbstat)", db_));
  }
  const auto size = static_cast<std::size_t>(*page_size);
  std::vector<unsigned char> page(size);
  // Bytes reserved at each page's end: byte 20 of the file header, read before
  // any page (dbstat need not name page 1 first).
  unsigned char reserved = 0;
  if (const int rc = file->pMethods->xRead(file, &reserved, 1, 20); rc != SQLITE_OK)
    return tl::unexpected(sqlite_error(rc, "scrub: read the header of " + path_));
  if (reserved >= size)
    return platform::fail(ErrorKind::permanent, "scrub: {} has a bad header", path_);
  const std::size_t usable = size - reserved;
  PurgeReport report;
  for (const std::int64_t no : pages) {
    const sqlite3_int64 offset = (no - 1) * static_cast<sqlite3_int64>(size);
    if (const int rc = file->pMethods->xRead(file, page.data(), static_cast<int>(size), offset);
        rc != SQLITE_OK)
      return tl::unexpected(sqlite_error(rc, fmt::format("scrub: read page {} of {}", no, path_)));
    ++report.pages;
    auto changed = scrub_page(page.data(), no == 1 ? 100 : 0, usable);
    if (!changed)
      return platform::fail(ErrorKind::permanent,
                            "scrub: page {} of {} is not the b-tree page dbstat named", no, path_);
    if (!*changed) continue;
    if (const int rc = file->pMethods->xWrite(file, page.data(), static_cast<int>(size), offset);
        rc != SQLITE_OK)
      return tl::unexpected(sqlite_error(rc, fmt::format("scrub: write page {} of {}", no, path_)));
    ++report.rewritten;
  }
  if (report.rewritten > 0)
    if (const int rc = file->pMethods->xSync(file, SQLITE_SYNC_NORMAL); rc != SQLITE_OK)
      return tl::unexpected(sqlite_error(rc, "scrub: fsync " + path_));
  if (auto s = tx->commit(); !s) return tl::unexpected(s.error());
  // This connection's page cache still holds the pages as they were: the next
  // commit to change one would write its old bytes into the WAL (a checkpoint
  // zeroes them on the way to the file). Drop them (nothing is pinned outside
  // a transaction).
  sqlite3_db_release_memory(db_);
  return std::optional<PurgeReport>{report};
}

Result<Db::PurgeReport> Db::scrub_all() {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms_);
  for (;;) {
    if (auto s = checkpoint_truncate(); !s) return tl::unexpected(s.error());
    auto r = scrub_free_space();
    if (!r) return tl::unexpected(r.error());
    if (*r) return **r;
    if (std::chrono::steady_clock::now() >= until)
      return platform::fail(ErrorKind::transient,
                            "{}: commits kept the WAL from staying empty for the scrub", path_);
  }
}

Result<Db::PurgeReport> Db::purge_erased() {
  if (scrubbed_) {
    if (auto s = checkpoint_truncate(); !s) return tl::unexpected(s.error());
    return PurgeReport{};
  }
  auto r = scrub_all();
  if (r) scrubbed_ = true;
  return r;
}

Status Db::hand_over_checkpoints(int backstop_pages) {
  return exec(fmt::format("PRAGMA wal_autocheckpoint={}", backstop_pages));
}

Result<Db::CheckpointStep> Db::checkpoint_passive() {
  int log = 0, done = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
  if (rc == SQLITE_BUSY) return CheckpointStep{};  // another (an erasure's TRUNCATE) is running
  if (rc != SQLITE_OK) return tl::unexpected(sqlite_error(rc, "wal_checkpoint(PASSIVE)", db_));
  return CheckpointStep{std::max(log, 0), std::max(done, 0)};
}

Status Db::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    auto e = sqlite_error(rc, text.substr(0, 60), db_);
    sqlite3_free(err);
    return tl::unexpected(e);
  }
  return {};
}

Result<Stmt*> Db::prepare(const std::string& sql) {
  if (auto it = cache_.find(sql); it != cache_.end()) return it->second.get();
  sqlite3_stmt* s = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK) return tl::unexpected(sqlite_error(rc, "prepare " + sql, db_));
  auto [it, _] = cache_.emplace(sql, std::make_unique<Stmt>(db_, s));
  return it->second.get();
}

namespace {
Status run_cached(Db& db, const std::string& sql) {
  auto st = db.prepare(sql);
  if (!st) return tl::unexpected(st.error());
  StmtGuard g(**st);
  return g->run();
}
}  // namespace

Result<Transaction> Transaction::begin(Db& db) {
  if (auto s = run_cached(db, "BEGIN IMMEDIATE"); !s) return tl::unexpected(s.error());
  return Transaction(db);
}

Transaction::~Transaction() {
  if (db_ && !sqlite3_get_autocommit(db_->raw())) (void)run_cached(*db_, "ROLLBACK");
}

Status Transaction::commit() {
  auto s = run_cached(*db_, "COMMIT");
  if (s) db_ = nullptr;
  return s;
}

}  // namespace orderly::adapters::embedded
