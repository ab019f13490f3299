// The orders bootstrap: the REST routes (api) and the saga's subscriptions (events).
#include "orderly/apps/lambda/host.hpp"
#include "orderly/services/orders/api.hpp"
#include "orderly/services/orders/service.hpp"

using namespace orderly;
using services::orders::OrdersService;

int main() {
  return apps::lambda::serve(
      "orders",
      {{"api",
        [](apps::lambda::Context& c) -> platform::Result<adapters::aws::InvocationHandler> {
          auto svc = c.keep(std::make_shared<OrdersService>(c.store, c.clock));
          return apps::lambda::api(
              [svc](platform::http::Router& r) { services::orders::add_routes(r, *svc); });
        }},
       {"events",
        [](apps::lambda::Context& c) -> platform::Result<adapters::aws::InvocationHandler> {
          auto svc = c.keep(std::make_shared<OrdersService>(c.store, c.clock));
          return apps::lambda::events(svc->rules());
        }}});
}
