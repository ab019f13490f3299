// The event contracts in code: one struct per event type, with strict
// encode/decode of its CloudEvent `data`. schemas/events/*.schema.json is the
// same contract in JSON Schema; tests/contract checks the two agree.
//
//   CloudEvent e = to_event(OrderPlaced{...}, clock.now());   // type, source, subject set
//   Result<OrderPlaced> placed = decode<OrderPlaced>(e.data);  // invalid_input names the field
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "orderly/platform/bus.hpp"
#include "orderly/platform/clock.hpp"
#include "orderly/platform/event.hpp"
#include "orderly/platform/json_reader.hpp"

namespace orderly::services::contracts {

using platform::Result;

// ---- shared shapes ----
struct Money {
  std::int64_t amount = 0;  // minor units (pence, cents)
  std::string currency;     // ISO 4217
  friend bool operator==(const Money&, const Money&) = default;
};
struct OrderLine {
  std::string sku;
  std::int64_t quantity = 0;
  Money unit_price;
  friend bool operator==(const OrderLine&, const OrderLine&) = default;
};
struct StockLine {
  std::string sku;
  std::int64_t quantity = 0;
  friend bool operator==(const StockLine&, const StockLine&) = default;
};
struct Shortage {
  std::string sku;
  std::int64_t requested = 0;
  std::int64_t available = 0;
  friend bool operator==(const Shortage&, const Shortage&) = default;
};
struct Address {
  std::string name, line1;
  std::optional<std::string> line2;
  std::string city, postal_code, country;
  friend bool operator==(const Address&, const Address&) = default;
};

inline constexpr std::int64_t kMaxQuantity = 1000;
// An order has at most 50 lines: inventory reserves, commits and releases all
// lines of an order in one unit of work (inbox marker, reservation, one item per
// line, outbox), which a transaction caps at 100 items.
inline constexpr std::size_t kMaxLines = 50;

// ---- orders ----
struct OrderPlaced {
  static constexpr std::string_view kType = "orderly.orders.OrderPlaced.v1";
  static constexpr std::string_view kSource = "orderly.orders";
  std::string order_id, customer_id;
  std::vector<OrderLine> items;
  Money total;
  std::string payment_token;
  Address shipping_address;
  [[nodiscard]] const std::string& subject() const { return order_id; }
};
struct OrderConfirmed {
  static constexpr std::string_view kType = "orderly.orders.OrderConfirmed.v1";
  static constexpr std::string_view kSource = "orderly.orders";
  std::string order_id, customer_id;
  std::vector<OrderLine> items;
  Money total;
  Address shipping_address;
  [[nodiscard]] const std::string& subject() const { return order_id; }
};
struct OrderCancelled {
  static constexpr std::string_view kType = "orderly.orders.OrderCancelled.v1";
  static constexpr std::string_view kSource = "orderly.orders";
  std::string order_id, customer_id;
  std::string reason;  // payment_declined | out_of_stock | timeout | customer_request
                       // | fulfilment_timeout
  Money total;
  [[nodiscard]] const std::string& subject() const { return order_id; }
};
struct OrderShipped {
  static constexpr std::string_view kType = "orderly.orders.OrderShipped.v1";
  static constexpr std::string_view kSource = "orderly.orders";
  std::string order_id, customer_id, shipment_id, carrier, tracking_number;
  [[nodiscard]] const std::string& subject() const { return order_id; }
};
struct OrderDelivered {
  static constexpr std::string_view kType = "orderly.orders.OrderDelivered.v1";
  static constexpr std::string_view kSource = "orderly.orders";
  std::string order_id, customer_id, shipment_id;
  [[nodiscard]] const std::string& subject() const { return order_id; }
};
// A customer asked to cancel an order that is already CONFIRMED: past that
// point goods may be on their way, so shipping decides (the pivot).
struct OrderCancellationRequested {
  static constexpr std::string_view kType = "orderly.orders.OrderCancellationRequested.v1";
  static constexpr std::string_view kSource = "orderly.orders";
  std::string order_id, customer_id;
  [[nodiscard]] const std::string& subject() const { return order_id; }
};
struct SagaTimedOut {
  static constexpr std::string_view kType = "orderly.orders.SagaTimedOut.v1";
  static constexpr std::string_view kSource = "orderly.orders";
  std::string order_id;
  std::string placed_at;  // RFC 3339
  [[nodiscard]] const std::string& subject() const { return order_id; }
};

// A customer's personal data is to be erased (docs/adr/0017): by an admin's
// request, or by retention for one delivered order. Orders has redacted its own
// records; every other service redacts its own and answers with its
// <Service>CustomerErased. Holds ids only.
struct CustomerErasureRequested {
  static constexpr std::string_view kType = "orderly.orders.CustomerErasureRequested.v1";
  static constexpr std::string_view kSource = "orderly.orders";
  std::string erasure_id, customer_id;
  std::string reason;                  // request | retention
  std::vector<std::string> order_ids;  // the orders whose copies to redact
  [[nodiscard]] const std::string& subject() const { return erasure_id; }
};
inline constexpr std::size_t kMaxErasureOrders = 1000;

// The answers: one type per service (a schema file names one type), one shape.
struct InventoryCustomerErased {
  static constexpr std::string_view kType = "orderly.inventory.InventoryCustomerErased.v1";
  static constexpr std::string_view kSource = "orderly.inventory";
  std::string erasure_id, customer_id;
  std::int64_t redacted = 0;  // records redacted or deleted
  [[nodiscard]] const std::string& subject() const { return erasure_id; }
};
struct PaymentsCustomerErased {
  static constexpr std::string_view kType = "orderly.payments.PaymentsCustomerErased.v1";
  static constexpr std::string_view kSource = "orderly.payments";
  std::string erasure_id, customer_id;
  std::int64_t redacted = 0;  // records redacted or deleted
  [[nodiscard]] const std::string& subject() const { return erasure_id; }
};
struct ShippingCustomerErased {
  static constexpr std::string_view kType = "orderly.shipping.ShippingCustomerErased.v1";
  static constexpr std::string_view kSource = "orderly.shipping";
  std::string erasure_id, customer_id;
  std::int64_t redacted = 0;  // records redacted or deleted
  [[nodiscard]] const std::string& subject() const { return erasure_id; }
};
struct NotificationsCustomerErased {
  static constexpr std::string_view kType = "orderly.notifications.NotificationsCustomerErased.v1";
  static constexpr std::string_view kSource = "orderly.notifications";
  std::string erasure_id, customer_id;
  std::int64_t redacted = 0;  // records redacted or deleted
  [[nodiscard]] const std::string& subject() const { return erasure_id; }
};

// ---- inventory ----
struct InventoryReserved {
  static constexpr std::string_view kType = "orderly.inventory.InventoryReserved.v1";
  static constexpr std::string_view kSource = "orderly.inventory";
  std::string order_id;
  std::vector<StockLine> lines;
  [[nodiscard]] const std::string& subject() const { return order_id; }
};
struct InventoryReservationFailed {
  static constexpr std::string_view kType = "orderly.inventory.InventoryReservationFailed.v1";
  static constexpr std::string_view kSource = "orderly.inventory";
  std::string order_id;
  std::string reason;  // out_of_stock | unknown_sku
  std::vector<Shortage> shortages;
  [[nodiscard]] const std::string& subject() const { return order_id; }
};
struct InventoryReleased {
  static constexpr std::string_view kType = "orderly.inventory.InventoryReleased.v1";
  static constexpr std::string_view kSource = "orderly.inventory";
  std::string order_id;
  std::vector<StockLine> lines;
  bool restocked = false;
  [[nodiscard]] const std::string& subject() const { return order_id; }
};
struct InventoryCommitted {
  static constexpr std::string_view kType = "orderly.inventory.InventoryCommitted.v1";
  static constexpr std::string_view kSource = "orderly.inventory";
  std::string order_id;
  std::vector<StockLine> lines;
  [[nodiscard]] const std::string& subject() const { return order_id; }
};
struct ProductUpdated {
  static constexpr std::string_view kType = "orderly.inventory.ProductUpdated.v1";
  static constexpr std::string_view kSource = "orderly.inventory";
  std::string sku, name;
  Money price;
  std::int64_t available = 0;
  [[nodiscard]] const std::string& subject() const { return sku; }
};

// ---- payments ----
#define ORDERLY_PAYMENT_EVENT(Name)                                            \
  struct Name {                                                                \
    static constexpr std::string_view kType = "orderly.payments." #Name ".v1"; \
    static constexpr std::string_view kSource = "orderly.payments";            \
    std::string order_id, payment_id;                                          \
    Money amount;                                                              \
    [[nodiscard]] const std::string& subject() const { return order_id; }      \
  };
ORDERLY_PAYMENT_EVENT(PaymentAuthorized)
ORDERLY_PAYMENT_EVENT(PaymentCaptured)
ORDERLY_PAYMENT_EVENT(PaymentVoided)
ORDERLY_PAYMENT_EVENT(PaymentRefunded)
#undef ORDERLY_PAYMENT_EVENT
struct PaymentDeclined {
  static constexpr std::string_view kType = "orderly.payments.PaymentDeclined.v1";
  static constexpr std::string_view kSource = "orderly.payments";
  std::string order_id, payment_id;
  Money amount;
  std::string reason;
  [[nodiscard]] const std::string& subject() const { return order_id; }
};

// ---- shipping ----
struct ShipmentCreated {
  static constexpr std::string_view kType = "orderly.shipping.ShipmentCreated.v1";
  static constexpr std::string_view kSource = "orderly.shipping";
  std::string order_id, customer_id, shipment_id, carrier, tracking_number;
  [[nodiscard]] const std::string& subject() const { return order_id; }
};
struct ShipmentDispatched {
  static constexpr std::string_view kType = "orderly.shipping.ShipmentDispatched.v1";
  static constexpr std::string_view kSource = "orderly.shipping";
  std::string order_id, customer_id, shipment_id, carrier, tracking_number;
  [[nodiscard]] const std::string& subject() const { return order_id; }
};
struct ShipmentDelivered {
  static constexpr std::string_view kType = "orderly.shipping.ShipmentDelivered.v1";
  static constexpr std::string_view kSource = "orderly.shipping";
  std::string order_id, customer_id, shipment_id;
  [[nodiscard]] const std::string& subject() const { return order_id; }
};
// Shipping's answers to OrderCancellationRequested: stopped before dispatch
// (then orders cancels and the money and stock come back), or refused because
// the shipment already left (the order goes on).
struct ShipmentCancelled {
  static constexpr std::string_view kType = "orderly.shipping.ShipmentCancelled.v1";
  static constexpr std::string_view kSource = "orderly.shipping";
  std::string order_id, customer_id, shipment_id;
  [[nodiscard]] const std::string& subject() const { return order_id; }
};
struct ShipmentCancellationRefused {
  static constexpr std::string_view kType = "orderly.shipping.ShipmentCancellationRefused.v1";
  static constexpr std::string_view kSource = "orderly.shipping";
  std::string order_id, customer_id, shipment_id;
  std::string shipment_status;  // DISPATCHED | DELIVERED
  [[nodiscard]] const std::string& subject() const { return order_id; }
};
struct CarrierProgressed {
  static constexpr std::string_view kType = "orderly.shipping.CarrierProgressed.v1";
  static constexpr std::string_view kSource = "orderly.shipping";
  std::string order_id, shipment_id;
  std::string step;  // dispatch | deliver
  [[nodiscard]] const std::string& subject() const { return order_id; }
};

// ---- notifications ----
struct NotificationSent {
  static constexpr std::string_view kType = "orderly.notifications.NotificationSent.v1";
  static constexpr std::string_view kSource = "orderly.notifications";
  std::string notification_id, customer_id, order_id;
  std::string channel;        // email
  std::string template_name;  // order_confirmed | order_cancelled | shipment_dispatched |
                              // shipment_delivered
  std::string subject_line;
  [[nodiscard]] const std::string& subject() const { return order_id; }
};

// ---- the one list of event types ----
// Every event type, once: the codec declarations below, validate_data and
// all_event_types are generated from it. A new event type is a struct above
// plus one line here (and its encode/read in events.cpp).
#define ORDERLY_EVENT_TYPES(X)   \
  X(OrderPlaced)                 \
  X(OrderConfirmed)              \
  X(OrderCancelled)              \
  X(OrderShipped)                \
  X(OrderDelivered)              \
  X(OrderCancellationRequested)  \
  X(SagaTimedOut)                \
  X(CustomerErasureRequested)    \
  X(InventoryCustomerErased)     \
  X(PaymentsCustomerErased)      \
  X(ShippingCustomerErased)      \
  X(NotificationsCustomerErased) \
  X(InventoryReserved)           \
  X(InventoryReservationFailed)  \
  X(InventoryReleased)           \
  X(InventoryCommitted)          \
  X(ProductUpdated)              \
  X(PaymentAuthorized)           \
  X(PaymentDeclined)             \
  X(PaymentCaptured)             \
  X(PaymentVoided)               \
  X(PaymentRefunded)             \
  X(ShipmentCreated)             \
  X(ShipmentDispatched)          \
  X(ShipmentDelivered)           \
  X(ShipmentCancelled)           \
  X(ShipmentCancellationRefused) \
  X(CarrierProgressed)           \
  X(NotificationSent)

// ---- encoding ----
// Every event type has a pair of these; decode<E> is strict (unknown fields,
// wrong types and out-of-range values are invalid_input naming the path).
#define ORDERLY_EVENT_CODEC(E)            \
  boost::json::object encode(const E& e); \
  void read(platform::JsonReader& r, E& e);
ORDERLY_EVENT_TYPES(ORDERLY_EVENT_CODEC)
#undef ORDERLY_EVENT_CODEC

template <class E>
Result<E> decode(const boost::json::object& data) {
  platform::JsonReader r{data, "$.data"};
  E e;
  read(r, e);
  r.done();
  if (auto s = r.status(); !s) return tl::unexpected(s.error());
  return e;
}

template <class E>
Result<E> decode(const platform::CloudEvent& ev) {
  if (ev.type != E::kType)
    return platform::fail(platform::ErrorKind::invalid_input, "expected {}, got {}", E::kType,
                          ev.type);
  return decode<E>(ev.data);
}

template <class E>
platform::CloudEvent to_event(const E& e, platform::TimePoint now) {
  return platform::make_event(std::string(E::kSource), std::string(E::kType), e.subject(),
                              encode(e), now);
}

// The CloudEvents for a handler's typed events (each alternative of `Variant`
// is a contract struct), made consequences of `cause` when there is one.
template <class Variant>
std::vector<platform::CloudEvent> to_events(const std::vector<Variant>& events,
                                            const platform::CloudEvent* cause,
                                            platform::TimePoint now) {
  std::vector<platform::CloudEvent> out;
  out.reserve(events.size());
  for (const auto& ev : events) {
    out.push_back(std::visit([&](const auto& x) { return to_event(x, now); }, ev));
    if (cause) platform::caused_by(out.back(), *cause);
  }
  return out;
}

// Shape helpers shared with the gateway's request parsing.
Money read_money(platform::JsonReader& r, std::string_view key);
Address read_address(platform::JsonReader& r, std::string_view key);
boost::json::object encode(const Money& m);
boost::json::object encode(const Address& a);
boost::json::array encode_lines(const std::vector<OrderLine>& lines);
boost::json::array encode_lines(const std::vector<StockLine>& lines);
std::vector<OrderLine> read_order_lines(platform::JsonReader& r, std::string_view key);
std::vector<StockLine> read_stock_lines(platform::JsonReader& r, std::string_view key);
bool is_uuid_string(std::string_view s);

// Decodes `data` as the event type `type` names: ok, or invalid_input naming
// the field; not_found for a type this code does not know.
platform::Status validate_data(std::string_view type, const boost::json::object& data);

// The personal fields events carry (the shipping address's name and lines,
// the payment token), as JSON paths into a CloudEvent; and for a
// CustomerErasureRequested, what a bus must redact in its copies of events.
const std::vector<std::string>& personal_data_paths();
std::optional<platform::Redaction> redaction_for(const platform::CloudEvent& e);
inline constexpr std::string_view kErased = "[erased]";

// Every event type, for catalogues and contract tests.
std::vector<std::string_view> all_event_types();

}  // namespace orderly::services::contracts
