// A service lists its subscriptions in one place: event type -> decision.
//
//   bus.subscribe(make_rule("payments.events", {
//       {OrderPlaced::kType, [&](const CloudEvent& e, UnitOfWork& uow) { return authorize(e, uow);
//       }}, {OrderCancelled::kType, ...},
//   }, store, clock));
//
// Each decision runs inside handle_once(): the inbox check, the unit of work
// (state + outbox + inbox marker) and the conflict retry loop are done here,
// once, for every handler of every service.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "orderly/platform/bus.hpp"
#include "orderly/platform/item_store.hpp"
#include "orderly/platform/unit_of_work.hpp"

namespace orderly::platform {

struct Handler {
  std::string type;
  std::function<Status(const CloudEvent&, UnitOfWork&)> decide;
};

Rule make_rule(std::string name, std::vector<Handler> handlers, ItemStore& store,
               const Clock& clock, RuleOptions options = {});

}  // namespace orderly::platform
