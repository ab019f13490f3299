// The order and its saga, as pure functions: each transition returns the next
// state and the events to emit, or an error for a change the state forbids.
//
//   auto t = place(cmd, catalogue);            // PENDING + OrderPlaced
//   t = on_inventory_reserved(t->order);       // still PENDING, waiting for payment
//   t = on_payment_authorized(t->order);       // CONFIRMED + OrderConfirmed
//   auto c = cancel_by_customer(shipped);      // error: failed_precondition
//
// Late facts (a reservation arriving after the order was cancelled) are not
// errors: they leave the status alone and say so in Transition::note.
// No I/O here; handlers in service.cpp load, call, and commit.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "orderly/platform/clock.hpp"
#include "orderly/services/contracts/events.hpp"

namespace orderly::services::orders {

using contracts::Address;
using contracts::Money;
using contracts::OrderLine;
using platform::Result;

enum class Status { pending, confirmed, shipped, delivered, cancelled };
std::string_view to_string(Status s);
Result<Status> parse_status(std::string_view s);

// Cancellation reasons, as they appear in events and the API.
inline constexpr std::string_view kPaymentDeclined = "payment_declined";
inline constexpr std::string_view kOutOfStock = "out_of_stock";
inline constexpr std::string_view kTimeout = "timeout";
inline constexpr std::string_view kCustomerRequest = "customer_request";
// A CONFIRMED order did not ship by its fulfilment deadline (capture or
// shipment stalled), and shipping agreed to cancel it.
inline constexpr std::string_view kFulfilmentTimeout = "fulfilment_timeout";

// How many times the fulfilment deadline asks shipping to cancel a stalled
// order (once, then again on every timer while nobody answers) before it stops
// and leaves the order to an operator (docs/operations.md#orders-stalled).
inline constexpr int kMaxDeadlineRequests = 10;

struct TimelineEntry {
  std::string type, time, event_id;
  std::optional<std::string> traceparent;
  friend bool operator==(const TimelineEntry&, const TimelineEntry&) = default;
};

struct Order {
  std::string id, customer_id;
  Status status = Status::pending;
  std::vector<OrderLine> items;
  Money total;
  Address shipping_address;
  bool reserved = false;    // InventoryReserved seen
  bool authorized = false;  // PaymentAuthorized seen
  // The customer asked to cancel after confirmation; shipping decides (the pivot).
  bool cancellation_requested = false;
  // Why the pending request was made (kCustomerRequest or kFulfilmentTimeout).
  std::optional<std::string> cancellation_request_reason;
  int deadline_requests = 0;  // cancellation requests made by the fulfilment deadline
  std::optional<std::string> cancellation_reason;
  std::optional<std::string> shipment_id, carrier, tracking_number;
  std::string created_at;
  std::vector<TimelineEntry> timeline;

  [[nodiscard]] bool terminal() const {
    return status == Status::delivered || status == Status::cancelled;
  }
  friend bool operator==(const Order&, const Order&) = default;
};

struct CatalogueEntry {
  std::string sku, name;
  Money price;
};

struct PlaceOrder {
  std::string order_id;  // chosen by the caller (UUIDv7), so retries can be idempotent
  std::string customer_id;
  std::vector<contracts::StockLine> items;  // client prices are never read
  std::string payment_token;
  Address shipping_address;
  std::string now;  // RFC 3339
};

using OrderEvent = std::variant<contracts::OrderPlaced, contracts::OrderConfirmed,
                                contracts::OrderCancelled, contracts::OrderShipped,
                                contracts::OrderDelivered, contracts::OrderCancellationRequested>;

// What a saga timer found (on_saga_timeout), for metrics and logs.
enum class Deadline {
  none,          // the order was terminal, or PENDING and now cancelled
  waiting,       // not due yet: the timer is armed again
  requested,     // overdue: shipping is asked to cancel (the first time)
  re_requested,  // overdue and the request is unanswered: asked again
  escalated,     // asked kMaxDeadlineRequests times: an operator must act
};
std::string_view to_string(Deadline d);

struct Transition {
  Order order;
  std::vector<OrderEvent> events;
  std::string note;          // why nothing changed, for late or repeated facts
  bool rearm_timer = false;  // schedule the saga timer again
  Deadline deadline = Deadline::none;
};

// The catalogue entry of a sku: not_found if there is none; any other error
// (the entry could not be read) place() returns as it is.
using PriceLookup = std::function<Result<CatalogueEntry>(const std::string& sku)>;

// Totals come from the catalogue. Bad lines are invalid_input with one
// Error::fields entry each, named by path ($.items[i].sku).
Result<Transition> place(const PlaceOrder& cmd, const PriceLookup& catalogue);
Result<Transition> on_inventory_reserved(Order o);
Result<Transition> on_reservation_failed(Order o);
Result<Transition> on_payment_authorized(Order o);
Result<Transition> on_payment_declined(Order o);
Result<Transition> on_shipment_created(Order o, const std::string& shipment_id,
                                       const std::string& carrier, const std::string& tracking);
Result<Transition> on_shipment_dispatched(Order o, const std::string& shipment_id,
                                          const std::string& carrier, const std::string& tracking);
Result<Transition> on_shipment_delivered(Order o, const std::string& shipment_id);
// The saga timer. PENDING: cancelled (reason timeout). CONFIRMED or SHIPPED:
// the fulfilment deadline, fulfilment_timeout after confirmation. Before it
// the timer is re-armed. After it a CONFIRMED order is cancelled through the
// pivot (OrderCancellationRequested, reason fulfilment_timeout), asked again
// on every timer while unanswered, up to kMaxDeadlineRequests; a SHIPPED
// order (the goods have left) is escalated only. `now` is RFC 3339.
Result<Transition> on_saga_timeout(Order o, const std::string& now,
                                   platform::Millis fulfilment_timeout);
// Accepted until the shipment is dispatched.
// PENDING: cancelled at once. CONFIRMED: dispatch is the point of no return,
// so the cancel becomes a request (OrderCancellationRequested) that shipping
// decides; the order is cancelled on ShipmentCancelled, and goes on after
// ShipmentCancellationRefused. SHIPPED, DELIVERED or CANCELLED: refused.
Result<Transition> cancel_by_customer(Order o);
Result<Transition> on_shipment_cancelled(Order o);
Result<Transition> on_cancellation_refused(Order o, const std::string& shipment_status);

// Persistence of an order as item attributes (also the API's representation).
boost::json::object to_json(const Order& o);
Result<Order> order_from_json(const boost::json::object& attrs);

}  // namespace orderly::services::orders
