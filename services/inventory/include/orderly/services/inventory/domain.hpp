// Stock and reservations, as pure functions.
//
//   auto r = reserve(std::nullopt, order_id, lines, products);  // all lines or none
//   auto c = commit(*r->reservation, products);                 // on_hand goes down
//   auto x = release(c->reservation, order_id, products);       // stock comes back
//
// available = on_hand - reserved. A reservation moves RESERVED -> COMMITTED
// (shipment created) or RELEASED (cancelled); COMMITTED -> RESTOCKED
// (cancelled before dispatch). A cancel that arrives before the order was
// seen leaves a CANCELLED_EARLY tombstone, so a late OrderPlaced reserves nothing.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "orderly/services/contracts/events.hpp"

namespace orderly::services::inventory {

using contracts::Money;
using contracts::StockLine;
using platform::Result;

struct Product {
  std::string sku, name;
  Money price;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  [[nodiscard]] std::int64_t available() const { return on_hand - reserved; }
  friend bool operator==(const Product&, const Product&) = default;
};

enum class ReservationStatus { reserved, failed, committed, released, restocked, cancelled_early };
std::string_view to_string(ReservationStatus s);
Result<ReservationStatus> parse_reservation_status(std::string_view s);

struct Reservation {
  std::string order_id;
  ReservationStatus status = ReservationStatus::reserved;
  std::vector<StockLine> lines;
  friend bool operator==(const Reservation&, const Reservation&) = default;
};

using InventoryEvent =
    std::variant<contracts::InventoryReserved, contracts::InventoryReservationFailed,
                 contracts::InventoryReleased, contracts::InventoryCommitted,
                 contracts::ProductUpdated>;

struct Outcome {
  std::optional<Reservation> reservation;  // to store, when it changed
  std::vector<Product> changed;            // products to store
  std::vector<InventoryEvent> events;
  std::string note;  // why nothing changed
};

using Products = std::map<std::string, Product>;  // by sku; the lines' products

Result<Outcome> reserve(const std::optional<Reservation>& existing, const std::string& order_id,
                        const std::vector<StockLine>& lines, const Products& products);
Result<Outcome> commit(const std::optional<Reservation>& existing, const std::string& order_id,
                       const Products& products);
Result<Outcome> release(const std::optional<Reservation>& existing, const std::string& order_id,
                        const Products& products);
// Sets name, price and on-hand stock; stock below what is reserved is refused.
Result<Outcome> upsert_product(const std::optional<Product>& existing, const std::string& sku,
                               const std::string& name, const Money& price, std::int64_t stock);

boost::json::object to_json(const Product& p);
Result<Product> product_from_json(const boost::json::object& o);
boost::json::object to_json(const Reservation& r);
Result<Reservation> reservation_from_json(const boost::json::object& o);

// The catalogue seeded into an empty store: 20 products, GBP prices.
std::vector<Product> default_catalogue();

}  // namespace orderly::services::inventory
