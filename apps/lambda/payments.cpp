// The payments bootstrap: authorisations, captures, voids and refunds (events).
// The provider key is read at init from Secrets Manager through the Lambda
// extension when ORDERLY_PAYMENT_SECRET_ARN is set (the CDK app sets it); an
// unreadable secret is an init error. The provider is still the simulator,
// its ledger in the payments table: it holds the key and does not use it.
#include <cstdlib>

#include "orderly/apps/lambda/host.hpp"
#include "orderly/platform/log.hpp"
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
          if (const char* arn = std::getenv("ORDERLY_PAYMENT_SECRET_ARN"); arn && *arn) {
            auto key = apps::lambda::read_secret(arn);
            if (!key) return tl::unexpected(key.error());
            platform::log::info("payment provider key loaded",
                                {{"secret_arn", arn}, {"bytes", key->size()}});
            c.keep(std::make_shared<std::string>(std::move(*key)));
          }
          auto provider = c.keep(std::make_shared<SimulatedProvider>(&c.store));
          auto svc = c.keep(std::make_shared<PaymentsService>(c.store, c.clock, *provider));
          return apps::lambda::events(svc->rules());
        }}});
}
