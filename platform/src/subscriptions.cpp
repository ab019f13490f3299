// make_rule: a pattern over the handlers' types and a dispatching batch handler.
#include "orderly/platform/subscriptions.hpp"

#include <map>

namespace orderly::platform {

Rule make_rule(std::string name, std::vector<Handler> handlers, ItemStore& store,
               const Clock& clock, RuleOptions options) {
  std::vector<std::string> types;
  auto table = std::make_shared<std::map<std::string, Handler>>();
  for (auto& h : handlers) {
    types.push_back(h.type);
    table->emplace(h.type, std::move(h));
  }
  auto pattern = EventPattern::for_types(types);
  BatchHandler batch = each_message([table, &store, &clock, name](const Delivery& d) -> Status {
    auto it = table->find(d.event.type);
    if (it == table->end())
      return fail(ErrorKind::permanent, "rule {} has no handler for {}", name, d.event.type);
    return handle_once(store, clock, d.event, name,
                       [&](UnitOfWork& uow) { return it->second.decide(d.event, uow); });
  });
  return Rule{std::move(name), std::move(pattern), std::move(batch), options};
}

}  // namespace orderly::platform
