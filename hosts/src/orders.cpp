// The orders entry: the saga and its timer, and the orders REST routes.
#include "orderly/hosts/service_table.hpp"
#include "orderly/services/orders/api.hpp"
#include "orderly/services/orders/service.hpp"

namespace orderly::hosts {

using services::orders::OrdersService;

const ServiceSpec& orders_service() {
  static const ServiceSpec spec = [] {
    auto s = describe<OrdersService>("orders",
                                     {{services::orders::kTimerRule, &Settings::saga_timeout}});
    s.build = [](const Ports& p) -> Result<std::unique_ptr<Service>> {
      return std::make_unique<Hosted<OrdersService>>(std::make_unique<OrdersService>(
          p.store, p.clock,
          services::orders::Config{.saga_timeout = p.settings.saga_timeout,
                                   .fulfilment_timeout = p.settings.fulfilment_timeout,
                                   .retention = p.settings.retention}));
    };
    s.routes = [](platform::http::Router& r, Service& svc) {
      services::orders::add_routes(r, svc.as<OrdersService>());
    };
    return s;
  }();
  return spec;
}

}  // namespace orderly::hosts
