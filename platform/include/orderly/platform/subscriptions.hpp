// A service lists its subscriptions in one place: rule -> event type -> decision.
//
//   // Declared once, without an instance (hosts read the rules and types from it):
//   std::vector<Subscription<Payments>> Payments::subscriptions() {
//     return {{"payments.events", {
//         {"orderly.orders.OrderPlaced.v1",
//          [](Payments& s, const CloudEvent& e, UnitOfWork& uow) { return s.authorize(e, uow); }},
//         ...}}};
//   }
//   // Bound to an instance and its store when a host runs it:
//   for (auto& rule : bind(Payments::subscriptions(), payments, store, clock))
//     bus.subscribe(std::move(rule));
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

// A decision of a service of type S, declared before any instance exists.
template <class S>
struct TypedHandler {
  std::string type;
  std::function<Status(S&, const CloudEvent&, UnitOfWork&)> decide;
};

// One rule of a service: its name (also its queue and inbox namespace) and the
// decision for each event type it receives.
template <class S>
struct Subscription {
  std::string rule;
  std::vector<TypedHandler<S>> handlers;

  [[nodiscard]] std::vector<std::string> types() const {
    std::vector<std::string> out;
    out.reserve(handlers.size());
    for (const auto& h : handlers) out.push_back(h.type);
    return out;
  }
};

// The subscriptions as bus rules whose decisions run on `service` and commit to `store`.
template <class S>
std::vector<Rule> bind(const std::vector<Subscription<S>>& subscriptions, S& service,
                       ItemStore& store, const Clock& clock) {
  std::vector<Rule> out;
  out.reserve(subscriptions.size());
  for (const auto& sub : subscriptions) {
    std::vector<Handler> handlers;
    handlers.reserve(sub.handlers.size());
    for (const auto& h : sub.handlers)
      handlers.push_back(
          {h.type, [&service, decide = h.decide](const CloudEvent& e, UnitOfWork& uow) {
             return decide(service, e, uow);
           }});
    out.push_back(make_rule(sub.rule, std::move(handlers), store, clock));
  }
  return out;
}

}  // namespace orderly::platform
