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
    // Retention on a timer, besides the sweep after each delivery: a system
    // that delivers nothing more still erases what it delivered before. In
    // pages, until nothing is due.
    s.sweep = [](Service& svc, const Settings& settings) -> Result<std::size_t> {
      if (settings.retention.count() <= 0) return std::size_t{0};
      constexpr std::size_t kPage = 100;
      std::size_t total = 0;
      for (;;) {
        auto pass = svc.as<OrdersService>().expire_personal_data(kPage);
        if (!pass) return tl::unexpected(pass.error());
        total += pass->erased;
        // Until a page comes back short: a page may erase nothing (its orders
        // gone or erased already) and still not be the last.
        if (pass->due < kPage) return total;
      }
    };
    return s;
  }();
  return spec;
}

}  // namespace orderly::hosts
