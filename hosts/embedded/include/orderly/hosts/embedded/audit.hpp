// Audits of a whole embedded deployment, for the tests and `orderly demo`:
// facts that a second copy of an effect would leave behind.
//
//   auto money = audit::money_events(host.bus());
//   for (const auto& problem : audit::repeated_money_events(*money)) report(problem);
//
// Why the bus's archive: it keeps every committed event exactly once (its key
// is the event id). A payment captured twice by the system shows there as two
// PaymentCaptured for one order, whatever the provider did; the simulated
// provider's own counters cannot show it, since it refuses a second capture.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "orderly/adapters/embedded/durable_bus.hpp"

namespace orderly::hosts::embedded::audit {

struct MoneyEvents {
  int authorized = 0, captured = 0, voided = 0, refunded = 0;
};

// Per order id (the events' subject): the payment events the bus archived.
platform::Result<std::map<std::string, MoneyEvents>> money_events(
    adapters::embedded::DurableBus& bus);
// The same, from archived events already read (for tests of the audit itself).
platform::Result<std::map<std::string, MoneyEvents>> money_events(
    const std::vector<adapters::embedded::ArchivedEvent>& archived);

// One line per order with any payment event more than once.
std::vector<std::string> repeated_money_events(const std::map<std::string, MoneyEvents>& events);

}  // namespace orderly::hosts::embedded::audit
