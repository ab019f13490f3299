// The service table: each service described once — its name, the ports it is
// built from, its subscriptions, its REST routes, and the handler kinds it
// exposes on Lambda. The embedded host (`orderly up`), the Lambda bootstraps,
// the topology that infra/ deploys (`contract_dump --topology`) and the
// simulator all iterate over it. A sixth service is one more entry (a file in
// hosts/src/) plus its own folder under services/.
//
//   for (const ServiceSpec* spec : service_table()) {
//     auto svc = spec->build({.store = store_of(spec->name), .clock = clock, .settings = s});
//     for (auto& rule : (*svc)->rules()) bus.subscribe(std::move(rule));
//     if (spec->routes) spec->routes(router, **svc);
//   }
//
// Reading the table (names, rules, event types, timers) builds nothing.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orderly/platform/bus.hpp"
#include "orderly/platform/clock.hpp"
#include "orderly/platform/http.hpp"
#include "orderly/platform/item_store.hpp"
#include "orderly/platform/subscriptions.hpp"
#include "orderly/services/inventory/domain.hpp"
#include "orderly/services/notifications/service.hpp"
#include "orderly/services/payments/provider.hpp"

namespace orderly::hosts {

using platform::Result;

// What a deployment configures about the services; both runtimes fill it.
struct Settings {
  // A PENDING order is cancelled after this. It must outlast every message's
  // retries (platform::RuleOptions::retry_budget(), 20 s), here and on AWS,
  // where the Lambda host gives a failed message the same backoff.
  platform::Millis saga_timeout{30'000};
  // A CONFIRMED order not shipped this long after confirmation is cancelled
  // through the pivot (docs/architecture.md#fulfilment-deadline). It must
  // outlast the retries of the steps it waits for, or a transient fault would
  // cancel an order that was going to ship: on AWS a failed SQS message comes
  // back after the queue's visibility timeout, so 10 receives of 180 s take 30
  // minutes when a function fails before it can set the backoff (infra/test
  // checks the deployed numbers against this one); otherwise the bus's backoff,
  // 3 s at most per retry, applies on both.
  platform::Millis fulfilment_timeout{3'600'000};
  platform::Millis carrier_delay{5'000};  // between a shipment's carrier steps
  // How long a delivered order's personal data is kept (docs/adr/0017): 90
  // days covers the 30-day return window and a chargeback's usual 60 more
  // days of disputes, by which time a delivery address is no longer needed.
  platform::Millis retention{90LL * 24 * 3600 * 1000};
  std::optional<std::vector<services::inventory::Product>> catalogue;  // default: the seed
  bool seed_catalogue = true;  // inventory writes its catalogue into an empty store at start
};

// The ports a service is built from: a store and a clock for every service,
// the others only for the services that name them in ServiceSpec::needs.
struct Ports {
  platform::ItemStore& store;
  const platform::Clock& clock;
  const Settings& settings;
  services::payments::PaymentProvider* payment_provider = nullptr;
  services::notifications::Channel* notification_channel = nullptr;  // default: the mailbox
};

template <class S>
class Hosted;

// A service built from its ports.
class Service {
 public:
  virtual ~Service() = default;
  // Its subscriptions, bound to this instance and its store.
  virtual std::vector<platform::Rule> rules() = 0;
  // The typed service, for hosts and tests that call its commands.
  template <class S>
  S& as() {
    return dynamic_cast<Hosted<S>&>(*this).get();
  }
};

template <class S>
class Hosted final : public Service {
 public:
  explicit Hosted(std::unique_ptr<S> service, std::vector<std::shared_ptr<void>> owned = {})
      : owned_(std::move(owned)), service_(std::move(service)) {}
  std::vector<platform::Rule> rules() override { return service_->rules(); }
  S& get() { return *service_; }

 private:
  std::vector<std::shared_ptr<void>> owned_;  // what the service refers to; outlives it
  std::unique_ptr<S> service_;
};

// One rule of a service, as the bus and infra see it.
struct RuleSpec {
  std::string name;                // the rule, its queue, its inbox namespace
  std::vector<std::string> types;  // the event types it receives
  // Set for a service's own timer rule: its events are delivered this late.
  platform::Millis Settings::*timer_delay = nullptr;
  // Receives before the DLQ (the bus's, and the SQS queue's redrive policy).
  int max_receive_count = platform::RuleOptions{}.max_receive_count;
};

enum class Port { payment_provider };

// The payload of the scheduled invocation that runs a service's sweep.
inline constexpr std::string_view kSweepInput = R"({"orderly":"sweep"})";

struct ServiceSpec {
  std::string name;
  std::vector<std::string> produces;
  std::vector<RuleSpec> rules;
  std::vector<Port> needs;  // ports beyond store, clock and settings
  std::function<Result<std::unique_ptr<Service>>(const Ports&)> build;
  std::function<void(platform::http::Router&, Service&)> routes;     // empty: no REST API
  std::function<platform::Status(Service&, const Settings&)> start;  // empty: nothing at start
  // Periodic work the host runs on a timer (empty: none): orders erases the
  // personal data whose retention period has passed. Returns what it did (the
  // erasures started). `orderly up` runs it every --retention-sweep-seconds;
  // on AWS a scheduled EventBridge rule invokes the events function with
  // kSweepInput, and the bootstrap runs it (infra: topology.json "sweep").
  std::function<Result<std::size_t>(Service&, const Settings&)> sweep;

  // The handler kinds its Lambda bootstrap serves (_HANDLER): api, events.
  [[nodiscard]] std::vector<std::string> lambda_handlers() const {
    std::vector<std::string> out;
    if (routes) out.emplace_back("api");
    if (!rules.empty()) out.emplace_back("events");
    return out;
  }
  [[nodiscard]] std::vector<std::string> consumes() const {
    std::vector<std::string> out;
    for (const auto& r : rules) out.insert(out.end(), r.types.begin(), r.types.end());
    return out;
  }
  [[nodiscard]] bool needs_port(Port p) const {
    for (Port n : needs)
      if (n == p) return true;
    return false;
  }
};
// (Defined here, not in service_table.cpp: a bootstrap that links one entry
// must not pull in the table, and with it every service.)

// The entries, one per service (each in its own file, so that a Lambda
// bootstrap links only its own service).
const ServiceSpec& orders_service();
const ServiceSpec& inventory_service();
const ServiceSpec& payments_service();
const ServiceSpec& shipping_service();
const ServiceSpec& notifications_service();

// The table: every entry, in the order hosts start them.
const std::vector<const ServiceSpec*>& service_table();
// The entry named `name`, or nullptr.
const ServiceSpec* find_service(std::string_view name);
// Produced types no service consumes, kept for audit and analytics.
std::vector<std::string> terminal_event_types();

// The spec's produces and rules, read from a service type's own declarations
// (S::produces(), S::subscriptions()); timers name their delay in Settings.
template <class S>
ServiceSpec describe(
    std::string name,
    std::vector<std::pair<std::string_view, platform::Millis Settings::*>> timers = {}) {
  ServiceSpec spec;
  spec.name = std::move(name);
  spec.produces = S::produces();
  for (const auto& sub : S::subscriptions()) {
    RuleSpec r{sub.rule, sub.types(), nullptr, platform::RuleOptions{}.max_receive_count};
    for (const auto& [rule, delay] : timers)
      if (rule == sub.rule) r.timer_delay = delay;
    spec.rules.push_back(std::move(r));
  }
  return spec;
}

}  // namespace orderly::hosts
