// Notifications domain: templates for each milestone.
#include "orderly/services/notifications/domain.hpp"

#include <gtest/gtest.h>

namespace orderly::services::notifications {
namespace {

TEST(Render, FillsEveryTemplateWithoutLeftoverPlaceholders) {
  const Values v{{"total", "£12.34"},
                 {"reason", "payment declined"},
                 {"carrier", "ParcelSim"},
                 {"tracking", "PS1"}};
  for (auto t : {Template::order_confirmed, Template::order_cancelled,
                 Template::shipment_dispatched, Template::shipment_delivered}) {
    auto n = render(t, "n-1", "cust-1", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", v);
    EXPECT_EQ(n.subject.find('{'), std::string::npos) << n.subject;
    EXPECT_EQ(n.body.find('{'), std::string::npos) << n.body;
    EXPECT_NE(n.subject.find("0193a1b2"), std::string::npos);
    EXPECT_EQ(n.channel, "email");
  }
  auto c = render(Template::order_cancelled, "n", "c", "0193a1b2-x", v);
  EXPECT_NE(c.body.find("payment declined"), std::string::npos);
}

TEST(Render, FormatsMoneyInMinorUnits) {
  EXPECT_EQ(format_money({1'234, "GBP"}), "£12.34");
  EXPECT_EQ(format_money({5, "EUR"}), "€0.05");
  EXPECT_EQ(format_money({100'000, "JPY"}), "1000.00 JPY");
}

}  // namespace
}  // namespace orderly::services::notifications
