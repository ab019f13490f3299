// The whole system in one process: five services, each on its own SQLite
// store, sharing one durable bus. `orderly up` and the whole-flow tests host
// this; it reads like the deployment diagram.
//
//   auto sys = EmbeddedSystem::open({.data_dir = ".orderly"});
//   (*sys)->start();
//   auto order = (*sys)->orders().place_order({...});
//   (*sys)->stop();
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orderly/adapters/embedded/durable_bus.hpp"
#include "orderly/adapters/embedded/sqlite_item_store.hpp"
#include "orderly/services/inventory/service.hpp"
#include "orderly/services/notifications/service.hpp"
#include "orderly/services/orders/service.hpp"
#include "orderly/services/payments/service.hpp"
#include "orderly/services/shipping/service.hpp"

namespace orderly::services::system {

using adapters::embedded::Durability;
using platform::Result;

struct Options {
  std::string data_dir = ".orderly";
  Durability durability = Durability::normal;
  const platform::Clock* clock = nullptr;  // defaults to the system clock
  int workers = 2;
  platform::Millis saga_timeout{30'000};
  platform::Millis carrier_delay{5'000};
  std::optional<std::vector<inventory::Product>> catalogue;  // default: the 20-product seed
  std::optional<std::uint64_t> seed;                         // bus jitter
  // Wraps every rule's handler (tests use it to deliver twice or to inject failures).
  std::function<platform::BatchHandler(const std::string& rule, platform::BatchHandler)> wrap;
};

// Which service produces and consumes which event types (from the code itself).
struct RuleContract {
  std::string name;                             // the rule, its queue and its inbox namespace
  std::vector<std::string> types;               // the event types it receives
  std::optional<platform::Millis> timer_delay;  // set for a service's own timers
};
struct ServiceContract {
  std::string name;
  std::vector<std::string> produces, consumes;
  std::vector<RuleContract> rules;
};
std::vector<ServiceContract> contracts_of_services();
// Produced types no service consumes, kept for audit and analytics.
std::vector<std::string> terminal_event_types();

class EmbeddedSystem {
 public:
  static Result<std::unique_ptr<EmbeddedSystem>> open(Options options);
  ~EmbeddedSystem();

  platform::Status start();  // bus threads (relay and workers)
  void stop();               // graceful

  orders::OrdersService& orders() { return *orders_; }
  inventory::InventoryService& inventory() { return *inventory_; }
  payments::PaymentsService& payments() { return *payments_; }
  shipping::ShippingService& shipping() { return *shipping_; }
  notifications::NotificationsService& notifications() { return *notifications_; }
  payments::SimulatedProvider& provider() { return *provider_; }
  adapters::embedded::DurableBus& bus() { return *bus_; }
  adapters::embedded::SqliteItemStore& store(std::string_view service);
  [[nodiscard]] const Options& options() const { return options_; }

 private:
  explicit EmbeddedSystem(Options o) : options_(std::move(o)) {}

  Options options_;
  std::unique_ptr<adapters::embedded::SqliteItemStore> orders_store_, inventory_store_,
      payments_store_, shipping_store_, notifications_store_, provider_store_;
  std::unique_ptr<adapters::embedded::DurableBus> bus_;
  std::unique_ptr<payments::SimulatedProvider> provider_;  // the stand-in for an external provider
  notifications::MailboxChannel mailbox_;
  std::unique_ptr<orders::OrdersService> orders_;
  std::unique_ptr<inventory::InventoryService> inventory_;
  std::unique_ptr<payments::PaymentsService> payments_;
  std::unique_ptr<shipping::ShippingService> shipping_;
  std::unique_ptr<notifications::NotificationsService> notifications_;
  std::uint64_t collector_ = 0;  // queue gauges in platform::metrics::registry()
};

}  // namespace orderly::services::system
