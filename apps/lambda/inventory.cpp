// The inventory bootstrap: the catalogue routes (api) and reservations (events).
#include <cstdlib>
#include <string_view>

#include "orderly/apps/lambda/host.hpp"
#include "orderly/services/inventory/api.hpp"
#include "orderly/services/inventory/service.hpp"

using namespace orderly;
using services::inventory::InventoryService;

namespace {
// The seed catalogue goes into an empty table on first start (one read after
// that), unless ORDERLY_SEED_CATALOGUE=0.
platform::Result<std::shared_ptr<InventoryService>> open(apps::lambda::Context& c) {
  auto svc = c.keep(std::make_shared<InventoryService>(c.store, c.clock));
  const char* seed = std::getenv("ORDERLY_SEED_CATALOGUE");
  if (!seed || std::string_view(seed) != "0")
    if (auto s = svc->seed_if_empty(); !s) return tl::unexpected(s.error());
  return svc;
}
}  // namespace

int main() {
  return apps::lambda::serve(
      "inventory",
      {{"api",
        [](apps::lambda::Context& c) -> platform::Result<adapters::aws::InvocationHandler> {
          auto svc = open(c);
          if (!svc) return tl::unexpected(svc.error());
          return apps::lambda::api([svc = *svc](platform::http::Router& r) {
            services::inventory::add_routes(r, *svc);
          });
        }},
       {"events",
        [](apps::lambda::Context& c) -> platform::Result<adapters::aws::InvocationHandler> {
          auto svc = open(c);
          if (!svc) return tl::unexpected(svc.error());
          return apps::lambda::events((*svc)->rules());
        }}});
}
