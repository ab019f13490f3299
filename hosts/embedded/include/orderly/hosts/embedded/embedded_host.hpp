// The embedded host: the service table on one machine. Each service gets its
// own SQLite store; all share one durable bus. `orderly up`, the demo and the
// whole-flow tests run the system through it.
//
//   auto host = EmbeddedHost::open({.data_dir = ".orderly"});
//   (*host)->start();
//   auto order = (*host)->orders().place_order({...});
//   (*host)->stop();
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "orderly/adapters/embedded/checkpointer.hpp"
#include "orderly/adapters/embedded/durable_bus.hpp"
#include "orderly/adapters/embedded/sqlite_item_store.hpp"
#include "orderly/hosts/service_table.hpp"
#include "orderly/services/inventory/service.hpp"
#include "orderly/services/notifications/service.hpp"
#include "orderly/services/orders/service.hpp"
#include "orderly/services/payments/service.hpp"
#include "orderly/services/payments/simulated_provider.hpp"
#include "orderly/services/shipping/service.hpp"

namespace orderly::hosts::embedded {

using adapters::embedded::Durability;
using platform::Result;

struct Options {
  std::string data_dir = ".orderly";
  Durability durability = Durability::normal;
  const platform::Clock* clock = nullptr;  // defaults to the system clock
  int workers = 2;
  // Messages a worker takes from a rule at once, in one receive and one group
  // commit of the owner's store: under a backlog, the larger, the fewer
  // transactions per message (0: each rule's own option).
  int batch_size = 0;
  bool group_commit = true;  // see DurableBusOptions::group_commit
  platform::Millis saga_timeout{30'000};
  platform::Millis fulfilment_timeout = hosts::Settings{}.fulfilment_timeout;
  platform::Millis carrier_delay{5'000};
  platform::Millis retention = hosts::Settings{}.retention;
  // How often a thread of the host erases what has passed its retention
  // period (OrdersService::expire_personal_data), besides the sweep after each
  // delivery: without it a system that delivers nothing more never erases the
  // orders it delivered before. 0: no thread.
  platform::Millis retention_sweep_every{60'000};
  std::optional<std::vector<services::inventory::Product>>
      catalogue;                      // default: the 20-product seed
  std::optional<std::uint64_t> seed;  // bus jitter
  // Wraps every rule's handler (tests use it to deliver twice or to inject failures).
  std::function<platform::BatchHandler(const std::string& rule, platform::BatchHandler)> wrap;
};

class EmbeddedHost {
 public:
  static Result<std::unique_ptr<EmbeddedHost>> open(Options options);
  ~EmbeddedHost();

  platform::Status start();  // bus threads (relay and workers)
  void stop();               // graceful

  // A service of the table by name; throws std::out_of_range for a name the table lacks.
  Service& service(std::string_view name);
  adapters::embedded::SqliteItemStore& store(std::string_view name);

  services::orders::OrdersService& orders() {
    return service("orders").as<services::orders::OrdersService>();
  }
  services::inventory::InventoryService& inventory() {
    return service("inventory").as<services::inventory::InventoryService>();
  }
  services::payments::PaymentsService& payments() {
    return service("payments").as<services::payments::PaymentsService>();
  }
  services::shipping::ShippingService& shipping() {
    return service("shipping").as<services::shipping::ShippingService>();
  }
  services::notifications::NotificationsService& notifications() {
    return service("notifications").as<services::notifications::NotificationsService>();
  }
  // The stand-in for an external payment provider, with its own ledger file.
  services::payments::SimulatedProvider& provider() { return *provider_; }
  adapters::embedded::DurableBus& bus() { return *bus_; }
  [[nodiscard]] const Options& options() const { return options_; }
  [[nodiscard]] const Settings& settings() const { return settings_; }

 private:
  explicit EmbeddedHost(Options o);

  struct Hosted {
    const ServiceSpec* spec;
    std::unique_ptr<adapters::embedded::SqliteItemStore> store;
    std::unique_ptr<Service> service;
  };

  // Destroyed bottom-up: the bus (whose handlers and relay refer to the
  // services and their stores) first, the provider the services use last.
  Options options_;
  Settings settings_;
  std::unique_ptr<adapters::embedded::SqliteItemStore> provider_store_;
  std::unique_ptr<services::payments::SimulatedProvider> provider_;
  std::vector<Hosted> services_;  // in table order
  std::unique_ptr<adapters::embedded::DurableBus> bus_;
  // Every file's WAL checkpoints, off the commits (started and stopped with the bus).
  std::unique_ptr<adapters::embedded::Checkpointer> checkpointer_;
  std::uint64_t collector_ = 0;  // queue gauges in platform::metrics::registry()
  // The retention sweep's thread (Options::retention_sweep_every).
  void retention_loop();
  std::thread retention_thread_;
  std::mutex retention_mu_;
  std::condition_variable retention_cv_;
  bool retention_stopping_ = false;  // guarded by retention_mu_
};

}  // namespace orderly::hosts::embedded
