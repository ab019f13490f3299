// Shipments as pure functions, with the carrier simulator's steps.
//
// A shipment is created once both the order is confirmed and its payment
// captured (either may arrive first). The carrier then dispatches and
// delivers it: each step is a timer event the service schedules to itself.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "orderly/services/contracts/events.hpp"

namespace orderly::services::shipping {

using platform::Result;

enum class ShipmentStatus {
  awaiting_capture,
  awaiting_order,
  created,
  dispatched,
  delivered,
  cancelled
};
std::string_view to_string(ShipmentStatus s);

inline constexpr std::string_view kCarrier = "ParcelSim";

struct Shipment {
  std::string order_id, shipment_id, customer_id;
  ShipmentStatus status = ShipmentStatus::awaiting_capture;
  std::string carrier, tracking_number;
  std::optional<contracts::Address> address;
  friend bool operator==(const Shipment&, const Shipment&) = default;
};

using ShippingEvent =
    std::variant<contracts::ShipmentCreated, contracts::ShipmentDispatched,
                 contracts::ShipmentCancelled, contracts::ShipmentCancellationRefused,
                 contracts::ShipmentDelivered>;

struct Outcome {
  std::optional<Shipment> shipment;
  std::vector<ShippingEvent> events;
  std::optional<contracts::CarrierProgressed> next_step;  // schedule after the carrier delay
  std::string note;
};

std::string shipment_id_for(const std::string& order_id);

Result<Outcome> on_order_confirmed(const std::optional<Shipment>& s,
                                   const contracts::OrderConfirmed& e);
Result<Outcome> on_payment_captured(const std::optional<Shipment>& s, const std::string& order_id);
Result<Outcome> on_carrier_step(const std::optional<Shipment>& s,
                                const contracts::CarrierProgressed& e);
Result<Outcome> on_order_cancelled(const std::optional<Shipment>& s, const std::string& order_id);
// The pivot: a cancel requested after confirmation stops a shipment that has
// not left (ShipmentCancelled; the carrier never dispatches it) and is refused
// for one that has (ShipmentCancellationRefused).
Result<Outcome> on_cancellation_requested(const std::optional<Shipment>& s,
                                          const contracts::OrderCancellationRequested& e);

boost::json::object to_json(const Shipment& s);
Result<Shipment> shipment_from_json(const boost::json::object& o);

}  // namespace orderly::services::shipping
