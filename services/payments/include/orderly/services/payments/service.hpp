// The payments service: authorises on OrderPlaced, captures on
// OrderConfirmed, voids or refunds on OrderCancelled, through a provider port.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orderly/platform/bus.hpp"
#include "orderly/platform/item_store.hpp"
#include "orderly/platform/subscriptions.hpp"
#include "orderly/platform/unit_of_work.hpp"
#include "orderly/services/payments/domain.hpp"

namespace orderly::services::payments {

inline constexpr std::string_view kEventsRule = "payments.events";

class PaymentsService {
 public:
  PaymentsService(platform::ItemStore& store, const platform::Clock& clock,
                  PaymentProvider& provider);

  // Every subscription of the service, in one place, and bound to this instance.
  static std::vector<platform::Subscription<PaymentsService>> subscriptions();
  std::vector<platform::Rule> rules();
  static std::vector<std::string> produces();
  Result<std::optional<Payment>> get_payment(const std::string& order_id);

 private:
  struct Loaded {
    std::optional<Payment> payment;
    std::int64_t version = 0;
  };
  Result<Loaded> load(const std::string& order_id);
  platform::Status finish(const Loaded& loaded, const Outcome& outcome,
                          const platform::CloudEvent& cause, platform::UnitOfWork& uow);

  platform::ItemStore& store_;
  const platform::Clock& clock_;
  PaymentProvider& provider_;
};

}  // namespace orderly::services::payments
