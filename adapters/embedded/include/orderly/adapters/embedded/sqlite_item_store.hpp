// SqliteItemStore: the ItemStore port on one SQLite file per service.
//
//   auto store = SqliteItemStore::open(data_dir / "orders.db", {.durability = Durability::full});
//   (*store)->put(item, Condition::not_exists());
//   (*store)->sweep_expired();   // deletes items whose TTL has passed
//
// One writer connection behind a mutex: SQLite serialises writers anyway, and
// a mutex hands the lock over without the busy-retry sleeps. Every write runs
// in BEGIN IMMEDIATE so its conditions are checked and applied atomically.
// Observers registered with on_commit() run after each successful write.
// It is an OutboxSource: the durable bus relays its outbox (read_outbox,
// remove_outbox), wakes up on its commits and sweeps its TTLs.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "orderly/adapters/embedded/outbox_source.hpp"
#include "orderly/adapters/embedded/sqlite.hpp"
#include "orderly/platform/clock.hpp"
#include "orderly/platform/item_store.hpp"

namespace orderly::adapters::embedded {

struct SqliteStoreOptions {
  Durability durability = Durability::normal;
  const platform::Clock* clock = nullptr;  // defaults to the system clock
  int busy_timeout_ms = 5000;
};

class SqliteItemStore final : public platform::ItemStore, public OutboxSource {
 public:
  static Result<std::unique_ptr<SqliteItemStore>> open(const std::string& path,
                                                       SqliteStoreOptions options = {});

  Result<std::optional<platform::Item>> get(const std::string& pk, const std::string& sk) override;
  Result<std::int64_t> put(const platform::Item& item, platform::Condition c) override;
  Result<std::int64_t> update(const platform::Update& u) override;
  Status remove(const std::string& pk, const std::string& sk, platform::Condition c) override;
  Result<platform::Page> query(const std::string& pk, const platform::QueryOptions& q) override;
  Status transact_write(const std::vector<platform::WriteOp>& ops) override;
  // Inside a group (a handler's unit of work under group commit), the purge
  // runs when end_group() has committed, before the lock is released: the
  // relay cannot read the group's outbox (an erasure's answer) before it.
  Status purge_overwritten() override;
  Status purge_outbox() override { return purge_overwritten(); }

  // Deletes every item whose TTL has passed; returns how many.
  Result<std::size_t> sweep_expired() override;
  // Returns a token for remove_observer(); observers must be cheap and must not
  // call back into the store.
  std::size_t on_commit(std::function<void()> observer) override;
  void remove_observer(std::size_t token) override;

  // OutboxSource: the outbox items (pk platform::kOutboxPk), and their deletion
  // in transactions of at most platform::kMaxTransactItems.
  Result<std::vector<platform::Item>> read_outbox(std::size_t limit) override;
  Status remove_outbox(const std::vector<platform::Item>& relayed) override;
  Status sync() override;
  // Group commit (see OutboxSource): savepoints inside one transaction; the
  // store's lock is held from begin_group() to end_group(). Not nested.
  Status begin_group() override;
  Status end_group() override;

  [[nodiscard]] const std::string& path() const { return db_->path(); }
  // Its commits stop checkpointing the WAL: a Checkpointer does it (Db::hand_over_checkpoints).
  Status hand_over_checkpoints();

 private:
  SqliteItemStore(std::unique_ptr<Db> db, SqliteStoreOptions o);
  struct Current;
  Result<Current> load(const std::string& pk, const std::string& sk, std::int64_t now_s,
                       bool with_attrs);
  Result<std::int64_t> apply(const platform::WriteOp& op, std::size_t index, std::int64_t now_s);
  template <class F>
  auto write(F&& f) -> decltype(f(std::int64_t{}));
  void notify();

  std::unique_ptr<Db> db_;
  SqliteStoreOptions options_;
  // Recursive: a group holds it from begin_group() to end_group(), and the
  // writes and reads made inside the group take it again.
  std::recursive_mutex mu_;
  std::optional<Transaction> group_;  // guarded by mu_: the open group's transaction
  bool group_wrote_ = false;          // guarded by mu_
  std::thread::id group_thread_;      // guarded by mu_: the thread that opened it
  bool purge_after_group_ = false;    // guarded by mu_: purge_overwritten() inside the group
  std::mutex observers_mu_;
  std::map<std::size_t, std::function<void()>> observers_;
  std::size_t next_observer_ = 0;
};

}  // namespace orderly::adapters::embedded
