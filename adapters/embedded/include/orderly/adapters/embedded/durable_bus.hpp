// DurableBus: the Bus port on SQLite (bus.db), with the semantics of
// EventBridge rules feeding SQS queues.
//
//   auto bus = DurableBus::open({.path = dir + "/bus.db", .durability = Durability::normal});
//   (*bus)->attach_outbox("orders", *orders_store);   // relay an OutboxSource's outbox
//   (*bus)->subscribe(rule);                          // before start()
//   (*bus)->start();                                  // relay + worker threads
//   ...
//   (*bus)->stop();                                   // finishes in-flight handlers
//
// Tests drive it without threads: pump() relays, then delivers one batch per
// rule, all on the calling thread, against an injected ManualClock.
//
// Tables: archive (every published event once, keyed by event id, which is
// also what makes the relay idempotent), messages (one row per rule and
// event: visible_at, receive_count, last_error) and dlq (dead letters with
// their last error and attempt count). A message is received by moving its
// visible_at forward by the visibility timeout; an ack deletes it; a retry
// sets visible_at to now + full-jitter backoff; at max_receive_count, or on
// a permanent failure, it moves to dlq. On start() messages left in flight by
// a crashed process become visible again at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "orderly/adapters/embedded/outbox_source.hpp"
#include "orderly/adapters/embedded/sqlite.hpp"
#include "orderly/adapters/embedded/sqlite_item_store.hpp"  // the OutboxSource callers attach
#include "orderly/platform/backoff.hpp"
#include "orderly/platform/bus.hpp"
#include "orderly/platform/clock.hpp"

namespace orderly::adapters::embedded {

// The DLQ of outbox items the relay could not read (kept for inspection).
inline constexpr std::string_view kRelayDlq = "$relay";

struct DurableBusOptions {
  std::string path;  // bus.db
  Durability durability = Durability::normal;
  const platform::Clock* clock = nullptr;  // defaults to the system clock
  int workers = 2;
  platform::Millis archive_retention{7LL * 24 * 3600 * 1000};
  platform::Millis idle_poll{100};              // upper bound on a worker's sleep
  platform::Millis housekeeping_every{60'000};  // archive pruning and TTL sweeps
  std::size_t relay_batch = 512;
  // A batch's handlers run as one transaction of the rule's owner (each unit
  // of work under its own savepoint). Off, each write commits on its own, as on
  // DynamoDB: a test that races two copies of one delivery inside one handler
  // call turns it off, since the group's store lock would serialize them.
  bool group_commit = true;
  std::optional<std::uint64_t> seed;  // jitter RNG seed; random when absent
  // Called at named points ("relay.before_publish", "relay.after_publish",
  // "consume.before_handler", "consume.before_ack"). Crash tests kill the
  // process here; production leaves it empty.
  std::function<void(std::string_view point)> fault_hook;
  // Erasure (docs/adr/0017): for an event that asks for one (the hosts pass
  // contracts::redaction_for), what to redact in the archive, and with it the
  // queued messages, and in the dead letters. Applied when the event is
  // published, in the same transaction, and checkpointed into bus.db before
  // any rule can receive it: no service answers an erasure the bus has not
  // made.
  std::function<std::optional<platform::Redaction>(const platform::CloudEvent&)> redaction_for;
};

struct DeadLetter {
  std::int64_t id = 0;
  std::string rule;
  std::string event_id;
  std::string event_type;
  std::string body;
  int receive_count = 0;
  std::string last_error;
  platform::TimePoint dead_at;
};

struct ArchivedEvent {
  std::int64_t seq = 0;  // increases in publish order
  std::string event_id, type, body;
  platform::TimePoint archived_at;
};

struct QueueStats {
  std::int64_t ready = 0;          // visible now
  std::int64_t delayed = 0;        // waiting for a timer or a backoff
  std::int64_t in_flight = 0;      // received, not yet settled
  std::int64_t dead = 0;           // in the DLQ
  std::int64_t oldest_age_ms = 0;  // of the oldest visible or in-flight message, 0 if none
};

// A delivery that failed and was retried (the `failures` table).
struct DeliveryFailure {
  std::string rule, event_id;
  int receive_count = 0;
  std::string error;
  platform::TimePoint at;
};

// A message still queued: waiting, backing off or in flight.
struct PendingDelivery {
  std::string rule, event_id;
  int receive_count = 0;
  bool in_flight = false;
  std::string last_error;
  platform::TimePoint visible_at;
};

// Everything the bus holds of one correlation id (one order's saga): its
// events in publish order, their failed deliveries, what is still queued, and
// the dead letters.
struct Correlated {
  std::vector<ArchivedEvent> events;
  std::vector<DeliveryFailure> failures;
  std::vector<PendingDelivery> pending;
  std::vector<DeadLetter> dead;
};

class DurableBus final : public platform::Bus {
 public:
  static Result<std::unique_ptr<DurableBus>> open(DurableBusOptions options);
  ~DurableBus() override;
  DurableBus(const DurableBus&) = delete;
  DurableBus& operator=(const DurableBus&) = delete;

  // Rules must be subscribed before start(); a second rule with the same name is an error.
  Status subscribe(platform::Rule rule) override;
  // Relay this source's outbox onto the bus (and sweep its TTLs). The source
  // (e.g. a SqliteItemStore) must outlive the bus.
  void attach_outbox(std::string name, OutboxSource& source);

  // --- one step at a time, on the calling thread ---
  Result<std::size_t> relay_once();                           // outbox items moved
  Result<std::size_t> deliver_once(const std::string& rule);  // messages settled
  Result<std::size_t> pump();                                 // relay + one batch per rule
  Result<std::size_t> run_until_idle(int max_rounds = 10'000);
  // Makes messages a dead process left in flight visible now; start() calls it.
  Result<std::size_t> recover_in_flight();

  // deliver_once in two halves, for a scheduler that runs the handler itself
  // (the deterministic simulator): receive a batch of `rule` (the receive
  // count is the receipt), then settle it with the handler's results. The
  // receipt makes a stale settlement (the message was received again after
  // its visibility timeout) a no-op, as on SQS.
  struct InFlight {
    std::string rule;
    std::vector<platform::Delivery> batch;                // what the handler gets
    std::vector<std::int64_t> ids;                        // message id of each delivery
    std::vector<int> receive_counts;                      // the receipt of each delivery
    std::vector<std::pair<std::int64_t, int>> malformed;  // settled as failed right away
    std::vector<std::string> malformed_errors;
  };
  Result<std::optional<InFlight>> begin_delivery(const std::string& rule);
  Status finish_delivery(const InFlight& in_flight,
                         const std::vector<platform::DeliveryResult>& results);
  const platform::Rule* rule(const std::string& name) const;

  // --- threads ---
  Status start();
  void stop();  // idempotent; in-flight batches finish and settle first

  // --- operations ---
  Result<std::vector<DeadLetter>> dead_letters(const std::string& rule = {},
                                               std::size_t limit = 100);
  // Every dead letter of `rule`, or only the one with id `only_id`
  // (not_found if it is not there).
  Result<std::size_t> redrive(const std::string& rule, std::int64_t only_id = 0);
  Result<std::size_t> replay(const std::string& rule, platform::TimePoint from,
                             platform::TimePoint to);
  Result<std::size_t> prune_archive();
  // Applies `r` to the archive (so to queued messages too) and the dead
  // letters, then purges bus.db's free space (Db::purge_erased). Returns how
  // many copies changed.
  Result<std::size_t> redact(const platform::Redaction& r);
  // bus.db's commits stop checkpointing the WAL: a Checkpointer does it.
  Status hand_over_checkpoints();
  [[nodiscard]] const std::string& path() const { return options_.path; }
  Result<QueueStats> stats(const std::string& rule);
  Result<std::int64_t> backlog();  // messages not yet delivered, all rules
  Result<std::int64_t> archived_count();
  // Archived events after `after_seq`, oldest first (for tailing and exports).
  Result<std::vector<ArchivedEvent>> archive_since(std::int64_t after_seq,
                                                   std::size_t limit = 1000);
  // Archived events of `type`, newest first: before seq `before_seq` (0: from
  // the newest) and archived at or after `not_before_ms` (Unix ms).
  Result<std::vector<ArchivedEvent>> latest_of_type(const std::string& type,
                                                    std::int64_t before_seq,
                                                    std::int64_t not_before_ms, std::size_t limit);
  // Holds the relay between two passes until the lock is released: nothing
  // leaves an outbox meanwhile (deliveries and handlers go on). A backup takes
  // the bus, then the stores, under it: an event is then either in the bus
  // copy or still in its producer's outbox in the store copy, never in neither.
  [[nodiscard]] std::unique_lock<std::mutex> pause_relay() {
    return std::unique_lock<std::mutex>(relay_pass_mu_);
  }
  // One correlation id's events, failures, queued messages and dead letters.
  Result<Correlated> correlated(const std::string& correlation, std::size_t limit = 500);
  [[nodiscard]] std::vector<std::string> rule_names() const;
  // The source a rule's handlers write, found by the rule's name:
  // "payments.events" belongs to the source attached as "payments". Its
  // handlers run as one group commit of that source, and only it is synced
  // before their acknowledgements. Null for a rule named after no source: each
  // write then commits alone, and every source is synced.
  [[nodiscard]] OutboxSource* owner_of(std::string_view rule) const;

  // The relay's and the workers' health: when one last completed a pass
  // without an error (the start time before its first), and the last error.
  // A loop that keeps failing is a stalled bus: /readyz reports it (errors are
  // also logged and counted in orderly_bus_loop_errors_total{loop}).
  struct LoopHealth {
    std::int64_t last_ok_ms = 0;
    std::int64_t errors = 0;
    std::string last_error;
  };
  [[nodiscard]] LoopHealth relay_health() const;
  [[nodiscard]] LoopHealth worker_health() const;

 private:
  struct RuleState {
    platform::Rule rule;
    platform::Backoff backoff;
  };
  struct Received {
    std::int64_t id;
    std::string event_id;
    std::string body;
    int receive_count;
  };
  struct Settlement {
    std::int64_t id;
    int receive_count;
    platform::DeliveryResult result;
  };

  struct PendingSettle {
    const RuleState* rule;
    std::vector<Settlement> settlements;
  };
  static constexpr std::size_t kMaxPendingSettles = 256;

  explicit DurableBus(std::unique_ptr<Db> db, DurableBusOptions options);
  Result<std::size_t> deliver(const std::string& rule, bool async);
  std::vector<Settlement> settlements_for(const InFlight& in_flight,
                                          const std::vector<platform::DeliveryResult>& results);
  Status sync_for(const std::vector<const PendingSettle*>& pending);
  Status apply_settlements_locked(const RuleState& r, const std::vector<Settlement>& settlements,
                                  std::int64_t now);
  Status settle_all(const std::vector<const PendingSettle*>& pending);
  void enqueue_settlement(PendingSettle p);
  void settle_loop();
  Status publish_locked(const std::vector<platform::Item>& items, std::int64_t now);
  Result<std::size_t> redact_locked(const platform::Redaction& r);
  bool purge_pending_ = false;  // guarded by db_mu_: a redaction awaits its checkpoint
  Result<std::vector<Received>> receive(const RuleState& r);
  Status settle(const RuleState& r, const std::vector<Settlement>& s);
  Status move_to_dlq(std::int64_t id, const std::string& error);
  void hook(std::string_view point) const;
  void worker_loop(std::size_t index);
  void loop_failed(const char* loop, const platform::Error& e);
  void relay_loop();
  void housekeeping();
  std::optional<platform::TimePoint> next_due();
  void wake();

  std::unique_ptr<Db> db_;
  DurableBusOptions options_;
  const platform::Clock* clock_;
  mutable std::mutex db_mu_;
  std::mt19937_64 rng_;  // guarded by db_mu_

  std::map<std::string, RuleState> rules_;
  struct Outbox {
    std::string name;
    OutboxSource* source;
    std::size_t observer;
  };
  std::vector<Outbox> outboxes_;
  platform::TimePoint last_housekeeping_{};

  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  std::uint64_t wake_seq_ = 0;  // guarded by wake_mu_
  std::mutex relay_pass_mu_;    // held for a whole relay pass; pause_relay() takes it
  std::mutex relay_mu_;
  std::condition_variable relay_cv_;
  bool relay_pending_ = false;  // guarded by relay_mu_
  std::vector<std::thread> threads_;
  // Settlements the workers handed over, settled by settle_thread_ in groups.
  std::mutex settle_mu_;
  std::condition_variable settle_cv_, settle_space_cv_;
  std::vector<PendingSettle> settle_queue_;  // guarded by settle_mu_
  bool settle_stop_ = false;                 // guarded by settle_mu_
  std::thread settle_thread_;
  mutable std::mutex health_mu_;
  LoopHealth relay_health_, worker_health_;    // guarded by health_mu_
  std::atomic<std::int64_t> worker_ok_ms_{0};  // a worker's last pass without an error
  std::int64_t last_logged_ms_ = 0;  // guarded by health_mu_: errors logged at most every 5 s
  std::atomic<std::size_t> next_rule_{0};
};

}  // namespace orderly::adapters::embedded
