// The payments entry: authorise, capture, void and refund through the
// payment provider port the host supplies.
#include "orderly/hosts/service_table.hpp"
#include "orderly/services/payments/service.hpp"

namespace orderly::hosts {

using services::payments::PaymentsService;

const ServiceSpec& payments_service() {
  static const ServiceSpec spec = [] {
    auto s = describe<PaymentsService>("payments");
    s.needs = {Port::payment_provider};
    s.build = [](const Ports& p) -> Result<std::unique_ptr<Service>> {
      if (!p.payment_provider)
        return platform::fail(platform::ErrorKind::invalid_input,
                              "payments needs a payment provider port");
      return std::make_unique<Hosted<PaymentsService>>(
          std::make_unique<PaymentsService>(p.store, p.clock, *p.payment_provider));
    };
    return s;
  }();
  return spec;
}

}  // namespace orderly::hosts
