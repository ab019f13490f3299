// The simulator's world: the table's services on real stores and the real
// bus, faulty ports, the seeded step loop, and the invariants.
#include "simulator.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>

#include "orderly/adapters/embedded/durable_bus.hpp"
#include "orderly/adapters/embedded/sqlite_item_store.hpp"
#include "orderly/hosts/service_table.hpp"
#include "orderly/platform/id.hpp"
#include "orderly/platform/log.hpp"
#include "orderly/platform/unit_of_work.hpp"
#include "orderly/services/inventory/service.hpp"
#include "orderly/services/notifications/service.hpp"
#include "orderly/services/orders/service.hpp"
#include "orderly/services/payments/service.hpp"
#include "orderly/services/payments/simulated_provider.hpp"
#include "orderly/services/shipping/service.hpp"
#include "scheduler.hpp"

namespace orderly::simulation {

namespace {

using adapters::embedded::DurableBus;
using adapters::embedded::SqliteItemStore;
using platform::ErrorKind;
using platform::Result;
using platform::Status;
namespace c = services::contracts;
using namespace std::chrono_literals;

// Every random choice of a run comes from here.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : gen_(seed) {}
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(gen_) < p; }
  std::size_t below(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(gen_);
  }
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(gen_);
  }

 private:
  std::mt19937_64 gen_;
};

struct World;

// A service's store: every call is a yield point; while faults are on, some
// calls fail before they reach SQLite.
class SimStore final : public platform::ItemStore {
 public:
  SimStore(World& w, std::string name, SqliteItemStore& real)
      : w_(w), name_(std::move(name)), real_(real) {}
  Result<std::optional<platform::Item>> get(const std::string& pk, const std::string& sk) override;
  Result<std::int64_t> put(const platform::Item& item, platform::Condition c) override;
  Result<std::int64_t> update(const platform::Update& u) override;
  Status remove(const std::string& pk, const std::string& sk, platform::Condition c) override;
  Result<platform::Page> query(const std::string& pk, const platform::QueryOptions& q) override;
  Status transact_write(const std::vector<platform::WriteOp>& ops) override;
  Status purge_overwritten() override;

 private:
  Status enter(const char* op, bool write);
  World& w_;
  std::string name_;
  SqliteItemStore& real_;
};

// The payment provider as life has it: slow, transiently failing, and
// sometimes timing out after it did the work.
class SimProvider final : public services::payments::PaymentProvider {
 public:
  explicit SimProvider(World& w) : w_(w) {}
  Result<services::payments::AuthResult> authorize(const std::string& key, const std::string& token,
                                                   const c::Money& amount) override;
  Status capture(const std::string& key, const c::Money& amount) override;
  Status void_authorization(const std::string& key) override;
  Status refund(const std::string& key, const c::Money& amount) override;
  services::payments::SimulatedProvider& ledger() { return real_; }

 private:
  template <class F>
  auto call(const char* op, const std::string& key, F&& f) -> decltype(f());
  World& w_;
  services::payments::SimulatedProvider real_;  // in memory: the provider outlives our crashes
};

struct PendingSettle {
  DurableBus::InFlight in_flight;
  std::vector<platform::DeliveryResult> results;
};

struct World {
  explicit World(const SimOptions& o) : options(o), rng(o.seed) {}

  const SimOptions& options;
  Rng rng;
  bool faults = true;
  platform::ManualClock clock;
  std::filesystem::path dir;
  std::map<std::string, std::unique_ptr<SqliteItemStore>> real;
  std::map<std::string, std::unique_ptr<SimStore>> stores;
  std::unique_ptr<SimProvider> provider;
  std::unique_ptr<DurableBus> bus;
  hosts::Settings settings;
  std::map<std::string, std::unique_ptr<hosts::Service>> services;
  std::vector<std::string> rule_names;
  std::vector<services::inventory::Product> catalogue;
  Scheduler sched;
  std::vector<std::shared_ptr<PendingSettle>> settles;
  std::vector<std::string> orders;  // placed (accepted) order ids
  std::set<std::string> cancel_planned;
  bool relay_running = false;
  int stall_at = -1;  // the fault phase's one stall, if this run has one
  bool poison_run = false;
  std::map<std::string, platform::CloudEvent> poison;  // by event id
  std::vector<std::string> erasures;                   // accepted erasure ids
  int erasures_refused = 0;                            // 409: an order was in flight
  SimResult result;
  int step = 0;

  void trace(std::string line) {
    if (!options.keep_trace) {
      // still hash it: determinism is checked on the hash
    }
    const std::string full =
        fmt::format("{:5} t+{:>7}ms {}", step, platform::to_unix_ms(clock.now()) - kStartMs, line);
    for (char ch : full)
      result.trace_hash = (result.trace_hash ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
    result.trace_hash = (result.trace_hash ^ '\n') * 1099511628211ULL;
    if (options.keep_trace) result.trace.push_back(full);
  }
  static constexpr std::int64_t kStartMs = 1'767'225'600'000;

  template <class S>
  S& service(const std::string& name) {
    return services.at(name)->as<S>();
  }
};

Status SimStore::enter(const char* op, bool write) {
  Scheduler::yield(fmt::format("{}.{}", name_, op));
  if (!w_.faults || !Scheduler::in_task()) return {};
  if (w_.rng.chance(w_.options.store_fault_rate))
    return platform::fail(ErrorKind::transient, "simulated: {} {} unavailable", name_, op);
  if (write && w_.rng.chance(w_.options.store_fault_rate / 2))
    return platform::fail(ErrorKind::conflict, "simulated: {} {} conflict", name_, op);
  return {};
}

Result<std::optional<platform::Item>> SimStore::get(const std::string& pk, const std::string& sk) {
  if (auto s = enter("get", false); !s) return tl::unexpected(s.error());
  return real_.get(pk, sk);
}
Result<std::int64_t> SimStore::put(const platform::Item& item, platform::Condition cond) {
  if (auto s = enter("put", true); !s) return tl::unexpected(s.error());
  return real_.put(item, cond);
}
Result<std::int64_t> SimStore::update(const platform::Update& u) {
  if (auto s = enter("update", true); !s) return tl::unexpected(s.error());
  return real_.update(u);
}
Status SimStore::remove(const std::string& pk, const std::string& sk, platform::Condition cond) {
  if (auto s = enter("remove", true); !s) return s;
  return real_.remove(pk, sk, cond);
}
Result<platform::Page> SimStore::query(const std::string& pk, const platform::QueryOptions& q) {
  if (auto s = enter("query", false); !s) return tl::unexpected(s.error());
  return real_.query(pk, q);
}
Status SimStore::transact_write(const std::vector<platform::WriteOp>& ops) {
  if (auto s = enter("commit", true); !s) return s;
  auto r = real_.transact_write(ops);
  Scheduler::yield(name_ + ".committed");  // a crash here: committed, not acknowledged
  return r;
}

Status SimStore::purge_overwritten() {
  if (auto s = enter("purge", true); !s) return s;
  return real_.purge_overwritten();
}

template <class F>
auto SimProvider::call(const char* op, const std::string& key, F&& f) -> decltype(f()) {
  Scheduler::yield(fmt::format("provider.{}", op));
  const bool faulty = w_.faults && Scheduler::in_task();
  if (faulty && w_.rng.chance(w_.options.provider_fault_rate))
    return platform::fail(ErrorKind::transient, "simulated: provider {} unavailable", op);
  if (faulty && w_.rng.chance(w_.options.provider_fault_rate)) Scheduler::yield("provider.slow");
  auto r = f();
  // A crash here: the provider did it, the service never recorded it.
  Scheduler::yield(fmt::format("provider.{}.done", op));
  if (faulty && r && w_.rng.chance(w_.options.provider_fault_rate))
    return platform::fail(ErrorKind::transient,
                          "simulated: provider {} timed out after the effect ({})", op, key);
  return r;
}

Result<services::payments::AuthResult> SimProvider::authorize(const std::string& key,
                                                              const std::string& token,
                                                              const c::Money& amount) {
  return call("authorize", key, [&] { return real_.authorize(key, token, amount); });
}
Status SimProvider::capture(const std::string& key, const c::Money& amount) {
  return call("capture", key, [&] { return real_.capture(key, amount); });
}
Status SimProvider::void_authorization(const std::string& key) {
  if (w_.options.plant_provider_ignores_voids) return call("void", key, [] { return Status{}; });
  return call("void", key, [&] { return real_.void_authorization(key); });
}
Status SimProvider::refund(const std::string& key, const c::Money& amount) {
  return call("refund", key, [&] { return real_.refund(key, amount); });
}

std::string subject_of(const DurableBus::InFlight& f) {
  std::string out;
  for (const auto& d : f.batch) {
    std::string type = d.event.type;
    if (auto dot = type.find_last_of('.'); dot != std::string::npos) type = type.substr(0, dot);
    if (auto dot = type.find_last_of('.'); dot != std::string::npos) type = type.substr(dot + 1);
    out += fmt::format(" {}({} rc{})", type, d.event.subject, d.receive_count);
  }
  return out;
}

Status open_world(World& w) {
  // Real SQLite files (WAL and all), on tmpfs when there is one: the
  // simulator's crashes are process crashes, which lose nothing committed.
  const std::filesystem::path shm = "/dev/shm";
  w.dir = (std::filesystem::is_directory(shm) ? shm : std::filesystem::temp_directory_path()) /
          fmt::format("orderly-sim-{}-{}", ::getpid(), w.options.seed);
  std::filesystem::remove_all(w.dir);
  std::filesystem::create_directories(w.dir);
  platform::seed_ids_for_simulation(w.options.seed * 0x9E3779B97F4A7C15ULL + 1);
  auto bus = DurableBus::open(
      {.path = (w.dir / "bus.db").string(),
       .clock = &w.clock,
       .workers = 1,  // never started: the simulator drives it
       .seed = w.options.seed,
       .fault_hook = [](std::string_view point) { Scheduler::yield(point); },
       .redaction_for =
           w.options.plant_bus_keeps_copies
               ? std::function<std::optional<platform::Redaction>(const platform::CloudEvent&)>{}
               : c::redaction_for});
  if (!bus) return tl::unexpected(bus.error());
  w.bus = std::move(*bus);
  w.provider = std::make_unique<SimProvider>(w);
  w.catalogue = {{"SKU-A", "Alpha", {1'000, "GBP"}, 40, 0},
                 {"SKU-B", "Beta", {250, "GBP"}, 40, 0},
                 {"SKU-RARE", "Rare", {9'900, "GBP"}, 2, 0}};
  w.settings.saga_timeout = 30'000ms;
  w.settings.carrier_delay = 5'000ms;
  // Short (the default is an hour), so that orders slowed by faults and stalls
  // meet it, and its cancellation races capture, dispatch and the customer.
  w.settings.fulfilment_timeout = 20'000ms;
  w.settings.catalogue = w.catalogue;
  for (const hosts::ServiceSpec* spec : hosts::service_table()) {
    auto real = SqliteItemStore::open((w.dir / (spec->name + ".db")).string(), {.clock = &w.clock});
    if (!real) return tl::unexpected(real.error());
    auto store = std::make_unique<SimStore>(w, spec->name, **real);
    auto svc = spec->build({.store = *store,
                            .clock = w.clock,
                            .settings = w.settings,
                            .payment_provider = w.provider.get()});
    if (!svc) return tl::unexpected(svc.error());
    w.bus->attach_outbox(spec->name, **real);
    for (auto& rule : (*svc)->rules()) {
      w.rule_names.push_back(rule.name);
      if (auto s = w.bus->subscribe(std::move(rule)); !s) return s;
    }
    if (spec->start)
      if (auto s = spec->start(**svc, w.settings); !s) return s;
    w.real[spec->name] = std::move(*real);
    w.stores[spec->name] = std::move(store);
    w.services[spec->name] = std::move(*svc);
  }
  return {};
}

// ---- actions ----

std::string personal_street(const std::string& order_id) {
  return order_id + " Analytical Row";
}

void place_order(World& w) {
  static const char* kTokens[] = {"tok_ok",    "tok_ok",      "tok_ok",     "tok_ok",
                                  "tok_flaky", "tok_decline", "tok_timeout"};
  const std::string token = kTokens[w.rng.below(std::size(kTokens))];
  std::vector<c::StockLine> items{{"SKU-A", w.rng.between(1, 3)}};
  if (w.rng.chance(0.5)) items.push_back({"SKU-B", w.rng.between(1, 2)});
  if (w.rng.chance(0.2)) items.push_back({"SKU-RARE", 1});
  const std::string id = platform::new_uuid_v7(w.clock.now());
  const std::string customer = fmt::format("customer-{}", w.rng.below(3));
  w.trace(fmt::format("spawn place {} {} {} lines", id, token, items.size()));
  w.orders.push_back(id);  // checked at the end only if the order exists
  if (w.rng.chance(w.options.cancel_rate)) w.cancel_planned.insert(id);
  w.sched.spawn("place " + id, [&w, id, customer, token, items] {
    auto& orders = w.service<services::orders::OrdersService>("orders");
    services::orders::PlaceOrder cmd{id,
                                     customer,
                                     items,
                                     token,
                                     // Personal data unique to the order, so the erasure invariant
                                     // can look for it byte by byte in every file.
                                     {fmt::format("Ada {}", customer), personal_street(id),
                                      std::nullopt, "London", "N1 9GU", "GB"},
                                     {}};
    (void)orders.place_order(cmd);  // a failure is the customer's retry to make
  });
}

// A customer's erasure, at any moment: refused (409) while one of their
// orders is in flight, and racing everything else when it is not.
void erase_customer(World& w) {
  const std::string customer = fmt::format("customer-{}", w.rng.below(3));
  w.trace("spawn erase " + customer);
  w.sched.spawn("erase " + customer, [&w, customer] {
    auto e = w.service<services::orders::OrdersService>("orders").erase_customer(customer);
    if (e) {
      w.erasures.push_back(e->id);
      w.trace(fmt::format("erasure {} of {} accepted", e->id, customer));
    } else if (e.error().kind == ErrorKind::failed_precondition) {
      ++w.erasures_refused;
    }
  });
}

void cancel_order(World& w, std::string id) {  // by value: erased from the plan below
  w.trace("spawn cancel " + id);
  w.cancel_planned.erase(id);
  w.sched.spawn("cancel " + id, [&w, id] {
    (void)w.service<services::orders::OrdersService>("orders").cancel_order(id);
  });
}

// Poison: a schema-invalid OrderCancelled for a placed order (a reason no
// version of the contract has), committed to orders' outbox as a buggy
// producer would. Every consumer must refuse it (permanent: to the DLQ with
// the reason), and the order must not notice.
void inject_poison(World& w) {
  if (w.orders.empty()) return;
  const std::string order = w.orders[w.rng.below(w.orders.size())];
  auto e =
      c::to_event(c::OrderCancelled{order, "customer-0", "because", {1, "GBP"}}, w.clock.now());
  const std::string id = e.id;
  w.trace(fmt::format("POISON {} {} for {}", e.type, id, order));
  platform::UnitOfWork uow{w.clock};
  uow.emit(e);
  if (uow.commit(*w.real.at("orders"))) {
    w.poison.emplace(id, std::move(e));
    ++w.result.poison;
  }
}

void spawn_relay(World& w) {
  w.relay_running = true;
  w.trace("spawn relay");
  w.sched.spawn("relay", [&w] {
    (void)w.bus->relay_once();
    Scheduler::yield("relay.end");
    w.relay_running = false;
  });
}

bool spawn_delivery(World& w, const std::string& rule) {
  auto f = w.bus->begin_delivery(rule);
  if (!f || !*f) return false;
  auto pending = std::make_shared<PendingSettle>();
  pending->in_flight = std::move(**f);
  w.trace(fmt::format("receive {}{}", rule, subject_of(pending->in_flight)));
  // The dangerous moment for a customer's cancel is the carrier's: aim some
  // planned cancels at it, so the cancel-versus-dispatch race is explored.
  for (const auto& d : pending->in_flight.batch)
    if ((d.event.type == c::CarrierProgressed::kType ||
         d.event.type == c::ShipmentDispatched::kType) &&
        w.cancel_planned.count(d.event.subject) && w.options.aim_cancels_at_carrier &&
        w.rng.chance(0.5))
      cancel_order(w, d.event.subject);
  w.sched.spawn("deliver " + rule, [&w, pending] {
    const auto* r = w.bus->rule(pending->in_flight.rule);
    const auto& batch = pending->in_flight.batch;
    if (w.options.plant_shipping_drops_cancel_requests &&
        pending->in_flight.rule == services::shipping::kEventsRule) {
      // The planted bug: a cancellation request is acknowledged, never handled.
      std::vector<platform::Delivery> kept;
      std::vector<std::size_t> index;
      pending->results.assign(batch.size(), platform::DeliveryResult::ok());
      for (std::size_t i = 0; i < batch.size(); ++i)
        if (batch[i].event.type != c::OrderCancellationRequested::kType) {
          kept.push_back(batch[i]);
          index.push_back(i);
        }
      if (!kept.empty()) {
        auto res = r->handler(kept);
        for (std::size_t k = 0; k < res.size() && k < index.size(); ++k)
          pending->results[index[k]] = res[k];
      }
    } else if (!batch.empty()) {
      pending->results = r->handler(batch);
    }
    Scheduler::yield("handled");  // a crash here: effects committed, never acknowledged
    w.settles.push_back(pending);
  });
  return true;
}

void settle_one(World& w, std::size_t i) {
  auto p = w.settles[i];
  w.settles.erase(w.settles.begin() + static_cast<std::ptrdiff_t>(i));
  std::string outcomes;
  for (const auto& r : p->results)
    outcomes += r.outcome == platform::Outcome::ok      ? " ok"
                : r.outcome == platform::Outcome::retry ? " retry"
                                                        : " FAIL";
  w.trace(fmt::format("settle {}{} ->{}", p->in_flight.rule, subject_of(p->in_flight), outcomes));
  (void)w.bus->finish_delivery(p->in_flight, p->results);
}

void crash(World& w) {
  const auto killed = w.sched.kill_all();
  w.trace(fmt::format("CRASH: {} tasks died, {} settlements lost", killed, w.settles.size()));
  w.settles.clear();
  w.relay_running = false;
  (void)w.bus->recover_in_flight();  // what start() does in the restarted process
  ++w.result.crashes;
}

void resume_one(World& w) {
  auto live = w.sched.live();
  const auto id = live[w.rng.below(live.size())];
  const std::string what = w.sched.describe(id);
  const bool done = w.sched.resume(id);
  w.trace(fmt::format("run {}{}", what, done ? " (done)" : ""));
}

// One step of the fault phase: the seed picks what happens next.
void fault_step(World& w, int& placed) {
  if (w.step == w.stall_at) {
    // A stall (a paused process, a slow disk): longer than the visibility
    // timeout (30 s), so what is in flight is received again while its first
    // delivery still runs, and timers fire.
    const auto d = platform::Millis{w.rng.between(30'000, 65'000)};
    w.clock.advance(d);
    w.trace(fmt::format("STALL: clock +{}ms", d.count()));
    return;
  }
  const bool tasks = !w.sched.live().empty();
  const std::size_t choice = w.rng.below(1000);
  // Bands of the draw: each action owns one; an action that cannot happen now
  // falls back to running a task (or letting time pass).
  if (choice < 400 && tasks) return resume_one(w);
  if (choice >= 400 && choice < 500 && !w.settles.empty())
    return settle_one(w, w.rng.below(w.settles.size()));
  if (choice >= 500 && choice < 580 && !w.relay_running) return spawn_relay(w);
  if (choice >= 580 && choice < 720 &&
      spawn_delivery(w, w.rule_names[w.rng.below(w.rule_names.size())]))
    return;
  if (choice >= 720 && choice < 780 && placed < w.options.orders) {
    ++placed;
    return place_order(w);
  }
  if (choice >= 780 && choice < 790 && !w.cancel_planned.empty()) {
    auto it = w.cancel_planned.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(w.rng.below(w.cancel_planned.size())));
    return cancel_order(w, *it);
  }
  if (choice >= 790 && choice < 793 && w.poison_run && w.poison.size() < 2) return inject_poison(w);
  if (choice >= 793 && choice < 797 && w.erasures.size() < 3) return erase_customer(w);
  if (choice >= 820 && choice < 830 && w.rng.chance(w.options.crash_rate * 100)) return crash(w);
  if (choice >= 830 && choice < 880) {
    const auto d = platform::Millis{w.rng.between(5, 800)};
    w.clock.advance(d);
    w.trace(fmt::format("clock +{}ms", d.count()));
    return;
  }
  if (tasks) return resume_one(w);
  w.clock.advance(platform::Millis{w.rng.between(5, 300)});
  w.trace("clock (idle)");
}

void check_safety(World& w);

// Faults stop, concurrency does not: handlers, relays and customer cancels
// still interleave at random (sagas reach the carrier here, and the cancel
// races it), until the system is at rest or the step budget is spent.
void calm(World& w, int max_steps) {
  w.trace("calm: faults off, interleaving on");
  for (int i = 0; i < max_steps; ++i, ++w.step) {
    if (w.step % 25 == 0) check_safety(w);
    const bool tasks = !w.sched.live().empty();
    if (tasks && w.rng.chance(0.6)) {
      resume_one(w);
      continue;
    }
    if (!w.settles.empty() && w.rng.chance(0.5)) {
      settle_one(w, w.rng.below(w.settles.size()));
      continue;
    }
    if (!w.relay_running && w.rng.chance(0.3)) {
      spawn_relay(w);
      continue;
    }
    if (spawn_delivery(w, w.rule_names[w.rng.below(w.rule_names.size())])) continue;
    if (tasks) {
      resume_one(w);
      continue;
    }
    if (!w.settles.empty()) continue;
    if (!w.cancel_planned.empty() && w.rng.chance(0.1)) {
      auto it = w.cancel_planned.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(w.rng.below(w.cancel_planned.size())));
      cancel_order(w, *it);
      continue;
    }
    auto backlog = w.bus->backlog();
    if (backlog && *backlog == 0 && w.cancel_planned.empty()) return;
    const auto d = platform::Millis{w.rng.between(100, 1500)};
    w.clock.advance(d);
    w.trace(fmt::format("clock +{}ms", d.count()));
  }
}

// Everything in flight finishes, then the system runs to rest, one thing at a time.
bool drain(World& w) {
  w.faults = false;
  w.trace("faults off");
  for (int round = 0; round < 5000; ++round) {
    while (!w.sched.live().empty()) resume_one(w);
    while (!w.settles.empty()) settle_one(w, 0);
    std::size_t work = 0;
    if (auto n = w.bus->relay_once(); n) work += *n;
    for (const auto& rule : w.rule_names)
      if (spawn_delivery(w, rule)) ++work;
    if (work > 0 || !w.sched.live().empty()) continue;
    auto backlog = w.bus->backlog();
    if (backlog && *backlog == 0) return true;
    w.clock.advance(1'000ms);  // wait for timers and backoffs
  }
  return false;
}

// ---- invariants ----

// What must hold at every moment, not only at rest, checked every few steps
// (reads outside any task, so no fault is injected into them): goods never
// leave for an order whose money was returned, and the provider never holds
// more than an order's total.
void check_safety(World& w) {
  auto& shipping = w.service<services::shipping::ShippingService>("shipping");
  auto& orders = w.service<services::orders::OrdersService>("orders");
  const auto accounts = w.provider->ledger().accounts();
  for (const auto& id : w.orders) {
    auto ship = shipping.get_shipment(id);
    if (!ship || !*ship) continue;
    const bool left = (*ship)->status == services::shipping::ShipmentStatus::dispatched ||
                      (*ship)->status == services::shipping::ShipmentStatus::delivered;
    const auto it = accounts.find(services::payments::payment_id_for(id));
    if (it == accounts.end()) continue;
    const auto& acct = it->second;
    if (left && (acct.refunded || (acct.voided && !acct.captured))) {
      if (w.result.offending_order.empty()) w.result.offending_order = id;
      w.result.violations.push_back(fmt::format(
          "{}: goods (at step {}): the shipment left and the money was returned", id, w.step));
    }
    auto o = orders.get_order(id);
    if (o && *o && acct.captured && acct.captured_amount.amount > (*o)->total.amount)
      w.result.violations.push_back(
          fmt::format("{}: money (at step {}): captured more than the total", id, w.step));
  }
}

// Erasure: every accepted erasure completes, and afterwards no personal field
// of the orders it covered is left anywhere: not in a service's records (the
// order's and the shipment's address, the mailbox), and not in any byte of any
// file (every store and the bus, with their WAL files).
template <class Violate>
void check_erasures(World& w, Violate& violate) {
  auto& orders = w.service<services::orders::OrdersService>("orders");
  auto& shipping = w.service<services::shipping::ShippingService>("shipping");
  auto& notifications = w.service<services::notifications::NotificationsService>("notifications");
  if (w.erasures.empty()) return;
  // What each erasure covered, from its CustomerErasureRequested in the archive.
  std::map<std::string, c::CustomerErasureRequested> requested;
  auto archived = w.bus->archive_since(0, 1'000'000);
  if (!archived) return violate("", "erasure: archive unreadable: " + archived.error().message);
  for (const auto& a : *archived) {
    if (a.type != c::CustomerErasureRequested::kType) continue;
    auto e = platform::parse_event(a.body);
    if (!e) continue;
    auto d = c::decode<c::CustomerErasureRequested>(*e);
    if (d) requested.emplace(d->erasure_id, *d);
  }
  std::map<std::string, std::string> files;  // name -> bytes
  for (const auto& f : std::filesystem::directory_iterator(w.dir)) {
    std::ifstream in(f.path(), std::ios::binary);
    files[f.path().filename().string()].assign(std::istreambuf_iterator<char>(in),
                                               std::istreambuf_iterator<char>());
  }
  for (const auto& id : w.erasures) {
    auto er = orders.get_erasure(id);
    if (!er || !*er) {
      violate("", "erasure: " + id + " accepted but not recorded");
      continue;
    }
    if ((*er)->status != "COMPLETED")
      violate("", fmt::format("liveness: erasure {} is {} with {} answers", id, (*er)->status,
                              (*er)->answered.size()));
    const auto it = requested.find(id);
    if (it == requested.end()) {
      violate("", "erasure: " + id + " was never published");
      continue;
    }
    const auto& d = it->second;
    auto mail = notifications.mailbox(d.customer_id, 1000);
    for (const auto& order_id : d.order_ids) {
      auto o = orders.get_order(order_id);
      if (o && *o && (*o)->shipping_address.line1 != c::kErased)
        violate(order_id, "erasure: the order keeps its address after erasure " + id);
      auto s = shipping.get_shipment(order_id);
      if (s && *s && (*s)->address && (*s)->address->line1 != c::kErased)
        violate(order_id, "erasure: the shipment keeps its address after erasure " + id);
      if (mail)
        for (const auto& n : *mail)
          if (n.order_id == order_id)
            violate(order_id,
                    fmt::format("erasure: a {} message is in the mailbox after erasure {}",
                                services::notifications::to_string(n.template_name), id));
      if (o && *o) ++w.result.erased_orders;
      const std::string street = personal_street(order_id);
      for (const auto& [name, bytes] : files)
        if (bytes.find(street) != std::string::npos)
          violate(order_id,
                  fmt::format("erasure: {} still holds the address after erasure {}", name, id));
    }
  }
}

void check(World& w) {
  auto& orders = w.service<services::orders::OrdersService>("orders");
  auto& payments = w.service<services::payments::PaymentsService>("payments");
  auto& shipping = w.service<services::shipping::ShippingService>("shipping");
  auto& inventory = w.service<services::inventory::InventoryService>("inventory");
  const auto accounts = w.provider->ledger().accounts();
  auto violate = [&](const std::string& order, std::string what) {
    if (w.result.offending_order.empty()) w.result.offending_order = order;
    w.result.violations.push_back(order.empty() ? what : order + ": " + what);
  };
  std::map<std::string, std::int64_t> shipped;  // sku -> quantity that left
  for (const auto& id : w.orders) {
    auto o = orders.get_order(id);
    if (!o) {
      violate(id, "orders store: " + o.error().message);
      continue;
    }
    if (!*o) continue;  // the placement never committed (a crash or a fault): nothing to check
    const auto& order = **o;
    if (!order.terminal())
      violate(id, fmt::format("liveness: still {} after the drain",
                              services::orders::to_string(order.status)));
    if (order.cancellation_requested)
      violate(id, "liveness: a customer's cancellation request was never answered");
    std::set<std::string> seen;
    for (const auto& t : order.timeline)
      if (!seen.insert(t.event_id).second)
        violate(id, "effects: " + t.type + " applied twice to the order");
    const std::string pay_id = services::payments::payment_id_for(id);
    const auto acct_it = accounts.find(pay_id);
    const services::payments::SimulatedProvider::Account acct =
        acct_it == accounts.end() ? services::payments::SimulatedProvider::Account{}
                                  : acct_it->second;
    const std::int64_t net = (acct.captured ? acct.captured_amount.amount : 0) -
                             (acct.refunded ? acct.refunded_amount.amount : 0);
    if (acct.authorized && !acct.captured && !acct.voided)
      violate(id, "money: an authorisation hold is left open at the provider");
    auto ship = shipping.get_shipment(id);
    const bool left = ship && *ship &&
                      ((*ship)->status == services::shipping::ShipmentStatus::dispatched ||
                       (*ship)->status == services::shipping::ShipmentStatus::delivered);
    if (order.status == services::orders::Status::cancelled) {
      if (net != 0) violate(id, fmt::format("money: cancelled but {} kept", net));
      if (left) violate(id, "goods: shipment left for an order whose money was returned");
    }
    if (order.status == services::orders::Status::delivered) {
      if (!acct.captured || acct.captured_amount.amount != order.total.amount)
        violate(id, "money: delivered without its total captured");
      if (acct.refunded) violate(id, "money: delivered and refunded");
      if (!left) violate(id, "goods: delivered but the shipment never left");
    }
    auto pay = payments.get_payment(id);
    if (pay && *pay && order.status == services::orders::Status::delivered &&
        (*pay)->status != services::payments::PaymentStatus::captured)
      violate(id, fmt::format("payments: delivered order's payment is {}",
                              services::payments::to_string((*pay)->status)));
    if (left)
      for (const auto& l : order.items) shipped[l.sku] += l.quantity;
    if (order.status == services::orders::Status::delivered) ++w.result.orders_delivered;
    if (order.status == services::orders::Status::cancelled) ++w.result.orders_cancelled;
    if (order.cancellation_reason == services::orders::kFulfilmentTimeout)
      ++w.result.deadline_cancels;
  }
  for (const auto& p : w.catalogue) {
    auto now = inventory.get_product(p.sku);
    if (!now || !*now) {
      violate("", "inventory: product " + p.sku + " unreadable");
      continue;
    }
    if ((*now)->reserved != 0)
      violate("", fmt::format("goods: {} has {} reserved at rest", p.sku, (*now)->reserved));
    if ((*now)->on_hand != p.on_hand - shipped[p.sku])
      violate("", fmt::format("goods: {} on hand {} != seeded {} - shipped {}", p.sku,
                              (*now)->on_hand, p.on_hand, shipped[p.sku]));
  }
  check_erasures(w, violate);
  // DLQ: empty, unless the run injected poison; then exactly the poison, once
  // in each rule that matches it, with the reason.
  std::map<std::string, std::set<std::string>> poison_dead;  // event id -> rules
  auto dead = w.bus->dead_letters({}, 1000);
  if (!dead) violate("", "dlq: unreadable: " + dead.error().message);
  if (dead)
    for (const auto& d : *dead) {
      std::string subject;
      if (auto e = platform::parse_event(d.body)) subject = e->subject;
      if (w.poison.count(d.event_id)) {
        if (!poison_dead[d.event_id].insert(d.rule).second)
          violate(subject, fmt::format("dlq: poison {} twice in {}", d.event_id, d.rule));
        if (d.last_error.find("$.data.reason") == std::string::npos)
          violate(subject,
                  fmt::format("dlq: poison in {} without its reason: {}", d.rule, d.last_error));
        continue;
      }
      violate(subject, fmt::format("dlq: {} {} dead after {} receives: {}", d.rule, d.event_type,
                                   d.receive_count, d.last_error));
    }
  for (const auto& [id, event] : w.poison) {
    std::set<std::string> expected;
    for (const auto& name : w.rule_names)
      if (const auto* r = w.bus->rule(name); r && r->pattern.matches(event)) expected.insert(name);
    if (poison_dead[id] != expected)
      violate("", fmt::format("dlq: poison {} is dead in {} of the {} rules that match it", id,
                              poison_dead[id].size(), expected.size()));
  }
}

}  // namespace

std::string SimResult::report() const {
  std::string out = fmt::format(
      "simulation seed {}: {} ({} steps, {} crashes, {} delivered, {} cancelled ({} at the "
      "fulfilment deadline), {} poison, {} erasures ({} orders; {} refused))\n",
      seed, ok ? "ok" : "INVARIANTS BROKEN", steps, crashes, orders_delivered, orders_cancelled,
      deadline_cancels, poison, erasures, erased_orders, erasures_refused);
  for (const auto& v : violations) out += "  violation: " + v + "\n";
  if (!ok) {
    out += fmt::format("  replay: build/tests/orderly_sim --seed {} --trace\n", seed);
    if (!offending_order.empty()) {
      out += "  trace of " + offending_order + ":\n";
      for (const auto& line : trace)
        if (line.find(offending_order) != std::string::npos ||
            line.find("CRASH") != std::string::npos)
          out += "    " + line + "\n";
    }
  }
  return out;
}

SimResult run_simulation(const SimOptions& options) {
  platform::log::configure(
      {.level = platform::log::Level::error, .spans = false, .sink = [](std::string_view) {}},
      false);
  World w(options);
  w.result.seed = options.seed;
  if (auto s = open_world(w); !s) {
    w.result.ok = false;
    w.result.violations.push_back("setup: " + s.error().message);
    return w.result;
  }
  // The orders service learns the catalogue (calmly) before anything else happens.
  if (!drain(w)) w.result.violations.push_back("setup: the catalogue did not settle");
  w.faults = true;
  w.trace("faults on");
  // A third of the runs have one stall, at a random step of the fault phase.
  if (w.rng.chance(0.3)) w.stall_at = static_cast<int>(w.rng.between(50, options.fault_steps - 50));
  w.poison_run = w.rng.chance(options.poison_rate);
  int placed = 0;
  for (w.step = 0; w.step < options.fault_steps || placed < options.orders; ++w.step) {
    fault_step(w, placed);
    if (w.step % 25 == 0) check_safety(w);
  }
  w.faults = false;
  calm(w, 4000);
  while (!w.cancel_planned.empty()) cancel_order(w, *w.cancel_planned.begin());
  if (!drain(w)) w.result.violations.push_back("liveness: the system did not come to rest");
  check(w);
  w.result.steps = w.step;
  w.result.erasures = static_cast<int>(w.erasures.size());
  w.result.erasures_refused = w.erasures_refused;
  w.result.ok = w.result.violations.empty();
  SimResult out = std::move(w.result);
  w.sched.kill_all();
  w.services.clear();
  w.bus.reset();
  w.real.clear();
  std::filesystem::remove_all(w.dir);
  return out;
}

}  // namespace orderly::simulation
