// SqliteItemStore: items(pk, sk, version, attrs JSON, ttl) in a WITHOUT ROWID table.
#include "orderly/adapters/embedded/sqlite_item_store.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <utility>

#include "orderly/platform/log.hpp"
#include "orderly/platform/unit_of_work.hpp"
#include "sql_helpers.hpp"

namespace orderly::adapters::embedded {

namespace json = boost::json;
using platform::Condition;
using platform::ErrorKind;
using platform::Item;
using platform::Page;

namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS items (
  pk TEXT NOT NULL,
  sk TEXT NOT NULL,
  version INTEGER NOT NULL,
  attrs TEXT NOT NULL,
  ttl INTEGER,
  PRIMARY KEY (pk, sk)
);
CREATE INDEX IF NOT EXISTS items_ttl ON items(ttl) WHERE ttl IS NOT NULL;
)";

std::string hex(std::string_view s) {
  static constexpr char d[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 0xf]);
  }
  return out;
}

std::optional<std::string> unhex(std::string_view s) {
  if (s.size() % 2) return std::nullopt;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    const int hi = val(s[i]), lo = val(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

// Cursor = hex(pk \x1f last-sk): opaque to callers, checked against the query's pk.
std::string make_cursor(const std::string& pk, const std::string& sk) {
  return hex(pk + '\x1f' + sk);
}

// The smallest string greater than every string with this prefix, if any.
std::optional<std::string> prefix_end(std::string p) {
  while (!p.empty() && static_cast<unsigned char>(p.back()) == 0xff) p.pop_back();
  if (p.empty()) return std::nullopt;
  p.back() = static_cast<char>(static_cast<unsigned char>(p.back()) + 1);
  return p;
}

std::string condition_text(const Condition& c) {
  switch (c.kind) {
    case Condition::Kind::none:
      return "none";
    case Condition::Kind::not_exists:
      return "item must not exist";
    case Condition::Kind::exists:
      return "item must exist";
    case Condition::Kind::version_is:
      return fmt::format("version must be {}", c.version);
  }
  return "?";
}

}  // namespace

struct SqliteItemStore::Current {
  bool exists = false;
  std::int64_t version = 0;
  std::string attrs;
  std::optional<std::int64_t> ttl;
};

SqliteItemStore::SqliteItemStore(std::unique_ptr<Db> db, SqliteStoreOptions o)
    : db_(std::move(db)), options_(o) {
  if (!options_.clock) options_.clock = &platform::SystemClock::instance();
}

Result<std::unique_ptr<SqliteItemStore>> SqliteItemStore::open(const std::string& path,
                                                               SqliteStoreOptions options) {
  auto db = Db::open(path, options.durability, options.busy_timeout_ms);
  if (!db) return tl::unexpected(db.error());
  if (auto s = (*db)->exec(kSchema); !s) return tl::unexpected(s.error());
  return std::unique_ptr<SqliteItemStore>(new SqliteItemStore(std::move(*db), options));
}

std::size_t SqliteItemStore::on_commit(std::function<void()> observer) {
  std::lock_guard lk(observers_mu_);
  observers_.emplace(++next_observer_, std::move(observer));
  return next_observer_;
}

void SqliteItemStore::remove_observer(std::size_t token) {
  std::lock_guard lk(observers_mu_);
  observers_.erase(token);
}

void SqliteItemStore::notify() {
  std::lock_guard lk(observers_mu_);
  for (auto& [_, o] : observers_) o();
}

Result<SqliteItemStore::Current> SqliteItemStore::load(const std::string& pk, const std::string& sk,
                                                       std::int64_t now_s, bool with_attrs) {
  // A put, a delete or a check needs only the version: the attributes (an
  // order with its timeline is kilobytes) are read and copied for an update.
  auto st =
      db_->prepare(with_attrs ? "SELECT version, attrs, ttl FROM items WHERE pk = ?1 AND sk = ?2"
                              : "SELECT version, NULL, ttl FROM items WHERE pk = ?1 AND sk = ?2");
  if (!st) return tl::unexpected(st.error());
  StmtGuard g(**st);
  g->bind(1, pk);
  g->bind(2, sk);
  auto row = g->step();
  if (!row) return tl::unexpected(row.error());
  Current c;
  if (!*row) return c;
  if (!g->column_is_null(2) && g->column_int64(2) <= now_s) return c;  // expired: absent
  c.exists = true;
  c.version = g->column_int64(0);
  if (with_attrs) c.attrs = std::string(g->column_text(1));
  if (!g->column_is_null(2)) c.ttl = g->column_int64(2);
  return c;
}

namespace {

Status check_condition(const Condition& c, bool exists, std::int64_t version, std::size_t index,
                       const std::string& pk, const std::string& sk) {
  bool ok = true;
  switch (c.kind) {
    case Condition::Kind::none:
      break;
    case Condition::Kind::not_exists:
      ok = !exists;
      break;
    case Condition::Kind::exists:
      ok = exists;
      break;
    case Condition::Kind::version_is:
      ok = exists && version == c.version;
      break;
  }
  if (ok) return {};
  return platform::fail(ErrorKind::conflict, "condition failed on op {} ({}, {}): {}; found {}",
                        index, pk, sk, condition_text(c),
                        exists ? fmt::format("version {}", version) : "no item");
}

}  // namespace

Result<std::int64_t> SqliteItemStore::apply(const platform::WriteOp& op, std::size_t index,
                                            std::int64_t now_s) {
  const auto& pk = platform::op_pk(op);
  const auto& sk = platform::op_sk(op);
  auto cur = load(pk, sk, now_s, std::holds_alternative<platform::Update>(op));
  if (!cur) return tl::unexpected(cur.error());

  auto upsert_row = [&](std::int64_t version, const std::string& attrs,
                        std::optional<std::int64_t> ttl) -> Result<std::int64_t> {
    auto st = db_->prepare(
        "INSERT INTO items(pk, sk, version, attrs, ttl) VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT(pk, sk) DO UPDATE SET version = excluded.version, attrs = excluded.attrs, "
        "ttl = excluded.ttl");
    if (!st) return tl::unexpected(st.error());
    StmtGuard g(**st);
    g->bind(1, pk);
    g->bind(2, sk);
    g->bind(3, version);
    g->bind(4, attrs);
    if (ttl)
      g->bind(5, *ttl);
    else
      g->bind_null(5);
    if (auto s = g->run(); !s) return tl::unexpected(s.error());
    return version;
  };

  return std::visit(
      [&](const auto& o) -> Result<std::int64_t> {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, platform::Put>) {
          if (auto s = check_condition(o.condition, cur->exists, cur->version, index, pk, sk); !s)
            return tl::unexpected(s.error());
          return upsert_row(cur->exists ? cur->version + 1 : 1, json::serialize(o.item.attrs),
                            o.item.ttl);
        } else if constexpr (std::is_same_v<T, platform::Update>) {
          if (!o.upsert && !cur->exists)
            return platform::fail(ErrorKind::conflict,
                                  "condition failed on op {} ({}, {}): update of a missing item",
                                  index, pk, sk);
          if (auto s = check_condition(o.condition, cur->exists, cur->version, index, pk, sk); !s)
            return tl::unexpected(s.error());
          json::object attrs;
          if (cur->exists) {
            boost::system::error_code ec;
            auto v = json::parse(cur->attrs, ec);
            if (ec || !v.is_object())
              return platform::fail(ErrorKind::permanent, "item ({}, {}): stored attrs corrupt", pk,
                                    sk);
            attrs = std::move(v.get_object());
          }
          for (const auto& [k, v] : o.set) attrs[k] = v;
          for (const auto& k : o.remove) attrs.erase(k);
          return upsert_row(cur->exists ? cur->version + 1 : 1, json::serialize(attrs),
                            o.ttl ? o.ttl : cur->ttl);
        } else if constexpr (std::is_same_v<T, platform::Delete>) {
          if (auto s = check_condition(o.condition, cur->exists, cur->version, index, pk, sk); !s)
            return tl::unexpected(s.error());
          auto st = db_->prepare("DELETE FROM items WHERE pk = ?1 AND sk = ?2");
          if (!st) return tl::unexpected(st.error());
          StmtGuard g(**st);
          g->bind(1, pk);
          g->bind(2, sk);
          if (auto s = g->run(); !s) return tl::unexpected(s.error());
          return std::int64_t{0};
        } else {
          if (auto s = check_condition(o.condition, cur->exists, cur->version, index, pk, sk); !s)
            return tl::unexpected(s.error());
          return cur->version;
        }
      },
      op);
}

template <class F>
auto SqliteItemStore::write(F&& f) -> decltype(f(std::int64_t{})) {
  decltype(f(std::int64_t{})) result;
  {
    std::lock_guard lk(mu_);
    const std::int64_t now_s = platform::to_unix_ms(options_.clock->now()) / 1000;
    if (group_) {
      // Inside a group: this write is one savepoint; a failure undoes it alone.
      // Cached statements: a batch runs these once per message.
      if (auto s = sql::run(*db_, "SAVEPOINT uow"); !s) return tl::unexpected(s.error());
      struct Undo {
        Db& db;
        bool armed = true;
        ~Undo() {
          if (armed && sql::run(db, "ROLLBACK TO uow")) (void)sql::run(db, "RELEASE uow");
        }
      } undo{*db_};
      result = f(now_s);
      if (!result) return result;  // ~Undo rolls the savepoint back (and on an exception)
      if (auto s = sql::run(*db_, "RELEASE uow"); !s) return tl::unexpected(s.error());
      undo.armed = false;
      group_wrote_ = true;
      return result;  // observers hear of it when the group commits
    }
    auto tx = Transaction::begin(*db_);
    if (!tx) return tl::unexpected(tx.error());
    result = f(now_s);
    if (!result) return result;  // ~Transaction rolls back
    if (auto s = tx->commit(); !s) return tl::unexpected(s.error());
  }
  notify();
  return result;
}

Result<std::optional<Item>> SqliteItemStore::get(const std::string& pk, const std::string& sk) {
  std::lock_guard lk(mu_);
  const std::int64_t now_s = platform::to_unix_ms(options_.clock->now()) / 1000;
  auto cur = load(pk, sk, now_s, true);
  if (!cur) return tl::unexpected(cur.error());
  if (!cur->exists) return std::optional<Item>{};
  boost::system::error_code ec;
  auto v = json::parse(cur->attrs, ec);
  if (ec || !v.is_object())
    return platform::fail(ErrorKind::permanent, "item ({}, {}): stored attrs corrupt", pk, sk);
  return std::optional<Item>{Item{pk, sk, cur->version, std::move(v.get_object()), cur->ttl}};
}

Result<std::int64_t> SqliteItemStore::put(const Item& item, Condition c) {
  if (item.pk.empty() || item.sk.empty())
    return platform::fail(ErrorKind::invalid_input, "put: empty pk or sk");
  const platform::WriteOp op = platform::Put{item, c};
  return write([&](std::int64_t now_s) { return apply(op, 0, now_s); });
}

Result<std::int64_t> SqliteItemStore::update(const platform::Update& u) {
  if (u.pk.empty() || u.sk.empty())
    return platform::fail(ErrorKind::invalid_input, "update: empty pk or sk");
  const platform::WriteOp op = u;
  return write([&](std::int64_t now_s) { return apply(op, 0, now_s); });
}

Status SqliteItemStore::remove(const std::string& pk, const std::string& sk, Condition c) {
  const platform::WriteOp op = platform::Delete{pk, sk, c};
  auto r = write([&](std::int64_t now_s) { return apply(op, 0, now_s); });
  if (!r) return tl::unexpected(r.error());
  return {};
}

Status SqliteItemStore::transact_write(const std::vector<platform::WriteOp>& ops) {
  if (auto s = platform::validate_transaction(ops); !s) return s;
  auto r = write([&](std::int64_t now_s) -> Result<std::int64_t> {
    for (std::size_t i = 0; i < ops.size(); ++i) {
      auto a = apply(ops[i], i, now_s);
      if (!a) return a;
    }
    return std::int64_t{0};
  });
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<Page> SqliteItemStore::query(const std::string& pk, const platform::QueryOptions& q) {
  if (q.limit == 0 || q.limit > 10'000)
    return platform::fail(ErrorKind::invalid_input, "query: limit must be 1..10000");
  std::optional<std::string> after;
  if (q.cursor) {
    auto raw = unhex(*q.cursor);
    const auto sep = raw ? raw->find('\x1f') : std::string::npos;
    if (!raw || sep == std::string::npos || raw->substr(0, sep) != pk)
      return platform::fail(ErrorKind::invalid_input, "query: cursor does not belong to pk {}", pk);
    after = raw->substr(sep + 1);
  }
  // Lower bound lo (inclusive), upper bound hi (exclusive or inclusive).
  std::optional<std::string> lo, hi;
  bool hi_inclusive = false;
  switch (q.sk.kind) {
    case platform::SkRange::Kind::all:
      break;
    case platform::SkRange::Kind::prefix:
      lo = q.sk.a;
      hi = prefix_end(q.sk.a);
      break;
    case platform::SkRange::Kind::between:
      lo = q.sk.a;
      hi = q.sk.b;
      hi_inclusive = true;
      break;
  }
  std::string sql =
      "SELECT sk, version, attrs, ttl FROM items WHERE pk = ?1 AND (ttl IS NULL OR ttl > ?2)";
  if (lo) sql += " AND sk >= ?3";
  if (hi) sql += hi_inclusive ? " AND sk <= ?4" : " AND sk < ?4";
  if (after) sql += q.forward ? " AND sk > ?5" : " AND sk < ?5";
  sql += q.forward ? " ORDER BY sk ASC LIMIT ?6" : " ORDER BY sk DESC LIMIT ?6";

  std::lock_guard lk(mu_);
  const std::int64_t now_s = platform::to_unix_ms(options_.clock->now()) / 1000;
  auto st = db_->prepare(sql);
  if (!st) return tl::unexpected(st.error());
  StmtGuard g(**st);
  g->bind(1, pk);
  g->bind(2, now_s);
  if (lo) g->bind(3, *lo);
  if (hi) g->bind(4, *hi);
  if (after) g->bind(5, *after);
  g->bind(6, static_cast<std::int64_t>(q.limit) + 1);
  Page page;
  for (;;) {
    auto row = g->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    if (page.items.size() == q.limit) {
      page.next_cursor = make_cursor(pk, page.items.back().sk);
      break;
    }
    boost::system::error_code ec;
    auto v = json::parse(g->column_text(2), ec);
    if (ec || !v.is_object())
      return platform::fail(ErrorKind::permanent, "item ({}, {}): stored attrs corrupt", pk,
                            g->column_text(0));
    Item it{pk, std::string(g->column_text(0)), g->column_int64(1), std::move(v.get_object()),
            std::nullopt};
    if (!g->column_is_null(3)) it.ttl = g->column_int64(3);
    page.items.push_back(std::move(it));
  }
  return page;
}

Result<std::vector<Item>> SqliteItemStore::read_outbox(std::size_t limit) {
  platform::QueryOptions q;
  q.limit = limit;
  auto page = query(std::string(platform::kOutboxPk), q);
  if (!page) return tl::unexpected(page.error());
  return std::move(page->items);
}

Status SqliteItemStore::sync() {
  std::optional<Db::SyncPoint> point;
  {
    std::lock_guard lk(mu_);
    auto p = db_->sync_point();
    if (!p) return tl::unexpected(p.error());
    point = *p;
  }
  // The fsync runs without the store's lock: readers and writers go on.
  return point ? db_->sync_to(*point) : Status{};
}

Status SqliteItemStore::hand_over_checkpoints() {
  std::lock_guard lk(mu_);
  return db_->hand_over_checkpoints();
}

Status SqliteItemStore::purge_overwritten() {
  std::lock_guard lk(mu_);
  if (group_ && group_thread_ == std::this_thread::get_id()) {
    purge_after_group_ = true;
    return {};
  }
  auto r = db_->purge_erased();
  if (!r) return tl::unexpected(r.error());
  return {};
}

Status SqliteItemStore::begin_group() {
  mu_.lock();  // held until end_group()
  if (group_) {
    mu_.unlock();
    return platform::fail(ErrorKind::failed_precondition, "{}: a group is already open", path());
  }
  auto tx = Transaction::begin(*db_);
  if (!tx) {
    mu_.unlock();
    return tl::unexpected(tx.error());
  }
  group_.emplace(std::move(*tx));
  group_wrote_ = false;
  group_thread_ = std::this_thread::get_id();
  return {};
}

Status SqliteItemStore::end_group() {
  // Only the thread holding the group may end it (it holds the lock).
  if (!mu_.try_lock())
    return platform::fail(ErrorKind::failed_precondition, "{}: no group of this thread", path());
  const bool mine = group_ && group_thread_ == std::this_thread::get_id();
  mu_.unlock();
  if (!mine) return platform::fail(ErrorKind::failed_precondition, "{}: no open group", path());
  auto s = group_->commit();
  group_.reset();  // rolls back if the commit failed
  const bool wrote = s && group_wrote_;
  group_wrote_ = false;
  if (std::exchange(purge_after_group_, false) && s)
    if (auto p = db_->purge_erased(); !p)
      // The commit stands (its messages are settled as done); the next
      // erasure's purge covers these pages.
      platform::log::warn("purge after an erasure failed",
                          {{"store", path()}, {"error", p.error().describe()}});
  mu_.unlock();
  if (wrote) notify();
  return s;
}

// One transaction for the whole pass, and a plain DELETE per item: an outbox
// item has no condition to check, so nothing is read first.
Status SqliteItemStore::remove_outbox(const std::vector<Item>& relayed) {
  if (relayed.empty()) return {};
  auto r = write([&](std::int64_t) -> Result<std::int64_t> {
    for (const auto& item : relayed)
      if (auto s = sql::run(*db_, "DELETE FROM items WHERE pk = ?1 AND sk = ?2", item.pk, item.sk);
          !s)
        return tl::unexpected(s.error());
    return std::int64_t{0};
  });
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<std::size_t> SqliteItemStore::sweep_expired() {
  std::lock_guard lk(mu_);
  const std::int64_t now_s = platform::to_unix_ms(options_.clock->now()) / 1000;
  auto st = db_->prepare("DELETE FROM items WHERE ttl IS NOT NULL AND ttl <= ?1");
  if (!st) return tl::unexpected(st.error());
  StmtGuard g(**st);
  g->bind(1, now_s);
  if (auto s = g->run(); !s) return tl::unexpected(s.error());
  return static_cast<std::size_t>(db_->changes());
}

}  // namespace orderly::adapters::embedded
