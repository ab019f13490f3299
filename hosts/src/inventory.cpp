// The inventory entry: reservations, the catalogue routes, and the seed
// catalogue written into an empty store at start.
#include "orderly/hosts/service_table.hpp"
#include "orderly/services/inventory/api.hpp"
#include "orderly/services/inventory/service.hpp"

namespace orderly::hosts {

using services::inventory::InventoryService;

const ServiceSpec& inventory_service() {
  static const ServiceSpec spec = [] {
    auto s = describe<InventoryService>("inventory");
    s.build = [](const Ports& p) -> Result<std::unique_ptr<Service>> {
      services::inventory::Config config;
      if (p.settings.catalogue) config.seed = *p.settings.catalogue;
      return std::make_unique<Hosted<InventoryService>>(
          std::make_unique<InventoryService>(p.store, p.clock, std::move(config)));
    };
    s.routes = [](platform::http::Router& r, Service& svc) {
      services::inventory::add_routes(r, svc.as<InventoryService>());
    };
    s.start = [](Service& svc, const Settings& settings) -> platform::Status {
      if (!settings.seed_catalogue) return {};
      return svc.as<InventoryService>().seed_if_empty();
    };
    return s;
  }();
  return spec;
}

}  // namespace orderly::hosts
