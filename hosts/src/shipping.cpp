// The shipping entry: shipments and the carrier simulator's timer.
#include "orderly/hosts/service_table.hpp"
#include "orderly/services/shipping/service.hpp"

namespace orderly::hosts {

using services::shipping::ShippingService;

const ServiceSpec& shipping_service() {
  static const ServiceSpec spec = [] {
    auto s = describe<ShippingService>(
        "shipping", {{services::shipping::kCarrierRule, &Settings::carrier_delay}});
    s.build = [](const Ports& p) -> Result<std::unique_ptr<Service>> {
      return std::make_unique<Hosted<ShippingService>>(std::make_unique<ShippingService>(
          p.store, p.clock, services::shipping::Config{.carrier_delay = p.settings.carrier_delay}));
    };
    return s;
  }();
  return spec;
}

}  // namespace orderly::hosts
