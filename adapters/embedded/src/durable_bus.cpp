// DurableBus: archive, per-rule queues, DLQ and the outbox relay, in bus.db.
#include "orderly/adapters/embedded/durable_bus.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <exception>

#include "orderly/platform/log.hpp"
#include "orderly/platform/metrics.hpp"
#include "orderly/platform/thread_name.hpp"
#include "orderly/platform/unit_of_work.hpp"
#include "sql_helpers.hpp"

namespace orderly::adapters::embedded {

namespace json = boost::json;
using platform::ErrorKind;
using platform::Millis;
using platform::Outcome;
using platform::TimePoint;
using platform::to_unix_ms;
using sql::bounded;
using sql::for_each_row;
using sql::run;
using sql::scalar;

namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS archive (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  archived_at INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS archive_time ON archive(archived_at);
-- Failed deliveries that were retried (not the successes: those are most of
-- them), so that an order's retries can be shown where they happened (the
-- console's swimlane). Written only on a failure, pruned with the archive.
CREATE TABLE IF NOT EXISTS failures (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  rule TEXT NOT NULL,
  event_id TEXT NOT NULL,
  receive_count INTEGER NOT NULL,
  error TEXT NOT NULL,
  failed_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS failures_event ON failures(event_id);
CREATE INDEX IF NOT EXISTS failures_time ON failures(failed_at);
-- A message points at its event's archive row instead of copying the body:
-- rows stay small, so receive and settle rewrite little. The archive keeps a
-- row while any message points at it, whatever the retention.
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  rule TEXT NOT NULL,
  seq INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  visible_at INTEGER NOT NULL,
  inflight INTEGER NOT NULL DEFAULT 0,
  receive_count INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  enqueued_at INTEGER NOT NULL,
  UNIQUE (rule, event_id)
);
CREATE INDEX IF NOT EXISTS messages_due ON messages(rule, visible_at);
CREATE INDEX IF NOT EXISTS messages_seq ON messages(seq);
CREATE TABLE IF NOT EXISTS dlq (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  rule TEXT NOT NULL,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,
  receive_count INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  enqueued_at INTEGER NOT NULL,
  dead_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dlq_rule ON dlq(rule, id);
)";

}  // namespace

DurableBus::DurableBus(std::unique_ptr<Db> db, DurableBusOptions options)
    : db_(std::move(db)),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : &platform::SystemClock::instance()),
      rng_(options_.seed ? *options_.seed : std::random_device{}()) {}

Result<std::unique_ptr<DurableBus>> DurableBus::open(DurableBusOptions options) {
  if (options.path.empty())
    return platform::fail(ErrorKind::invalid_input, "bus: no database path");
  if (options.workers < 1 || options.workers > 64)
    return platform::fail(ErrorKind::invalid_input, "bus: workers must be 1..64");
  auto db = Db::open(options.path, options.durability);
  if (!db) return tl::unexpected(db.error());
  if (auto s = (*db)->exec(kSchema); !s) return tl::unexpected(s.error());
  // The archive's correlation id (an order's saga: the id of its OrderPlaced),
  // indexed so that one saga's events are found without a scan. Added in
  // place to archives made before the column existed.
  auto has = sql::scalar(**db,
                         "SELECT COUNT(*) FROM pragma_table_info('archive') "
                         "WHERE name = 'correlation'");
  if (!has) return tl::unexpected(has.error());
  if (*has == 0)
    if (auto s = (*db)->exec("ALTER TABLE archive ADD COLUMN correlation TEXT"); !s)
      return tl::unexpected(s.error());
  if (auto s = (*db)->exec("CREATE INDEX IF NOT EXISTS archive_correlation ON archive(correlation) "
                           "WHERE correlation IS NOT NULL");
      !s)
    return tl::unexpected(s.error());
  return std::unique_ptr<DurableBus>(new DurableBus(std::move(*db), std::move(options)));
}

DurableBus::~DurableBus() {
  stop();
  for (auto& o : outboxes_) o.source->remove_observer(o.observer);
}

Status DurableBus::subscribe(platform::Rule rule) {
  if (started_) return platform::fail(ErrorKind::invalid_input, "bus: subscribe before start()");
  if (auto s = platform::validate_rule(rule); !s) return s;
  if (rules_.count(rule.name))
    return platform::fail(ErrorKind::invalid_input, "bus: rule '{}' already subscribed", rule.name);
  platform::Backoff b{rule.options.backoff_base, rule.options.backoff_cap};
  auto name = rule.name;
  rules_.emplace(std::move(name), RuleState{std::move(rule), b});
  return {};
}

void DurableBus::attach_outbox(std::string name, OutboxSource& source) {
  const auto token = source.on_commit([this] {
    {
      std::lock_guard lk(relay_mu_);
      relay_pending_ = true;
    }
    relay_cv_.notify_one();
  });
  outboxes_.push_back({std::move(name), &source, token});
}

std::vector<std::string> DurableBus::rule_names() const {
  std::vector<std::string> out;
  for (const auto& [n, _] : rules_) out.push_back(n);
  return out;
}

void DurableBus::hook(std::string_view point) const {
  if (options_.fault_hook) options_.fault_hook(point);
}

void DurableBus::wake() {
  {
    std::lock_guard lk(wake_mu_);
    ++wake_seq_;
  }
  wake_cv_.notify_all();
}

// ---------------------------------------------------------------- relay

// Publishes outbox items into the archive and the rules' queues; the caller
// holds db_mu_ and a transaction.
Status DurableBus::publish_locked(const std::vector<platform::Item>& items, std::int64_t now) {
  for (const auto& item : items) {
    auto entry = platform::outbox_entry_from_item(item);
    if (!entry) {
      // Unreadable: keep it, with the reason, where an operator will see it, under
      // the type the item names, if it names one.
      const auto* t = item.attrs.if_contains("type");
      const std::string type = t && t->is_string() && !t->get_string().empty()
                                   ? std::string(t->get_string())
                                   : std::string("?");
      auto s = run(*db_,
                   "INSERT INTO dlq(rule, event_id, type, body, receive_count, last_error, "
                   "enqueued_at, dead_at) VALUES (?1, ?2, ?6, ?3, 0, ?4, ?5, ?5)",
                   std::string(kRelayDlq), item.sk, json::serialize(item.attrs),
                   bounded(entry.error().message), now, type);
      if (!s) return s;
      continue;
    }
    if (options_.redaction_for)
      if (auto r = options_.redaction_for(entry->event)) {
        if (auto n = redact_locked(*r); !n) return tl::unexpected(n.error());
        purge_pending_ = true;
      }
    const auto& stored = item.attrs.at("event");
    const std::string body =
        stored.is_string() ? std::string(stored.get_string()) : json::serialize(stored);
    auto s =
        run(*db_,
            "INSERT OR IGNORE INTO archive(event_id, type, archived_at, body, correlation) "
            "VALUES (?1, ?2, ?3, ?4, NULLIF(?5, ''))",
            entry->event.id, entry->event.type, now, body, entry->event.correlationid.value_or(""));
    if (!s) return s;
    if (db_->changes() == 0) continue;  // relayed before: the event id makes this idempotent
    const std::int64_t seq = db_->last_insert_rowid();
    const std::int64_t visible = entry->deliver_at ? to_unix_ms(*entry->deliver_at) : now;
    auto enqueue = [&](const std::string& rule) {
      return run(*db_,
                 "INSERT OR IGNORE INTO messages(rule, seq, event_id, type, visible_at, "
                 "enqueued_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                 rule, seq, entry->event.id, entry->event.type, visible, now);
    };
    if (entry->target_rule) {
      if (auto e = enqueue(*entry->target_rule); !e) return e;
    } else {
      const auto event_json = platform::to_json_object(entry->event);
      for (const auto& [name, rs] : rules_)
        if (rs.rule.pattern.matches(event_json))
          if (auto e = enqueue(name); !e) return e;
    }
  }
  return {};
}

Result<std::size_t> DurableBus::redact_locked(const platform::Redaction& r) {
  if (r.paths.empty()) return std::size_t{0};
  // json_replace(body, p1, ?, p2, ?, ...) changes only the paths present; the
  // WHERE clause keeps rows without any of them untouched.
  std::string replace = "json_replace(body";
  std::string present;
  for (std::size_t i = 0; i < r.paths.size(); ++i) {
    replace += fmt::format(", ?{}, ?1", i + 4);
    present += fmt::format("{}json_type(body, ?{}) IS NOT NULL", i ? " OR " : "", i + 4);
  }
  replace += ")";
  json::array subjects;
  for (const auto& s : r.subjects) subjects.emplace_back(s);
  const std::string subject_list = json::serialize(subjects);
  std::size_t changed = 0;
  for (const std::string table : {"archive", "dlq"}) {
    const std::string sql = fmt::format(
        "UPDATE {0} SET body = {1} WHERE json_valid(body) AND (json_extract(body, "
        "'$.data.customerId') = ?2 OR json_extract(body, '$.subject') IN (SELECT value FROM "
        "json_each(?3))) AND ({2})",
        table, replace, present);
    auto st = db_->prepare(sql);
    if (!st) return tl::unexpected(st.error());
    StmtGuard g(**st);
    g->bind(1, r.replacement);
    g->bind(2, r.customer_id);
    g->bind(3, subject_list);
    for (std::size_t i = 0; i < r.paths.size(); ++i) g->bind(static_cast<int>(i + 4), r.paths[i]);
    if (auto s = g->run(); !s) return tl::unexpected(s.error());
    changed += static_cast<std::size_t>(db_->changes());
  }
  // The relay's dead letters are outbox items that did not read as events, so
  // no path in them can be trusted: one that names the customer or one of the
  // subjects as a JSON string (bare, or escaped inside a string) loses its
  // whole body. Its id, type and error stay for the operator.
  {
    auto st = db_->prepare(
        "UPDATE dlq SET body = json_object('erased', ?1) WHERE rule = ?2 AND body NOT LIKE "
        "'{\"erased\":%' AND EXISTS (SELECT 1 FROM json_each(?3) AS n WHERE n.value <> '' AND "
        "(instr(body, '\"' || n.value || '\"') > 0 OR instr(body, '\\\"' || n.value || "
        "'\\\"') > 0))");
    if (!st) return tl::unexpected(st.error());
    json::array names = subjects;
    names.emplace_back(r.customer_id);
    StmtGuard g(**st);
    g->bind(1, r.replacement);
    g->bind(2, std::string(kRelayDlq));
    g->bind(3, json::serialize(names));
    if (auto s = g->run(); !s) return tl::unexpected(s.error());
    changed += static_cast<std::size_t>(db_->changes());
  }
  return changed;
}

Result<std::size_t> DurableBus::redact(const platform::Redaction& r) {
  std::lock_guard lk(db_mu_);
  std::size_t n = 0;
  {
    auto tx = Transaction::begin(*db_);
    if (!tx) return tl::unexpected(tx.error());
    auto changed = redact_locked(r);
    if (!changed) return changed;
    if (auto s = tx->commit(); !s) return tl::unexpected(s.error());
    n = *changed;
  }
  if (auto s = db_->purge_erased(); !s) return tl::unexpected(s.error());
  return n;
}

Status DurableBus::hand_over_checkpoints() {
  std::lock_guard lk(db_mu_);
  return db_->hand_over_checkpoints();
}

// One pass over every source: read each outbox, make those commits durable in
// their source (a power loss must not keep the events and lose the order that
// emitted them), publish all of them in one bus transaction, make that durable
// (the outbox delete must not outlive the insert), then delete them from the
// sources. A crash anywhere relays them again; the archive's unique event id
// ignores a second copy. One fsync per dirty source and one for the bus per
// pass, however many items.
Result<std::size_t> DurableBus::relay_once() {
  std::lock_guard pass(relay_pass_mu_);  // pause_relay() waits for a pass to end
  std::vector<std::pair<OutboxSource*, std::vector<platform::Item>>> batches;
  std::size_t total = 0;
  for (auto& o : outboxes_) {
    auto items = o.source->read_outbox(options_.relay_batch);
    if (!items) return tl::unexpected(items.error());
    if (items->empty()) continue;
    if (auto s = o.source->sync(); !s) return tl::unexpected(s.error());
    total += items->size();
    batches.emplace_back(o.source, std::move(*items));
  }
  if (batches.empty()) return std::size_t{0};

  hook("relay.before_publish");
  std::optional<Db::SyncPoint> point;
  bool erasure_in_pass = false;
  {
    std::lock_guard lk(db_mu_);
    const std::int64_t now = to_unix_ms(clock_->now());
    auto tx = Transaction::begin(*db_);
    if (!tx) return tl::unexpected(tx.error());
    for (const auto& [source, items] : batches)
      if (auto s = publish_locked(items, now); !s) return tl::unexpected(s.error());
    if (auto s = tx->commit(); !s) return tl::unexpected(s.error());
    // An erasure's redaction reaches the file before a rule can receive the
    // erasure (receive() takes db_mu_). If this fails, the pass fails, the
    // items stay in their outboxes, and the next pass redacts again.
    if (purge_pending_) {
      if (auto s = db_->purge_erased(); !s) return tl::unexpected(s.error());
      purge_pending_ = false;
      erasure_in_pass = true;
    }
    auto p = db_->sync_point();
    if (!p) return tl::unexpected(p.error());
    point = *p;
  }
  wake();  // the messages are committed: workers may receive them while the fsync runs
  // The fsync runs without the bus's lock; the outbox deletes wait for it.
  if (point)
    if (auto s = db_->sync_to(*point); !s) return tl::unexpected(s.error());
  hook("relay.after_publish");

  for (const auto& [source, items] : batches)
    if (auto s = source->remove_outbox(items); !s) return tl::unexpected(s.error());
  // An erasure went out in this pass: the events removed from the outboxes in
  // it, or before (older ids are relayed first), may hold the personal data it
  // erases. Purged before the pass ends, so before any answer to the erasure
  // can be relayed (this thread relays them).
  if (erasure_in_pass)
    for (auto& o : outboxes_)
      if (auto s = o.source->purge_outbox(); !s) return tl::unexpected(s.error());
  return total;
}

// ---------------------------------------------------------------- delivery

Result<std::vector<DurableBus::Received>> DurableBus::receive(const RuleState& r) {
  std::vector<Received> out;
  std::lock_guard lk(db_mu_);
  const std::int64_t now = to_unix_ms(clock_->now());
  {
    auto st = db_->prepare(
        "SELECT m.id, m.event_id, a.body, m.receive_count FROM messages m "
        "LEFT JOIN archive a ON a.seq = m.seq "
        "WHERE m.rule = ?1 AND m.visible_at <= ?2 ORDER BY m.visible_at LIMIT ?3");
    if (!st) return tl::unexpected(st.error());
    StmtGuard g(**st);
    g->bind(1, r.rule.name);
    g->bind(2, now);
    g->bind(3, std::int64_t{r.rule.options.batch_size});
    for (;;) {
      auto row = g->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      out.push_back({g->column_int64(0), std::string(g->column_text(1)),
                     std::string(g->column_text(2)), static_cast<int>(g->column_int64(3)) + 1});
    }
  }
  if (out.empty()) return out;
  auto tx = Transaction::begin(*db_);
  if (!tx) return tl::unexpected(tx.error());
  const std::int64_t invisible_until = now + r.rule.options.visibility_timeout.count();
  std::vector<Received> deliver;
  deliver.reserve(out.size());
  for (auto& m : out) {
    // As on SQS, the receive count alone decides: a message received
    // max_receive_count times without being settled (its consumer crashed or
    // timed out each time) goes to the DLQ instead of being received again.
    if (m.receive_count > r.rule.options.max_receive_count) {
      auto s = move_to_dlq(m.id, fmt::format("received {} times without being settled (the "
                                             "consumer crashed or timed out each time)",
                                             m.receive_count - 1));
      if (!s) return tl::unexpected(s.error());
      continue;
    }
    auto s = run(*db_,
                 "UPDATE messages SET visible_at = ?1, inflight = 1, receive_count = ?2 "
                 "WHERE id = ?3",
                 invisible_until, std::int64_t{m.receive_count}, m.id);
    if (!s) return tl::unexpected(s.error());
    deliver.push_back(std::move(m));
  }
  if (auto s = tx->commit(); !s) return tl::unexpected(s.error());
  return deliver;
}

Status DurableBus::move_to_dlq(std::int64_t id, const std::string& error) {
  const std::int64_t now = to_unix_ms(clock_->now());
  if (auto s = run(*db_,
                   "INSERT INTO dlq(rule, event_id, type, body, receive_count, last_error, "
                   "enqueued_at, dead_at) SELECT m.rule, m.event_id, m.type, "
                   "COALESCE(a.body, ''), m.receive_count, ?1, m.enqueued_at, ?2 "
                   "FROM messages m LEFT JOIN archive a ON a.seq = m.seq WHERE m.id = ?3",
                   bounded(error), now, id);
      !s)
    return s;
  return run(*db_, "DELETE FROM messages WHERE id = ?1", id);
}

// An acknowledgement must not outlive the effect it acknowledges: the
// handlers' commits are made durable before the messages are deleted. A
// rule's handlers write their owner's store; a rule named after no source may
// write any of them. Each source is synced once however many rules need it.
Status DurableBus::sync_for(const std::vector<const PendingSettle*>& pending) {
  std::vector<OutboxSource*> sources;
  for (const auto* p : pending) {
    const bool any_ok =
        std::any_of(p->settlements.begin(), p->settlements.end(),
                    [](const Settlement& st) { return st.result.outcome == Outcome::ok; });
    if (!any_ok) continue;
    OutboxSource* owner = owner_of(p->rule->rule.name);
    for (auto& o : outboxes_)
      if ((!owner || o.source == owner) &&
          std::find(sources.begin(), sources.end(), o.source) == sources.end())
        sources.push_back(o.source);
  }
  for (auto* source : sources)
    if (auto s = source->sync(); !s) return s;
  return {};
}

// The caller holds db_mu_ and a transaction.
Status DurableBus::apply_settlements_locked(const RuleState& r,
                                            const std::vector<Settlement>& settlements,
                                            std::int64_t now) {
  for (const auto& st : settlements) {
    // The receive count is the receipt: if the visibility timeout ran out and
    // the message was received again, this settlement is stale and ignored.
    if (st.result.outcome == Outcome::ok) {
      if (auto s = run(*db_, "DELETE FROM messages WHERE id = ?1 AND receive_count = ?2", st.id,
                       std::int64_t{st.receive_count});
          !s)
        return s;
      continue;
    }
    auto current = scalar(*db_, "SELECT receive_count FROM messages WHERE id = ?1", st.id);
    if (!current) return tl::unexpected(current.error());
    if (*current != st.receive_count) continue;
    Status s;
    switch (st.result.outcome) {
      case Outcome::ok:
        break;
      case Outcome::retry:
        if (st.receive_count >= r.rule.options.max_receive_count) {
          s = move_to_dlq(st.id, fmt::format("gave up after {} receives: {}", st.receive_count,
                                             st.result.error));
        } else {
          const auto delay = r.backoff.delay(st.receive_count, rng_);
          s = run(
              *db_,
              "UPDATE messages SET visible_at = ?1, inflight = 0, last_error = ?2 WHERE id = ?3",
              now + delay.count(), bounded(st.result.error), st.id);
          if (s)
            s = run(*db_,
                    "INSERT INTO failures(rule, event_id, receive_count, error, failed_at) "
                    "SELECT rule, event_id, receive_count, ?2, ?3 FROM messages WHERE id = ?1",
                    st.id, bounded(st.result.error), now);
        }
        break;
      case Outcome::fail:
        s = move_to_dlq(st.id, st.result.error);
        break;
    }
    if (!s) return s;
  }
  return {};
}

// Group settlement: one sync per source and one bus transaction for every
// batch in `pending`, whatever their rules.
Status DurableBus::settle_all(const std::vector<const PendingSettle*>& pending) {
  if (pending.empty()) return {};
  if (auto s = sync_for(pending); !s) return s;
  std::lock_guard lk(db_mu_);
  const std::int64_t now = to_unix_ms(clock_->now());
  auto tx = Transaction::begin(*db_);
  if (!tx) return tl::unexpected(tx.error());
  for (const auto* p : pending)
    if (auto s = apply_settlements_locked(*p->rule, p->settlements, now); !s) return s;
  return tx->commit();
}

Status DurableBus::settle(const RuleState& r, const std::vector<Settlement>& settlements) {
  const PendingSettle one{&r, settlements};
  return settle_all({&one});
}

// The source a rule's handlers write: "payments.on-order-placed" belongs to
// the source attached as "payments". Null for a rule named after no source.
OutboxSource* DurableBus::owner_of(std::string_view rule) const {
  const std::string_view owner = rule.substr(0, rule.find('.'));
  for (const auto& o : outboxes_)
    if (o.name == owner) return o.source;
  return nullptr;
}

const platform::Rule* DurableBus::rule(const std::string& name) const {
  auto it = rules_.find(name);
  return it == rules_.end() ? nullptr : &it->second.rule;
}

Result<std::optional<DurableBus::InFlight>> DurableBus::begin_delivery(const std::string& rule) {
  auto it = rules_.find(rule);
  if (it == rules_.end()) return platform::fail(ErrorKind::not_found, "bus: no rule '{}'", rule);
  auto received = receive(it->second);
  if (!received) return tl::unexpected(received.error());
  if (received->empty()) return std::optional<InFlight>{};
  InFlight out;
  out.rule = rule;
  for (auto& m : *received) {
    auto e = m.body.empty() ? platform::fail(ErrorKind::permanent, "archived event body is missing")
                            : platform::parse_event(m.body);
    if (!e) {
      out.malformed.emplace_back(m.id, m.receive_count);
      out.malformed_errors.push_back("malformed event: " + e.error().message);
      continue;
    }
    out.batch.push_back({std::move(*e), std::to_string(m.id), m.receive_count});
    out.ids.push_back(m.id);
    out.receive_counts.push_back(m.receive_count);
  }
  return std::optional<InFlight>{std::move(out)};
}

std::vector<DurableBus::Settlement> DurableBus::settlements_for(
    const InFlight& in_flight, const std::vector<platform::DeliveryResult>& results) {
  std::vector<Settlement> settlements;
  for (std::size_t k = 0; k < in_flight.malformed.size(); ++k)
    settlements.push_back({in_flight.malformed[k].first, in_flight.malformed[k].second,
                           platform::DeliveryResult::fail(in_flight.malformed_errors[k])});
  for (std::size_t j = 0; j < in_flight.batch.size(); ++j) {
    platform::DeliveryResult r = j < results.size()
                                     ? results[j]
                                     : platform::DeliveryResult::retry(fmt::format(
                                           "handler returned {} results for {} messages",
                                           results.size(), in_flight.batch.size()));
    settlements.push_back({in_flight.ids[j], in_flight.receive_counts[j], std::move(r)});
  }
  return settlements;
}

Status DurableBus::finish_delivery(const InFlight& in_flight,
                                   const std::vector<platform::DeliveryResult>& results) {
  auto it = rules_.find(in_flight.rule);
  if (it == rules_.end())
    return platform::fail(ErrorKind::not_found, "bus: no rule '{}'", in_flight.rule);
  return settle(it->second, settlements_for(in_flight, results));
}

Result<std::size_t> DurableBus::deliver_once(const std::string& rule) {
  return deliver(rule, false);
}

// One batch of `rule`: receive, run the handler, settle. The worker threads
// hand the settlement to the settle thread (async), which syncs the stores
// and settles every batch waiting in one transaction, while the worker goes on
// to the next batch: the fsync an acknowledgement needs is shared by all.
Result<std::size_t> DurableBus::deliver(const std::string& rule, bool async) {
  auto in_flight = begin_delivery(rule);
  if (!in_flight) return tl::unexpected(in_flight.error());
  if (!*in_flight) return std::size_t{0};
  const auto& f = **in_flight;
  hook("consume.before_handler");
  std::vector<platform::DeliveryResult> results;
  if (!f.batch.empty()) {
    // Group commit: the batch's units of work go into one transaction of the
    // owner's store, each under its own savepoint. If that commit fails, none
    // of them happened, and every message is retried.
    OutboxSource* group = options_.group_commit ? owner_of(rule) : nullptr;
    if (group && !group->begin_group()) group = nullptr;  // then each commits on its own
    try {
      results = rules_.at(rule).rule.handler(f.batch);
    } catch (const std::exception& ex) {
      results.assign(f.batch.size(),
                     platform::DeliveryResult::retry(std::string("exception: ") + ex.what()));
    } catch (...) {
      results.assign(f.batch.size(), platform::DeliveryResult::retry("exception: unknown"));
    }
    if (group) {
      if (auto s = group->end_group(); !s)
        results.assign(f.batch.size(), platform::DeliveryResult::retry("group commit failed: " +
                                                                       s.error().describe()));
    }
  }
  hook("consume.before_ack");
  if (async) {
    enqueue_settlement({&rules_.at(rule), settlements_for(f, results)});
  } else if (auto s = finish_delivery(f, results); !s) {
    return tl::unexpected(s.error());
  }
  return f.batch.size() + f.malformed.size();
}

Result<std::size_t> DurableBus::pump() {
  auto relayed = relay_once();
  if (!relayed) return relayed;
  std::size_t total = *relayed;
  for (const auto& [name, _] : rules_) {
    auto n = deliver_once(name);
    if (!n) return n;
    total += *n;
  }
  return total;
}

Result<std::size_t> DurableBus::run_until_idle(int max_rounds) {
  std::size_t total = 0;
  for (int i = 0; i < max_rounds; ++i) {
    auto n = pump();
    if (!n) return n;
    if (*n == 0) return total;
    total += *n;
  }
  return platform::fail(ErrorKind::transient, "bus: still busy after {} rounds", max_rounds);
}

// ---------------------------------------------------------------- threads

std::optional<TimePoint> DurableBus::next_due() {
  std::lock_guard lk(db_mu_);
  std::optional<std::int64_t> best;
  for (const auto& [name, _] : rules_) {
    auto st = db_->prepare("SELECT MIN(visible_at) FROM messages WHERE rule = ?1");
    if (!st) return std::nullopt;
    StmtGuard g(**st);
    g->bind(1, name);
    auto row = g->step();
    if (row && *row && !g->column_is_null(0)) {
      const auto v = g->column_int64(0);
      if (!best || v < *best) best = v;
    }
  }
  if (!best) return std::nullopt;
  return platform::from_unix_ms(*best);
}

void DurableBus::worker_loop(std::size_t index) {
  std::vector<std::string> names = rule_names();
  if (names.empty()) return;
  while (!stopping_) {
    std::uint64_t seen;
    {
      std::lock_guard lk(wake_mu_);
      seen = wake_seq_;
    }
    bool busy = false, failed = false;
    const std::size_t start = next_rule_.fetch_add(1) + index;
    for (std::size_t i = 0; i < names.size() && !stopping_; ++i) {
      auto n = deliver(names[(start + i) % names.size()], true);
      if (!n) {
        loop_failed("worker", n.error());
        failed = true;
      }
      busy = busy || (n && *n > 0);
    }
    // A pass over every rule without an error: the workers are alive (/readyz).
    if (!failed) worker_ok_ms_.store(to_unix_ms(clock_->now()), std::memory_order_relaxed);
    if (busy || stopping_) continue;
    Millis wait = options_.idle_poll;
    if (auto due = next_due()) wait = std::clamp(*due - clock_->now(), Millis{0}, wait);
    if (wait.count() == 0) continue;
    std::unique_lock lk(wake_mu_);
    wake_cv_.wait_for(lk, wait, [&] { return stopping_ || wake_seq_ != seen; });
  }
}

void DurableBus::enqueue_settlement(PendingSettle p) {
  std::unique_lock lk(settle_mu_);
  // Bounded: workers wait for the settle thread rather than pile up batches.
  settle_space_cv_.wait(lk, [&] { return settle_queue_.size() < kMaxPendingSettles; });
  settle_queue_.push_back(std::move(p));
  lk.unlock();
  settle_cv_.notify_one();
}

void DurableBus::settle_loop() {
  std::vector<PendingSettle> batch;
  for (;;) {
    {
      std::unique_lock lk(settle_mu_);
      settle_cv_.wait(lk, [&] { return settle_stop_ || !settle_queue_.empty(); });
      if (settle_queue_.empty()) return;  // stopping, and nothing left
      batch.swap(settle_queue_);
    }
    settle_space_cv_.notify_all();
    std::vector<const PendingSettle*> all;
    all.reserve(batch.size());
    for (const auto& p : batch) all.push_back(&p);
    // On failure the messages stay in flight and come back after their
    // visibility timeout; their handlers' inbox markers make that harmless.
    if (auto s = settle_all(all); !s) loop_failed("settle", s.error());
    batch.clear();
  }
}

void DurableBus::housekeeping() {
  const auto now = clock_->now();
  if (now - last_housekeeping_ < options_.housekeeping_every) return;
  last_housekeeping_ = now;
  (void)prune_archive();
  for (auto& o : outboxes_) (void)o.source->sweep_expired();
}

DurableBus::LoopHealth DurableBus::relay_health() const {
  std::lock_guard lk(health_mu_);
  return relay_health_;
}

DurableBus::LoopHealth DurableBus::worker_health() const {
  std::lock_guard lk(health_mu_);
  auto h = worker_health_;
  h.last_ok_ms = std::max(h.last_ok_ms, worker_ok_ms_.load(std::memory_order_relaxed));
  return h;
}

// A loop's error is never dropped: counted, kept for /readyz, and logged (at
// most every 5 s, so a persistent failure does not flood the log).
void DurableBus::loop_failed(const char* loop, const platform::Error& e) {
  static auto& errors = platform::metrics::registry().counter(
      "orderly_bus_loop_errors_total", "Errors in the bus's relay and worker loops", {"loop"});
  errors.with({loop}).inc();
  const std::int64_t now = to_unix_ms(clock_->now());
  bool log = false;
  {
    std::lock_guard lk(health_mu_);
    auto& h = std::string_view(loop) == "relay" ? relay_health_ : worker_health_;
    ++h.errors;
    h.last_error = e.describe();
    if (now - last_logged_ms_ >= 5'000) {
      last_logged_ms_ = now;
      log = true;
    }
  }
  if (log) platform::log::error("bus loop failed", {{"loop", loop}, {"error", e.describe()}});
}

void DurableBus::relay_loop() {
  while (!stopping_) {
    {
      std::lock_guard lk(relay_mu_);
      relay_pending_ = false;
    }
    auto n = relay_once();
    if (!n) {
      loop_failed("relay", n.error());
    } else {
      std::lock_guard lk(health_mu_);
      relay_health_.last_ok_ms = to_unix_ms(clock_->now());
    }
    if (n && *n > 0) continue;  // there may be more
    housekeeping();
    std::unique_lock lk(relay_mu_);
    relay_cv_.wait_for(lk, options_.idle_poll, [&] { return stopping_ || relay_pending_; });
  }
}

Status DurableBus::start() {
  if (started_.exchange(true))
    return platform::fail(ErrorKind::invalid_input, "bus: started twice");
  if (auto r = recover_in_flight(); !r) return tl::unexpected(r.error());
  {
    // Healthy from the start: stalled means no good pass for a while since then.
    std::lock_guard lk(health_mu_);
    relay_health_.last_ok_ms = worker_health_.last_ok_ms = to_unix_ms(clock_->now());
  }
  threads_.emplace_back([this] {
    platform::name_this_thread("bus-relay");
    relay_loop();
  });
  settle_thread_ = std::thread([this] {
    platform::name_this_thread("bus-settle");
    settle_loop();
  });
  for (int i = 0; i < options_.workers; ++i)
    threads_.emplace_back([this, i] {
      platform::name_this_thread(fmt::format("bus-worker-{}", i));
      worker_loop(static_cast<std::size_t>(i));
    });
  return {};
}

Result<std::size_t> DurableBus::recover_in_flight() {
  std::lock_guard lk(db_mu_);
  auto s = run(*db_,
               "UPDATE messages SET visible_at = MIN(visible_at, ?1), inflight = 0 "
               "WHERE inflight = 1",
               to_unix_ms(clock_->now()));
  if (!s) return tl::unexpected(s.error());
  return static_cast<std::size_t>(db_->changes());
}

void DurableBus::stop() {
  if (!started_ || stopping_.exchange(true)) return;
  wake();
  {
    std::lock_guard lk(relay_mu_);
    relay_pending_ = true;
  }
  relay_cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  {
    std::lock_guard lk(settle_mu_);
    settle_stop_ = true;
  }
  settle_cv_.notify_all();
  if (settle_thread_.joinable()) settle_thread_.join();  // settles what the workers left
  (void)relay_once();  // flush what services committed during shutdown
}

}  // namespace orderly::adapters::embedded
