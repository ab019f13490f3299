// The shipping bootstrap: shipments and the carrier's progress timers (events).
#include "orderly/apps/lambda/host.hpp"
#include "orderly/services/shipping/service.hpp"

using namespace orderly;
using services::shipping::ShippingService;

int main() {
  return apps::lambda::serve(
      "shipping",
      {{"events",
        [](apps::lambda::Context& c) -> platform::Result<adapters::aws::InvocationHandler> {
          auto svc = c.keep(std::make_shared<ShippingService>(c.store, c.clock));
          return apps::lambda::events(svc->rules());
        }}});
}
