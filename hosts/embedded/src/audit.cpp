// Audits of a whole embedded deployment: see audit.hpp.
#include "orderly/hosts/embedded/audit.hpp"

#include <fmt/format.h>

#include "orderly/services/contracts/events.hpp"

namespace orderly::hosts::embedded::audit {

namespace c = services::contracts;
using adapters::embedded::ArchivedEvent;

platform::Result<std::map<std::string, MoneyEvents>> money_events(
    const std::vector<ArchivedEvent>& archived) {
  std::map<std::string, MoneyEvents> out;
  for (const auto& a : archived) {
    int MoneyEvents::*field = nullptr;
    if (a.type == c::PaymentAuthorized::kType) field = &MoneyEvents::authorized;
    if (a.type == c::PaymentCaptured::kType) field = &MoneyEvents::captured;
    if (a.type == c::PaymentVoided::kType) field = &MoneyEvents::voided;
    if (a.type == c::PaymentRefunded::kType) field = &MoneyEvents::refunded;
    if (!field) continue;
    auto e = platform::parse_event(a.body);
    if (!e)
      return platform::fail(platform::ErrorKind::permanent, "archived event {} is unreadable: {}",
                            a.event_id, e.error().message);
    ++(out[e->subject].*field);
  }
  return out;
}

platform::Result<std::map<std::string, MoneyEvents>> money_events(
    adapters::embedded::DurableBus& bus) {
  std::vector<ArchivedEvent> all;
  std::int64_t after = 0;
  for (;;) {
    auto page = bus.archive_since(after, 1000);
    if (!page) return tl::unexpected(page.error());
    if (page->empty()) break;
    after = page->back().seq;
    for (auto& a : *page) all.push_back(std::move(a));
  }
  return money_events(all);
}

std::vector<std::string> repeated_money_events(const std::map<std::string, MoneyEvents>& events) {
  std::vector<std::string> out;
  for (const auto& [order, m] : events) {
    for (const auto& [what, n] : {std::pair{"authorised", m.authorized},
                                  {"captured", m.captured},
                                  {"voided", m.voided},
                                  {"refunded", m.refunded}})
      if (n > 1) out.push_back(fmt::format("order {}: payment {} {} times", order, what, n));
  }
  return out;
}

}  // namespace orderly::hosts::embedded::audit
