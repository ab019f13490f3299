// Encode/decode of every event type's data, matching schemas/events/.
#include "orderly/services/contracts/events.hpp"

#include "orderly/platform/id.hpp"

namespace orderly::services::contracts {

namespace json = boost::json;
using platform::JsonReader;

bool is_uuid_string(std::string_view s) {
  return platform::is_uuid(s);
}

namespace {

constexpr std::size_t kIdMax = 128;

std::string read_uuid(JsonReader& r, std::string_view key) {
  return r.string_matching(key, is_uuid_string, "a UUID");
}

std::string read_sku(JsonReader& r, std::string_view key) {
  return r.string_matching(key, platform::is_sku,
                           "a SKU (upper-case letters, digits and '-', up to 32)");
}

}  // namespace

// ---- shared shapes ----

json::object encode(const Money& m) {
  return {{"amount", m.amount}, {"currency", m.currency}};
}

Money read_money(JsonReader& r, std::string_view key) {
  Money m;
  r.object(key, [&](JsonReader& o) {
    m.amount = o.integer("amount", 0, 1'000'000'000'000);
    m.currency =
        o.string_matching("currency", platform::is_currency_code, "an ISO 4217 code like GBP");
  });
  return m;
}

json::object encode(const Address& a) {
  json::object o{{"name", a.name},
                 {"line1", a.line1},
                 {"city", a.city},
                 {"postalCode", a.postal_code},
                 {"country", a.country}};
  if (a.line2) o["line2"] = *a.line2;
  return o;
}

Address read_address(JsonReader& r, std::string_view key) {
  Address a;
  r.object(key, [&](JsonReader& o) {
    a.name = o.string("name", 1, 200);
    a.line1 = o.string("line1", 1, 200);
    a.line2 = o.optional_string("line2", 0, 200);
    a.city = o.string("city", 1, 100);
    a.postal_code = o.string("postalCode", 1, 20);
    a.country = o.string_matching("country", platform::is_country_code,
                                  "an ISO 3166-1 alpha-2 code like GB");
  });
  return a;
}

json::array encode_lines(const std::vector<OrderLine>& lines) {
  json::array a;
  for (const auto& l : lines)
    a.push_back(json::object{
        {"sku", l.sku}, {"quantity", l.quantity}, {"unitPrice", encode(l.unit_price)}});
  return a;
}

json::array encode_lines(const std::vector<StockLine>& lines) {
  json::array a;
  for (const auto& l : lines) a.push_back(json::object{{"sku", l.sku}, {"quantity", l.quantity}});
  return a;
}

std::vector<OrderLine> read_order_lines(JsonReader& r, std::string_view key) {
  std::vector<OrderLine> out;
  r.array(key, 1, kMaxLines, [&](JsonReader& o, std::size_t) {
    OrderLine l;
    l.sku = read_sku(o, "sku");
    l.quantity = o.integer("quantity", 1, kMaxQuantity);
    l.unit_price = read_money(o, "unitPrice");
    out.push_back(std::move(l));
  });
  return out;
}

std::vector<StockLine> read_stock_lines(JsonReader& r, std::string_view key) {
  std::vector<StockLine> out;
  r.array(key, 1, kMaxLines, [&](JsonReader& o, std::size_t) {
    StockLine l;
    l.sku = read_sku(o, "sku");
    l.quantity = o.integer("quantity", 1, kMaxQuantity);
    out.push_back(std::move(l));
  });
  return out;
}

// ---- orders ----

json::object encode(const OrderPlaced& e) {
  return {{"orderId", e.order_id},           {"customerId", e.customer_id},
          {"items", encode_lines(e.items)},  {"total", encode(e.total)},
          {"paymentToken", e.payment_token}, {"shippingAddress", encode(e.shipping_address)}};
}
void read(JsonReader& r, OrderPlaced& e) {
  e.order_id = read_uuid(r, "orderId");
  e.customer_id = r.string("customerId", 1, kIdMax);
  e.items = read_order_lines(r, "items");
  e.total = read_money(r, "total");
  e.payment_token = r.string("paymentToken", 1, 64);
  e.shipping_address = read_address(r, "shippingAddress");
}

json::object encode(const OrderConfirmed& e) {
  return {{"orderId", e.order_id},
          {"customerId", e.customer_id},
          {"items", encode_lines(e.items)},
          {"total", encode(e.total)},
          {"shippingAddress", encode(e.shipping_address)}};
}
void read(JsonReader& r, OrderConfirmed& e) {
  e.order_id = read_uuid(r, "orderId");
  e.customer_id = r.string("customerId", 1, kIdMax);
  e.items = read_order_lines(r, "items");
  e.total = read_money(r, "total");
  e.shipping_address = read_address(r, "shippingAddress");
}

json::object encode(const OrderCancelled& e) {
  return {{"orderId", e.order_id},
          {"customerId", e.customer_id},
          {"reason", e.reason},
          {"total", encode(e.total)}};
}
void read(JsonReader& r, OrderCancelled& e) {
  e.order_id = read_uuid(r, "orderId");
  e.customer_id = r.string("customerId", 1, kIdMax);
  e.reason = r.one_of("reason", {"payment_declined", "out_of_stock", "timeout", "customer_request",
                                 "fulfilment_timeout"});
  e.total = read_money(r, "total");
}

json::object encode(const OrderShipped& e) {
  return {{"orderId", e.order_id},
          {"customerId", e.customer_id},
          {"shipmentId", e.shipment_id},
          {"carrier", e.carrier},
          {"trackingNumber", e.tracking_number}};
}
void read(JsonReader& r, OrderShipped& e) {
  e.order_id = read_uuid(r, "orderId");
  e.customer_id = r.string("customerId", 1, kIdMax);
  e.shipment_id = read_uuid(r, "shipmentId");
  e.carrier = r.string("carrier", 1, 64);
  e.tracking_number = r.string("trackingNumber", 1, 64);
}

json::object encode(const OrderDelivered& e) {
  return {{"orderId", e.order_id}, {"customerId", e.customer_id}, {"shipmentId", e.shipment_id}};
}
void read(JsonReader& r, OrderDelivered& e) {
  e.order_id = read_uuid(r, "orderId");
  e.customer_id = r.string("customerId", 1, kIdMax);
  e.shipment_id = read_uuid(r, "shipmentId");
}

json::object encode(const OrderCancellationRequested& e) {
  return {{"orderId", e.order_id}, {"customerId", e.customer_id}};
}
void read(JsonReader& r, OrderCancellationRequested& e) {
  e.order_id = read_uuid(r, "orderId");
  e.customer_id = r.string("customerId", 1, kIdMax);
}

json::object encode(const SagaTimedOut& e) {
  return {{"orderId", e.order_id}, {"placedAt", e.placed_at}};
}
void read(JsonReader& r, SagaTimedOut& e) {
  e.order_id = read_uuid(r, "orderId");
  e.placed_at = r.string_matching("placedAt", platform::is_rfc3339, "an RFC 3339 timestamp");
}

json::object encode(const CustomerErasureRequested& e) {
  json::array ids;
  for (const auto& id : e.order_ids) ids.push_back(json::value(id));
  return {{"erasureId", e.erasure_id},
          {"customerId", e.customer_id},
          {"reason", e.reason},
          {"orderIds", std::move(ids)}};
}
void read(JsonReader& r, CustomerErasureRequested& e) {
  e.erasure_id = read_uuid(r, "erasureId");
  e.customer_id = r.string("customerId", 1, kIdMax);
  e.reason = r.one_of("reason", {"request", "retention"});
  e.order_ids = r.string_array("orderIds", 0, kMaxErasureOrders, is_uuid_string, "a UUID");
}

namespace {
template <class E>
json::object encode_erased(const E& e) {
  return {{"erasureId", e.erasure_id}, {"customerId", e.customer_id}, {"redacted", e.redacted}};
}
template <class E>
void read_erased(JsonReader& r, E& e) {
  e.erasure_id = read_uuid(r, "erasureId");
  e.customer_id = r.string("customerId", 1, kIdMax);
  e.redacted = r.integer("redacted", 0, INT64_MAX);
}
}  // namespace

#define ORDERLY_ERASED_CODEC(E)     \
  json::object encode(const E& e) { \
    return encode_erased(e);        \
  }                                 \
  void read(JsonReader& r, E& e) {  \
    read_erased(r, e);              \
  }
ORDERLY_ERASED_CODEC(InventoryCustomerErased)
ORDERLY_ERASED_CODEC(PaymentsCustomerErased)
ORDERLY_ERASED_CODEC(ShippingCustomerErased)
ORDERLY_ERASED_CODEC(NotificationsCustomerErased)
#undef ORDERLY_ERASED_CODEC

// ---- inventory ----

json::object encode(const InventoryReserved& e) {
  return {{"orderId", e.order_id}, {"lines", encode_lines(e.lines)}};
}
void read(JsonReader& r, InventoryReserved& e) {
  e.order_id = read_uuid(r, "orderId");
  e.lines = read_stock_lines(r, "lines");
}

json::object encode(const InventoryReservationFailed& e) {
  json::array shortages;
  for (const auto& s : e.shortages)
    shortages.push_back(
        json::object{{"sku", s.sku}, {"requested", s.requested}, {"available", s.available}});
  return {{"orderId", e.order_id}, {"reason", e.reason}, {"shortages", std::move(shortages)}};
}
void read(JsonReader& r, InventoryReservationFailed& e) {
  e.order_id = read_uuid(r, "orderId");
  e.reason = r.one_of("reason", {"out_of_stock", "unknown_sku"});
  r.array("shortages", 1, kMaxLines, [&](JsonReader& o, std::size_t) {
    Shortage s;
    s.sku = read_sku(o, "sku");
    s.requested = o.integer("requested", 1, kMaxQuantity);
    s.available = o.integer("available", 0, INT64_MAX);
    e.shortages.push_back(std::move(s));
  });
}

json::object encode(const InventoryReleased& e) {
  return {{"orderId", e.order_id}, {"lines", encode_lines(e.lines)}, {"restocked", e.restocked}};
}
void read(JsonReader& r, InventoryReleased& e) {
  e.order_id = read_uuid(r, "orderId");
  e.lines = read_stock_lines(r, "lines");
  e.restocked = r.boolean("restocked");
}

json::object encode(const InventoryCommitted& e) {
  return {{"orderId", e.order_id}, {"lines", encode_lines(e.lines)}};
}
void read(JsonReader& r, InventoryCommitted& e) {
  e.order_id = read_uuid(r, "orderId");
  e.lines = read_stock_lines(r, "lines");
}

json::object encode(const ProductUpdated& e) {
  return {{"sku", e.sku}, {"name", e.name}, {"price", encode(e.price)}, {"available", e.available}};
}
void read(JsonReader& r, ProductUpdated& e) {
  e.sku = read_sku(r, "sku");
  e.name = r.string("name", 1, 200);
  e.price = read_money(r, "price");
  e.available = r.integer("available", 0, INT64_MAX);
}

// ---- payments ----

namespace {
template <class E>
json::object encode_payment(const E& e) {
  return {{"orderId", e.order_id}, {"paymentId", e.payment_id}, {"amount", encode(e.amount)}};
}
template <class E>
void read_payment(JsonReader& r, E& e) {
  e.order_id = read_uuid(r, "orderId");
  e.payment_id = read_uuid(r, "paymentId");
  e.amount = read_money(r, "amount");
}
}  // namespace

json::object encode(const PaymentAuthorized& e) {
  return encode_payment(e);
}
void read(JsonReader& r, PaymentAuthorized& e) {
  read_payment(r, e);
}
json::object encode(const PaymentCaptured& e) {
  return encode_payment(e);
}
void read(JsonReader& r, PaymentCaptured& e) {
  read_payment(r, e);
}
json::object encode(const PaymentVoided& e) {
  return encode_payment(e);
}
void read(JsonReader& r, PaymentVoided& e) {
  read_payment(r, e);
}
json::object encode(const PaymentRefunded& e) {
  return encode_payment(e);
}
void read(JsonReader& r, PaymentRefunded& e) {
  read_payment(r, e);
}
json::object encode(const PaymentDeclined& e) {
  auto o = encode_payment(e);
  o["reason"] = e.reason;
  return o;
}
void read(JsonReader& r, PaymentDeclined& e) {
  read_payment(r, e);
  e.reason = r.string("reason", 1, 200);
}

// ---- shipping ----

namespace {
template <class E>
json::object encode_tracked(const E& e) {
  return {{"orderId", e.order_id},
          {"customerId", e.customer_id},
          {"shipmentId", e.shipment_id},
          {"carrier", e.carrier},
          {"trackingNumber", e.tracking_number}};
}
template <class E>
void read_tracked(JsonReader& r, E& e) {
  e.order_id = read_uuid(r, "orderId");
  e.customer_id = r.string("customerId", 1, kIdMax);
  e.shipment_id = read_uuid(r, "shipmentId");
  e.carrier = r.string("carrier", 1, 64);
  e.tracking_number = r.string("trackingNumber", 1, 64);
}
}  // namespace

json::object encode(const ShipmentCreated& e) {
  return encode_tracked(e);
}
void read(JsonReader& r, ShipmentCreated& e) {
  read_tracked(r, e);
}
json::object encode(const ShipmentDispatched& e) {
  return encode_tracked(e);
}
void read(JsonReader& r, ShipmentDispatched& e) {
  read_tracked(r, e);
}

json::object encode(const ShipmentCancelled& e) {
  return {{"orderId", e.order_id}, {"customerId", e.customer_id}, {"shipmentId", e.shipment_id}};
}
void read(JsonReader& r, ShipmentCancelled& e) {
  e.order_id = read_uuid(r, "orderId");
  e.customer_id = r.string("customerId", 1, kIdMax);
  e.shipment_id = read_uuid(r, "shipmentId");
}

json::object encode(const ShipmentCancellationRefused& e) {
  return {{"orderId", e.order_id},
          {"customerId", e.customer_id},
          {"shipmentId", e.shipment_id},
          {"shipmentStatus", e.shipment_status}};
}
void read(JsonReader& r, ShipmentCancellationRefused& e) {
  e.order_id = read_uuid(r, "orderId");
  e.customer_id = r.string("customerId", 1, kIdMax);
  e.shipment_id = read_uuid(r, "shipmentId");
  e.shipment_status = r.one_of("shipmentStatus", {"DISPATCHED", "DELIVERED"});
}

json::object encode(const ShipmentDelivered& e) {
  return {{"orderId", e.order_id}, {"customerId", e.customer_id}, {"shipmentId", e.shipment_id}};
}
void read(JsonReader& r, ShipmentDelivered& e) {
  e.order_id = read_uuid(r, "orderId");
  e.customer_id = r.string("customerId", 1, kIdMax);
  e.shipment_id = read_uuid(r, "shipmentId");
}

json::object encode(const CarrierProgressed& e) {
  return {{"orderId", e.order_id}, {"shipmentId", e.shipment_id}, {"step", e.step}};
}
void read(JsonReader& r, CarrierProgressed& e) {
  e.order_id = read_uuid(r, "orderId");
  e.shipment_id = read_uuid(r, "shipmentId");
  e.step = r.one_of("step", {"dispatch", "deliver"});
}

// ---- notifications ----

json::object encode(const NotificationSent& e) {
  return {{"notificationId", e.notification_id},
          {"customerId", e.customer_id},
          {"orderId", e.order_id},
          {"channel", e.channel},
          {"template", e.template_name},
          {"subject", e.subject_line}};
}
void read(JsonReader& r, NotificationSent& e) {
  e.notification_id = read_uuid(r, "notificationId");
  e.customer_id = r.string("customerId", 1, kIdMax);
  e.order_id = read_uuid(r, "orderId");
  e.channel = r.one_of("channel", {"email"});
  e.template_name = r.one_of("template", {"order_confirmed", "order_cancelled",
                                          "shipment_dispatched", "shipment_delivered"});
  e.subject_line = r.string("subject", 1, 200);
}

namespace {
template <class E>
platform::Status check(const json::object& data) {
  auto d = decode<E>(data);
  if (!d) return tl::unexpected(d.error());
  return {};
}
}  // namespace

platform::Status validate_data(std::string_view type, const json::object& data) {
#define ORDERLY_VALIDATE(E) \
  if (type == E::kType) return check<E>(data);
  ORDERLY_EVENT_TYPES(ORDERLY_VALIDATE)
#undef ORDERLY_VALIDATE
  return platform::fail(platform::ErrorKind::not_found, "unknown event type {}", type);
}

const std::vector<std::string>& personal_data_paths() {
  static const std::vector<std::string> paths{
      "$.data.shippingAddress.name",       "$.data.shippingAddress.line1",
      "$.data.shippingAddress.line2",      "$.data.shippingAddress.city",
      "$.data.shippingAddress.postalCode", "$.data.paymentToken"};
  return paths;
}

std::optional<platform::Redaction> redaction_for(const platform::CloudEvent& e) {
  if (e.type != CustomerErasureRequested::kType) return std::nullopt;
  auto d = decode<CustomerErasureRequested>(e.data);
  if (!d) return std::nullopt;  // a consumer dead-letters it with the reason
  return platform::Redaction{d->customer_id, d->order_ids, personal_data_paths(),
                             std::string(kErased)};
}

std::vector<std::string_view> all_event_types() {
#define ORDERLY_EVENT_KTYPE(E) E::kType,
  return {ORDERLY_EVENT_TYPES(ORDERLY_EVENT_KTYPE)};
#undef ORDERLY_EVENT_KTYPE
}

}  // namespace orderly::services::contracts
