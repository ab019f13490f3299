// The table of the five services, and what can be read from it without building any.
#include "orderly/hosts/service_table.hpp"

#include <set>

namespace orderly::hosts {

const std::vector<const ServiceSpec*>& service_table() {
  static const std::vector<const ServiceSpec*> table{
      &orders_service(),   &inventory_service(),     &payments_service(),
      &shipping_service(), &notifications_service(),
  };
  return table;
}

const ServiceSpec* find_service(std::string_view name) {
  for (const auto* spec : service_table())
    if (spec->name == name) return spec;
  return nullptr;
}

std::vector<std::string> terminal_event_types() {
  std::set<std::string> consumed;
  for (const auto* s : service_table())
    for (const auto& t : s->consumes()) consumed.insert(t);
  std::vector<std::string> out;
  for (const auto* s : service_table())
    for (const auto& t : s->produces)
      if (!consumed.count(t)) out.push_back(t);
  return out;
}

}  // namespace orderly::hosts
