// The audit must see what it is for: a second payment event for one order.
#include "orderly/hosts/embedded/audit.hpp"

#include <gtest/gtest.h>

#include "orderly/platform/clock.hpp"
#include "orderly/services/contracts/events.hpp"

namespace orderly::hosts::embedded::audit {
namespace {

namespace c = services::contracts;

adapters::embedded::ArchivedEvent archived(const platform::CloudEvent& e, std::int64_t seq) {
  return {seq, e.id, e.type, platform::to_json(e), platform::TimePoint{}};
}

TEST(Audit, ASecondCaptureOfOneOrderIsReportedAndOtherOrdersAreNot) {
  const auto now = platform::ManualClock{}.now();
  const c::Money amount{1'000, "GBP"};
  std::vector<adapters::embedded::ArchivedEvent> events;
  std::int64_t seq = 0;
  for (const char* order : {"order-a", "order-b"}) {
    events.push_back(archived(c::to_event(c::PaymentAuthorized{order, "pay", amount}, now), ++seq));
    events.push_back(archived(c::to_event(c::PaymentCaptured{order, "pay", amount}, now), ++seq));
  }
  // order-a captured again, by a second event (a new id: not the same event twice).
  events.push_back(archived(c::to_event(c::PaymentCaptured{"order-a", "pay", amount}, now), ++seq));
  auto m = money_events(events);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->at("order-a").captured, 2);
  EXPECT_EQ(m->at("order-b").captured, 1);
  EXPECT_EQ(m->at("order-b").authorized, 1);
  const auto problems = repeated_money_events(*m);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "order order-a: payment captured 2 times");
}

TEST(Audit, AnUnreadableArchivedPaymentEventIsAnErrorNotASilentZero) {
  std::vector<adapters::embedded::ArchivedEvent> events{
      {1, "id", std::string(c::PaymentRefunded::kType), "{not json", platform::TimePoint{}}};
  EXPECT_FALSE(money_events(events));
}

}  // namespace
}  // namespace orderly::hosts::embedded::audit
