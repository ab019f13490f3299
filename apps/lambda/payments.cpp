// The payments bootstrap: authorisations, captures, voids and refunds (events).
// The provider is the simulator, its ledger kept in the payments table; a real
// provider would read its key from Secrets Manager through the Lambda
// extension (ORDERLY_PAYMENT_SECRET_ARN), which this code does not do yet.
#include "orderly/apps/lambda/host.hpp"
#include "orderly/services/payments/provider.hpp"
#include "orderly/services/payments/service.hpp"

using namespace orderly;
using services::payments::PaymentsService;
using services::payments::SimulatedProvider;

int main() {
  return apps::lambda::serve(
      "payments",
      {{"events",
        [](apps::lambda::Context& c) -> platform::Result<adapters::aws::InvocationHandler> {
          auto provider = c.keep(std::make_shared<SimulatedProvider>(&c.store));
          auto svc = c.keep(std::make_shared<PaymentsService>(c.store, c.clock, *provider));
          return apps::lambda::events(svc->rules());
        }}});
}
