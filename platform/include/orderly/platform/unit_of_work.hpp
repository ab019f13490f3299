// UnitOfWork: state, outbox and inbox in one atomic transact_write.
//
//   UnitOfWork uow{clock};
//   uow.mark_processed(incoming, "payments.on-order-placed");  // inbox
//   uow.put(payment_item, Condition::not_exists());             // state
//   uow.emit(payment_authorized_event);                         // outbox
//   Status s = uow.commit(store);                               // all or nothing
//
// Never write state and then publish as a second step: events leave only
// through the outbox items written here, moved to the bus by a relay
// (embedded) or DynamoDB Streams (AWS). handle_once() wraps the inbox check
// and the conflict retry loop around a decision function.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orderly/platform/clock.hpp"
#include "orderly/platform/event.hpp"
#include "orderly/platform/item_store.hpp"

namespace orderly::platform {

inline constexpr std::string_view kOutboxPk = "OUTBOX";
// How long a consumer remembers an event it handled. It must outlive the
// longest redelivery: a message whose effects committed but whose
// acknowledgement never landed can reach the DLQ and be redriven later. On AWS
// a DLQ keeps messages 14 days (infra DLQ_RETENTION), well inside this; the
// embedded bus's redrive leaves behind dead letters older than this, which
// could otherwise be applied twice.
inline constexpr Millis kInboxRetention{30LL * 24 * 3600 * 1000};

// What the relay reads back from an outbox item.
struct OutboxEntry {
  CloudEvent event;
  std::optional<TimePoint> deliver_at;     // delayed delivery
  std::optional<std::string> target_rule;  // deliver to this rule only (timers)
};

Item outbox_item(const OutboxEntry& e);
Result<OutboxEntry> outbox_entry_from_item(const Item& item);
std::string inbox_pk(std::string_view event_id);

class UnitOfWork {
 public:
  explicit UnitOfWork(const Clock& clock) : clock_(&clock) {}

  void put(Item item, Condition c = {});
  void update(Update u);
  void remove(std::string pk, std::string sk, Condition c = {});
  void check(std::string pk, std::string sk, Condition c);

  // Publish after commit, to every rule whose pattern matches.
  void emit(CloudEvent e);
  // Deliver to one rule at a time (saga timeouts, simulators).
  void schedule(CloudEvent e, TimePoint at, std::string rule);
  // Record that `consumer` handled `event`: a second commit with the same
  // marker fails its condition, so a redelivery has no second effect.
  void mark_processed(const CloudEvent& event, std::string_view consumer);

  [[nodiscard]] const std::vector<WriteOp>& ops() const { return ops_; }
  [[nodiscard]] const std::vector<CloudEvent>& emitted() const { return emitted_; }
  [[nodiscard]] bool empty() const { return ops_.empty(); }
  [[nodiscard]] const Clock& clock() const { return *clock_; }

  // Runs `fn` once the commit succeeded (metrics, logs): never for a unit of
  // work that is retried or rolled back, so nothing is counted twice.
  void after_commit(std::function<void()> fn) { after_commit_.push_back(std::move(fn)); }
  Status commit(ItemStore& store);

 private:
  const Clock* clock_;
  std::vector<WriteOp> ops_;
  std::vector<CloudEvent> emitted_;
  std::vector<std::function<void()>> after_commit_;
};

// True if `consumer` already committed its handling of `event_id`.
Result<bool> already_processed(ItemStore& store, std::string_view event_id,
                               std::string_view consumer);

// Runs decide() and commits its unit of work together with the inbox marker.
// A duplicate delivery returns ok without calling decide(). A conflict reloads
// and decides again (retry_on_conflict), up to max_attempts; after that a
// transient error is returned (the bus retries the message with backoff).
Status handle_once(ItemStore& store, const Clock& clock, const CloudEvent& event,
                   std::string_view consumer, const std::function<Status(UnitOfWork&)>& decide,
                   int max_attempts = 8);

}  // namespace orderly::platform
