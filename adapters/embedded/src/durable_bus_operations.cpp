// DurableBus operations: dead letters, redrive, replay, archive retention and
// queue statistics (what `orderly dlq`, `orderly events` and /readyz use).
#include <boost/json/parse.hpp>

#include "orderly/adapters/embedded/durable_bus.hpp"
#include "orderly/platform/log.hpp"
#include "orderly/platform/unit_of_work.hpp"
#include "sql_helpers.hpp"

namespace orderly::adapters::embedded {

namespace json = boost::json;
using platform::ErrorKind;
using platform::TimePoint;
using platform::to_unix_ms;
using sql::bounded;
using sql::for_each_row;
using sql::run;
using sql::scalar;

// ---------------------------------------------------------------- operations

Result<std::vector<DeadLetter>> DurableBus::dead_letters(const std::string& rule,
                                                         std::size_t limit) {
  std::lock_guard lk(db_mu_);
  std::vector<DeadLetter> out;
  auto s = for_each_row(
      *db_,
      "SELECT id, rule, event_id, type, body, receive_count, last_error, dead_at FROM dlq "
      "WHERE (?1 = '' OR rule = ?1) ORDER BY id LIMIT ?2",
      [&](Stmt& g) {
        out.push_back({g.column_int64(0), std::string(g.column_text(1)),
                       std::string(g.column_text(2)), std::string(g.column_text(3)),
                       std::string(g.column_text(4)), static_cast<int>(g.column_int64(5)),
                       std::string(g.column_text(6)), platform::from_unix_ms(g.column_int64(7))});
      },
      rule, static_cast<std::int64_t>(limit));
  if (!s) return tl::unexpected(s.error());
  return out;
}

Result<std::size_t> DurableBus::redrive(const std::string& rule, std::int64_t only_id) {
  if (rule == kRelayDlq)
    return platform::fail(ErrorKind::invalid_input,
                          "{} holds outbox items that could not be read; they cannot be "
                          "redriven, only inspected",
                          kRelayDlq);
  std::size_t moved = 0;
  {
    std::lock_guard lk(db_mu_);
    const std::int64_t now = to_unix_ms(clock_->now());
    auto tx = Transaction::begin(*db_);
    if (!tx) return tl::unexpected(tx.error());
    // A dead letter first enqueued longer ago than the inbox retention may
    // have had its effects committed (only its acknowledgement failed) and its
    // inbox marker expired since: redriving it could apply it twice. It stays
    // in the DLQ, for an operator to judge.
    const std::int64_t oldest = now - platform::kInboxRetention.count();
    // The archive may have pruned the event: the dead letter's copy restores it.
    if (auto s =
            run(*db_,
                "INSERT OR IGNORE INTO archive(event_id, type, archived_at, body, correlation) "
                "SELECT event_id, type, ?1, body, CASE WHEN json_valid(body) THEN "
                "json_extract(body, '$.correlationid') END FROM dlq WHERE rule = ?2 AND "
                "enqueued_at > ?3 AND (?4 = 0 OR id = ?4) ORDER BY id",
                now, rule, oldest, only_id);
        !s)
      return tl::unexpected(s.error());
    if (auto s = run(*db_,
                     "INSERT OR IGNORE INTO messages(rule, seq, event_id, type, visible_at, "
                     "enqueued_at) SELECT d.rule, a.seq, d.event_id, d.type, ?1, ?1 FROM dlq d "
                     "JOIN archive a ON a.event_id = d.event_id WHERE d.rule = ?2 AND "
                     "d.enqueued_at > ?3 AND (?4 = 0 OR d.id = ?4) ORDER BY d.id",
                     now, rule, oldest, only_id);
        !s)
      return tl::unexpected(s.error());
    if (auto s = run(*db_,
                     "DELETE FROM dlq WHERE rule = ?1 AND enqueued_at > ?2 AND (?3 = 0 OR id = ?3)",
                     rule, oldest, only_id);
        !s)
      return tl::unexpected(s.error());
    moved = static_cast<std::size_t>(db_->changes());
    if (only_id != 0 && moved == 0) {
      auto there =
          scalar(*db_, "SELECT COUNT(*) FROM dlq WHERE rule = ?1 AND id = ?2", rule, only_id);
      if (!there) return tl::unexpected(there.error());
      if (*there == 0)
        return platform::fail(ErrorKind::not_found, "no dead letter {} in {}", only_id, rule);
    }
    auto left = scalar(*db_, "SELECT COUNT(*) FROM dlq WHERE rule = ?1 AND (?2 = 0 OR id = ?2)",
                       rule, only_id);
    if (left && *left > 0)
      platform::log::warn("dead letters older than the inbox retention were not redriven",
                          {{"rule", rule}, {"left", *left}});
    if (auto s = tx->commit(); !s) return tl::unexpected(s.error());
  }
  wake();
  return moved;
}

Result<std::size_t> DurableBus::replay(const std::string& rule, TimePoint from, TimePoint to) {
  auto it = rules_.find(rule);
  if (it == rules_.end()) return platform::fail(ErrorKind::not_found, "bus: no rule '{}'", rule);
  std::size_t added = 0;
  {
    std::lock_guard lk(db_mu_);
    const std::int64_t now = to_unix_ms(clock_->now());
    auto tx = Transaction::begin(*db_);
    if (!tx) return tl::unexpected(tx.error());
    std::vector<std::tuple<std::int64_t, std::string, std::string>> hits;
    {
      auto st = db_->prepare(
          "SELECT seq, event_id, type, body FROM archive WHERE archived_at BETWEEN ?1 AND ?2 "
          "ORDER BY seq");
      if (!st) return tl::unexpected(st.error());
      StmtGuard g(**st);
      g->bind(1, to_unix_ms(from));
      g->bind(2, to_unix_ms(to));
      for (;;) {
        auto row = g->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        boost::system::error_code ec;
        auto v = json::parse(g->column_text(3), ec);
        if (ec || !v.is_object() || !it->second.rule.pattern.matches(v.get_object())) continue;
        hits.emplace_back(g->column_int64(0), g->column_text(1), g->column_text(2));
      }
    }
    for (const auto& [seq, id, type] : hits) {
      if (auto s = run(*db_,
                       "INSERT OR IGNORE INTO messages(rule, seq, event_id, type, visible_at, "
                       "enqueued_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                       rule, seq, id, type, now);
          !s)
        return tl::unexpected(s.error());
      added += static_cast<std::size_t>(db_->changes());
    }
    if (auto s = tx->commit(); !s) return tl::unexpected(s.error());
  }
  wake();
  return added;
}

Result<std::size_t> DurableBus::prune_archive() {
  std::lock_guard lk(db_mu_);
  const std::int64_t cutoff = to_unix_ms(clock_->now() - options_.archive_retention);
  if (auto s = run(*db_, "DELETE FROM failures WHERE failed_at < ?1", cutoff); !s)
    return tl::unexpected(s.error());
  if (auto s = run(*db_,
                   "DELETE FROM archive WHERE archived_at < ?1 "
                   "AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.seq = archive.seq)",
                   cutoff);
      !s)
    return tl::unexpected(s.error());
  return static_cast<std::size_t>(db_->changes());
}

Result<QueueStats> DurableBus::stats(const std::string& rule) {
  std::lock_guard lk(db_mu_);
  const std::int64_t now = to_unix_ms(clock_->now());
  QueueStats q;
  auto ready =
      scalar(*db_, "SELECT COUNT(*) FROM messages WHERE rule = ?1 AND visible_at <= ?2", rule, now);
  auto in_flight = scalar(
      *db_, "SELECT COUNT(*) FROM messages WHERE rule = ?1 AND visible_at > ?2 AND inflight = 1",
      rule, now);
  auto delayed = scalar(
      *db_, "SELECT COUNT(*) FROM messages WHERE rule = ?1 AND visible_at > ?2 AND inflight = 0",
      rule, now);
  auto dead = scalar(*db_, "SELECT COUNT(*) FROM dlq WHERE rule = ?1", rule);
  auto oldest = scalar(*db_,
                       "SELECT COALESCE(MIN(enqueued_at), 0) FROM messages WHERE rule = ?1 AND "
                       "(visible_at <= ?2 OR inflight = 1)",
                       rule, now);
  for (auto* r : {&ready, &in_flight, &delayed, &dead, &oldest})
    if (!*r) return tl::unexpected(r->error());
  q.oldest_age_ms = *oldest > 0 ? std::max<std::int64_t>(0, now - *oldest) : 0;
  q.ready = *ready;
  q.in_flight = *in_flight;
  q.delayed = *delayed;
  q.dead = *dead;
  return q;
}

Result<std::int64_t> DurableBus::backlog() {
  std::lock_guard lk(db_mu_);
  return scalar(*db_, "SELECT COUNT(*) FROM messages");
}

Result<std::vector<ArchivedEvent>> DurableBus::archive_since(std::int64_t after_seq,
                                                             std::size_t limit) {
  std::lock_guard lk(db_mu_);
  std::vector<ArchivedEvent> out;
  auto s = for_each_row(
      *db_,
      "SELECT seq, event_id, type, body, archived_at FROM archive WHERE seq > ?1 ORDER BY seq "
      "LIMIT ?2",
      [&](Stmt& g) {
        out.push_back({g.column_int64(0), std::string(g.column_text(1)),
                       std::string(g.column_text(2)), std::string(g.column_text(3)),
                       platform::from_unix_ms(g.column_int64(4))});
      },
      after_seq, static_cast<std::int64_t>(limit));
  if (!s) return tl::unexpected(s.error());
  return out;
}

Result<std::vector<ArchivedEvent>> DurableBus::latest_of_type(const std::string& type,
                                                              std::int64_t before_seq,
                                                              std::int64_t not_before_ms,
                                                              std::size_t limit) {
  std::lock_guard lk(db_mu_);
  std::vector<ArchivedEvent> out;
  auto s = for_each_row(
      *db_,
      "SELECT seq, event_id, type, body, archived_at FROM archive WHERE type = ?1 AND "
      "(?2 <= 0 OR seq < ?2) AND archived_at >= ?3 ORDER BY seq DESC LIMIT ?4",
      [&](Stmt& g) {
        out.push_back({g.column_int64(0), std::string(g.column_text(1)),
                       std::string(g.column_text(2)), std::string(g.column_text(3)),
                       platform::from_unix_ms(g.column_int64(4))});
      },
      type, before_seq, not_before_ms, static_cast<std::int64_t>(limit));
  if (!s) return tl::unexpected(s.error());
  return out;
}

Result<Correlated> DurableBus::correlated(const std::string& correlation, std::size_t limit) {
  std::lock_guard lk(db_mu_);
  Correlated out;
  // The saga's first event carries no correlation id of its own: it is the id.
  auto s = for_each_row(
      *db_,
      "SELECT seq, event_id, type, body, archived_at FROM archive WHERE correlation = ?1 "
      "UNION SELECT seq, event_id, type, body, archived_at FROM archive WHERE event_id = ?1 "
      "ORDER BY 1 LIMIT ?2",
      [&](Stmt& g) {
        out.events.push_back({g.column_int64(0), std::string(g.column_text(1)),
                              std::string(g.column_text(2)), std::string(g.column_text(3)),
                              platform::from_unix_ms(g.column_int64(4))});
      },
      correlation, static_cast<std::int64_t>(limit));
  if (!s) return tl::unexpected(s.error());
  for (const auto& e : out.events) {
    s = for_each_row(
        *db_,
        "SELECT rule, receive_count, error, failed_at FROM failures WHERE event_id = ?1 "
        "ORDER BY id",
        [&](Stmt& g) {
          out.failures.push_back(
              {std::string(g.column_text(0)), e.event_id, static_cast<int>(g.column_int64(1)),
               std::string(g.column_text(2)), platform::from_unix_ms(g.column_int64(3))});
        },
        e.event_id);
    if (!s) return tl::unexpected(s.error());
    s = for_each_row(
        *db_,
        "SELECT rule, receive_count, inflight, COALESCE(last_error, ''), visible_at FROM "
        "messages WHERE seq = ?1 ORDER BY id",
        [&](Stmt& g) {
          out.pending.push_back({std::string(g.column_text(0)), e.event_id,
                                 static_cast<int>(g.column_int64(1)), g.column_int64(2) != 0,
                                 std::string(g.column_text(3)),
                                 platform::from_unix_ms(g.column_int64(4))});
        },
        e.seq);
    if (!s) return tl::unexpected(s.error());
  }
  // The dead letters (a short table) whose event belongs to the saga.
  s = for_each_row(
      *db_,
      "SELECT id, rule, event_id, type, body, receive_count, last_error, dead_at FROM dlq "
      "WHERE event_id = ?1 OR (json_valid(body) AND json_extract(body, '$.correlationid') = ?1) "
      "ORDER BY id LIMIT ?2",
      [&](Stmt& g) {
        out.dead.push_back({g.column_int64(0), std::string(g.column_text(1)),
                            std::string(g.column_text(2)), std::string(g.column_text(3)),
                            std::string(g.column_text(4)), static_cast<int>(g.column_int64(5)),
                            std::string(g.column_text(6)),
                            platform::from_unix_ms(g.column_int64(7))});
      },
      correlation, static_cast<std::int64_t>(limit));
  if (!s) return tl::unexpected(s.error());
  return out;
}

Result<std::int64_t> DurableBus::archived_count() {
  std::lock_guard lk(db_mu_);
  return scalar(*db_, "SELECT COUNT(*) FROM archive");
}

}  // namespace orderly::adapters::embedded
