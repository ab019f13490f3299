// OutboxSource: what the durable bus's outbox relay needs from a service's
// store, and nothing else. SqliteItemStore is one.
//
//   bus->attach_outbox("orders", *orders_store);   // any OutboxSource
//
// The relay reads a batch of committed outbox items (pk platform::kOutboxPk),
// publishes them onto the bus, then removes them from the source. A crash in
// between relays them again; the bus's archive, keyed by event id, ignores
// the second copy. on_commit() wakes the relay after each write instead of
// waiting for its next poll; sweep_expired() is the bus's periodic
// housekeeping of the source's TTLs.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "orderly/platform/error.hpp"
#include "orderly/platform/item_store.hpp"

namespace orderly::adapters::embedded {

class OutboxSource {
 public:
  virtual ~OutboxSource() = default;

  // Up to `limit` committed, live outbox items, in sort-key order.
  virtual platform::Result<std::vector<platform::Item>> read_outbox(std::size_t limit) = 0;
  // Deletes items read_outbox() returned, once the bus has them.
  virtual platform::Status remove_outbox(const std::vector<platform::Item>& relayed) = 0;
  // Makes every commit so far durable (an fsync when commits are not fsynced
  // one by one). The bus calls it before anything those commits caused leaves
  // the source: before it publishes the outbox, and before it acknowledges
  // messages whose handlers committed here.
  virtual platform::Status sync() = 0;

  // Calls `observer` after each successful write; returns a token for remove_observer().
  // Observers must be cheap and must not call back into the source.
  virtual std::size_t on_commit(std::function<void()> observer) = 0;
  virtual void remove_observer(std::size_t token) = 0;

  // Deletes every item whose TTL has passed; returns how many.
  virtual platform::Result<std::size_t> sweep_expired() = 0;

  // Group commit. Between begin_group() and end_group(), on the calling
  // thread, each write (a unit of work) runs as its own savepoint inside one
  // transaction: a failed condition rolls back that write alone, and
  // end_group() commits them all at once. Other threads wait for the group.
  // If end_group() fails, none of the group's writes happened. The bus runs a
  // batch's handlers inside a group of the rule owner's source. A source
  // without groups commits each write on its own (the default).
  // Makes the outbox items deleted so far unrecoverable from the source's
  // files (an erasure's relay pass calls it: the events it removed may carry
  // the personal data being erased). SqliteItemStore: a truncating checkpoint.
  virtual platform::Status purge_outbox() { return {}; }
  virtual platform::Status begin_group() { return {}; }
  virtual platform::Status end_group() { return {}; }

 protected:
  OutboxSource() = default;
  OutboxSource(const OutboxSource&) = default;
  OutboxSource& operator=(const OutboxSource&) = default;
};

}  // namespace orderly::adapters::embedded
