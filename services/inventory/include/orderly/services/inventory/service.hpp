// The inventory service: reserves, commits and releases stock in reaction to
// orders and shipments; owns the catalogue (seeded on first start).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "orderly/platform/bus.hpp"
#include "orderly/platform/item_store.hpp"
#include "orderly/platform/subscriptions.hpp"
#include "orderly/platform/unit_of_work.hpp"
#include "orderly/services/inventory/domain.hpp"

namespace orderly::services::inventory {

struct Config {
  std::vector<Product> seed = default_catalogue();
};

inline constexpr std::string_view kEventsRule = "inventory.events";

class InventoryService {
 public:
  InventoryService(platform::ItemStore& store, const platform::Clock& clock, Config config = {});

  // Every subscription of the service, in one place, and bound to this instance.
  static std::vector<platform::Subscription<InventoryService>> subscriptions();
  std::vector<platform::Rule> rules();
  static std::vector<std::string> produces();

  // Writes the seed catalogue (and a ProductUpdated for each) into an empty store.
  platform::Status seed_if_empty();
  Result<std::vector<Product>> list_products();
  Result<std::optional<Product>> get_product(const std::string& sku);
  Result<Product> upsert_product(const std::string& sku, const std::string& name,
                                 const Money& price, std::int64_t stock);

 private:
  struct Loaded {
    std::optional<Reservation> reservation;
    std::int64_t reservation_version = 0;
    Products products;
    std::map<std::string, std::int64_t> versions;
  };
  // The order's reservation (unless order_id is empty) and the named products.
  Result<Loaded> load(const std::string& order_id, const std::vector<std::string>& skus);
  Result<Loaded> load_for_reservation(const std::string& order_id);
  platform::Status write(const Loaded& loaded, const Outcome& outcome,
                         const platform::CloudEvent* cause, platform::UnitOfWork& uow);

  platform::ItemStore& store_;
  const platform::Clock& clock_;
  Config config_;
};

}  // namespace orderly::services::inventory
