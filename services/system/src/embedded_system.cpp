// EmbeddedSystem: stores, bus, services, subscriptions.
#include "orderly/services/system/embedded_system.hpp"

#include <filesystem>
#include <map>
#include <set>

#include "orderly/platform/metrics.hpp"

namespace orderly::services::system {

using adapters::embedded::DurableBus;
using adapters::embedded::SqliteItemStore;
using platform::ErrorKind;

namespace {

ServiceContract contract_of(std::string name, std::vector<std::string> produces,
                            const std::vector<platform::Rule>& rules,
                            const std::map<std::string_view, platform::Millis>& timers) {
  ServiceContract out{std::move(name), std::move(produces), {}, {}};
  for (const auto& r : rules) {
    RuleContract rc{r.name, r.pattern.literal_types(), std::nullopt};
    if (auto t = timers.find(r.name); t != timers.end()) rc.timer_delay = t->second;
    out.consumes.insert(out.consumes.end(), rc.types.begin(), rc.types.end());
    out.rules.push_back(std::move(rc));
  }
  return out;
}

}  // namespace

std::vector<ServiceContract> contracts_of_services() {
  // Services built on a throwaway store only to read their subscription tables.
  struct NoStore final : platform::ItemStore {
    Result<std::optional<platform::Item>> get(const std::string&, const std::string&) override {
      return std::nullopt;
    }
    Result<std::int64_t> put(const platform::Item&, platform::Condition) override { return 0; }
    Result<std::int64_t> update(const platform::Update&) override { return 0; }
    platform::Status remove(const std::string&, const std::string&, platform::Condition) override {
      return {};
    }
    Result<platform::Page> query(const std::string&, const platform::QueryOptions&) override {
      return platform::Page{};
    }
    platform::Status transact_write(const std::vector<platform::WriteOp>&) override { return {}; }
  } store;
  auto& clock = platform::SystemClock::instance();
  payments::SimulatedProvider provider;
  notifications::MailboxChannel mailbox;
  const orders::Config orders_config;
  const shipping::Config shipping_config;
  return {
      contract_of("orders", orders::OrdersService::produces(),
                  orders::OrdersService(store, clock, orders_config).rules(),
                  {{orders::kTimerRule, orders_config.saga_timeout}}),
      contract_of("inventory", inventory::InventoryService::produces(),
                  inventory::InventoryService(store, clock).rules(), {}),
      contract_of("payments", payments::PaymentsService::produces(),
                  payments::PaymentsService(store, clock, provider).rules(), {}),
      contract_of("shipping", shipping::ShippingService::produces(),
                  shipping::ShippingService(store, clock, shipping_config).rules(),
                  {{shipping::kCarrierRule, shipping_config.carrier_delay}}),
      contract_of("notifications", notifications::NotificationsService::produces(),
                  notifications::NotificationsService(store, clock, mailbox).rules(), {}),
  };
}

std::vector<std::string> terminal_event_types() {
  std::set<std::string> consumed;
  for (const auto& s : contracts_of_services())
    consumed.insert(s.consumes.begin(), s.consumes.end());
  std::vector<std::string> out;
  for (const auto& s : contracts_of_services())
    for (const auto& t : s.produces)
      if (!consumed.count(t)) out.push_back(t);
  return out;
}

Result<std::unique_ptr<EmbeddedSystem>> EmbeddedSystem::open(Options options) {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    return platform::fail(ErrorKind::invalid_input, "cannot create data directory {}: {}",
                          options.data_dir, ec.message());
  std::unique_ptr<EmbeddedSystem> sys(new EmbeddedSystem(std::move(options)));
  auto& o = sys->options_;
  const platform::Clock& clock = o.clock ? *o.clock : platform::SystemClock::instance();

  auto open_store = [&](const char* name,
                        std::unique_ptr<SqliteItemStore>& out) -> platform::Status {
    auto s = SqliteItemStore::open(o.data_dir + "/" + name + ".db",
                                   {.durability = o.durability, .clock = &clock});
    if (!s) return tl::unexpected(s.error());
    out = std::move(*s);
    return {};
  };
  for (auto [name, slot] : {std::pair{"orders", &sys->orders_store_},
                            {"inventory", &sys->inventory_store_},
                            {"payments", &sys->payments_store_},
                            {"shipping", &sys->shipping_store_},
                            {"notifications", &sys->notifications_store_},
                            {"provider-simulator", &sys->provider_store_}})
    if (auto s = open_store(name, *slot); !s) return tl::unexpected(s.error());

  auto bus = DurableBus::open({.path = o.data_dir + "/bus.db",
                               .durability = o.durability,
                               .clock = &clock,
                               .workers = o.workers,
                               .seed = o.seed});
  if (!bus) return tl::unexpected(bus.error());
  sys->bus_ = std::move(*bus);

  // The deployment diagram: each service, its store, its subscriptions.
  sys->orders_ = std::make_unique<orders::OrdersService>(
      *sys->orders_store_, clock, orders::Config{.saga_timeout = o.saga_timeout});
  inventory::Config inv;
  if (o.catalogue) inv.seed = *o.catalogue;
  sys->inventory_ =
      std::make_unique<inventory::InventoryService>(*sys->inventory_store_, clock, inv);
  sys->provider_ = std::make_unique<payments::SimulatedProvider>(sys->provider_store_.get());
  sys->payments_ =
      std::make_unique<payments::PaymentsService>(*sys->payments_store_, clock, *sys->provider_);
  sys->shipping_ = std::make_unique<shipping::ShippingService>(
      *sys->shipping_store_, clock, shipping::Config{.carrier_delay = o.carrier_delay});
  sys->notifications_ = std::make_unique<notifications::NotificationsService>(
      *sys->notifications_store_, clock, sys->mailbox_);
  for (auto* store :
       {sys->orders_store_.get(), sys->inventory_store_.get(), sys->payments_store_.get(),
        sys->shipping_store_.get(), sys->notifications_store_.get()})
    sys->bus_->attach_outbox(store->path(), *store);

  std::vector<platform::Rule> rules;
  for (auto&& group : {sys->orders_->rules(), sys->inventory_->rules(), sys->payments_->rules(),
                       sys->shipping_->rules(), sys->notifications_->rules()})
    for (const auto& r : group) rules.push_back(r);
  for (auto& r : rules) {
    if (o.wrap) r.handler = o.wrap(r.name, std::move(r.handler));
    if (auto s = sys->bus_->subscribe(std::move(r)); !s) return tl::unexpected(s.error());
  }
  if (auto s = sys->inventory_->seed_if_empty(); !s) return tl::unexpected(s.error());
  return sys;
}

EmbeddedSystem::~EmbeddedSystem() {
  if (collector_) platform::metrics::registry().remove_collector(collector_);
  stop();
}

platform::Status EmbeddedSystem::start() {
  if (!collector_) {
    namespace m = platform::metrics;
    auto& depth = m::registry().gauge(
        "orderly_queue_depth", "Messages waiting in a rule's queue (ready, delayed, in flight)",
        {"rule"});
    auto& age =
        m::registry().gauge("orderly_queue_oldest_age_seconds",
                            "Age of the oldest visible or in-flight message, by rule", {"rule"});
    auto& dlq = m::registry().gauge("orderly_dlq_depth", "Dead letters, by rule", {"rule"});
    collector_ = m::registry().add_collector([this, &depth, &age, &dlq] {
      for (const auto& rule : bus_->rule_names()) {
        auto q = bus_->stats(rule);
        if (!q) continue;
        depth.with({rule}).set(static_cast<double>(q->ready + q->delayed + q->in_flight));
        age.with({rule}).set(static_cast<double>(q->oldest_age_ms) / 1000.0);
        dlq.with({rule}).set(static_cast<double>(q->dead));
      }
    });
  }
  return bus_->start();
}

void EmbeddedSystem::stop() {
  if (bus_) bus_->stop();
}

SqliteItemStore& EmbeddedSystem::store(std::string_view service) {
  if (service == "orders") return *orders_store_;
  if (service == "inventory") return *inventory_store_;
  if (service == "payments") return *payments_store_;
  if (service == "shipping") return *shipping_store_;
  return *notifications_store_;
}

}  // namespace orderly::services::system
