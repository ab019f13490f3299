// DurableBus: relay, delivery, retries with backoff, DLQ, redrive, replay, delays, recovery.
#include "orderly/adapters/embedded/durable_bus.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <set>
#include <thread>

#include "orderly/platform/metrics.hpp"
#include "orderly/platform/unit_of_work.hpp"
#include "support/temp_dir.hpp"

namespace orderly::adapters::embedded {
namespace {

using namespace orderly::platform;
using namespace std::chrono_literals;

constexpr const char* kPlaced = "orderly.orders.OrderPlaced.v1";
constexpr const char* kCancelled = "orderly.orders.OrderCancelled.v1";

class BusTest : public ::testing::Test {
 protected:
  void SetUp() override { open_all(); }

  void open_all() {
    bus_.reset();
    store_.reset();
    auto s = SqliteItemStore::open(dir_.file("svc.db"), {.clock = &clock_});
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    auto b = DurableBus::open({.path = dir_.file("bus.db"), .clock = &clock_, .seed = 42});
    ASSERT_TRUE(b) << b.error().message;
    bus_ = std::move(*b);
    bus_->attach_outbox("svc", *store_);
  }

  CloudEvent event(const std::string& type, boost::json::object data = {}) {
    return make_event("orderly.test", type, "order-1", std::move(data), clock_.now());
  }

  CloudEvent publish(const std::string& type, boost::json::object data = {}) {
    auto e = event(type, std::move(data));
    UnitOfWork uow{clock_};
    uow.emit(e);
    EXPECT_TRUE(uow.commit(*store_));
    return e;
  }

  // A rule that records deliveries and answers with `outcome_for`.
  void subscribe(const std::string& name, EventPattern pattern,
                 std::function<DeliveryResult(const Delivery&)> outcome_for, RuleOptions o = {}) {
    auto s = bus_->subscribe({name, std::move(pattern),
                              [this, name, outcome_for](const std::vector<Delivery>& batch) {
                                std::vector<DeliveryResult> out;
                                batches_[name].push_back(batch.size());
                                for (const auto& d : batch) {
                                  seen_[name].push_back(d);
                                  out.push_back(outcome_for(d));
                                }
                                return out;
                              },
                              o});
    ASSERT_TRUE(s) << s.error().message;
  }

  std::size_t pump() {
    auto n = bus_->pump();
    EXPECT_TRUE(n) << n.error().message;
    return n ? *n : 0;
  }

  void drain() {
    auto n = bus_->run_until_idle();
    ASSERT_TRUE(n) << n.error().message;
  }

  orderly::testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<SqliteItemStore> store_;
  std::unique_ptr<DurableBus> bus_;
  std::map<std::string, std::vector<Delivery>> seen_;
  std::map<std::string, std::vector<std::size_t>> batches_;
};

DeliveryResult ok(const Delivery&) {
  return DeliveryResult::ok();
}

TEST_F(BusTest, RoutesEachEventToEveryMatchingRuleOnly) {
  subscribe("payments.on-placed", EventPattern::for_types({kPlaced}), ok);
  subscribe("inventory.on-any-order",
            *EventPattern::parse(R"({"type":[{"prefix":"orderly.orders."}]})"), ok);
  subscribe("big-orders", *EventPattern::parse(R"({"data":{"total":[{"numeric":[">=",1000]}]}})"),
            ok);
  const auto placed = publish(kPlaced, {{"total", 50}});
  const auto cancelled = publish(kCancelled, {{"total", 5000}});
  drain();
  ASSERT_EQ(seen_["payments.on-placed"].size(), 1u);
  EXPECT_EQ(seen_["payments.on-placed"][0].event, placed);
  EXPECT_EQ(seen_["inventory.on-any-order"].size(), 2u);
  ASSERT_EQ(seen_["big-orders"].size(), 1u);
  EXPECT_EQ(seen_["big-orders"][0].event.id, cancelled.id);
  // The outbox is empty and both events are archived once.
  EXPECT_TRUE(store_->query(std::string(kOutboxPk), {})->items.empty());
  EXPECT_EQ(*bus_->archived_count(), 2);
  EXPECT_EQ(*bus_->backlog(), 0);
}

TEST_F(BusTest, RelayIsIdempotentOnTheEventId) {
  subscribe("r", EventPattern::for_types({kPlaced}), ok);
  const auto e = publish(kPlaced);
  drain();
  // As if the relay crashed after publishing but before deleting the outbox item.
  ASSERT_TRUE(store_->put(outbox_item({e, std::nullopt, std::nullopt}), Condition::not_exists()));
  drain();
  EXPECT_EQ(seen_["r"].size(), 1u);
  EXPECT_EQ(*bus_->archived_count(), 1);
  EXPECT_TRUE(store_->query(std::string(kOutboxPk), {})->items.empty());
}

TEST_F(BusTest, BackoffScheduleUsesFullJitterWithinTheCeiling) {
  RuleOptions o;
  o.max_receive_count = 6;
  o.backoff_base = 1'000ms;
  o.backoff_cap = 8'000ms;
  subscribe(
      "flaky", EventPattern::for_types({kPlaced}),
      [](const Delivery&) { return DeliveryResult::retry("provider unavailable"); }, o);
  publish(kPlaced);
  ASSERT_EQ(pump(), 2u);  // relayed + delivered
  const Backoff b{o.backoff_base, o.backoff_cap};
  for (int attempt = 1; attempt < o.max_receive_count; ++attempt) {
    // Find when it becomes visible again by stepping the clock 1 ms at a time
    // in coarse steps first: it must be within [0, ceiling(attempt)].
    Millis waited{0};
    while (bus_->stats("flaky")->ready == 0) {
      ASSERT_LE(waited, b.ceiling(attempt)) << "attempt " << attempt;
      clock_.advance(10ms);
      waited += 10ms;
    }
    EXPECT_EQ(bus_->stats("flaky")->delayed, 0);
    ASSERT_EQ(*bus_->deliver_once("flaky"), 1u);
    EXPECT_EQ(seen_["flaky"].back().receive_count, attempt + 1);
  }
  // The sixth failure moves it to the DLQ.
  auto dead = bus_->dead_letters("flaky");
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 1u);
}

TEST_F(BusTest, DeadLettersAfterMaxReceiveCountKeepTheLastErrorAndAttempts) {
  RuleOptions o;
  o.max_receive_count = 3;
  o.backoff_base = 0ms;
  o.backoff_cap = 0ms;
  int calls = 0;
  subscribe(
      "payments", EventPattern::for_types({kPlaced}),
      [&](const Delivery&) {
        return DeliveryResult::retry(fmt::format("attempt {} timed out", ++calls));
      },
      o);
  const auto e = publish(kPlaced);
  drain();
  EXPECT_EQ(calls, 3);
  auto dead = bus_->dead_letters("payments");
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].event_id, e.id);
  EXPECT_EQ((*dead)[0].event_type, kPlaced);
  EXPECT_EQ((*dead)[0].receive_count, 3);
  EXPECT_NE((*dead)[0].last_error.find("attempt 3 timed out"), std::string::npos)
      << (*dead)[0].last_error;
  EXPECT_EQ(*parse_event((*dead)[0].body), e);  // the whole event is kept
  EXPECT_EQ(bus_->stats("payments")->dead, 1);
  EXPECT_EQ(*bus_->backlog(), 0);
}

TEST_F(BusTest, PermanentFailureGoesStraightToTheDlqWithItsReason) {
  subscribe("r", EventPattern::for_types({kPlaced}), [](const Delivery& d) {
    return DeliveryResult::from(make_error(ErrorKind::invalid_input, "bad sku in " + d.event.id));
  });
  const auto e = publish(kPlaced);
  drain();
  EXPECT_EQ(seen_["r"].size(), 1u);
  auto dead = bus_->dead_letters("r");
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].receive_count, 1);
  EXPECT_EQ((*dead)[0].last_error, "invalid_input: bad sku in " + e.id);
}

TEST_F(BusTest, RedriveDeliversDeadLettersAgain) {
  bool broken = true;
  RuleOptions o;
  o.max_receive_count = 1;
  subscribe(
      "r", EventPattern::for_types({kPlaced}),
      [&](const Delivery&) {
        return broken ? DeliveryResult::retry("down") : DeliveryResult::ok();
      },
      o);
  publish(kPlaced);
  publish(kPlaced);
  drain();
  ASSERT_EQ(bus_->dead_letters("r")->size(), 2u);
  broken = false;
  auto moved = bus_->redrive("r");
  ASSERT_TRUE(moved);
  EXPECT_EQ(*moved, 2u);
  drain();
  EXPECT_EQ(seen_["r"].size(), 4u);
  EXPECT_EQ(seen_["r"].back().receive_count, 1);  // counts start again
  EXPECT_TRUE(bus_->dead_letters("r")->empty());
  EXPECT_EQ(*bus_->redrive("r"), 0u);
}

TEST_F(BusTest, RedriveOfOneDeadLetterMovesOnlyThatOne) {
  bool broken = true;
  RuleOptions o;
  o.max_receive_count = 1;
  subscribe(
      "r", EventPattern::for_types({kPlaced}),
      [&](const Delivery&) {
        return broken ? DeliveryResult::retry("down") : DeliveryResult::ok();
      },
      o);
  publish(kPlaced);
  const auto second = publish(kPlaced);
  drain();
  auto dead = bus_->dead_letters("r");
  ASSERT_EQ(dead->size(), 2u);
  broken = false;
  const auto& target = (*dead)[1];
  ASSERT_EQ(target.event_id, second.id);
  EXPECT_EQ(bus_->redrive("r", target.id).value(), 1u);
  drain();
  ASSERT_EQ(seen_["r"].size(), 3u);
  EXPECT_EQ(seen_["r"].back().event.id, second.id);
  auto left = bus_->dead_letters("r");
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].id, (*dead)[0].id);
  // Gone now, and never there: not_found, nothing moved.
  auto again = bus_->redrive("r", target.id);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::not_found);
  EXPECT_EQ(bus_->redrive("other", (*dead)[0].id).error().kind, ErrorKind::not_found);
  EXPECT_EQ(bus_->dead_letters("r")->size(), 1u);
}

// The console's swimlane: one correlation id's events (the first found by its
// own id), the deliveries that failed and were retried, and its dead letters;
// nothing of another saga.
TEST_F(BusTest, CorrelatedFindsASagasEventsRetriesAndDeadLetters) {
  RuleOptions o;
  o.max_receive_count = 2;
  o.backoff_base = 0ms;
  o.backoff_cap = 0ms;
  subscribe(
      "payments.flaky", EventPattern::for_types({kPlaced}),
      [&](const Delivery&) { return DeliveryResult::retry("provider timed out"); }, o);
  subscribe("orders.saga", EventPattern::for_types({kCancelled}), ok);
  auto first = publish(kPlaced);
  auto next = event(kCancelled);
  caused_by(next, first);
  {
    UnitOfWork uow{clock_};
    uow.emit(next);
    ASSERT_TRUE(uow.commit(*store_));
  }
  auto other = event(kCancelled);  // another saga's
  {
    UnitOfWork uow{clock_};
    uow.emit(other);
    ASSERT_TRUE(uow.commit(*store_));
  }
  drain();
  auto c = bus_->correlated(first.id);
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->events.size(), 2u);
  EXPECT_EQ(c->events[0].event_id, first.id);
  EXPECT_EQ(c->events[1].event_id, next.id);
  // Receive 1 failed and was retried; receive 2 was the last: a dead letter.
  ASSERT_EQ(c->failures.size(), 1u);
  EXPECT_EQ(c->failures[0].rule, "payments.flaky");
  EXPECT_EQ(c->failures[0].event_id, first.id);
  EXPECT_EQ(c->failures[0].receive_count, 1);
  EXPECT_EQ(c->failures[0].error, "provider timed out");
  ASSERT_EQ(c->dead.size(), 1u);
  EXPECT_EQ(c->dead[0].rule, "payments.flaky");
  EXPECT_TRUE(c->pending.empty());
  auto none = bus_->correlated(other.id);
  ASSERT_TRUE(none);
  ASSERT_EQ(none->events.size(), 1u);
  EXPECT_TRUE(none->failures.empty());
  EXPECT_TRUE(none->dead.empty());
}

// A dead letter may have had its effects committed (only the acknowledgement
// failed); once its inbox marker has expired, a redrive would apply it twice.
// So redrive leaves behind what is older than the inbox retention.
TEST_F(BusTest, RedriveLeavesDeadLettersOlderThanTheInboxRetention) {
  bool broken = true;
  RuleOptions o;
  o.max_receive_count = 1;
  subscribe(
      "r", EventPattern::for_types({kPlaced}),
      [&](const Delivery&) {
        return broken ? DeliveryResult::retry("down") : DeliveryResult::ok();
      },
      o);
  const auto old_one = publish(kPlaced);
  drain();
  clock_.advance(kInboxRetention + Millis{24LL * 3600 * 1000});
  const auto new_one = publish(kPlaced);
  drain();
  ASSERT_EQ(bus_->dead_letters("r")->size(), 2u);
  broken = false;
  seen_["r"].clear();
  auto moved = bus_->redrive("r");
  ASSERT_TRUE(moved);
  EXPECT_EQ(*moved, 1u);
  drain();
  ASSERT_EQ(seen_["r"].size(), 1u);
  EXPECT_EQ(seen_["r"].front().event.id, new_one.id);
  auto left = bus_->dead_letters("r");
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().event_id, old_one.id);
}

TEST_F(BusTest, ReplayFromTheArchiveIntoOneRule) {
  subscribe("a", EventPattern::for_types({kPlaced}), ok);
  subscribe("b", EventPattern::for_types({kPlaced}), ok);
  const auto t0 = clock_.now();
  publish(kPlaced);
  drain();  // archived at t0
  clock_.advance(1'000ms);
  publish(kPlaced);
  publish(kCancelled);  // archived but not matched by "a"
  drain();
  ASSERT_EQ(seen_["a"].size(), 2u);
  auto n = bus_->replay("a", t0, clock_.now());
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2u);
  drain();
  EXPECT_EQ(seen_["a"].size(), 4u);
  EXPECT_EQ(seen_["b"].size(), 2u);  // other rules are untouched
  // A time window selects the archive by archival time.
  EXPECT_EQ(*bus_->replay("a", t0 + 500ms, clock_.now()), 1u);
  EXPECT_EQ(bus_->replay("nope", t0, clock_.now()).error().kind, ErrorKind::not_found);
}

TEST_F(BusTest, DelayedDeliveryWaitsForItsTimeAndGoesToItsRuleOnly) {
  subscribe("orders.saga-timeout", EventPattern::for_types({"orderly.orders.SagaTimeout.v1"}), ok);
  subscribe("everything", *EventPattern::parse("{}"), ok);
  auto timer = event("orderly.orders.SagaTimeout.v1");
  UnitOfWork uow{clock_};
  uow.schedule(timer, clock_.now() + 30'000ms, "orders.saga-timeout");
  ASSERT_TRUE(uow.commit(*store_));
  drain();
  EXPECT_TRUE(seen_["orders.saga-timeout"].empty());
  EXPECT_EQ(bus_->stats("orders.saga-timeout")->delayed, 1);
  clock_.advance(29'999ms);
  drain();
  EXPECT_TRUE(seen_["orders.saga-timeout"].empty());
  clock_.advance(1ms);
  drain();
  ASSERT_EQ(seen_["orders.saga-timeout"].size(), 1u);
  EXPECT_EQ(seen_["orders.saga-timeout"][0].event, timer);
  EXPECT_TRUE(seen_["everything"].empty());  // targeted, not broadcast
}

TEST_F(BusTest, PartialBatchFailureRetriesOnlyTheFailedMessage) {
  RuleOptions o;
  o.batch_size = 10;
  o.backoff_base = 1'000ms;
  subscribe(
      "r", EventPattern::for_types({kPlaced}),
      [](const Delivery& d) {
        return d.event.data.at("n").as_int64() == 3 ? DeliveryResult::retry("poison")
                                                    : DeliveryResult::ok();
      },
      o);
  for (int i = 0; i < 5; ++i) publish(kPlaced, {{"n", i}});
  ASSERT_EQ(pump(), 10u);  // 5 relayed, 5 delivered in one batch
  EXPECT_EQ(batches_["r"], (std::vector<std::size_t>{5}));
  auto st = bus_->stats("r");
  EXPECT_EQ(st->ready + st->delayed + st->in_flight, 1);  // only the failed one remains
  clock_.advance(2'000ms);
  drain();
  ASSERT_EQ(seen_["r"].size(), 6u);
  EXPECT_EQ(seen_["r"].back().event.data.at("n"), 3);
  EXPECT_EQ(seen_["r"].back().receive_count, 2);
}

TEST_F(BusTest, HandlerExceptionsAndShortResultListsBecomeRetries) {
  RuleOptions o;
  o.max_receive_count = 1;
  ASSERT_TRUE(bus_->subscribe({"throws", EventPattern::for_types({kPlaced}),
                               [](const std::vector<Delivery>&) -> std::vector<DeliveryResult> {
                                 throw std::runtime_error("boom");
                               },
                               o}));
  ASSERT_TRUE(bus_->subscribe(
      {"short", EventPattern::for_types({kPlaced}),
       [](const std::vector<Delivery>&) { return std::vector<DeliveryResult>{}; }, o}));
  publish(kPlaced);
  drain();
  auto dead = bus_->dead_letters();
  ASSERT_EQ(dead->size(), 2u);
  std::set<std::string> errors;
  for (const auto& d : *dead) errors.insert(d.last_error);
  EXPECT_TRUE(errors.count("gave up after 1 receives: exception: boom")) << *errors.begin();
  EXPECT_TRUE(errors.count("gave up after 1 receives: handler returned 0 results for 1 messages"));
}

TEST_F(BusTest, UnreadableOutboxItemsAreKeptInTheDlqNotLostOrLooping) {
  subscribe("r", *EventPattern::parse("{}"), ok);
  Item bad{std::string(kOutboxPk), "bad-1", 0, {{"event", {{"id", "x"}}}}, std::nullopt};
  ASSERT_TRUE(store_->put(bad, Condition::not_exists()));
  drain();
  EXPECT_TRUE(seen_["r"].empty());
  auto dead = bus_->dead_letters("$relay");
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].event_id, "bad-1");
  EXPECT_NE((*dead)[0].last_error.find("field"), std::string::npos) << (*dead)[0].last_error;
  EXPECT_EQ((*dead)[0].event_type, "?") << "the item names no type";
  EXPECT_TRUE(store_->query(std::string(kOutboxPk), {})->items.empty());
  // An item that names its type is listed under it (it was "?" for every item).
  Item typed{std::string(kOutboxPk),
             "bad-2",
             0,
             {{"event", "{not json"}, {"type", "orderly.test.Thing.v1"}},
             std::nullopt};
  ASSERT_TRUE(store_->put(typed, Condition::not_exists()));
  drain();
  dead = bus_->dead_letters("$relay");
  ASSERT_EQ(dead->size(), 2u);
  std::set<std::string> types;
  for (const auto& d : *dead) types.insert(d.event_type);
  EXPECT_EQ(types, (std::set<std::string>{"?", "orderly.test.Thing.v1"}));
}

TEST_F(BusTest, AStaleAckAfterTheVisibilityTimeoutIsIgnored) {
  RuleOptions o;
  o.visibility_timeout = 1'000ms;
  int calls = 0;
  subscribe(
      "r", EventPattern::for_types({kPlaced}),
      [&](const Delivery& d) {
        if (++calls == 1) {
          // The first handler is slow: its lease runs out and another consumer takes the message.
          clock_.advance(1'001ms);
          EXPECT_EQ(*bus_->deliver_once("r"), 1u);
          EXPECT_EQ(d.receive_count, 1);
          return DeliveryResult::retry("too late; this answer must be ignored");
        }
        EXPECT_EQ(d.receive_count, 2);
        return DeliveryResult::ok();
      },
      o);
  publish(kPlaced);
  drain();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(*bus_->backlog(), 0);  // the second receive's ack won; the stale retry did nothing
  EXPECT_TRUE(bus_->dead_letters("r")->empty());
}

TEST_F(BusTest, RedeliveryHasNoSecondEffectThanksToTheInbox) {
  auto apply = [&](const Delivery& d) {
    return DeliveryResult::from(
        handle_once(*store_, clock_, d.event, "counter", [&](UnitOfWork& uow) {
          auto cur = store_->get("COUNTER", "c");
          if (!cur) return Status(tl::unexpected(cur.error()));
          const std::int64_t n = *cur ? (**cur).attrs.at("n").as_int64() : 0;
          uow.put(Item{"COUNTER", "c", 0, {{"n", n + 1}}, std::nullopt},
                  *cur ? Condition::version_is((**cur).version) : Condition::not_exists());
          return Status{};
        }));
  };
  subscribe("r", EventPattern::for_types({kPlaced}), apply);
  const auto t0 = clock_.now();
  publish(kPlaced);
  publish(kPlaced);
  drain();
  ASSERT_EQ(*bus_->replay("r", t0, clock_.now()), 2u);  // every event delivered again
  drain();
  EXPECT_EQ(seen_["r"].size(), 4u);
  EXPECT_EQ((*store_->get("COUNTER", "c"))->attrs.at("n"), 2);
}

TEST_F(BusTest, ARestartResumesInFlightAndQueuedMessages) {
  subscribe("r", EventPattern::for_types({kPlaced}), ok);
  for (int i = 0; i < 3; ++i) publish(kPlaced, {{"n", i}});
  ASSERT_EQ(*bus_->relay_once(), 3u);
  // A process that dies after its handler ran but before it acknowledged.
  auto dying = DurableBus::open(
      {.path = dir_.file("bus.db"), .clock = &clock_, .fault_hook = [](std::string_view p) {
         if (p == "consume.before_ack") throw std::runtime_error("killed");
       }});
  ASSERT_TRUE(dying);
  ASSERT_TRUE((*dying)->subscribe(
      {"r",
       EventPattern::for_types({kPlaced}),
       [](const std::vector<Delivery>& ds) { return std::vector<DeliveryResult>(ds.size()); },
       {.batch_size = 1}}));
  EXPECT_THROW((void)(*dying)->deliver_once("r"), std::runtime_error);
  dying->reset();
  EXPECT_EQ(bus_->stats("r")->in_flight, 1);
  open_all();
  subscribe("r", EventPattern::for_types({kPlaced}), ok);
  EXPECT_EQ(*bus_->recover_in_flight(), 1u);
  drain();
  ASSERT_EQ(seen_["r"].size(), 3u);
  std::set<std::int64_t> ns;
  for (const auto& d : seen_["r"]) ns.insert(d.event.data.at("n").as_int64());
  EXPECT_EQ(ns, (std::set<std::int64_t>{0, 1, 2}));
}

// A message whose handler kills the process is never settled, so only the
// receive count can stop it: as on SQS, after max_receive_count receives it
// goes to the DLQ instead of crash-looping the consumer for ever.
TEST_F(BusTest, AMessageThatCrashesTheProcessReachesTheDlqByItsReceiveCount) {
  subscribe("r", EventPattern::for_types({kPlaced}), ok);
  publish(kPlaced);
  ASSERT_EQ(*bus_->relay_once(), 1u);
  bus_.reset();
  for (int crash = 1; crash <= 4; ++crash) {
    auto dying = DurableBus::open(
        {.path = dir_.file("bus.db"), .clock = &clock_, .fault_hook = [](std::string_view p) {
           if (p == "consume.before_handler") throw std::runtime_error("killed");
         }});
    ASSERT_TRUE(dying);
    ASSERT_TRUE((*dying)->subscribe(
        {"r",
         EventPattern::for_types({kPlaced}),
         [](const std::vector<Delivery>& ds) { return std::vector<DeliveryResult>(ds.size()); },
         {.max_receive_count = 3}}));
    ASSERT_TRUE((*dying)->recover_in_flight());  // what start() does after a restart
    auto stats = (*dying)->stats("r");
    if (crash <= 3) {
      EXPECT_EQ(stats->dead, 0) << "crash " << crash;
      EXPECT_THROW((void)(*dying)->deliver_once("r"), std::runtime_error) << "crash " << crash;
    } else {
      // The fourth receive would exceed max_receive_count: the handler never runs.
      auto n = (*dying)->deliver_once("r");
      ASSERT_TRUE(n) << n.error().message;
      auto dead = (*dying)->dead_letters("r");
      ASSERT_EQ(dead->size(), 1u);
      EXPECT_EQ(dead->front().receive_count, 3);
      EXPECT_NE(dead->front().last_error.find("received 3 times"), std::string::npos)
          << dead->front().last_error;
      EXPECT_EQ((*dying)->stats("r")->ready + (*dying)->stats("r")->in_flight, 0);
    }
  }
}

// A relay that fails is not silent: the error is counted, kept for /readyz
// (no good pass since the start), and logged. Before, relay_loop dropped it.
TEST(DurableBusThreads, ARelayThatKeepsFailingIsCountedAndShowsAsStalled) {
  struct BrokenOutbox final : OutboxSource {
    Result<std::vector<Item>> read_outbox(std::size_t) override {
      return fail(ErrorKind::transient, "disk on fire");
    }
    Status remove_outbox(const std::vector<Item>&) override { return {}; }
    Status sync() override { return {}; }
    std::size_t on_commit(std::function<void()>) override { return 1; }
    void remove_observer(std::size_t) override {}
    Result<std::size_t> sweep_expired() override { return std::size_t{0}; }
  } broken;
  orderly::testing::TempDir dir;
  auto bus = DurableBus::open({.path = dir.file("bus.db"), .idle_poll = Millis{10}});
  ASSERT_TRUE(bus);
  (*bus)->attach_outbox("broken", broken);
  ASSERT_TRUE((*bus)->start());
  const auto started = (*bus)->relay_health().last_ok_ms;
  EXPECT_GT(started, 0);
  for (int i = 0; i < 200 && (*bus)->relay_health().errors < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto h = (*bus)->relay_health();
  (*bus)->stop();
  EXPECT_GE(h.errors, 3);
  EXPECT_NE(h.last_error.find("disk on fire"), std::string::npos) << h.last_error;
  EXPECT_EQ(h.last_ok_ms, started) << "no pass succeeded, so the last good one is the start";
  const auto text = metrics::registry().prometheus();
  EXPECT_NE(text.find("orderly_bus_loop_errors_total{loop=\"relay\"}"), std::string::npos);
}

// /readyz calls the workers stalled after 10 s without a good pass: an idle
// worker must still count as alive (it was reported stalled 10 s after start).
TEST(DurableBusThreads, IdleWorkersKeepReportingTheirPasses) {
  orderly::testing::TempDir dir;
  auto bus = DurableBus::open({.path = dir.file("bus.db"), .idle_poll = Millis{10}});
  ASSERT_TRUE(bus);
  ASSERT_TRUE((*bus)->subscribe(
      {"idle.rule",
       EventPattern::for_types({kPlaced}),
       [](const std::vector<Delivery>& ds) { return std::vector<DeliveryResult>(ds.size()); },
       {}}));
  ASSERT_TRUE((*bus)->start());
  const auto started = (*bus)->worker_health().last_ok_ms;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::int64_t later = started;
  for (int i = 0; i < 200 && later == started; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    later = (*bus)->worker_health().last_ok_ms;
  }
  (*bus)->stop();
  EXPECT_GT(later, started) << "an idle worker's passes are not recorded";
  EXPECT_EQ((*bus)->worker_health().errors, 0);
}

TEST_F(BusTest, SubscribeValidatesRules) {
  auto h = [](const std::vector<Delivery>& ds) { return std::vector<DeliveryResult>(ds.size()); };
  EXPECT_TRUE(bus_->subscribe({"ok.rule-1", EventPattern{}, h, {}}));
  EXPECT_EQ(bus_->subscribe({"ok.rule-1", EventPattern{}, h, {}}).error().kind,
            ErrorKind::invalid_input);
  EXPECT_FALSE(bus_->subscribe({"bad name", EventPattern{}, h, {}}));
  EXPECT_FALSE(bus_->subscribe({"", EventPattern{}, h, {}}));
  EXPECT_FALSE(bus_->subscribe({"nohandler", EventPattern{}, nullptr, {}}));
  EXPECT_FALSE(bus_->subscribe({"zero-batch", EventPattern{}, h, {.batch_size = 0}}));
  EXPECT_FALSE(bus_->subscribe(
      {"bad-backoff", EventPattern{}, h, {.backoff_base = 10'000ms, .backoff_cap = 1'000ms}}));
  EXPECT_EQ(bus_->deliver_once("missing").error().kind, ErrorKind::not_found);
}

TEST_F(BusTest, ArchiveRetentionPrunesOldEvents) {
  auto b = DurableBus::open(
      {.path = dir_.file("bus2.db"), .clock = &clock_, .archive_retention = 60'000ms});
  ASSERT_TRUE(b);
  (*b)->attach_outbox("svc", *store_);
  publish(kPlaced);
  ASSERT_EQ(*(*b)->relay_once(), 1u);
  clock_.advance(30'000ms);
  publish(kPlaced);
  ASSERT_EQ(*(*b)->relay_once(), 1u);
  clock_.advance(31'000ms);
  EXPECT_EQ(*(*b)->prune_archive(), 1u);
  EXPECT_EQ(*(*b)->archived_count(), 1);
}

TEST_F(BusTest, PruningKeepsEventsThatMessagesStillNeedAndRedriveSurvivesPruning) {
  auto b = DurableBus::open(
      {.path = dir_.file("bus3.db"), .clock = &clock_, .archive_retention = 1'000ms, .seed = 1});
  ASSERT_TRUE(b);
  auto& bus = **b;
  bus.attach_outbox("svc", *store_);
  bool broken = true;
  ASSERT_TRUE(bus.subscribe({"r",
                             EventPattern::for_types({kPlaced}),
                             each_message([&](const Delivery&) -> Status {
                               if (broken) return make_error(ErrorKind::permanent, "broken");
                               return {};
                             }),
                             {}}));
  auto timer = event(kPlaced);
  UnitOfWork uow{clock_};
  uow.schedule(timer, clock_.now() + 60'000ms, "r");  // waits a minute
  uow.emit(event(kPlaced));                           // dies at once
  ASSERT_TRUE(uow.commit(*store_));
  ASSERT_TRUE(bus.run_until_idle());
  ASSERT_EQ(bus.dead_letters("r")->size(), 1u);
  clock_.advance(10'000ms);
  EXPECT_EQ(*bus.prune_archive(), 1u);  // the dead one's archive row; the timer's is still needed
  clock_.advance(50'000ms);
  broken = false;
  ASSERT_TRUE(bus.run_until_idle());
  EXPECT_EQ(bus.stats("r")->delayed + bus.stats("r")->ready, 0);  // the timer was delivered
  EXPECT_EQ(*bus.redrive("r"), 1u);                               // restored from the DLQ copy
  ASSERT_TRUE(bus.run_until_idle());
  EXPECT_EQ(*bus.backlog(), 0);
  EXPECT_TRUE(bus.dead_letters("r")->empty());
  EXPECT_EQ(bus.redrive(std::string(kRelayDlq)).error().kind, ErrorKind::invalid_input);
}

// Threads, the system clock, and a graceful stop while a handler is running.
// Group commit (issue 12): a batch's units of work go into one transaction of
// the rule owner's store, each under its own savepoint.
TEST_F(BusTest, ABatchCommitsAsOneTransactionAndAFailedUnitOfWorkRollsBackAlone) {
  std::future<bool> reader;
  auto s =
      bus_->subscribe({"svc.writer",
                       EventPattern::for_types({kPlaced}),
                       [&](const std::vector<Delivery>& batch) {
                         std::vector<DeliveryResult> out;
                         for (const auto& d : batch) {
                           const auto n = d.event.data.at("n").as_int64();
                           UnitOfWork uow{clock_};
                           uow.put(Item{fmt::format("N#{}", n), "S", 0, {{"n", n}}, std::nullopt},
                                   Condition::not_exists());
                           if (n == 1) uow.check("MISSING", "S", Condition::exists());  // fails
                           uow.mark_processed(d.event, "svc.writer");
                           out.push_back(DeliveryResult::from(uow.commit(*store_)));
                         }
                         // Another thread reading N#0 now waits for the whole batch to commit.
                         reader = std::async(std::launch::async, [this] {
                           return static_cast<bool>(*store_->get("N#0", "S"));
                         });
                         EXPECT_EQ(reader.wait_for(100ms), std::future_status::timeout);
                         return out;
                       },
                       {.batch_size = 10}});
  ASSERT_TRUE(s) << s.error().message;
  for (int i = 0; i < 3; ++i) publish(kPlaced, {{"n", i}});
  ASSERT_EQ(pump(), 6u);
  EXPECT_TRUE(reader.get());
  EXPECT_TRUE(*store_->get("N#0", "S"));
  EXPECT_FALSE(*store_->get("N#1", "S"));  // rolled back alone, inbox marker too
  EXPECT_TRUE(*store_->get("N#2", "S"));
  auto st = bus_->stats("svc.writer");
  EXPECT_EQ(st->ready + st->delayed + st->in_flight, 1);  // n == 1 waits for its retry
}

// Erasure (docs/adr/0017): the bus redacts its copies when it publishes an
// erasure, and checkpoints before any rule can receive the erasure: the
// erasure's own handler already finds the files clean.
// A store and a bus that takes orderly.test.Erase for an erasure of its
// data.customerId and of order-9, redacting `paths`.
struct ErasingBus {
  explicit ErasingBus(std::vector<std::string> paths) {
    auto st = SqliteItemStore::open(dir.file("svc.db"), {.clock = &clock});
    if (!st) throw std::runtime_error(st.error().message);
    store = std::move(*st);
    auto opened = DurableBus::open(
        {.path = bus_path,
         .clock = &clock,
         .seed = 1,
         .redaction_for = [paths](const CloudEvent& e) -> std::optional<Redaction> {
           if (e.type != "orderly.test.Erase") return std::nullopt;
           return Redaction{
               std::string(e.data.at("customerId").as_string()), {"order-9"}, paths, "[erased]"};
         }});
    if (!opened) throw std::runtime_error(opened.error().message);
    bus = std::move(*opened);
    bus->attach_outbox("svc", *store);
  }
  orderly::testing::TempDir dir;
  ManualClock clock;
  const std::string bus_path = dir.file("bus.db");
  std::unique_ptr<SqliteItemStore> store;
  std::unique_ptr<DurableBus> bus;
};

TEST(DurableBusErasure, RedactsArchiveQueuedAndDeadCopiesBeforeTheErasureIsReceived) {
  ErasingBus e(
      {"$.data.shippingAddress.name", "$.data.shippingAddress.line1", "$.data.paymentToken"});
  auto& bus = *e.bus;
  auto& clock = e.clock;
  const std::string& bus_path = e.bus_path;
  auto rule = [](std::string name, std::string type, std::function<DeliveryResult()> outcome) {
    return Rule{std::move(name), EventPattern::for_types({std::move(type)}),
                [outcome](const std::vector<Delivery>& batch) {
                  return std::vector<DeliveryResult>(batch.size(), outcome());
                },
                RuleOptions{}};
  };
  std::string seen_by_erasure;
  ASSERT_TRUE(bus.subscribe(rule("poisoned", kPlaced, [] { return DeliveryResult::fail("bad"); })));
  ASSERT_TRUE(bus.subscribe(rule("erasure", "orderly.test.Erase", [&] {
    seen_by_erasure = orderly::testing::sqlite_file_bytes(bus_path);
    return DeliveryResult::ok();
  })));
  // Never received: its copy stays queued (it reads the archive's body).
  RuleOptions later;
  ASSERT_TRUE(bus.subscribe({"queued", EventPattern::for_types({kPlaced}),
                             [](const std::vector<Delivery>& b) {
                               return std::vector<DeliveryResult>(b.size(), DeliveryResult::ok());
                             },
                             later}));
  auto emit = [&](const std::string& type, const std::string& subject, boost::json::object data) {
    UnitOfWork uow{clock};
    uow.emit(make_event("orderly.orders", type, subject, std::move(data), clock.now()));
    ASSERT_TRUE(uow.commit(*e.store));
  };
  auto address = [](const char* name) {
    return boost::json::object{{"name", name}, {"line1", "1 Secret Street"}, {"country", "GB"}};
  };
  emit(kPlaced, "order-1",
       {{"customerId", "c-1"}, {"shippingAddress", address("Redact Rita 4711")}});
  emit(kPlaced, "order-9", {{"customerId", "someone"}, {"paymentToken", "tok_secret_4711"}});
  emit(kPlaced, "order-2", {{"customerId", "c-2"}, {"shippingAddress", address("Keep Karl 4711")}});
  ASSERT_TRUE(bus.relay_once());
  ASSERT_TRUE(bus.deliver_once("poisoned"));
  ASSERT_EQ(bus.dead_letters("poisoned")->size(), 3u);
  ASSERT_NE(orderly::testing::sqlite_file_bytes(bus_path).find("Redact Rita 4711"),
            std::string::npos);

  emit("orderly.test.Erase", "erasure-1", {{"customerId", "c-1"}});
  ASSERT_TRUE(bus.relay_once());
  ASSERT_TRUE(bus.deliver_once("erasure"));
  ASSERT_FALSE(seen_by_erasure.empty());
  for (const char* gone : {"Redact Rita 4711", "tok_secret_4711"})
    EXPECT_EQ(seen_by_erasure.find(gone), std::string::npos) << gone << " in bus.db when received";
  EXPECT_NE(seen_by_erasure.find("Keep Karl 4711"), std::string::npos);

  std::map<std::string, std::string> archived;
  const auto all = bus.archive_since(0);
  ASSERT_TRUE(all);
  for (const auto& a : *all) {
    auto v = boost::json::parse(a.body).as_object();
    archived[std::string(v.at("subject").as_string())] = boost::json::serialize(v.at("data"));
  }
  EXPECT_EQ(
      archived["order-1"],
      R"({"customerId":"c-1","shippingAddress":{"name":"[erased]","line1":"[erased]","country":"GB"}})");
  EXPECT_EQ(archived["order-9"], R"({"customerId":"someone","paymentToken":"[erased]"})");
  EXPECT_NE(archived["order-2"].find("Keep Karl 4711"), std::string::npos);
  const auto dead = bus.dead_letters("poisoned");
  ASSERT_TRUE(dead);
  for (const auto& d : *dead)
    EXPECT_EQ(d.body.find("4711") != std::string::npos,
              d.body.find("Keep Karl") != std::string::npos)
        << d.body;
  // The copies still queued are delivered with the redacted body.
  auto queued = bus.begin_delivery("queued");
  ASSERT_TRUE(queued && *queued);
  ASSERT_EQ((*queued)->batch.size(), 3u);
  for (const auto& d : (*queued)->batch) {
    const auto data = boost::json::serialize(d.event.data);
    EXPECT_EQ(data.find("Redact Rita"), std::string::npos) << data;
    EXPECT_EQ(data.find("tok_secret"), std::string::npos) << data;
  }
}

// The relay's own dead letters are outbox items that did not read as events:
// an erasure reaches them too, by the customer's id or a subject named anywhere
// in them, since no path in them can be trusted.
TEST(DurableBusErasure, RedactsTheRelaysDeadLettersThatNameTheCustomerOrTheirOrders) {
  ErasingBus e({"$.data.shippingAddress.name"});
  auto& bus = *e.bus;
  auto& clock = e.clock;
  const std::string& bus_path = e.bus_path;
  // Unreadable events: one as an object without its CloudEvents attributes,
  // one as text that is not JSON, one naming only an order of the customer,
  // and one of another customer (kept).
  const std::vector<std::pair<std::string, boost::json::value>> bad{
      {"bad-object",
       boost::json::object{
           {"data", {{"customerId", "c-1"}, {"shippingAddress", {{"name", "Rita 4711"}}}}}}},
      {"bad-text", R"({"data":{"customerId":"c-1","shippingAddress":{"name":"Rita 4712"}})"},
      {"bad-order", boost::json::object{{"subject", "order-9"}, {"data", {{"name", "Rita 4713"}}}}},
      {"bad-other",
       boost::json::object{{"data", {{"customerId", "c-10"}, {"name", "Karl 4714"}}}}}};
  for (const auto& [id, event] : bad)
    ASSERT_TRUE(e.store->put(Item{std::string(kOutboxPk), id, 0, {{"event", event}}, std::nullopt},
                             Condition::not_exists()));
  ASSERT_TRUE(bus.relay_once());
  ASSERT_EQ(bus.dead_letters(std::string(kRelayDlq))->size(), 4u);
  ASSERT_NE(orderly::testing::sqlite_file_bytes(bus_path).find("Rita 4712"), std::string::npos);

  UnitOfWork uow{clock};
  uow.emit(make_event("orderly.orders", "orderly.test.Erase", "erasure-1", {{"customerId", "c-1"}},
                      clock.now()));
  ASSERT_TRUE(uow.commit(*e.store));
  ASSERT_TRUE(bus.relay_once());

  const auto file = orderly::testing::sqlite_file_bytes(bus_path);
  for (const char* gone : {"Rita 4711", "Rita 4712", "Rita 4713"})
    EXPECT_EQ(file.find(gone), std::string::npos) << gone << " still in bus.db";
  EXPECT_NE(file.find("Karl 4714"), std::string::npos);
  const auto dead = bus.dead_letters(std::string(kRelayDlq));
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 4u);  // the dead letters stay, for the operator
  for (const auto& d : *dead) {
    if (d.event_id == "bad-other") {
      EXPECT_NE(d.body.find("Karl 4714"), std::string::npos) << d.body;
    } else {
      EXPECT_EQ(d.body, R"({"erased":"[erased]"})") << d.event_id;
      EXPECT_FALSE(d.last_error.empty()) << d.event_id;
    }
  }
}

TEST(DurableBusThreads, DeliversEverythingAndStopsGracefully) {
  orderly::testing::TempDir dir;
  auto store = SqliteItemStore::open(dir.file("svc.db"));
  ASSERT_TRUE(store);
  auto bus = DurableBus::open({.path = dir.file("bus.db"), .workers = 3});
  ASSERT_TRUE(bus);
  (*bus)->attach_outbox("svc", **store);
  std::mutex mu;
  std::set<std::string> got;
  std::atomic<int> in_handler{0};
  ASSERT_TRUE((*bus)->subscribe({"r",
                                 EventPattern::for_types({kPlaced}),
                                 [&](const std::vector<Delivery>& ds) {
                                   ++in_handler;
                                   std::this_thread::sleep_for(2ms);
                                   std::lock_guard lk(mu);
                                   for (const auto& d : ds) got.insert(d.event.id);
                                   --in_handler;
                                   return std::vector<DeliveryResult>(ds.size());
                                 },
                                 {.batch_size = 8}}));
  ASSERT_TRUE((*bus)->start());
  std::set<std::string> sent;
  for (int i = 0; i < 300; ++i) {
    UnitOfWork uow{SystemClock::instance()};
    auto e = make_event("t", kPlaced, "s", {{"i", i}}, SystemClock::instance().now());
    sent.insert(e.id);
    uow.emit(e);
    ASSERT_TRUE(uow.commit(**store));
  }
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lk(mu);
      if (got.size() == sent.size()) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  (*bus)->stop();
  EXPECT_EQ(in_handler.load(), 0);
  EXPECT_EQ(got, sent);
  EXPECT_EQ(*(*bus)->backlog(), 0);
  EXPECT_EQ((*bus)->stats("r")->in_flight, 0);
}

}  // namespace
}  // namespace orderly::adapters::embedded
