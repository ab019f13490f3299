// Property: under any interleaving of publish, relay, deliver, ack, fail,
// redeliver, crash and restart, every committed event's effect is applied
// exactly once per consumer, and nothing is lost. The property drives the bus
// one step at a time on one thread (its crashes are exceptions out of the
// bus's fault hooks; tests/crash/ kills real processes). BusConcurrency below
// runs the bus's own worker threads, with visibility timeouts that run out
// under a handler, so two deliveries of one message really run at once.
//
// Two rules consume every event. An effect is a non-idempotent increment of a
// per-(rule, event) counter, guarded only by the inbox (handle_once), so a
// duplicate that slipped through would show up as a count of 2.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "orderly/adapters/embedded/durable_bus.hpp"
#include "orderly/platform/unit_of_work.hpp"
#include "support/temp_dir.hpp"

namespace orderly {
namespace {

using namespace orderly::platform;
using namespace orderly::adapters::embedded;
using namespace std::chrono_literals;

enum class Mode {
  ok,                // apply the effect and ack
  fail_before,       // transient failure before any effect
  fail_after,        // effect committed, then the answer is lost (retry)
  crash_before_ack,  // effect committed, the process dies before acking
  crash_in_handler,  // the process dies mid-handler, before the effect commits
};

enum class OpKind { publish, relay, relay_crash, deliver, advance, restart, redrive };

struct Op {
  OpKind kind;
  int count;  // events to publish, rule index, or seconds to advance
  Mode mode;
};

// Thrown from the bus's fault hooks, which sit outside its handler try-blocks,
// so it unwinds out of the bus like a process death would stop it.
struct Crash {};

const std::vector<std::string> kRules = {"alpha", "beta"};
constexpr const char* kType = "orderly.test.Happened.v1";

class World {
 public:
  World() { open(); }

  void open() {
    bus_.reset();
    store_.reset();
    auto s = SqliteItemStore::open(dir_.file("svc.db"), {.clock = &clock_});
    RC_ASSERT(s.has_value());
    store_ = std::move(*s);
    auto b = DurableBus::open({.path = dir_.file("bus.db"),
                               .clock = &clock_,
                               .seed = 7,
                               .fault_hook = [this](std::string_view p) {
                                 if (p == crash_at_) {
                                   crash_at_.clear();
                                   throw Crash();
                                 }
                               }});
    RC_ASSERT(b.has_value());
    bus_ = std::move(*b);
    bus_->attach_outbox("svc", *store_);
    for (const auto& rule : kRules) {
      RuleOptions o;
      o.batch_size = 3;
      o.visibility_timeout = 5'000ms;
      o.max_receive_count = 4;
      o.backoff_base = 100ms;
      o.backoff_cap = 2'000ms;
      auto r = bus_->subscribe(
          {rule, EventPattern::for_types({kType}),
           each_message([this, rule](const Delivery& d) { return handle(rule, d); }), o});
      RC_ASSERT(r.has_value());
    }
    RC_ASSERT(bus_->recover_in_flight().has_value());
  }

  Status handle(const std::string& rule, const Delivery& d) {
    if (mode_ == Mode::fail_before) return make_error(ErrorKind::transient, "flaky");
    if (mode_ == Mode::crash_in_handler) {  // dies before its unit of work commits
      crash_at_ = "consume.before_ack";
      return make_error(ErrorKind::transient, "unreachable: the process is dying");
    }
    auto s = handle_once(*store_, clock_, d.event, rule, [&](UnitOfWork& uow) -> Status {
      const std::string pk = "EFFECT#" + rule;
      auto cur = store_->get(pk, d.event.id);
      if (!cur) return tl::unexpected(cur.error());
      const std::int64_t n = *cur ? (**cur).attrs.at("n").as_int64() : 0;
      uow.put(Item{pk, d.event.id, 0, {{"n", n + 1}}, std::nullopt},
              *cur ? Condition::version_is((**cur).version) : Condition::not_exists());
      return {};
    });
    if (!s) return s;
    if (mode_ == Mode::fail_after) return make_error(ErrorKind::transient, "answer lost");
    if (mode_ == Mode::crash_before_ack) crash_at_ = "consume.before_ack";
    return {};
  }

  void apply(const Op& op) {
    switch (op.kind) {
      case OpKind::publish: {
        UnitOfWork uow{clock_};
        for (int i = 0; i < op.count; ++i) {
          auto e = make_event("orderly.test", kType, "s", {{"i", i}}, clock_.now());
          published_.insert(e.id);
          uow.emit(std::move(e));
        }
        RC_ASSERT(uow.commit(*store_).has_value());
        break;
      }
      case OpKind::relay:
        RC_ASSERT(bus_->relay_once().has_value());
        break;
      case OpKind::relay_crash:
        crash_at_ = "relay.after_publish";
        try {
          (void)bus_->relay_once();
        } catch (const Crash&) {
          open();  // the process died; a new one starts on the same files
        }
        crash_at_.clear();
        break;
      case OpKind::deliver:
        mode_ = op.mode;
        try {
          auto n = bus_->deliver_once(kRules[static_cast<std::size_t>(op.count) % kRules.size()]);
          RC_ASSERT(n.has_value());
        } catch (const Crash&) {
          open();
        }
        crash_at_.clear();
        mode_ = Mode::ok;
        break;
      case OpKind::advance:
        clock_.advance(Millis{op.count * 1'000});
        break;
      case OpKind::restart:
        open();
        break;
      case OpKind::redrive:
        for (const auto& r : kRules) RC_ASSERT(bus_->redrive(r).has_value());
        break;
    }
  }

  // Heal: let every message through, including the dead letters.
  void settle_everything() {
    mode_ = Mode::ok;
    for (int round = 0; round < 50; ++round) {
      clock_.advance(60'000ms);
      for (const auto& r : kRules) RC_ASSERT(bus_->redrive(r).has_value());
      RC_ASSERT(bus_->run_until_idle().has_value());
      if (*bus_->backlog() == 0 && bus_->dead_letters()->empty() &&
          store_->query(std::string(kOutboxPk), {})->items.empty())
        return;
    }
    RC_FAIL("the bus did not settle");
  }

  void check_exactly_once() {
    RC_ASSERT(*bus_->archived_count() == static_cast<std::int64_t>(published_.size()));
    for (const auto& rule : kRules) {
      std::map<std::string, std::int64_t> effects;
      QueryOptions q;
      q.limit = 10'000;
      auto page = store_->query("EFFECT#" + rule, q);
      RC_ASSERT(page.has_value());
      for (const auto& it : page->items) effects[it.sk] = it.attrs.at("n").as_int64();
      RC_ASSERT(effects.size() == published_.size());
      for (const auto& id : published_) {
        RC_ASSERT(effects.count(id) == 1u);
        RC_ASSERT(effects[id] == 1);
      }
    }
  }

 private:
  orderly::testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<SqliteItemStore> store_;
  std::unique_ptr<DurableBus> bus_;
  Mode mode_ = Mode::ok;
  std::string crash_at_;
  std::set<std::string> published_;
};

rc::Gen<Op> gen_op() {
  using rc::gen::element;
  using rc::gen::inRange;
  return rc::gen::oneOf(
      rc::gen::build<Op>(rc::gen::set(&Op::kind, rc::gen::just(OpKind::publish)),
                         rc::gen::set(&Op::count, inRange(1, 4))),
      rc::gen::build<Op>(rc::gen::set(&Op::kind, rc::gen::just(OpKind::relay))),
      rc::gen::build<Op>(rc::gen::set(&Op::kind, rc::gen::just(OpKind::relay_crash))),
      rc::gen::build<Op>(
          rc::gen::set(&Op::kind, rc::gen::just(OpKind::deliver)),
          rc::gen::set(&Op::count, inRange(0, 2)),
          rc::gen::set(&Op::mode, element(Mode::ok, Mode::ok, Mode::fail_before, Mode::fail_after,
                                          Mode::crash_before_ack, Mode::crash_in_handler))),
      rc::gen::build<Op>(rc::gen::set(&Op::kind, rc::gen::just(OpKind::deliver)),
                         rc::gen::set(&Op::count, inRange(0, 2)),
                         rc::gen::set(&Op::mode, rc::gen::just(Mode::ok))),
      rc::gen::build<Op>(rc::gen::set(&Op::kind, rc::gen::just(OpKind::advance)),
                         rc::gen::set(&Op::count, inRange(0, 8))),
      rc::gen::build<Op>(rc::gen::set(&Op::kind, rc::gen::just(OpKind::restart))),
      rc::gen::build<Op>(rc::gen::set(&Op::kind, rc::gen::just(OpKind::redrive))));
}

std::ostream& operator<<(std::ostream& os, const Op& op) {
  static const char* kinds[] = {"publish", "relay",   "relay_crash", "deliver",
                                "advance", "restart", "redrive"};
  return os << kinds[static_cast<int>(op.kind)] << "(" << op.count << ","
            << static_cast<int>(op.mode) << ")";
}

RC_GTEST_PROP(BusProperty, EveryCommittedEventTakesEffectExactlyOncePerConsumer, ()) {
  const auto ops = *rc::gen::container<std::vector<Op>>(gen_op());
  World world;
  for (const auto& op : ops) world.apply(op);
  world.settle_everything();
  world.check_exactly_once();
}

// Real threads: four workers, a 10 ms visibility timeout, and handlers whose
// first deliveries sleep past it, so the message is received again and a
// second delivery runs while the first is still inside its handler. Both may
// reach handle_once's commit at the same time; the inbox marker (not_exists,
// in the same transaction as the effect) must let exactly one through, and
// the stale settlement of the other must be ignored.
//
// Grouped: the rules are named after the store ("svc.alpha"), so each batch
// runs as one group commit of it (each message under its own savepoint), as
// the embedded host runs every service. The second copy then waits at the
// group for the first to commit, and must find its inbox marker there; the
// first copy's settlement, stale by then, must not delete the second's message.
void two_deliveries_at_once(bool grouped) {
  std::atomic<int> overlaps{0}, absorbed{0};
  std::mt19937 rng(20261202);
  for (int round = 0; round < 8; ++round) {
    orderly::testing::TempDir dir;
    auto store = SqliteItemStore::open(dir.file("svc.db"));
    ASSERT_TRUE(store);
    auto bus = DurableBus::open({.path = dir.file("bus.db"),
                                 .workers = 4,
                                 .idle_poll = Millis{2},
                                 .seed = static_cast<std::uint64_t>(round)});
    ASSERT_TRUE(bus);
    (*bus)->attach_outbox("svc", **store);
    std::mutex mu;
    std::map<std::string, int> running;
    std::vector<int> pauses(64);
    for (auto& p : pauses) p = std::uniform_int_distribution<int>(0, 30)(rng);
    for (const auto& base : kRules) {
      const std::string rule = grouped ? "svc." + base : base;
      ASSERT_EQ((*bus)->owner_of(rule), grouped ? store->get() : nullptr);
      RuleOptions o;
      o.batch_size = 1;
      o.visibility_timeout = 10ms;
      o.max_receive_count = 1'000;
      o.backoff_base = 1ms;
      o.backoff_cap = 5ms;
      auto handler = [&, rule](const Delivery& d) -> Status {
        const std::string key = rule + "/" + d.event.id;
        {
          std::lock_guard lk(mu);
          if (++running[key] > 1) ++overlaps;
        }
        // The first two deliveries of each message outlive the visibility timeout.
        if (d.receive_count <= 2)
          std::this_thread::sleep_for(Millis{
              25 +
              pauses[(std::hash<std::string>{}(key) + static_cast<std::size_t>(d.receive_count)) %
                     64]});
        bool applied = false;
        auto s = handle_once(
            **store, SystemClock::instance(), d.event, rule, [&](UnitOfWork& uow) -> Status {
              applied = true;
              // Between the inbox lookup and the effect's read: where a racing
              // copy's commit can land.
              std::this_thread::sleep_for(Millis{1 + d.receive_count % 3});
              const std::string pk = "EFFECT#" + rule;
              auto cur = (*store)->get(pk, d.event.id);
              if (!cur) return tl::unexpected(cur.error());
              const std::int64_t n = *cur ? (**cur).attrs.at("n").as_int64() : 0;
              uow.put(Item{pk, d.event.id, 0, {{"n", n + 1}}, std::nullopt},
                      *cur ? Condition::version_is((**cur).version) : Condition::not_exists());
              return {};
            });
        {
          std::lock_guard lk(mu);
          --running[key];
        }
        if (s && !applied) ++absorbed;  // a copy the inbox marker turned away
        return s;
      };
      ASSERT_TRUE(
          (*bus)->subscribe({rule, EventPattern::for_types({kType}), each_message(handler), o}));
    }
    ASSERT_TRUE((*bus)->start());
    std::set<std::string> published;
    for (int batch = 0; batch < 3; ++batch) {
      UnitOfWork uow{SystemClock::instance()};
      for (int i = 0; i < 4; ++i) {
        auto e = make_event("orderly.test", kType, "s", {{"i", i}}, SystemClock::instance().now());
        published.insert(e.id);
        uow.emit(std::move(e));
      }
      ASSERT_TRUE(uow.commit(**store));
    }
    for (int i = 0; i < 3'000; ++i) {
      if (*(*bus)->backlog() == 0 && (*store)->query(std::string(kOutboxPk), {})->items.empty())
        break;
      std::this_thread::sleep_for(10ms);
    }
    (*bus)->stop();
    ASSERT_EQ(*(*bus)->backlog(), 0) << "round " << round << " did not drain";
    EXPECT_TRUE((*bus)->dead_letters()->empty());
    for (const auto& base : kRules) {
      const std::string rule = grouped ? "svc." + base : base;
      QueryOptions q;
      q.limit = 1'000;
      auto page = (*store)->query("EFFECT#" + rule, q);
      ASSERT_TRUE(page);
      ASSERT_EQ(page->items.size(), published.size()) << rule;
      for (const auto& it : page->items)
        EXPECT_EQ(it.attrs.at("n").as_int64(), 1) << rule << " applied " << it.sk << " twice";
    }
  }
  // The point of the test: second copies really ran while the first was in
  // its handler (ungrouped), or were turned away by the marker the first
  // committed in its group (grouped: a group holds its store, so two copies
  // never share a handler's time).
  ::testing::Test::RecordProperty("overlaps", overlaps.load());
  ::testing::Test::RecordProperty("absorbed", absorbed.load());
  if (grouped) {
    EXPECT_GT(absorbed.load(), 10);
  } else {
    EXPECT_GT(overlaps.load(), 10);
  }
}

TEST(BusConcurrency, TwoDeliveriesOfOneMessageAtOnceApplyItsEffectOnce) {
  two_deliveries_at_once(false);
}

TEST(BusConcurrency, TwoDeliveriesOfOneMessageAtOnceApplyItsEffectOnceInGroupCommits) {
  two_deliveries_at_once(true);
}

}  // namespace
}  // namespace orderly
