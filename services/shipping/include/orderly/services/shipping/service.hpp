// The shipping service and its carrier simulator.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orderly/platform/bus.hpp"
#include "orderly/platform/item_store.hpp"
#include "orderly/platform/subscriptions.hpp"
#include "orderly/platform/unit_of_work.hpp"
#include "orderly/services/shipping/domain.hpp"

namespace orderly::services::shipping {

struct Config {
  platform::Millis carrier_delay{5'000};  // between created, dispatched and delivered
};

inline constexpr std::string_view kEventsRule = "shipping.events";
inline constexpr std::string_view kCarrierRule = "shipping.carrier";

class ShippingService {
 public:
  ShippingService(platform::ItemStore& store, const platform::Clock& clock, Config config = {});
  // Every subscription of the service, in one place, and bound to this instance.
  static std::vector<platform::Subscription<ShippingService>> subscriptions();
  std::vector<platform::Rule> rules();
  static std::vector<std::string> produces();
  Result<std::optional<Shipment>> get_shipment(const std::string& order_id);

 private:
  platform::Status erase(const contracts::CustomerErasureRequested& d,
                         const platform::CloudEvent& e, platform::UnitOfWork& uow);
  struct Loaded {
    std::optional<Shipment> shipment;
    std::int64_t version = 0;
  };
  Result<Loaded> load(const std::string& order_id);
  platform::Status finish(const Loaded& l, const Outcome& o, const platform::CloudEvent& cause,
                          platform::UnitOfWork& uow);

  platform::ItemStore& store_;
  const platform::Clock& clock_;
  Config config_;
};

}  // namespace orderly::services::shipping
